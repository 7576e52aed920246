// The IDX format of MNIST-style datasets: a big-endian magic (0x00000801
// labels, 0x00000803 images: the low byte is the rank), one big-endian
// uint32 per dimension, then the uint8 values. No LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark {

struct IdxLayout {
  std::vector<int64_t> dims;
  size_t header = 0;  // where the values start
  size_t count = 0;   // how many there are
};

// InvalidArgument (naming `name`) unless `bytes` is an IDX file with
// `magic` whose size is exactly its header plus its dimensions' product.
StatusOr<IdxLayout> ParseIdxLayout(const std::string& bytes, uint32_t magic,
                                   const std::string& name);

}  // namespace tracemark
