// Deliberately broken test plugin: passes every check of the descriptor, but
// create() fails and explains why in `error`.
#include <torch/version.h>

#include <cstdio>

#include "tracemark/sdk/scheme.h"

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  static const TracemarkSchemeDescriptor descriptor = {
      tracemark::kSchemeMagic,
      tracemark::kSchemeAbiVersion,
      TORCH_VERSION,
      "create_fails",
      [](char* error, size_t error_size) -> tracemark::Scheme* {
        std::snprintf(error, error_size, "test plugin has no licence to run");
        return nullptr;
      },
      [](tracemark::Scheme*) {}};
  return &descriptor;
}
