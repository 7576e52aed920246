// IDX dataset files (MNIST's format).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tracemark/sdk/idx_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (uint32_t magic : {0x00000801u, 0x00000803u}) {
    auto layout = tracemark::ParseIdxLayout(bytes, magic, "fuzz");
    if (layout.ok() && layout->header + layout->count != bytes.size()) __builtin_trap();
  }
  return 0;
}
