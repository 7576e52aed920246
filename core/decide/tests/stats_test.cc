#include "tracemark/decide/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace tracemark {
namespace {

void ExpectRelNear(double got, double want, double rel = 1e-10) {
  EXPECT_NEAR(got, want, rel * want) << "want " << want;
}

TEST(BinomialUpperTailTest, KnownValues) {
  ExpectRelNear(BinomialUpperTail(10, 10), 1.0 / 1024);
  EXPECT_EQ(BinomialUpperTail(10, 0), 1.0);
  EXPECT_EQ(BinomialUpperTail(10, -4), 1.0);
  EXPECT_EQ(BinomialUpperTail(10, 11), 0.0);
  ExpectRelNear(BinomialUpperTail(20, 15), 0.020694732666015625);   // 21700 / 2^20
  ExpectRelNear(BinomialUpperTail(64, 51), 9.404810782147007e-07);  // python3 math.comb
  ExpectRelNear(BinomialUpperTail(5, 5, 0.1), 1e-5);
  ExpectRelNear(BinomialUpperTail(3, 1, 0.2), 1 - 0.8 * 0.8 * 0.8);
}

TEST(BinomialUpperTailTest, FairCoinIsSymmetric) {
  ExpectRelNear(BinomialUpperTail(11, 6), 0.5);
  // P(X >= 6) = P(X <= 4) = 1 - P(X >= 5) for n = 10.
  ExpectRelNear(BinomialUpperTail(10, 6) + BinomialUpperTail(10, 5), 1.0);
}

TEST(BinomialUpperTailTest, TinyTails) {
  ExpectRelNear(BinomialUpperTail(990, 990), std::ldexp(1.0, -990), 1e-9);
  EXPECT_EQ(BinomialUpperTail(2000, 2000), 0.0);  // 2^-2000 is below ~1e-300
}

TEST(BonferroniTest, MultipliesAndCaps) {
  EXPECT_DOUBLE_EQ(Bonferroni(1e-8, 25), 2.5e-7);
  EXPECT_EQ(Bonferroni(0.1, 25), 1.0);
  EXPECT_EQ(Bonferroni(0.3, 0), 0.3);  // no hypotheses still counts as one
}

TEST(MinMatchesForAccusationTest, DesignFigures) {
  // Independently computed with python3 math.comb: smallest k with
  // tested * sum_{i>=k} C(n, i) / 2^n <= 1e-6.
  //   tested = 1:    n=16 -> none (17), n=64 -> 51, n=256 -> 167  (DESIGN.md §4)
  //   tested = 1000: n=16 -> none (17), n=64 -> 56, n=256 -> 176
  EXPECT_EQ(MinMatchesForAccusation(16, 1), 17);
  EXPECT_EQ(MinMatchesForAccusation(64, 1), 51);
  EXPECT_EQ(MinMatchesForAccusation(256, 1), 167);
  EXPECT_EQ(MinMatchesForAccusation(16, 1000), 17);
  EXPECT_EQ(MinMatchesForAccusation(64, 1000), 56);
  EXPECT_EQ(MinMatchesForAccusation(256, 1000), 176);
}

TEST(MinMatchesForAccusationTest, IsTheExactBoundary) {
  const int k = MinMatchesForAccusation(64, 1);
  EXPECT_LE(BinomialUpperTail(64, k), kAccusationPValue);
  EXPECT_GT(BinomialUpperTail(64, k - 1), kAccusationPValue);
  EXPECT_EQ(MinMatchesForAccusation(10, 1, 1.0), 0);
}

TEST(CountMatchesTest, ThresholdsAtOneHalf) {
  const BitMatch m = CountMatches({0.5f, 0.49f, 0.9f, 0.1f}, {1, 0, 0, 1});
  EXPECT_EQ(m.bits, 4);
  EXPECT_EQ(m.matches, 2);
}

TEST(CountMatchesTest, ComparesUpToTheShorter) {
  const BitMatch m = CountMatches({0.9f, 0.9f, 0.9f}, {1, 0});
  EXPECT_EQ(m.bits, 2);
  EXPECT_EQ(m.matches, 1);
}

TEST(CountCoalitionsTest, SumsBinomials) {
  EXPECT_EQ(CountCoalitions(5, 3), 25);    // 5 + 10 + 10
  EXPECT_EQ(CountCoalitions(13, 3), 377);  // 13 + 78 + 286
  EXPECT_EQ(CountCoalitions(5, 10), 31);   // 2^5 - 1
  EXPECT_EQ(CountCoalitions(0, 3), 0);
  EXPECT_EQ(CountCoalitions(5, 0), 0);
}

TEST(CountCoalitionsTest, Saturates) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(CountCoalitions(62, 62), (int64_t{1} << 62) - 1);
  EXPECT_EQ(CountCoalitions(63, 63), kMax);  // 2^63 - 1 fits exactly
  EXPECT_EQ(CountCoalitions(64, 64), kMax);
  EXPECT_EQ(CountCoalitions(100000, 100), kMax);
  EXPECT_EQ(CountCoalitions(1000, 3), 1000 + 499500 + 166167000);
}

