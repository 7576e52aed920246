#include "tracemark/decide/codes.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>

namespace tracemark {
namespace {

constexpr int kMinBits = 8;
constexpr int kMaxPlaneOrder = 97;
// A random codebook gives up after this many rejected candidates per slot.
constexpr int64_t kRejectionsPerUser = 1000;

using Vec3 = std::array<int, 3>;

bool IsPrime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// Nonzero vectors of F_q^3 whose first nonzero coordinate is 1, in
// lexicographic order: (0,0,1), (0,1,c), (1,b,c). Both the points and the
// lines of PG(2, q) are indexed by this list.
std::vector<Vec3> NormalizedVectors(int q) {
  std::vector<Vec3> out;
  out.reserve(q * q + q + 1);
  out.push_back({0, 0, 1});
  for (int c = 0; c < q; ++c) out.push_back({0, 1, c});
  for (int b = 0; b < q; ++b) {
    for (int c = 0; c < q; ++c) out.push_back({1, b, c});
  }
  return out;
}

bool Incident(const Vec3& point, const Vec3& line, int q) {
  return (point[0] * line[0] + point[1] * line[1] + point[2] * line[2]) % q == 0;
}

Status ValidateSpec(const CodebookSpec& spec) {
  if (spec.users < 1) {
    return Status::InvalidArgument("users must be >= 1 (got " + std::to_string(spec.users) + ")");
  }
  if (spec.min_bits < kMinBits) {
    return Status::InvalidArgument("min_bits must be >= " + std::to_string(kMinBits) + " (got " +
                                   std::to_string(spec.min_bits) + ")");
  }
  if (spec.family == CodeFamily::kBibd && spec.max_colluders < 1) {
    return Status::InvalidArgument("max_colluders must be >= 1 (got " +
                                   std::to_string(spec.max_colluders) + ")");
  }
  return Status::Ok();
}

Codebook EmptyCodebook(const CodebookSpec& spec) {
  Codebook book;
  book.family = spec.family;
  book.users = spec.users;
  book.seed = spec.seed;
  return book;
}

std::vector<uint8_t> RandomBits(SecretRng& rng, int n) {
  std::vector<uint8_t> bits(n);
  for (uint8_t& bit : bits) bit = rng.Bit();
  return bits;
}

bool FarFromAll(const std::vector<std::vector<uint8_t>>& codes,
                const std::vector<uint8_t>& candidate, int min_distance) {
  return std::all_of(codes.begin(), codes.end(), [&](const std::vector<uint8_t>& code) {
    return HammingDistance(code, candidate) >= min_distance;
  });
}

StatusOr<Codebook> MakeRandomCodebook(const CodebookSpec& spec) {
  Codebook book = EmptyCodebook(spec);
  book.bits = spec.min_bits;
  const double t = book.bits;
  book.min_distance = std::max(0, static_cast<int>(std::floor(t / 2 - 2 * std::sqrt(t))));
  SecretRng rng(spec.seed);
  const int64_t max_rejections = kRejectionsPerUser * spec.users;
  int64_t rejections = 0;
  while (static_cast<int>(book.codes.size()) < spec.users) {
    std::vector<uint8_t> candidate = RandomBits(rng, book.bits);
    if (FarFromAll(book.codes, candidate, book.min_distance)) {
      book.codes.push_back(std::move(candidate));
    } else if (++rejections > max_rejections) {
      return Status::InvalidArgument("cannot draw " + std::to_string(spec.users) +
                                     " random codes of " + std::to_string(book.bits) +
                                     " bits at distance >= " + std::to_string(book.min_distance) +
                                     "; use more bits");
    }
  }
  return book;
}

// Smallest prime q >= max(2, max_colluders) whose plane has >= users lines.
StatusOr<int> ChoosePlaneOrder(int users, int max_colluders) {
  for (int q = std::max(2, max_colluders); q <= kMaxPlaneOrder; ++q) {
    if (IsPrime(q) && q * q + q + 1 >= users) return q;
  }
  return Status::InvalidArgument(
      "no projective plane PG(2, q) with prime q <= " + std::to_string(kMaxPlaneOrder) + " holds " +
      std::to_string(users) + " users and " + std::to_string(max_colluders) + " colluders");
}

// Each of the v positions `repeat` times, in a uniformly random order.
std::vector<int> ShuffledPositions(SecretRng& rng, int v, int repeat) {
  std::vector<int> position(static_cast<size_t>(v) * repeat);
  for (size_t t = 0; t < position.size(); ++t) position[t] = static_cast<int>(t) / repeat;
  for (size_t i = position.size(); i > 1; --i) {
    std::swap(position[i - 1], position[rng.Below(i)]);
  }
  return position;
}

// Code vector of one slot: 0 on the points of its block, 1 elsewhere.
std::vector<uint8_t> BlockComplement(const std::vector<int>& block, int v) {
  std::vector<uint8_t> code(v, 1);
  for (int point : block) code[point] = 0;
  return code;
}

std::vector<uint8_t> EmbeddedCode(const std::vector<uint8_t>& code_vector,
                                  const std::vector<int>& position,
                                  const std::vector<uint8_t>& mask) {
  std::vector<uint8_t> embedded(position.size());
  for (size_t t = 0; t < position.size(); ++t) embedded[t] = code_vector[position[t]] ^ mask[t];
  return embedded;
}

int SortedIntersectionSize(const std::vector<int>& a, const std::vector<int>& b) {
  int common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common, ++i, ++j;
    }
  }
  return common;
}

