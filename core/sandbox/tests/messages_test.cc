#include "tracemark/sandbox/messages.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tracemark/sandbox/wire.h"

namespace tracemark::sandbox {
namespace {

TEST(Messages, EveryMessageRoundTrips) {
  auto shapes = DecodeFactsRequest(EncodeFactsRequest({{"[1, 28, 28]", "[784]"}}));
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ(shapes->input_shapes, (std::vector<std::string>{"[1, 28, 28]", "[784]"}));

  SuspectFacts facts{"abc", {{"[784]", "classifier"}, {"[1, 28, 28]", ""}}};
  auto back = DecodeFacts(EncodeFacts(facts));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->architecture, "abc");
  EXPECT_EQ(back->kinds, facts.kinds);

  std::vector<ReleaseProbe> probes = {{7, "deepmarks", std::string("k\0ey", 4), {}},
                                      {8, "deepsigns", "key", {"", "copy"}}};
  auto p = DecodeProbes(EncodeProbes(probes));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].key, std::string("k\0ey", 4));
  EXPECT_EQ((*p)[1].copy_keys, (std::vector<std::string>{"", "copy"}));

  Evidence evidence;
  evidence.probes.push_back({7, Status::Ok(), {0.1f, 0.9f}, {}});
  evidence.probes.push_back({8, Status::Unavailable("endpoint down"), {}, {}});
  evidence.probes.push_back({9, Status::Ok(), {}, {{3, 10, 0.25}}});
  evidence.queries = 42;
  auto e = DecodeEvidence(EncodeEvidence(evidence));
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_EQ(e->probes.size(), 3u);
  EXPECT_EQ(e->probes[0].soft_bits, (std::vector<float>{0.1f, 0.9f}));
  EXPECT_EQ(e->probes[1].status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(e->probes[1].status.message(), "endpoint down");
  EXPECT_EQ(e->probes[2].counts[0].trials, 10);
  EXPECT_EQ(e->queries, 42);

  Status error = DecodeError(EncodeError(Status::InvalidArgument("not a model")));
  EXPECT_EQ(error.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(error.message(), "not a model");
}

TEST(Messages, NonFiniteNumbersAndTrailingBytesAreRefused) {
  Evidence evidence;
  evidence.probes.push_back({1, Status::Ok(), {std::numeric_limits<float>::quiet_NaN()}, {}});
  EXPECT_EQ(DecodeEvidence(EncodeEvidence(evidence)).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeFacts(EncodeFacts({"a", {}}) + "x").status().code(), Status::Code::kCorruption);
  Evidence negative;
  negative.queries = -1;
  EXPECT_EQ(DecodeEvidence(EncodeEvidence(negative)).status().code(), Status::Code::kCorruption);
}

TEST(Messages, AnErrorFrameIsNeverOkAndItsTextStaysOnOneLine) {
  WireWriter w;
  w.U32(0);  // "OK"
  w.Bytes("line one\nline two \xff");
  Status st = DecodeError(w.payload());
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("\\xff"), std::string::npos) << st.message();
}

TEST(Messages, EveryTruncationOfAValidMessageIsRefused) {
  Evidence evidence;
  evidence.probes.push_back({7, Status::FailedPrecondition("x"), {0.5f}, {{1, 2, 0.5}}});
  const std::string full = EncodeEvidence(evidence);
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(DecodeEvidence(full.substr(0, n)).ok()) << n;
  }
}

}  // namespace
}  // namespace tracemark::sandbox
