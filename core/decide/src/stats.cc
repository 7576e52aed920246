#include "tracemark/decide/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tracemark {
namespace {

// Tails below 1e-300 are reported as 0.
constexpr double kLogSmallestTail = -690.7755278982137;  // log(1e-300)
// a = max_p z_p below this means no watermark signal.
constexpr double kMinSignal = 0.05;

// log of C(n, i) p^i (1-p)^(n-i).
double LogBinomialTerm(int n, int i, double log_p, double log_q) {
  return std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * log_p +
         (n - i) * log_q;
}

double LogSumExp(const std::vector<double>& logs) {
  const double top = *std::max_element(logs.begin(), logs.end());
  double sum = 0;
  for (double l : logs) sum += std::exp(l - top);
  return top + std::log(sum);
}

// C(n, s) from C(n, s - 1); false when the result overflows int64.
bool NextBinomial(int64_t prev, int n, int s, int64_t* next) {
  // C(n, s) = C(n, s-1) * (n-s+1) / s is exact; cancelling g = gcd(prev, s)
  // first leaves s / g dividing n - s + 1, so no intermediate overflows.
  const int64_t g = std::gcd(prev, int64_t{s});
  return !__builtin_mul_overflow(prev / g, (n - s + 1) / (s / g), next);
}

bool ShapeMatches(const Codebook& book, const std::vector<float>& soft_bits) {
  const size_t bits = book.bits;
  return book.family == CodeFamily::kBibd && book.design.v > 0 && book.design.k >= 2 &&
         soft_bits.size() == bits && book.position.size() == bits && book.mask.size() == bits;
}

// active_users limited to the slots the codebook actually holds.
int ActiveSlots(const Codebook& book, int active_users) {
  const int held = static_cast<int>(std::min(book.codes.size(), book.design.blocks.size()));
  return std::max(0, std::min(active_users, held));
}

// z_p = 2 y_p - 1, y_p the mean unmasked soft bit of code position p.
std::vector<double> PositionScores(const Codebook& book, const std::vector<float>& soft_bits) {
  std::vector<double> sum(book.design.v, 0.0);
  std::vector<int> count(book.design.v, 0);
  for (size_t t = 0; t < soft_bits.size(); ++t) {
    const double s = soft_bits[t];
    sum[book.position[t]] += book.mask[t] ? 1 - s : s;
    ++count[book.position[t]];
  }
  std::vector<double> z(book.design.v, 0.0);
  for (int p = 0; p < book.design.v; ++p) {
    if (count[p] > 0) z[p] = 2 * sum[p] / count[p] - 1;
  }
  return z;
}

// Positions whose rescaled score is below 1 - 1/(2 * limit).
std::vector<bool> LowPositions(const std::vector<double>& scaled, int limit) {
  const double tau = 1 - 1.0 / (2 * limit);
  std::vector<bool> low(scaled.size());
  for (size_t p = 0; p < scaled.size(); ++p) low[p] = scaled[p] < tau;
  return low;
}

// Whether averaging the coalition's codes explains the rescaled scores: mean
// absolute residual at most 1/(4 |C|), a quarter of the step one colluder makes.
bool ExplainsScores(const Bibd& design, const std::vector<int>& slots,
                    const std::vector<double>& scaled) {
  std::vector<double> predicted(scaled.size(), 1.0);
  const double share = 1.0 / slots.size();
  for (int j : slots) {
    for (int p : design.blocks[j]) predicted[p] -= share;
  }
  double residual = 0;
  for (size_t p = 0; p < scaled.size(); ++p) residual += std::abs(scaled[p] - predicted[p]);
  return residual / scaled.size() <= share / 4;
}

// Slots j < active_users whose whole block lies in `low`.
std::vector<int> SlotsInside(const Bibd& design, const std::vector<bool>& low, int active_users) {
  std::vector<int> slots;
  for (int j = 0; j < active_users; ++j) {
    const std::vector<int>& block = design.blocks[j];
    if (std::all_of(block.begin(), block.end(), [&](int p) { return low[p]; })) slots.push_back(j);
  }
  return slots;
}

// Matches between the hard extracted bits and the coalition's majority bit,
// over the embedded bits where that majority is defined.
BitMatch MajorityMatches(const Codebook& book, const std::vector<float>& soft_bits,
                         const std::vector<int>& slots) {
  std::vector<float> soft_defined;
  std::vector<uint8_t> majority;
  const int members = static_cast<int>(slots.size());
  for (size_t t = 0; t < soft_bits.size(); ++t) {
    int ones = 0;
    for (int j : slots) ones += book.codes[j][t];
    if (2 * ones == members) continue;
    soft_defined.push_back(soft_bits[t]);
    majority.push_back(2 * ones > members);
  }
  return CountMatches(soft_defined, majority);
}

}  // namespace

