// Deliberately broken test plugin: the entry point returns no descriptor.
#include "tracemark/sdk/scheme.h"

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  return nullptr;
}