// --- BIBD coalition decoding -------------------------------------------------

constexpr int kUsers = 5;

Codebook PlaneOf13(uint64_t seed = 17) {
  CodebookSpec spec;
  spec.family = CodeFamily::kBibd;
  spec.users = kUsers;
  spec.min_bits = 256;
  spec.max_colluders = 3;
  spec.seed = seed;
  StatusOr<Codebook> book = MakeCodebook(spec);
  EXPECT_TRUE(book.ok()) << book.status().message();
  EXPECT_EQ(book->design.v, 13);
  return std::move(book).value();
}

// Soft bits of a model averaged from the colluders' copies, the watermark
// shrunk to 60% around 1/2 and perturbed by deterministic noise in [-0.05, 0.05].
std::vector<float> AveragedSoftBits(const Codebook& book, const std::vector<int>& colluders) {
  SecretRng noise(99);
  std::vector<float> soft(book.bits);
  for (int t = 0; t < book.bits; ++t) {
    double mean = 0;
    for (int j : colluders) mean += book.codes[j][t];
    mean /= colluders.size();
    const double jitter = (static_cast<double>(noise.Below(101)) - 50) / 1000;
    soft[t] = static_cast<float>(0.5 + 0.6 * (mean - 0.5) + jitter);
  }
  return soft;
}

std::vector<float> FairCoinSoftBits(int bits, uint64_t seed) {
  SecretRng rng(seed);
  std::vector<float> soft(bits);
  for (float& s : soft) s = static_cast<float>(rng.Next() >> 40) / (1 << 24);
  return soft;
}

void ExpectDecodes(const Codebook& book, const std::vector<int>& colluders) {
  const CoalitionDecision d = DecodeBibdCoalition(book, AveragedSoftBits(book, colluders), kUsers);
  EXPECT_EQ(d.slots, colluders);
  EXPECT_EQ(d.coalitions_tested, 25);
  EXPECT_GT(d.bits, 0);
  EXPECT_EQ(d.matches, d.bits);
  EXPECT_LE(d.p_value, kAccusationPValue);
}

TEST(DecodeBibdCoalitionTest, DecodesOneTwoAndThreeColluders) {
  const Codebook book = PlaneOf13();
  for (const std::vector<int>& colluders : std::vector<std::vector<int>>{{2}, {0, 3}, {1, 2, 4}}) {
    SCOPED_TRACE(::testing::PrintToString(colluders));
    ExpectDecodes(book, colluders);
  }
}

TEST(DecodeBibdCoalitionTest, SingleColluderEvidenceUsesEveryBit) {
  const Codebook book = PlaneOf13();
  const CoalitionDecision d = DecodeBibdCoalition(book, AveragedSoftBits(book, {3}), kUsers);
  EXPECT_EQ(d.bits, book.bits);
  EXPECT_EQ(d.matches, book.bits);
}

