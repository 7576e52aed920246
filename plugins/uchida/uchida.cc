// Uchida et al., "Embedding Watermarks into Deep Neural Networks" (ICMR 2017):
// the regulariser BCE(sigmoid(X w), b); a bit reads 1 when X w >= 0.
#include <torch/torch.h>

#include "weight_scheme/weight_scheme.h"

namespace tracemark {
namespace {

SchemeInfo UchidaInfo() {
  SchemeInfo info;
  info.name = "uchida";
  info.title = "Uchida et al. weight watermark (baseline)";
  info.reference =
      "Uchida, Nagai, Sakazawa, Satoh. Embedding Watermarks into Deep Neural Networks. ICMR 2017";
  info.access = "weights";
  info.model_kinds = {"classifier"};
  info.default_code_family = "random";
  info.capacity = "bits <= carrier size M (inputs per output filter of the carrier layer)";
  return info;
}

class Uchida final : public WeightScheme {
 public:
  Uchida() : WeightScheme(UchidaInfo(), /*default_strength=*/"1.0", /*default_margin=*/"1.0") {}

 protected:
  torch::Tensor Loss(const torch::Tensor& p, const torch::Tensor& bits,
                     const KeyBlob&) const override {
    return torch::binary_cross_entropy_with_logits(p, bits);
  }
  torch::Tensor Decode(const torch::Tensor& p, const KeyBlob&) const override { return p; }
  torch::Tensor SoftBits(const torch::Tensor& decoded) const override {
    return torch::sigmoid(decoded);
  }
};

}  // namespace
}  // namespace tracemark

TRACEMARK_DEFINE_SCHEME(tracemark::Uchida, "uchida")
