// WeightScheme: the machinery of the weight-domain schemes. A secret matrix
// X in R^{T x M} (N(0, 1) entries) projects the carrier w (a weight averaged
// over its output filters, see tracemark/weight_carrier.h) to p = X w in R^T.
// Keygen, the embedding loop, parameters and extraction are shared; a
// subclass supplies only its loss on p, its per-bit margin and its soft bits.
#pragma once

#include <torch/script.h>

#include "tracemark/key_blob.h"
#include "tracemark/scheme.h"

namespace tracemark {

class WeightScheme : public Scheme {
 public:
  const SchemeInfo& Info() const override { return info_; }
  Status ResolveParams(const SchemeParams& given, SchemeParams* effective) const override;
  Status Keygen(const torch::jit::Module& model, const SchemeParams& params, int bits,
                uint64_t seed, const Dataset& train, std::string* key) const override;
  Status Embed(torch::jit::Module& model, const std::string& key, const std::vector<uint8_t>& bits,
               const EmbedContext& ctx, EmbedReport* report) const override;
  Status Extract(Suspect& suspect, const std::string& key,
                 std::vector<float>* soft_bits) const override;

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
  SchemeInfo info_;
};

}  // namespace tracemark
