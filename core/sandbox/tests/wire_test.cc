#include "tracemark/sandbox/wire.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace tracemark::sandbox {
namespace {

TEST(Wire, FieldsRoundTrip) {
  WireWriter w;
  w.U32(7);
  w.I64(-3);
  w.F32(0.25f);
  w.F64(1e-9);
  w.Bytes(std::string("a\0b", 3));
  WireReader r(w.payload());
  uint32_t u = 0;
  int64_t i = 0;
  float f = 0;
  double d = 0;
  std::string bytes;
  ASSERT_TRUE(r.U32(&u) && r.I64(&i) && r.F32(&f) && r.F64(&d) && r.Bytes(&bytes, 16));
  EXPECT_EQ(u, 7u);
  EXPECT_EQ(i, -3);
  EXPECT_EQ(f, 0.25f);
  EXPECT_EQ(d, 1e-9);
  EXPECT_EQ(bytes, std::string("a\0b", 3));
  EXPECT_TRUE(r.AtEnd());
}

TEST(Wire, ShortPayloadsAndOversizedLengthsFailAndStayFailed) {
  WireWriter w;
  w.U32(1000);  // a length with nothing behind it
  WireReader r(w.payload());
  std::string bytes;
  EXPECT_FALSE(r.Bytes(&bytes, 1 << 20));
  uint32_t u = 0;
  EXPECT_FALSE(r.U32(&u)) << "a failed reader reads nothing more";
  WireWriter big;
  big.Bytes("0123456789");
  WireReader capped(big.payload());
  EXPECT_FALSE(capped.Bytes(&bytes, 4));
}

TEST(Wire, CountsCannotPromiseMoreItemsThanThePayloadHolds) {
  WireWriter w;
  w.U32(1000000);
  w.U32(1);
  WireReader r(w.payload());
  uint32_t n = 0;
  EXPECT_FALSE(r.Count(&n, 2000000, 4));
}

TEST(Wire, FramesCrossAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_TRUE(WriteFrame(fds[1], 9, "payload").ok());
  auto frame = ReadFrame(fds[0], 1 << 20, MonotonicMs() + 1000);
  ASSERT_TRUE(frame.ok()) << frame.status().message();
  EXPECT_EQ(frame->type, 9u);
  EXPECT_EQ(frame->payload, "payload");
  close(fds[1]);
  EXPECT_EQ(ReadFrame(fds[0], 1 << 20, MonotonicMs() + 1000).status().code(),
            Status::Code::kIoError);
  close(fds[0]);
}

TEST(Wire, BadMagicOversizeAndSilenceAreRefused) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "garbage-bytes", 12), 12);
  EXPECT_EQ(ReadFrame(fds[0], 1 << 20, MonotonicMs() + 1000).status().code(),
            Status::Code::kCorruption);
  ASSERT_TRUE(WriteFrame(fds[1], 1, std::string(100, 'x')).ok());
  EXPECT_EQ(ReadFrame(fds[0], 10, MonotonicMs() + 1000).status().code(), Status::Code::kCorruption);
  close(fds[0]);
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(ReadFrame(fds[0], 10, MonotonicMs() + 50).status().code(), Status::Code::kUnavailable);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace tracemark::sandbox
