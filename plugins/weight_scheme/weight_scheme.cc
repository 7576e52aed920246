#include "weight_scheme/weight_scheme.h"

#include <torch/torch.h>

#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"
#include "tracemark/sdk/weight_carrier.h"

namespace tracemark {
namespace {

// The parts of a key every weight scheme needs.
struct WeightKey {
  WeightCarrier carrier;
  torch::Tensor projection;  // X, [T, M]
};

// The carrier and projection of a parsed key.
StatusOr<WeightKey> ReadKey(const KeyBlob& blob) {
  WeightKey key;
  TM_ASSIGN_OR_RETURN(key.carrier.parameter, blob.String("carrier"));
  TM_ASSIGN_OR_RETURN(key.carrier.size, blob.Int("carrier_size"));
  TM_ASSIGN_OR_RETURN(key.projection, blob.Tensor("projection"));
  if (key.projection.dim() != 2 || key.projection.size(1) != key.carrier.size) {
    return Status::Corruption("scheme key projection does not fit its carrier");
  }
  return key;
}

torch::Tensor Project(const WeightKey& key, const torch::Tensor& weight) {
  return torch::mv(key.projection, CarrierVector(weight));
}

}  // namespace

SchemeInfo WeightScheme::WithSharedParams(SchemeInfo info, const std::string& default_strength,
                                          const std::string& default_margin) {
  info.params = {
      {"layer", "auto", "carrier weight (dotted parameter name); auto = widest hidden layer"},
      {"strength", default_strength, "weight of the watermark loss against cross-entropy"},
      {"margin", default_margin, "decoded value each bit must reach before embedding stops"},
      {"max_steps", "2000", "optimizer steps before embedding gives up"},
      {"lr", "0.0003", "Adam learning rate while embedding"},
      {"batch_size", "64", "minibatch size while embedding"},
  };
  return info;
}

WeightScheme::WeightScheme(SchemeInfo info, const std::string& default_strength,
                           const std::string& default_margin)
    : TypedScheme(WithSharedParams(std::move(info), default_strength, default_margin)) {}

StatusOr<WeightSettings> WeightScheme::ParseSettings(const SchemeParams& params) const {
  WeightSettings s;
  s.layer = params.at("layer");
  if (s.layer.empty()) return Status::InvalidArgument("parameter layer is empty");
  TM_ASSIGN_OR_RETURN(s.strength, GetDouble(params, "strength", 1e-6, 1e6));
  TM_ASSIGN_OR_RETURN(s.margin, GetDouble(params, "margin", 0, 100));
  TM_ASSIGN_OR_RETURN(int64_t max_steps, GetInt(params, "max_steps", 1, 1000000));
  TM_ASSIGN_OR_RETURN(s.loop.learning_rate, GetDouble(params, "lr", 1e-8, 1));
  TM_ASSIGN_OR_RETURN(s.loop.batch_size, GetInt(params, "batch_size", 1, 65536));
  s.loop.max_steps = static_cast<int>(max_steps);
  return s;
}

Status WeightScheme::MakeKey(const torch::jit::Module& model, const WeightSettings& settings,
                             int bits, uint64_t seed, const Dataset& /*train*/, KeyBlob* key,
                             SchemeParams* /*params*/) const {
  TM_ASSIGN_OR_RETURN(WeightCarrier carrier, ChooseWeightCarrier(model, settings.layer));
  if (bits > carrier.size) {
    return Status::FailedPrecondition("carrier " + carrier.parameter + " holds " +
                                      std::to_string(carrier.size) + " weights, fewer than " +
                                      std::to_string(bits) + " bits");
  }
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  key->SetString("carrier", carrier.parameter);
  key->SetInt("carrier_size", carrier.size);
  key->SetTensor("projection", torch::randn({bits, carrier.size}, gen));
  AddSecrets(bits, gen, key);
  return Status::Ok();
}

Status WeightScheme::EmbedBits(torch::jit::Module& model, const KeyBlob& blob,
                               const WeightSettings& settings, const std::vector<uint8_t>& bits,
                               const EmbedContext& ctx, EmbedReport* report) const {
  TM_ASSIGN_OR_RETURN(WeightKey key, ReadKey(blob));
  TM_RETURN_IF_ERROR(CheckSecrets(blob, key.projection.size(0)));
  TM_RETURN_IF_ERROR(CheckBitCount(bits, key.projection.size(0)));
  TM_ASSIGN_OR_RETURN(torch::Tensor weight, ReadCarrier(model, key.carrier));
  torch::Tensor target = torch::tensor(std::vector<float>(bits.begin(), bits.end()));
  report->bits = static_cast<int>(bits.size());
  auto regularizer = [&] { return settings.strength * Loss(Project(key, weight), target, blob); };
  auto bits_with_margin = [&] {
    torch::Tensor signed_value = Decode(Project(key, weight), blob) * (target * 2 - 1);
    return static_cast<int>(signed_value.ge(settings.margin).sum().item<int64_t>());
  };
  return RunEmbeddingLoop(model, ctx, settings.loop, regularizer, bits_with_margin, report);
}

Status WeightScheme::ExtractBits(Suspect& suspect, const KeyBlob& blob,
                                 const WeightSettings& /*settings*/,
                                 std::vector<float>* soft_bits) const {
  if (!suspect.module()) {
    return Status::FailedPrecondition(Info().name + " reads weights: it needs the model file");
  }
  TM_ASSIGN_OR_RETURN(WeightKey key, ReadKey(blob));
  TM_RETURN_IF_ERROR(CheckSecrets(blob, key.projection.size(0)));
  TM_ASSIGN_OR_RETURN(torch::Tensor weight, ReadCarrier(*suspect.module(), key.carrier));
  torch::NoGradGuard no_grad;
  torch::Tensor soft = SoftBits(Decode(Project(key, weight), blob)).contiguous();
  soft_bits->assign(soft.data_ptr<float>(), soft.data_ptr<float>() + soft.numel());
  return Status::Ok();
}

}  // namespace tracemark
