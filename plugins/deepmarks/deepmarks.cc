// DeepMarks (Chen, Rouhani, Fu, Zhao, Koushanfar, ICMR 2019): per-user
// fingerprints f = U (2c - 1) with U a secret orthonormal basis, embedded by
// the regulariser MSE(X w, f) and decoded as c~ = (U^T X w + 1) / 2. Decoding
// is linear, so averaged copies decode to the average of their codes — what
// the core's BIBD colluder decoding relies on.
#include <torch/torch.h>

#include "weight_scheme/weight_scheme.h"

namespace tracemark {
namespace {

SchemeInfo DeepMarksInfo() {
  SchemeInfo info;
  info.name = "deepmarks";
  info.title = "DeepMarks collusion-resistant weight fingerprints";
  info.reference =
      "Chen, Rouhani, Fu, Zhao, Koushanfar. DeepMarks: A Secure Fingerprinting Framework for "
      "Digital Rights Management of Deep Learning Models. ICMR 2019";
  info.access = "weights";
  info.model_kinds = {"classifier"};
  info.default_code_family = "bibd";
  info.capacity = "bits <= carrier size M (inputs per output filter of the carrier layer)";
  return info;
}

class DeepMarks final : public WeightScheme {
 public:
  DeepMarks()
      : WeightScheme(DeepMarksInfo(), /*default_strength=*/"1.0", /*default_margin=*/"0.5") {}

 protected:
  void AddSecrets(int bits, torch::Generator& gen, KeyBlob* key) const override {
    auto [q, r] = torch::linalg_qr(torch::randn({bits, bits}, gen));
    key->SetTensor("basis", q.contiguous());
  }
  Status CheckSecrets(const KeyBlob& key, int bits) const override {
    auto basis = key.Tensor("basis");
    if (!basis.ok()) return basis.status();
    if (basis->dim() != 2 || basis->size(0) != bits || basis->size(1) != bits) {
      return Status::Corruption("deepmarks key basis is not " + std::to_string(bits) + "x" +
                                std::to_string(bits));
    }
    return Status::Ok();
  }
  torch::Tensor Loss(const torch::Tensor& p, const torch::Tensor& bits,
                     const KeyBlob& key) const override {
    return torch::mse_loss(p, torch::mv(Basis(key), bits * 2 - 1));
  }
  torch::Tensor Decode(const torch::Tensor& p, const KeyBlob& key) const override {
    return torch::mv(Basis(key).t(), p);
  }
  torch::Tensor SoftBits(const torch::Tensor& decoded) const override { return (decoded + 1) / 2; }

 private:
  static torch::Tensor Basis(const KeyBlob& key) { return key.Tensor("basis").value(); }
};

}  // namespace
}  // namespace tracemark

TRACEMARK_DEFINE_SCHEME(tracemark::DeepMarks, "deepmarks")