// Minimum pairwise Hamming distance of the embedded codes of the first
// `users` slots (T when there is a single slot). The mask cancels and every
// position is repeated `repeat` times, so it is repeat * |B_i xor B_j|.
int MinSlotDistance(const Bibd& design, int users, int repeat) {
  int min_distance = design.v * repeat;
  for (int i = 0; i < users; ++i) {
    for (int j = i + 1; j < users; ++j) {
      const int common = SortedIntersectionSize(design.blocks[i], design.blocks[j]);
      min_distance = std::min(min_distance, repeat * 2 * (design.k - common));
    }
  }
  return min_distance;
}

StatusOr<Codebook> MakeBibdCodebook(const CodebookSpec& spec) {
  TM_ASSIGN_OR_RETURN(const int q, ChoosePlaneOrder(spec.users, spec.max_colluders));
  TM_ASSIGN_OR_RETURN(Bibd design, ProjectivePlane(q));
  const int v = design.v;
  const int64_t repeat = (int64_t{spec.min_bits} + v - 1) / v;
  if (repeat * v > std::numeric_limits<int>::max()) {
    return Status::InvalidArgument("min_bits too large: " + std::to_string(spec.min_bits));
  }
  Codebook book = EmptyCodebook(spec);
  book.repeat = static_cast<int>(repeat);
  book.max_colluders = spec.max_colluders;
  book.bits = v * book.repeat;
  SecretRng rng(spec.seed);
  book.position = ShuffledPositions(rng, v, book.repeat);
  book.mask = RandomBits(rng, book.bits);
  for (int j = 0; j < spec.users; ++j) {
    book.codes.push_back(
        EmbeddedCode(BlockComplement(design.blocks[j], v), book.position, book.mask));
  }
  book.min_distance = MinSlotDistance(design, spec.users, book.repeat);
  book.design = std::move(design);
  return book;
}

}  // namespace

std::string CodeFamilyName(CodeFamily family) {
  return family == CodeFamily::kBibd ? "bibd" : "random";
}

StatusOr<CodeFamily> ParseCodeFamily(const std::string& name) {
  if (name == "random") return CodeFamily::kRandom;
  if (name == "bibd") return CodeFamily::kBibd;
  return Status::InvalidArgument("unknown code family '" + name + "' (expected random or bibd)");
}

uint64_t SecretRng::Next() {
  state_ += 0x9E3779B97F4A7C15ull;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SecretRng::Below(uint64_t n) {
  assert(n > 0);
  // Reject the lowest 2^64 mod n values so that every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = Next();
    if (r >= threshold) return r % n;
  }
}

StatusOr<Bibd> ProjectivePlane(int q) {
  if (q > kMaxPlaneOrder || !IsPrime(q)) {
    return Status::InvalidArgument("plane order must be a prime in [2, " +
                                   std::to_string(kMaxPlaneOrder) + "] (got " + std::to_string(q) +
                                   ")");
  }
  const std::vector<Vec3> vectors = NormalizedVectors(q);
  Bibd design;
  design.q = q;
  design.v = static_cast<int>(vectors.size());
  design.k = q + 1;
  design.blocks.resize(design.v);
  for (int line = 0; line < design.v; ++line) {
    for (int point = 0; point < design.v; ++point) {
      if (Incident(vectors[point], vectors[line], q)) design.blocks[line].push_back(point);
    }
  }
  return design;
}

StatusOr<Codebook> MakeCodebook(const CodebookSpec& spec) {
  TM_RETURN_IF_ERROR(ValidateSpec(spec));
  return spec.family == CodeFamily::kBibd ? MakeBibdCodebook(spec) : MakeRandomCodebook(spec);
}

int HammingDistance(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  assert(a.size() == b.size());
  const size_t n = std::min(a.size(), b.size());
  int distance = 0;
  for (size_t i = 0; i < n; ++i) distance += (a[i] != b[i]);
  return distance;
}

}  // namespace tracemark
