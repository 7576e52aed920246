// Deliberately broken test plugin: a correct header (magic, ABI, LibTorch)
// but no create/destroy functions.
#include <torch/version.h>

#include "tracemark/sdk/scheme.h"

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  static const TracemarkSchemeDescriptor descriptor = {tracemark::kSchemeMagic,
                                                       tracemark::kSchemeAbiVersion,
                                                       TORCH_VERSION,
                                                       "incomplete",
                                                       nullptr,
                                                       nullptr};
  return &descriptor;
}
