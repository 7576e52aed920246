// Decision statistics (DESIGN.md §4).
//
// Under the null hypothesis — the suspect never carried a code of this
// release — every extracted bit is a fair coin, because the scheme's secret
// projection and the code's secret mask are independent of the model. Matches
// with a licensee's code are then Binomial(T, 1/2); the p-value is the exact
// upper tail, multiplied by the number of hypotheses tested (Bonferroni).
#pragma once

#include <cstdint>
#include <vector>

#include "tracemark/decide/codes.h"

namespace tracemark {

// The accusation threshold on the Bonferroni-corrected p-value.
inline constexpr double kAccusationPValue = 1e-6;

// Exact P(X >= k) for X ~ Binomial(n, p); computed in log space, accurate
// down to ~1e-300 (returns 0 below). k <= 0 gives 1, k > n gives 0.
double BinomialUpperTail(int n, int k, double p = 0.5);

// min(1, tested * p).
double Bonferroni(double p, int64_t tested);

// Smallest k such that Bonferroni(BinomialUpperTail(n, k), tested) <= alpha,
// or n + 1 when no number of matches out of n reaches alpha.
int MinMatchesForAccusation(int n, int64_t tested, double alpha = kAccusationPValue);

// Hard decisions: soft bit s is read as 1 when s >= 0.5.
struct BitMatch {
  int matches = 0;
  int bits = 0;
};
BitMatch CountMatches(const std::vector<float>& soft_bits, const std::vector<uint8_t>& code);

// Result of BIBD colluder decoding for one release.
struct CoalitionDecision {
  std::vector<int> slots;  // decoded coalition (licensee slots), sorted; empty if none
  int matches = 0;         // embedded bits agreeing with the coalition's majority
  int bits = 0;            // embedded bits where that majority is defined (no tie)
  double p_value = 1.0;    // Binomial tail of matches/bits, Bonferroni over coalitions tested
  int64_t coalitions_tested = 0;
};

// The largest coalition DecodeBibdCoalition looks for:
// min(k - 1, codebook.max_colluders, active_users).
int BibdCoalitionLimit(const Codebook& codebook, int active_users);

// Decodes averaging colluders from soft bits extracted from a model carrying
// a bibd codebook (DeepMarks' AND-logic, Trappe et al.). With L the limit
// above:
//  1. Unmask (s -> 1 - s where mask is 1) and average the `repeat` bits of
//     each code position: y_p in [0, 1]. With z_p = 2 y_p - 1 and
//     a = max_p z_p (positions outside every colluder's line read +a), the
//     rescaled value is s_p = (z_p / a + 1) / 2, so a watermark shrunk by
//     fine-tuning or pruning keeps its shape. a < 0.05 means no signal.
//  2. Z = positions with s_p < tau, tau = 1 - 1/(2L); the coalition is the
//     active slots j < active_users whose whole block lies in Z. For m <= L
//     averaging colluders exactly the colluders qualify: a colluder's points
//     read at most 1 - 1/m, an innocent line always has a point outside the
//     colluders' lines, which reads 1.
//  3. Consistency: the coalition must explain the values — the mean
//     |s_p - (1 - share of coalition lines through p)| over all positions is
//     at most 1/(4|C|); otherwise nothing is decoded (noise decoded into a
//     coalition is refused rather than accused).
//  4. Evidence: majority of the coalition's embedded codes per bit (ties
//     skipped) compared with the hard extracted bits; p-value is the
//     Binomial(bits, 1/2) tail, Bonferroni over every coalition of size
//     1..L among active_users.
// Returns an empty coalition (p_value 1) when no slot qualifies.
CoalitionDecision DecodeBibdCoalition(const Codebook& codebook, const std::vector<float>& soft_bits,
                                      int active_users);

// The hypotheses one release contributes to the Bonferroni correction: its
// `users` licensees (random codes) or the coalitions the BIBD decoder may
// name (bibd codes).
int64_t HypothesesFor(const Codebook& codebook, int users);

// Number of coalitions of size 1..max_size among n users (saturates at INT64_MAX).
int64_t CountCoalitions(int n, int max_size);

}  // namespace tracemark