TEST(DecodeBibdCoalitionTest, DecodesEverySubsetOfUpToThreeOfFiveUsers) {
  const Codebook book = PlaneOf13(23);
  int subsets = 0;
  for (int mask = 1; mask < (1 << kUsers); ++mask) {
    std::vector<int> colluders;
    for (int j = 0; j < kUsers; ++j) {
      if (mask & (1 << j)) colluders.push_back(j);
    }
    if (colluders.size() > 3) continue;
    SCOPED_TRACE(::testing::PrintToString(colluders));
    ExpectDecodes(book, colluders);
    ++subsets;
  }
  EXPECT_EQ(subsets, 25);
}

TEST(DecodeBibdCoalitionTest, FairCoinsAccuseNobody) {
  const Codebook book = PlaneOf13();
  int accused = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const CoalitionDecision d =
        DecodeBibdCoalition(book, FairCoinSoftBits(book.bits, seed), kUsers);
    if (d.slots.empty()) {
      EXPECT_EQ(d.p_value, 1.0);
    } else if (d.p_value <= kAccusationPValue) {
      ++accused;
    }
  }
  EXPECT_EQ(accused, 0);
}

TEST(DecodeBibdCoalitionTest, NoSignalDecodesNobody) {
  const Codebook book = PlaneOf13();
  const CoalitionDecision d =
      DecodeBibdCoalition(book, std::vector<float>(book.bits, 0.5f), kUsers);
  EXPECT_TRUE(d.slots.empty());
  EXPECT_EQ(d.p_value, 1.0);
  EXPECT_EQ(d.coalitions_tested, 25);
}

TEST(DecodeBibdCoalitionTest, OnlyActiveSlotsAreAccused) {
  const Codebook book = PlaneOf13();
  const std::vector<float> soft = AveragedSoftBits(book, {1, 4});
  const CoalitionDecision d = DecodeBibdCoalition(book, soft, 3);
  EXPECT_EQ(d.slots, std::vector<int>{1});
  EXPECT_EQ(d.coalitions_tested, 7);  // 3 + 3 + 1
}

TEST(DecodeBibdCoalitionTest, WrongLengthOrFamilyDecodesNobody) {
  const Codebook book = PlaneOf13();
  std::vector<float> soft = AveragedSoftBits(book, {0});
  soft.pop_back();
  EXPECT_TRUE(DecodeBibdCoalition(book, soft, kUsers).slots.empty());

  Codebook random = book;
  random.family = CodeFamily::kRandom;
  EXPECT_TRUE(DecodeBibdCoalition(random, AveragedSoftBits(book, {0}), kUsers).slots.empty());
}

}  // namespace
}  // namespace tracemark

namespace tracemark {
namespace {

// Regression: with 100 licensees the plane is PG(2, 11) (k = 12). A single
// copy embedded only to DeepMarks' margin (decoded values anywhere in
// [0.5, 1] on the right side, repeats = 2) once decoded into a coalition of
// eleven innocents when the threshold followed k rather than max_colluders.
TEST(DecodeBibdCoalitionTest, LargePlaneWithMarginNoiseNamesOnlyTheOwner) {
  CodebookSpec spec;
  spec.family = CodeFamily::kBibd;
  spec.users = 100;
  spec.min_bits = 256;
  spec.max_colluders = 3;
  spec.seed = 5;
  StatusOr<Codebook> book = MakeCodebook(spec);
  ASSERT_TRUE(book.ok());
  ASSERT_EQ(book->design.k, 12);
  SecretRng noise(3);
  for (int owner : {0, 42, 99}) {
    std::vector<float> soft(book->bits);
    for (int t = 0; t < book->bits; ++t) {
      const double strength = 0.5 + 0.5 * static_cast<double>(noise.Below(1001)) / 1000;
      const double decoded = (book->codes[owner][t] ? 1 : -1) * strength;  // in [0.5, 1]
      soft[t] = static_cast<float>((decoded + 1) / 2);
    }
    const CoalitionDecision d = DecodeBibdCoalition(*book, soft, spec.users);
    EXPECT_EQ(d.slots, std::vector<int>{owner});
    EXPECT_EQ(d.coalitions_tested, 100 + 4950 + 161700);
    EXPECT_LE(d.p_value, kAccusationPValue);
  }
}

}  // namespace
}  // namespace tracemark
