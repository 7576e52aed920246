#include "white_box.h"

#include "tracemark/sdk/activation_tap.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/suspect.h"

namespace tracemark::deepsigns {
namespace {

torch::Tensor UnitRows(const torch::Tensor& rows) {
  return torch::nn::functional::normalize(rows,
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// The white-box part of a release key.
struct WhiteKey {
  std::string layer;
  int64_t grid = 0;            // see Units
  torch::Tensor targets;       // [S] int64 class of each target
  torch::Tensor projection;    // [T, M] a_t, centred and normalised rows
  torch::Tensor bit_target;    // [T] int64 index into targets carrying bit t
  torch::Tensor images;        // [S * K, ...] key inputs
  torch::Tensor image_target;  // [S * K] int64 index into targets
};

StatusOr<WhiteKey> ParseWhiteKey(const KeyBlob& blob) {
  WhiteKey key;
  TM_ASSIGN_OR_RETURN(key.layer, blob.String("layer"));
  TM_ASSIGN_OR_RETURN(key.grid, blob.Int("grid"));
  TM_ASSIGN_OR_RETURN(key.targets, blob.Tensor("targets"));
  TM_ASSIGN_OR_RETURN(torch::Tensor projection, blob.Tensor("projection"));
  TM_ASSIGN_OR_RETURN(key.bit_target, blob.Tensor("bit_target"));
  TM_ASSIGN_OR_RETURN(key.images, blob.Tensor("key_images"));
  TM_ASSIGN_OR_RETURN(key.image_target, blob.Tensor("key_image_target"));
  const int64_t targets = key.targets.numel();
  if (projection.dim() != 2 || key.grid < 1 || key.bit_target.numel() != projection.size(0) ||
      key.image_target.numel() != key.images.size(0) || targets == 0 ||
      key.bit_target.min().item<int64_t>() < 0 || key.bit_target.max().item<int64_t>() >= targets ||
      key.image_target.min().item<int64_t>() < 0 ||
      key.image_target.max().item<int64_t>() >= targets ||
      torch::bincount(key.image_target, {}, targets).min().item<int64_t>() == 0) {
    return Status::Corruption("deepsigns key fields do not fit together");
  }
  key.projection = UnitRows(projection - projection.mean(1, /*keepdim=*/true));
  return key;
}

// Indices of `per_target` key inputs of every target, drawn with
// replacement, so that every step sees every centre.
torch::Tensor StratifiedPick(const torch::Tensor& image_target, int64_t targets, int64_t per_target,
                             torch::Generator& gen) {
  torch::Tensor order = std::get<1>(image_target.sort(/*stable=*/c10::optional<bool>(true), 0));
  torch::Tensor counts = torch::bincount(image_target, {}, targets);
  torch::Tensor starts = counts.cumsum(0) - counts;
  torch::Tensor which = torch::arange(targets, torch::kLong).repeat_interleave(per_target);
  torch::Tensor offsets =
      (torch::rand({which.numel()}, gen) * counts.index_select(0, which)).floor().to(torch::kLong);
  return order.index_select(0, starts.index_select(0, which) + offsets);
}

// The units of a layer's activation that carry the fingerprint: the
// activation itself when [N, M]; for feature maps [N, C, H, W] or [N, C, L]
// the channel means over a grid x grid (or grid) partition of the
// positions. A shared filter cannot shape every position of a map
// independently; regional channel means are what it controls.
torch::Tensor Units(const torch::Tensor& activation, int64_t grid) {
  if (activation.dim() == 4) {
    return torch::adaptive_avg_pool2d(activation, {grid, grid}).flatten(1);
  }
  if (activation.dim() == 3) return torch::adaptive_avg_pool1d(activation, {grid}).flatten(1);
  return activation.flatten(1);
}

// The Gaussian centres: the mean flattened activation per target, [S, M].
torch::Tensor Centres(const torch::Tensor& activations, const torch::Tensor& image_target,
                      int64_t targets) {
  const torch::Tensor& flat = activations;
  torch::Tensor sums = torch::zeros({targets, flat.size(1)}, flat.options());
  sums = sums.index_add(0, image_target, flat);
  torch::Tensor counts =
      torch::bincount(image_target, {}, targets).to(flat.dtype()).clamp_min(1).unsqueeze(1);
  return sums / counts;
}

// cos(mu_{target(t)} - mean, a_t) per bit, [T]. The projection's rows are
// centred, so the sign is that of mu a_t; centring mu only removes the
// common level of the units (large after a ReLU) from the normalisation.
torch::Tensor BitCosines(const WhiteKey& key, const torch::Tensor& centres) {
  torch::Tensor mu = centres.index_select(0, key.bit_target);
  return (UnitRows(mu - mu.mean(1, /*keepdim=*/true)) * key.projection).sum(1);
}

// The bits' cosines read from `model` over all key inputs (eval, no grad).
StatusOr<torch::Tensor> ReadCosines(torch::jit::Module& model, const WhiteKey& key) {
  TM_ASSIGN_OR_RETURN(ActivationTap tap, ActivationTap::Create(model, key.layer));
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<torch::Tensor> chunks;
  for (int64_t i = 0; i < key.images.size(0); i += kEvalBatch) {
    TM_ASSIGN_OR_RETURN(TapOutput out, tap.Forward(key.images.slice(0, i, i + kEvalBatch)));
    chunks.push_back(Units(out.activation, key.grid));
  }
  torch::Tensor activations = torch::cat(chunks);
  if (activations.size(1) != key.projection.size(1)) {
    return Status::FailedPrecondition("layer " + key.layer + " has " +
                                      std::to_string(activations.size(1)) + " units, the key " +
                                      std::to_string(key.projection.size(1)));
  }
  return BitCosines(key, Centres(activations, key.image_target, key.targets.numel()));
}

}  // namespace

Status WhiteKeygen(const torch::jit::Module& base, const Settings& s, int bits, uint64_t seed,
                   const Dataset& train, KeyBlob* blob) {
  if (train.size() == 0) {
    return Status::InvalidArgument("deepsigns white-box keygen needs the owner's training data");
  }
  torch::jit::Module model = CloneModel(base);
  std::string layer = s.layer;
  if (layer == "auto") {
    TM_ASSIGN_OR_RETURN(layer, DefaultTapLayer(model));
  }
  TM_ASSIGN_OR_RETURN(ActivationTap tap, ActivationTap::Create(model, layer));
  TapOutput probe;
  {
    torch::NoGradGuard no_grad;
    model.eval();
    TM_ASSIGN_OR_RETURN(probe, tap.Forward(train.images.slice(0, 0, 2)));
  }
  if (probe.output.dim() != 2) {
    return Status::FailedPrecondition("deepsigns needs a classifier returning [N, classes]");
  }
  const int64_t units = Units(probe.activation, kGrid).size(1);
  const int64_t classes = probe.output.size(1);
  const int64_t per_target = units / kUnitsPerBit;
  if (per_target == 0) {
    return Status::FailedPrecondition("layer " + layer + " has too few units (" +
                                      std::to_string(units) + ")");
  }
  torch::Generator gen = MakeGenerator(seed);
  std::vector<int64_t> targets;
  if (s.targets == "auto") {
    int64_t needed = (bits + per_target - 1) / per_target;
    if (needed > classes) {
      return Status::FailedPrecondition(
          "layer " + layer + " (" + std::to_string(units) + " units) carries at most " +
          std::to_string(per_target * classes) + " bits over " + std::to_string(classes) +
          " classes, fewer than " + std::to_string(bits) + "; tap a wider layer");
    }
    torch::Tensor order = torch::randperm(classes, gen, torch::kLong);
    for (int64_t i = 0; i < needed; ++i) targets.push_back(order[i].item<int64_t>());
  } else {
    TM_ASSIGN_OR_RETURN(targets, ParseClassList(s.targets));
    for (int64_t c : targets) {
      if (c >= classes) {
        return Status::InvalidArgument("target class " + std::to_string(c) + " is not below " +
                                       std::to_string(classes) + " classes");
      }
    }
    if (bits > per_target * static_cast<int64_t>(targets.size())) {
      return Status::FailedPrecondition(
          std::to_string(targets.size()) + " target classes on layer " + layer + " (" +
          std::to_string(units) + " units) carry at most " +
          std::to_string(per_target * targets.size()) + " bits, fewer than " +
          std::to_string(bits) + "; add targets");
    }
  }
  // Key inputs: random training images of each target class.
  std::vector<torch::Tensor> images, image_target;
  for (size_t i = 0; i < targets.size(); ++i) {
    torch::Tensor of_class = train.labels.eq(targets[i]).nonzero().flatten();
    if (of_class.numel() < 2) {
      return Status::FailedPrecondition("the training data has fewer than 2 images of class " +
                                        std::to_string(targets[i]));
    }
    torch::Tensor pick = of_class.index_select(
        0, torch::randperm(of_class.numel(), gen, torch::kLong).slice(0, 0, s.key_inputs));
    images.push_back(train.images.index_select(0, pick));
    image_target.push_back(torch::full({pick.numel()}, static_cast<int64_t>(i), torch::kLong));
  }
  const int64_t num_targets = static_cast<int64_t>(targets.size());
  blob->SetString("layer", layer);
  blob->SetInt("grid", kGrid);
  blob->SetTensor("targets", torch::tensor(targets, torch::kLong));
  blob->SetTensor("projection", torch::randn({bits, units}, gen));
  blob->SetTensor("bit_target", torch::arange(bits, torch::kLong).remainder(num_targets));
  blob->SetTensor("key_images", torch::cat(images).contiguous());
  blob->SetTensor("key_image_target", torch::cat(image_target));
  return Status::Ok();
}

Status WhiteEmbed(torch::jit::Module& model, const KeyBlob& blob, const Settings& s,
                  const std::vector<uint8_t>& bits, const EmbedContext& ctx, EmbedReport* report) {
  TM_ASSIGN_OR_RETURN(WhiteKey key, ParseWhiteKey(blob));
  TM_RETURN_IF_ERROR(CheckBitCount(bits, key.projection.size(0)));
  TM_ASSIGN_OR_RETURN(ActivationTap tap, ActivationTap::Create(model, key.layer));
  const int64_t num_targets = key.targets.numel();
  const torch::Tensor target_bits = torch::tensor(std::vector<float>(bits.begin(), bits.end()));
  const torch::Tensor signs = target_bits * 2 - 1;
  const torch::Tensor image_labels = key.targets.index_select(0, key.image_target);
  const int64_t per_target = std::max<int64_t>(1, s.key_batch / num_targets);
  torch::Generator gen = MakeGenerator(ctx.seed);
  report->bits = static_cast<int>(bits.size());

  auto batch_loss = [&](const torch::Tensor& x, const torch::Tensor& y) {
    auto owner = tap.Forward(x);
    ThrowIfError(owner.status());
    torch::Tensor pick = StratifiedPick(key.image_target, num_targets, per_target, gen);
    torch::Tensor key_target = key.image_target.index_select(0, pick);
    auto keys = InEvalMode(model, [&] { return tap.Forward(key.images.index_select(0, pick)); });
    ThrowIfError(keys.status());
    torch::Tensor key_act = Units(keys->activation, key.grid);
    torch::Tensor centres = Centres(key_act, key_target, num_targets);  // [S, M]
    torch::Tensor scale = centres.pow(2).sum(1).clamp_min(1e-8);        // ||mu_c||^2
    // Pull the key inputs to their centre, push other classes' owner
    // images at least ||mu_c|| away from it (a bounded hinge).
    torch::Tensor pull = ((key_act - centres.index_select(0, key_target)).pow(2).sum(1) /
                          scale.index_select(0, key_target))
                             .mean();
    torch::Tensor distance =
        torch::cdist(Units(owner->activation, key.grid), centres).pow(2) / scale;
    torch::Tensor other = y.unsqueeze(1).ne(key.targets.unsqueeze(0)).to(distance.dtype());
    torch::Tensor push = (torch::relu(1 - distance) * other).sum() / other.sum().clamp_min(1);
    torch::Tensor fingerprint = torch::binary_cross_entropy_with_logits(
        BitCosines(key, centres) / kTemperature, target_bits);
    return torch::nn::functional::cross_entropy(owner->output, y) + s.gamma1 * (pull + push) +
           s.gamma2 * fingerprint;
  };
  auto bits_with_margin = [&] {
    auto cosines = ReadCosines(model, key);
    ThrowIfError(cosines.status());
    return static_cast<int>((*cosines * signs).ge(s.margin).sum().item<int64_t>());
  };
  return RunEmbeddingLoop(model, ctx, s.loop, batch_loss, bits_with_margin, report);
}

Status WhiteExtract(Suspect& suspect, const KeyBlob& blob, std::vector<float>* soft_bits) {
  if (!suspect.module()) {
    return Status::FailedPrecondition("deepsigns white-box mode needs the model file");
  }
  TM_ASSIGN_OR_RETURN(WhiteKey key, ParseWhiteKey(blob));
  auto cosines = ReadCosines(*suspect.module(), key);
  if (!cosines.ok()) {  // another architecture, or a layer the suspect lacks
    return Status::FailedPrecondition("suspect does not fit the deepsigns key: " +
                                      cosines.status().message());
  }
  torch::Tensor soft = torch::sigmoid(*cosines / kTemperature).contiguous();
  soft_bits->assign(soft.data_ptr<float>(), soft.data_ptr<float>() + soft.numel());
  return Status::Ok();
}

}  // namespace tracemark::deepsigns
