#include "tracemark/sandbox/wire.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tracemark::sandbox {
namespace {

// Writes all of `data`, retrying on EINTR and short writes.
Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError(std::string("sandbox pipe: ") + std::strerror(errno));
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Reads exactly `size` bytes before `deadline_ms`.
Status ReadExactly(int fd, char* data, size_t size, int64_t deadline_ms) {
  while (size > 0) {
    int timeout = -1;
    if (deadline_ms > 0) {
      int64_t left = deadline_ms - MonotonicMs();
      if (left <= 0) return Status::Unavailable("sandbox deadline passed");
      timeout = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Status::IoError(std::string("sandbox pipe: ") + std::strerror(errno));
    if (ready == 0) return Status::Unavailable("sandbox deadline passed");
    ssize_t n = ::read(fd, data, size);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Status::IoError(std::string("sandbox pipe: ") + std::strerror(errno));
    if (n == 0) return Status::IoError("the sandboxed process closed its pipe");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

void WireWriter::Bytes(std::string_view bytes) {
  U32(static_cast<uint32_t>(bytes.size()));
  out_.append(bytes.data(), bytes.size());
}

bool WireReader::Raw(void* data, size_t size) {
  if (failed_ || in_.size() - pos_ < size) {
    failed_ = true;
    return false;
  }
  std::memcpy(data, in_.data() + pos_, size);
  pos_ += size;
  return true;
}

bool WireReader::Bytes(std::string* bytes, size_t max_size) {
  uint32_t size = 0;
  if (!U32(&size)) return false;
  if (size > max_size || in_.size() - pos_ < size) {
    failed_ = true;
    return false;
  }
  bytes->assign(in_.data() + pos_, size);
  pos_ += size;
  return true;
}

bool WireReader::Count(uint32_t* count, uint32_t max_count, size_t min_item_size) {
  if (!U32(count)) return false;
  const size_t left = in_.size() - pos_;
  if (*count > max_count || (min_item_size > 0 && *count > left / min_item_size)) {
    failed_ = true;
    return false;
  }
  return true;
}

int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Status WriteFrame(int fd, uint32_t type, std::string_view payload) {
  if (payload.size() > UINT32_MAX) return Status::InvalidArgument("sandbox frame too large");
  WireWriter header;
  header.U32(kFrameMagic);
  header.U32(type);
  header.U32(static_cast<uint32_t>(payload.size()));
  TM_RETURN_IF_ERROR(WriteAll(fd, header.payload().data(), header.payload().size()));
  return WriteAll(fd, payload.data(), payload.size());
}

StatusOr<Frame> ReadFrame(int fd, size_t max_payload, int64_t deadline_ms) {
  char header[12];
  TM_RETURN_IF_ERROR(ReadExactly(fd, header, sizeof header, deadline_ms));
  WireReader reader(std::string_view(header, sizeof header));
  uint32_t magic = 0, size = 0;
  Frame frame;
  if (!reader.U32(&magic) || !reader.U32(&frame.type) || !reader.U32(&size) ||
      magic != kFrameMagic) {
    return Status::Corruption("the sandboxed process sent a malformed frame");
  }
  if (size > max_payload) {
    return Status::Corruption("the sandboxed process sent a frame of " + std::to_string(size) +
                              " bytes, above the limit of " + std::to_string(max_payload));
  }
  frame.payload.resize(size);
  TM_RETURN_IF_ERROR(ReadExactly(fd, frame.payload.data(), size, deadline_ms));
  return frame;
}

}  // namespace tracemark::sandbox
