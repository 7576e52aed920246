// WeightScheme: the machinery of the weight-domain schemes. A secret matrix
// X in R^{T x M} (N(0, 1) entries) projects the carrier w (a weight averaged
// over its output filters, see tracemark/weight_carrier.h) to p = X w in R^T.
// Keygen, the embedding loop, parameters and extraction are shared; a
// subclass supplies only its loss on p, its per-bit margin and its soft bits
// (the TypedScheme adapter guards the calls and keeps the parameters in the key).
#pragma once

#include <torch/script.h>

#include "tracemark/sdk/key_blob.h"
#include "tracemark/sdk/training.h"
#include "tracemark/sdk/typed_scheme.h"

namespace tracemark {

// The parameters every weight scheme shares.
struct WeightSettings {
  std::string layer;  // carrier parameter name, or "auto"
  double strength = 0;
  double margin = 0;
  EmbeddingLoopOptions loop;
};

class WeightScheme : public TypedScheme<WeightSettings> {
 protected:
  // `info` without params: the shared ones are appended, with the given
  // default strength and margin.
  WeightScheme(SchemeInfo info, const std::string& default_strength,
               const std::string& default_margin);

  // Adds scheme-specific secrets to the key (drawn from `gen`).
  virtual void AddSecrets(int bits, torch::Generator& gen, KeyBlob* key) const {}
  // Checks the secrets AddSecrets stored (Corruption when damaged).
  virtual Status CheckSecrets(const KeyBlob& key, int bits) const { return Status::Ok(); }
  // The regulariser on p = X w, to be scaled by the strength; `bits` is a
  // float tensor of 0/1.
  virtual torch::Tensor Loss(const torch::Tensor& p, const torch::Tensor& bits,
                             const KeyBlob& key) const = 0;
  // Per-bit decoded value on a signed scale: > 0 reads 1, < 0 reads 0.
  virtual torch::Tensor Decode(const torch::Tensor& p, const KeyBlob& key) const = 0;
  // Soft bits in the scheme's nominal [0, 1] scale from Decode's values.
  virtual torch::Tensor SoftBits(const torch::Tensor& decoded) const = 0;

 private:
  static SchemeInfo WithSharedParams(SchemeInfo info, const std::string& default_strength,
                                     const std::string& default_margin);
  StatusOr<WeightSettings> ParseSettings(const SchemeParams& params) const final;
  Status MakeKey(const torch::jit::Module& model, const WeightSettings& settings, int bits,
                 uint64_t seed, const Dataset& train, KeyBlob* key,
                 SchemeParams* params) const final;
  Status EmbedBits(torch::jit::Module& model, const KeyBlob& key, const WeightSettings& settings,
                   const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                   EmbedReport* report) const final;
  Status ExtractBits(Suspect& suspect, const KeyBlob& key, const WeightSettings& settings,
                     std::vector<float>* soft_bits) const final;
};

}  // namespace tracemark
