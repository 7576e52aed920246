// Deliberately broken test plugin: the descriptor's magic number is wrong
// (everything else is right), so the host must refuse it.
#include <torch/version.h>

#include <cstdio>

#include "tracemark/sdk/scheme.h"

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  static const TracemarkSchemeDescriptor descriptor = {
      0xdeadbeef,
      tracemark::kSchemeAbiVersion,
      TORCH_VERSION,
      "bad_magic",
      [](char* error, size_t error_size) -> tracemark::Scheme* {
        std::snprintf(error, error_size, "bad_magic: create() must never be called");
        return nullptr;
      },
      [](tracemark::Scheme*) {}};
  return &descriptor;
}
