// tracemarkd's configuration file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = tracemark::daemon::ParseConfig(text, "/etc/tracemark/fuzz.json");
  if (!config.ok() && config.status().message().find('\n') != std::string::npos) {
    __builtin_trap();  // errors are one line
  }
  return 0;
}
