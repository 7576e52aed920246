#include "weight_scheme/weight_scheme.h"

#include <torch/torch.h>

#include "tracemark/scheme_params.h"
#include "tracemark/training.h"
#include "tracemark/weight_carrier.h"

namespace tracemark {
namespace {

// The parts of a parsed key every weight scheme needs.
struct WeightKey {
  KeyBlob blob;
  WeightCarrier carrier;
  torch::Tensor projection;  // X, [T, M]
};

StatusOr<WeightKey> ParseKey(const std::string& bytes) {
  WeightKey key;
  TM_ASSIGN_OR_RETURN(key.blob, KeyBlob::Parse(bytes));
  TM_ASSIGN_OR_RETURN(key.carrier.parameter, key.blob.String("carrier"));
  TM_ASSIGN_OR_RETURN(key.carrier.size, key.blob.Int("carrier_size"));
  TM_ASSIGN_OR_RETURN(key.projection, key.blob.Tensor("projection"));
  if (key.projection.dim() != 2 || key.projection.size(1) != key.carrier.size) {
    return Status::Corruption("scheme key projection does not fit its carrier");
  }
  return key;
}

// Embedding parameters, recorded in the key by Keygen.
struct EmbedSettings {
  double strength = 0;
  double margin = 0;
  EmbeddingLoopOptions loop;
};

// The parameters Embed needs; Keygen copies them into the key.
constexpr const char* kEmbedParams[] = {"strength", "margin", "max_steps", "lr", "batch_size"};

StatusOr<EmbedSettings> ParseSettings(const SchemeParams& params) {
  EmbedSettings s;
  TM_ASSIGN_OR_RETURN(s.strength, GetDouble(params, "strength", 1e-6, 1e6));
  TM_ASSIGN_OR_RETURN(s.margin, GetDouble(params, "margin", 0, 100));
  TM_ASSIGN_OR_RETURN(int64_t max_steps, GetInt(params, "max_steps", 1, 1000000));
  TM_ASSIGN_OR_RETURN(s.loop.learning_rate, GetDouble(params, "lr", 1e-8, 1));
  TM_ASSIGN_OR_RETURN(s.loop.batch_size, GetInt(params, "batch_size", 1, 65536));
  s.loop.max_steps = static_cast<int>(max_steps);
  return s;
}

void WriteSettings(const SchemeParams& params, KeyBlob* key) {
  for (const char* name : kEmbedParams)
    key->SetString(std::string("param.") + name, params.at(name));
}

StatusOr<EmbedSettings> ReadSettings(const KeyBlob& key) {
  SchemeParams params;
  for (const char* name : kEmbedParams) {
    TM_ASSIGN_OR_RETURN(params[name], key.String(std::string("param.") + name));
  }
  return ParseSettings(params);
}

torch::Tensor Project(const WeightKey& key, const torch::Tensor& weight) {
  return torch::mv(key.projection, CarrierVector(weight));
}

}  // namespace

WeightScheme::WeightScheme(SchemeInfo info, const std::string& default_strength,
                           const std::string& default_margin)
    : info_(std::move(info)) {
  info_.params = {
      {"layer", "auto", "carrier weight (dotted parameter name); auto = widest hidden layer"},
      {"strength", default_strength, "weight of the watermark loss against cross-entropy"},
      {"margin", default_margin, "decoded value each bit must reach before embedding stops"},
      {"max_steps", "2000", "optimizer steps before embedding gives up"},
      {"lr", "0.0003", "Adam learning rate while embedding"},
      {"batch_size", "64", "minibatch size while embedding"},
  };
}

Status WeightScheme::ResolveParams(const SchemeParams& given, SchemeParams* effective) const {
  TM_RETURN_IF_ERROR(FillDefaults(info_.params, given, effective));
  TM_RETURN_IF_ERROR(ParseSettings(*effective).status());
  if (effective->at("layer").empty()) return Status::InvalidArgument("parameter layer is empty");
  return Status::Ok();
}

Status WeightScheme::Keygen(const torch::jit::Module& model, const SchemeParams& params, int bits,
                            uint64_t seed, const Dataset& /*train*/, std::string* key) const {
  return GuardedCall("keygen", [&]() -> Status {
    TM_ASSIGN_OR_RETURN(WeightCarrier carrier, ChooseWeightCarrier(model, params.at("layer")));
    if (bits > carrier.size) {
      return Status::FailedPrecondition("carrier " + carrier.parameter + " holds " +
                                        std::to_string(carrier.size) + " weights, fewer than " +
                                        std::to_string(bits) + " bits");
    }
    torch::Generator gen = at::detail::createCPUGenerator(seed);
    KeyBlob blob;
    blob.SetString("carrier", carrier.parameter);
    blob.SetInt("carrier_size", carrier.size);
    blob.SetTensor("projection", torch::randn({bits, carrier.size}, gen));
    WriteSettings(params, &blob);
    AddSecrets(bits, gen, &blob);
    *key = blob.Serialize();
    return Status::Ok();
  });
}

Status WeightScheme::Embed(torch::jit::Module& model, const std::string& key_bytes,
                           const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                           EmbedReport* report) const {
  return GuardedCall("embed", [&]() -> Status {
    TM_ASSIGN_OR_RETURN(WeightKey key, ParseKey(key_bytes));
    TM_RETURN_IF_ERROR(CheckSecrets(key.blob, key.projection.size(0)));
    if (static_cast<int64_t>(bits.size()) != key.projection.size(0)) {
      return Status::InvalidArgument("key is for " + std::to_string(key.projection.size(0)) +
                                     " bits, got " + std::to_string(bits.size()));
    }
    TM_ASSIGN_OR_RETURN(torch::Tensor weight, ReadCarrier(model, key.carrier));
    TM_ASSIGN_OR_RETURN(EmbedSettings settings, ReadSettings(key.blob));
    torch::Tensor target = torch::tensor(std::vector<float>(bits.begin(), bits.end()));
    report->bits = static_cast<int>(bits.size());
    auto regularizer = [&] {
      return settings.strength * Loss(Project(key, weight), target, key.blob);
    };
    auto bits_with_margin = [&] {
      torch::Tensor signed_value = Decode(Project(key, weight), key.blob) * (target * 2 - 1);
      return static_cast<int>(signed_value.ge(settings.margin).sum().item<int64_t>());
    };
    return RunEmbeddingLoop(model, ctx, settings.loop, regularizer, bits_with_margin, report);
  });
}

Status WeightScheme::Extract(Suspect& suspect, const std::string& key_bytes,
                             std::vector<float>* soft_bits) const {
  return GuardedCall("extract", [&]() -> Status {
    if (!suspect.module()) {
      return Status::FailedPrecondition(info_.name + " reads weights: it needs the model file");
    }
    torch::jit::Module& model = *suspect.module();
    TM_ASSIGN_OR_RETURN(WeightKey key, ParseKey(key_bytes));
    TM_RETURN_IF_ERROR(CheckSecrets(key.blob, key.projection.size(0)));
    TM_ASSIGN_OR_RETURN(torch::Tensor weight, ReadCarrier(model, key.carrier));
    torch::NoGradGuard no_grad;
    torch::Tensor soft = SoftBits(Decode(Project(key, weight), key.blob)).contiguous();
    soft_bits->assign(soft.data_ptr<float>(), soft.data_ptr<float>() + soft.numel());
    return Status::Ok();
  });
}

}  // namespace tracemark
