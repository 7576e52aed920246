// A registry's release.json manifest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "registry/filesystem_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tracemark::registry::RegisteredVersion version;
  (void)tracemark::registry::ParseReleaseManifest(text, &version);
  return 0;
}
