// Deliberately broken test plugin: its descriptor claims scheme ABI 999, so
// the host must refuse it before calling create().
#include <torch/version.h>

#include <cstdio>

#include "tracemark/sdk/scheme.h"

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  static const TracemarkSchemeDescriptor descriptor = {
      tracemark::kSchemeMagic,
      999,
      TORCH_VERSION,
      "bad_abi",
      [](char* error, size_t error_size) -> tracemark::Scheme* {
        std::snprintf(error, error_size, "bad_abi: create() must never be called");
        return nullptr;
      },
      [](tracemark::Scheme*) {}};
  return &descriptor;
}
