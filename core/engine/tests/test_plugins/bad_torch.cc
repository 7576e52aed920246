// Deliberately broken test plugin: built "against LibTorch 0.0.1", so the
// host must refuse it before calling create().
#include <cstdio>

#include "tracemark/sdk/scheme.h"

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  static const TracemarkSchemeDescriptor descriptor = {
      tracemark::kSchemeMagic,
      tracemark::kSchemeAbiVersion,
      "0.0.1",
      "bad_torch",
      [](char* error, size_t error_size) -> tracemark::Scheme* {
        std::snprintf(error, error_size, "bad_torch: create() must never be called");
        return nullptr;
      },
      [](tracemark::Scheme*) {}};
  return &descriptor;
}
