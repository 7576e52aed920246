// Per-licensee fingerprint codes.
//
// A release draws one codebook from a secret seed; licensee slot i embeds
// codebook.codes[i]. Two families:
//   * random: i.i.d. uniform bits with a guaranteed minimum pairwise Hamming
//     distance, so no licensee's code agrees with another's closely enough to
//     be accused from that other licensee's copy;
//   * bibd:   anti-collusion codes (Trappe et al. 2003) from a (v, k, 1)
//     balanced incomplete block design, here the projective plane PG(2, q)
//     with q prime (v = q^2 + q + 1 points and lines, k = q + 1). Licensee
//     slot j's code vector is the complement of line j's incidence vector.
//     Each of the v code positions is repeated `repeat` times, the repeated
//     bits are XORed with a secret mask and shuffled, so every embedded bit
//     is a fair coin for anyone without the seed.
// Everything is a pure function of the spec: the same spec always yields the
// same codebook (the RNG is our own, not the standard library's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark {

enum class CodeFamily { kRandom, kBibd };

std::string CodeFamilyName(CodeFamily family);  // "random" / "bibd"
StatusOr<CodeFamily> ParseCodeFamily(const std::string& name);

// Deterministic 64-bit generator (splitmix64) used for all secret draws.
class SecretRng {
 public:
  explicit SecretRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  uint64_t Below(uint64_t n);  // uniform in [0, n), n > 0, unbiased
  bool Bit() { return Next() >> 63; }

 private:
  uint64_t state_;
};

// A (v, k, 1) design: `blocks` holds v lines, each the sorted list of its
// k point indices in [0, v).
struct Bibd {
  int q = 0;
  int v = 0;
  int k = 0;
  std::vector<std::vector<int>> blocks;
};

// PG(2, q) for prime q in [2, 97]; InvalidArgument otherwise.
StatusOr<Bibd> ProjectivePlane(int q);

struct CodebookSpec {
  CodeFamily family = CodeFamily::kRandom;
  int users = 0;          // licensee slots needed, >= 1
  int min_bits = 256;     // random: exactly this many bits; bibd: at least this many
  int max_colluders = 3;  // bibd: the plane is chosen with k - 1 >= max_colluders
  uint64_t seed = 0;
};

struct Codebook {
  CodeFamily family = CodeFamily::kRandom;
  int bits = 0;   // T, bits embedded per copy
  int users = 0;  // slots in `codes`
  uint64_t seed = 0;
  int min_distance = 0;  // random: guaranteed pairwise Hamming distance
  // bibd only:
  int repeat = 1;             // T = v * repeat
  int max_colluders = 0;      // the decoder looks for at most this many colluders
  Bibd design;                // the plane; slot j uses design.blocks[j]
  std::vector<int> position;  // [T] code position (point) of embedded bit t
  std::vector<uint8_t> mask;  // [T] secret mask XORed into embedded bit t
  // [users][T] the bits each slot embeds (0/1), masks already applied.
  std::vector<std::vector<uint8_t>> codes;
};

// Builds the codebook for `spec`. InvalidArgument when users < 1, when
// min_bits < 8, when a bibd large enough does not exist in range, or when a
// random codebook with the required distance cannot be drawn.
// Random family: min_distance = floor(T/2 - 2*sqrt(T)).
// Bibd family: the smallest prime q with q^2+q+1 >= users and q >= max_colluders;
// repeat = ceil(min_bits / v).
StatusOr<Codebook> MakeCodebook(const CodebookSpec& spec);

// Number of positions where the two equal-length bit vectors differ.
int HammingDistance(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

}  // namespace tracemark
