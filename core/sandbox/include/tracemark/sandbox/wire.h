// The sandbox's wire format: frames of typed, bounded binary fields between
// the daemon (or CLI) and its sandboxed child. Everything the child sends is
// attacker-influenced, so every read is bounds-checked and every length is
// capped; a frame that does not parse is refused, never trusted in part.
//
// frame   := magic u32 ("TMSB") | type u32 | length u32 | payload[length]
// fields  := little-endian fixed-width integers and floats; bytes/strings
//            as u32 length + data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tracemark/base/status.h"

namespace tracemark::sandbox {

inline constexpr uint32_t kFrameMagic = 0x42534d54;  // "TMSB"

// Appends fields to a payload.
class WireWriter {
 public:
  void U32(uint32_t v) { Raw(&v, sizeof v); }
  void I32(int32_t v) { Raw(&v, sizeof v); }
  void I64(int64_t v) { Raw(&v, sizeof v); }
  void F32(float v) { Raw(&v, sizeof v); }
  void F64(double v) { Raw(&v, sizeof v); }
  void Bytes(std::string_view bytes);
  const std::string& payload() const { return out_; }

 private:
  void Raw(const void* data, size_t size) { out_.append(static_cast<const char*>(data), size); }
  std::string out_;
};

// Reads fields from a payload. Every method returns false (and reads
// nothing more) once the payload is exhausted or a length exceeds its cap.
class WireReader {
 public:
  explicit WireReader(std::string_view payload) : in_(payload) {}
  bool U32(uint32_t* v) { return Raw(v, sizeof *v); }
  bool I32(int32_t* v) { return Raw(v, sizeof *v); }
  bool I64(int64_t* v) { return Raw(v, sizeof *v); }
  bool F32(float* v) { return Raw(v, sizeof *v); }
  bool F64(double* v) { return Raw(v, sizeof *v); }
  // At most `max_size` bytes.
  bool Bytes(std::string* bytes, size_t max_size);
  // A count of items each at least `min_item_size` bytes long, at most
  // `max_count`, and no more than the rest of the payload could hold.
  bool Count(uint32_t* count, uint32_t max_count, size_t min_item_size);
  bool AtEnd() const { return failed_ || pos_ == in_.size(); }
  bool failed() const { return failed_; }

 private:
  bool Raw(void* data, size_t size);
  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

struct Frame {
  uint32_t type = 0;
  std::string payload;
};

// Writes one frame to `fd` (a pipe), all of it. IoError when the reader is
// gone.
Status WriteFrame(int fd, uint32_t type, std::string_view payload);

// Reads one frame from `fd`, waiting at most until `deadline_ms` (a
// CLOCK_MONOTONIC time in milliseconds; 0: no deadline). Unavailable when the
// deadline passes, IoError when the writer closed the pipe, Corruption when
// the magic is wrong or the payload exceeds `max_payload`.
StatusOr<Frame> ReadFrame(int fd, size_t max_payload, int64_t deadline_ms);

// CLOCK_MONOTONIC now, in milliseconds.
int64_t MonotonicMs();

}  // namespace tracemark::sandbox