double BinomialUpperTail(int n, int k, double p) {
  if (k <= 0) return 1.0;
  if (k > n || p <= 0) return 0.0;
  if (p >= 1) return 1.0;
  const double log_p = std::log(p);
  const double log_q = std::log1p(-p);
  std::vector<double> logs;
  logs.reserve(n - k + 1);
  for (int i = k; i <= n; ++i) logs.push_back(LogBinomialTerm(n, i, log_p, log_q));
  const double log_tail = LogSumExp(logs);
  return log_tail < kLogSmallestTail ? 0.0 : std::min(1.0, std::exp(log_tail));
}

double Bonferroni(double p, int64_t tested) {
  // At least one hypothesis is always tested; never shrink a p-value.
  return std::min(1.0, static_cast<double>(std::max<int64_t>(tested, 1)) * p);
}

int MinMatchesForAccusation(int n, int64_t tested, double alpha) {
  // The corrected tail falls as k grows: binary search for the first k that passes.
  int lo = 0;
  int hi = n + 1;  // n + 1 stands for "never"
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (Bonferroni(BinomialUpperTail(n, mid), tested) <= alpha) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

BitMatch CountMatches(const std::vector<float>& soft_bits, const std::vector<uint8_t>& code) {
  BitMatch result;
  result.bits = static_cast<int>(std::min(soft_bits.size(), code.size()));
  for (int t = 0; t < result.bits; ++t) {
    result.matches += (soft_bits[t] >= 0.5f) == (code[t] != 0);
  }
  return result;
}

int64_t CountCoalitions(int n, int max_size) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  int64_t binomial = 1;  // C(n, s - 1)
  for (int s = 1; s <= std::min(n, max_size); ++s) {
    if (!NextBinomial(binomial, n, s, &binomial) || binomial > kMax - total) return kMax;
    total += binomial;
  }
  return total;
}

int64_t HypothesesFor(const Codebook& codebook, int users) {
  return codebook.family == CodeFamily::kBibd
             ? CountCoalitions(users, BibdCoalitionLimit(codebook, users))
             : users;
}

int BibdCoalitionLimit(const Codebook& codebook, int active_users) {
  return std::min(
      {codebook.design.k - 1, codebook.max_colluders, ActiveSlots(codebook, active_users)});
}

CoalitionDecision DecodeBibdCoalition(const Codebook& codebook, const std::vector<float>& soft_bits,
                                      int active_users) {
  CoalitionDecision decision;
  if (!ShapeMatches(codebook, soft_bits)) return decision;
  const int limit = BibdCoalitionLimit(codebook, active_users);
  if (limit < 1) return decision;
  decision.coalitions_tested = CountCoalitions(ActiveSlots(codebook, active_users), limit);

  std::vector<double> scaled = PositionScores(codebook, soft_bits);
  const double a = *std::max_element(scaled.begin(), scaled.end());
  if (a < kMinSignal) return decision;
  for (double& z : scaled) z = (z / a + 1) / 2;
  std::vector<int> slots = SlotsInside(codebook.design, LowPositions(scaled, limit),
                                       ActiveSlots(codebook, active_users));
  if (slots.empty() || static_cast<int>(slots.size()) > limit) return decision;
  if (!ExplainsScores(codebook.design, slots, scaled)) return decision;

  const BitMatch evidence = MajorityMatches(codebook, soft_bits, slots);
  decision.slots = std::move(slots);
  decision.matches = evidence.matches;
  decision.bits = evidence.bits;
  decision.p_value =
      Bonferroni(BinomialUpperTail(evidence.bits, evidence.matches), decision.coalitions_tested);
  return decision;
}

}  // namespace tracemark
