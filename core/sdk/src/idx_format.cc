#include "tracemark/sdk/idx_format.h"

namespace tracemark {
namespace {

uint32_t BigEndian32(const std::string& bytes, size_t offset) {
  auto b = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i]));
  };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

}  // namespace

StatusOr<IdxLayout> ParseIdxLayout(const std::string& bytes, uint32_t magic,
                                   const std::string& name) {
  if (bytes.size() < 8 || BigEndian32(bytes, 0) != magic) {
    return Status::InvalidArgument(name + " is not an IDX file of the expected kind");
  }
  IdxLayout layout;
  const size_t rank = magic & 0xff;
  layout.header = 4 + 4 * rank;
  if (bytes.size() < layout.header) {
    return Status::InvalidArgument(name + ": truncated IDX header");
  }
  layout.count = 1;
  for (size_t i = 0; i < rank; ++i) {
    layout.dims.push_back(BigEndian32(bytes, 4 + 4 * i));
    layout.count *= static_cast<size_t>(layout.dims.back());
    if (layout.count > bytes.size()) break;  // too large already; also stops overflow
  }
  if (layout.dims.size() != rank || bytes.size() != layout.header + layout.count) {
    return Status::InvalidArgument(name + ": IDX size " + std::to_string(bytes.size()) +
                                   " does not match its dimensions");
  }
  return layout;
}

}  // namespace tracemark
