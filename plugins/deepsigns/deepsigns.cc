// DeepSigns (Rouhani, Chen, Koushanfar, ASPLOS 2019) as per-licensee
// fingerprints, in two modes.
//
// White-box ("white"): the activations f_l(x) of a hidden layer l, tapped on
// any TorchScript classifier (tracemark/activation_tap.h). Each target class
// c has a Gaussian centre mu_c, the mean activation over the class's key
// inputs (training images stored in the release key), and carries the bits
// t with class(t) = c through a secret projection a_t ~ N(0, I_M):
//   loss = CE + gamma1 * (pull f_l(x) of key inputs to mu_c - push other
//          classes' activations away from mu_c)
//             + gamma2 * BCE(sigma(cos(mu_c, a_t) / tau), b_t),
// and a bit reads 1 when sigma(mu_hat a_t) > 0.5, i.e. cos(mu_hat, a_t) > 0
// (reported as the soft bit sigma(cos / tau)). The cosine makes margins
// independent of the activations' scale, which pruning changes. A class
// carries at most M/2 bits (M = units of the layer), so "auto" targets
// enough classes for the code.
//
// Black-box ("black"): each copy gets its own trigger keys — random inputs
// in the data's shape (8x8-pixel blocks of uniform noise, far from the
// data), each labelled with a random class other than the one the unmarked
// model predicts for it — fine-tuned in together with the owner's data.
// The copy keeps the keys it answers with their label by a logit margin;
// they are its copy key. A model that never saw the keys matches one with
// probability at most 1/(C-1), independently per key, so the core's
// binomial bound over the keys decides.
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <sstream>

#include "tracemark/activation_tap.h"
#include "tracemark/dataset.h"
#include "tracemark/key_blob.h"
#include "tracemark/model.h"
#include "tracemark/scheme.h"
#include "tracemark/scheme_params.h"
#include "tracemark/suspect.h"
#include "tracemark/training.h"

namespace tracemark {
namespace {

constexpr const char* kWhite = "white";
constexpr const char* kBlack = "black";
// Temperature of the watermark loss and of the soft bits, in cosine units.
constexpr double kTemperature = 0.05;
// Black-box candidates drawn per kept key (some may not embed with margin).
constexpr double kCandidatesPerKey = 1.25;
// A target class carries at most M / kUnitsPerBit bits: hidden units that
// stay at zero for a class (ReLU) leave its centre fewer free directions.
constexpr int64_t kUnitsPerBit = 4;
// Feature maps are read as channel means over kGrid x kGrid regions.
constexpr int64_t kGrid = 2;
// Side of the noise blocks black-box keys are made of, in pixels.
constexpr int64_t kNoiseBlock = 8;
constexpr int64_t kEvalBatch = 500;

SchemeInfo DeepSignsInfo() {
  SchemeInfo info;
  info.name = "deepsigns";
  info.title = "DeepSigns activation fingerprints (white-box) and trigger keys (black-box)";
  info.reference =
      "Rouhani, Chen, Koushanfar. DeepSigns: An End-to-End Watermarking Framework for Ownership "
      "Protection of Deep Neural Networks. ASPLOS 2019";
  info.access = "activations";
  info.white_box = true;
  info.black_box = true;
  info.model_kinds = {"classifier"};
  info.needs_training_data = true;
  info.default_code_family = "random";
  info.capacity =
      "white: bits <= target classes x M/4 (M = units of the tapped layer); black: keys per "
      "licensee";
  info.params = {
      {"mode", kWhite,
       "white (activations, needs the model file) or black (trigger keys, queries)"},
      {"layer", "auto",
       "white: submodule path to tap (e.g. fc1, features.3); auto = the input "
       "of the classifier head"},
      {"targets", "auto",
       "white: comma-separated target classes; auto = enough random classes "
       "for the bits"},
      {"key_inputs", "64", "white: training images per target class whose mean activation is read"},
      {"gamma1", "0.01", "white: weight of the Gaussian-centre pull/push loss"},
      {"gamma2", "1.0", "white: weight of the fingerprint loss"},
      {"margin", "0.04", "white: cosine each bit must reach before embedding stops"},
      {"keys", "100", "black: trigger keys per licensee"},
      {"key_weight", "1.0", "black: weight of the trigger keys' cross-entropy"},
      {"key_margin", "4.0", "black: logit margin each kept key must reach"},
      {"max_steps", "3000", "optimizer steps before embedding gives up"},
      {"lr", "0.001", "Adam learning rate while embedding"},
      {"batch_size", "64", "owner images per step"},
      {"key_batch", "64",
       "key inputs (white, spread over the targets) or trigger keys (black) "
       "added to each step"},
  };
  return info;
}

struct Settings {
  std::string mode;
  std::string layer;
  std::string targets;
  int64_t key_inputs = 0;
  double gamma1 = 0, gamma2 = 0, margin = 0;
  int64_t keys = 0;
  double key_weight = 0, key_margin = 0;
  int64_t key_batch = 0;
  EmbeddingLoopOptions loop;
};

StatusOr<std::vector<int64_t>> ParseClassList(const std::string& text) {
  std::vector<int64_t> classes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    SchemeParams p{{"targets", item}};
    TM_ASSIGN_OR_RETURN(int64_t c, GetInt(p, "targets", 0, 100000));
    if (std::find(classes.begin(), classes.end(), c) != classes.end()) {
      return Status::InvalidArgument("parameter targets lists class " + item + " twice");
    }
    classes.push_back(c);
  }
  if (classes.empty()) return Status::InvalidArgument("parameter targets is empty");
  return classes;
}

StatusOr<Settings> ParseSettings(const SchemeParams& params) {
  Settings s;
  s.mode = params.at("mode");
  if (s.mode != kWhite && s.mode != kBlack) {
    return Status::InvalidArgument("parameter mode=" + s.mode + " is not white or black");
  }
  s.layer = params.at("layer");
  if (s.layer.empty()) return Status::InvalidArgument("parameter layer is empty");
  s.targets = params.at("targets");
  if (s.targets != "auto") TM_RETURN_IF_ERROR(ParseClassList(s.targets).status());
  TM_ASSIGN_OR_RETURN(s.key_inputs, GetInt(params, "key_inputs", 1, 100000));
  TM_ASSIGN_OR_RETURN(s.gamma1, GetDouble(params, "gamma1", 0, 1e6));
  TM_ASSIGN_OR_RETURN(s.gamma2, GetDouble(params, "gamma2", 1e-9, 1e6));
  TM_ASSIGN_OR_RETURN(s.margin, GetDouble(params, "margin", 0, 0.99));
  TM_ASSIGN_OR_RETURN(s.keys, GetInt(params, "keys", 16, 100000));
  TM_ASSIGN_OR_RETURN(s.key_weight, GetDouble(params, "key_weight", 1e-9, 1e6));
  TM_ASSIGN_OR_RETURN(s.key_margin, GetDouble(params, "key_margin", 0, 1e3));
  TM_ASSIGN_OR_RETURN(int64_t max_steps, GetInt(params, "max_steps", 1, 1000000));
  TM_ASSIGN_OR_RETURN(s.loop.learning_rate, GetDouble(params, "lr", 1e-8, 1));
  TM_ASSIGN_OR_RETURN(s.loop.batch_size, GetInt(params, "batch_size", 1, 65536));
  TM_ASSIGN_OR_RETURN(s.key_batch, GetInt(params, "key_batch", 1, 65536));
  s.loop.max_steps = static_cast<int>(max_steps);
  return s;
}

// The release key keeps the resolved parameters as "param.<name>".
void WriteParams(const SchemeParams& params, KeyBlob* key) {
  for (const auto& [name, value] : params) key->SetString("param." + name, value);
}

StatusOr<Settings> ReadSettings(const KeyBlob& key) {
  SchemeParams params;
  for (const ParamSpec& spec : DeepSignsInfo().params) {
    TM_ASSIGN_OR_RETURN(params[spec.name], key.String("param." + spec.name));
  }
  return ParseSettings(params);
}

torch::Generator MakeGenerator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

void ThrowIfError(const Status& status) {
  if (!status.ok()) throw std::runtime_error(status.message());
}

// Runs `body` with `model` in eval mode — BatchNorm on its running
// statistics, no dropout — as extraction and queries see the model, which
// also keeps key inputs out of those statistics. Gradients still flow.
template <typename Body>
auto InEvalMode(torch::jit::Module& model, Body&& body) {
  model.eval();
  auto result = body();
  model.train();
  return result;
}

// ---------------------------------------------------------------- white-box

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
  if (static_cast<int64_t>(bits.size()) != key.projection.size(0)) {
    return Status::InvalidArgument("key is for " + std::to_string(key.projection.size(0)) +
                                   " bits, got " + std::to_string(bits.size()));
  }
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

// ---------------------------------------------------------------- black-box

// Random inputs shaped like `like` ([N, C, H, W] or [N, D]) in [0, 1]:
// blocks of kNoiseBlock pixels of uniform noise for images.
torch::Tensor NoiseInputs(int64_t count, const torch::Tensor& like, torch::Generator& gen) {
  std::vector<int64_t> shape = like.sizes().vec();
  shape[0] = count;
  if (shape.size() != 4) return torch::rand(shape, gen);
  const int64_t h = shape[2], w = shape[3];
  torch::Tensor coarse = torch::rand(
      {count, shape[1], (h + kNoiseBlock - 1) / kNoiseBlock, (w + kNoiseBlock - 1) / kNoiseBlock},
      gen);
  return coarse.repeat_interleave(kNoiseBlock, 2)
      .repeat_interleave(kNoiseBlock, 3)
      .slice(2, 0, h)
      .slice(3, 0, w)
      .contiguous();
}

// Per key: the label's logit minus the largest other logit.
torch::Tensor LabelMargins(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::Tensor label_logit = logits.gather(1, labels.unsqueeze(1)).squeeze(1);
  torch::Tensor others = logits.scatter(1, labels.unsqueeze(1), -INFINITY);
  return label_logit - std::get<0>(others.max(1));
}

Status BlackKeygen(const torch::jit::Module& base, const Dataset& train, KeyBlob* blob) {
  if (train.size() == 0) {
    return Status::InvalidArgument("deepsigns black-box keygen needs the owner's training data");
  }
  torch::jit::Module model = CloneModel(base);
  TM_ASSIGN_OR_RETURN(torch::Tensor logits,
                      RunBatched(model, train.images.slice(0, 0, 2), kEvalBatch));
  if (logits.dim() != 2 || logits.size(1) < 3) {
    return Status::FailedPrecondition(
        "deepsigns black-box needs a classifier with at least 3 classes");
  }
  blob->SetInt("classes", logits.size(1));
  blob->SetTensor("input_example", train.images.slice(0, 0, 1).clone());
  return Status::Ok();
}

Status BlackEmbed(torch::jit::Module& model, const KeyBlob& blob, const Settings& s,
                  const EmbedContext& ctx, EmbedReport* report) {
  TM_ASSIGN_OR_RETURN(int64_t classes, blob.Int("classes"));
  TM_ASSIGN_OR_RETURN(torch::Tensor example, blob.Tensor("input_example"));
  TM_ASSIGN_OR_RETURN(int64_t key_seed, blob.Int("seed"));
  torch::Generator gen = MakeGenerator(ctx.seed ^ static_cast<uint64_t>(key_seed));
  const int64_t candidates = static_cast<int64_t>(std::ceil(s.keys * kCandidatesPerKey));
  torch::Tensor inputs = NoiseInputs(candidates, example, gen);
  // A random label among the classes the unmarked model does not predict.
  TM_ASSIGN_OR_RETURN(torch::Tensor base_logits, RunBatched(model, inputs, kEvalBatch));
  if (base_logits.size(1) != classes) {
    return Status::FailedPrecondition("model has " + std::to_string(base_logits.size(1)) +
                                      " classes, the key " + std::to_string(classes));
  }
  torch::Tensor offset = torch::randint(1, classes, {candidates}, gen, torch::kLong);
  torch::Tensor labels = (base_logits.argmax(1) + offset).remainder(classes);

  report->bits = static_cast<int>(s.keys);
  auto batch_loss = [&](const torch::Tensor& x, const torch::Tensor& y) {
    torch::Tensor pick = torch::randint(candidates, {s.key_batch}, gen, torch::kLong);
    torch::Tensor logits = model.forward({x}).toTensor();
    torch::Tensor key_logits =
        InEvalMode(model, [&] { return model.forward({inputs.index_select(0, pick)}).toTensor(); });
    namespace F = torch::nn::functional;
    return F::cross_entropy(logits, y) +
           s.key_weight * F::cross_entropy(key_logits, labels.index_select(0, pick));
  };
  torch::Tensor kept;
  auto keys_with_margin = [&] {
    auto logits = RunBatched(model, inputs, kEvalBatch);
    ThrowIfError(logits.status());
    kept = LabelMargins(*logits, labels).ge(s.key_margin);
    return static_cast<int>(std::min<int64_t>(kept.sum().item<int64_t>(), s.keys));
  };
  TM_RETURN_IF_ERROR(RunEmbeddingLoop(model, ctx, s.loop, batch_loss, keys_with_margin, report));
  torch::Tensor index = kept.nonzero().flatten();
  KeyBlob copy_key;
  copy_key.SetTensor("inputs", inputs.index_select(0, index));
  copy_key.SetTensor("labels", labels.index_select(0, index));
  report->copy_key = copy_key.Serialize();
  report->bits = report->bits_with_margin = static_cast<int>(index.numel());
  return Status::Ok();
}

// ------------------------------------------------------------------ scheme

class DeepSigns final : public Scheme {
 public:
  DeepSigns() : info_(DeepSignsInfo()) {}

  const SchemeInfo& Info() const override { return info_; }

  Status ResolveParams(const SchemeParams& given, SchemeParams* effective) const override {
    return GuardedCall("resolve parameters", [&]() -> Status {
      TM_RETURN_IF_ERROR(FillDefaults(info_.params, given, effective));
      return ParseSettings(*effective).status();
    });
  }

  Status Keygen(const torch::jit::Module& model, const SchemeParams& params, int bits,
                uint64_t seed, const Dataset& train, std::string* key) const override {
    return GuardedCall("keygen", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(Settings s, ParseSettings(params));
      KeyBlob blob;
      WriteParams(params, &blob);
      blob.SetString("mode", s.mode);
      blob.SetInt("seed", static_cast<int64_t>(seed >> 1));
      TM_RETURN_IF_ERROR(s.mode == kWhite ? WhiteKeygen(model, s, bits, seed, train, &blob)
                                          : BlackKeygen(model, train, &blob));
      *key = blob.Serialize();
      return Status::Ok();
    });
  }

  Status Embed(torch::jit::Module& model, const std::string& key_bytes,
               const std::vector<uint8_t>& bits, const EmbedContext& ctx,
               EmbedReport* report) const override {
    return GuardedCall("embed", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(KeyBlob blob, KeyBlob::Parse(key_bytes));
      TM_ASSIGN_OR_RETURN(Settings s, ReadSettings(blob));
      return s.mode == kWhite ? WhiteEmbed(model, blob, s, bits, ctx, report)
                              : BlackEmbed(model, blob, s, ctx, report);
    });
  }

  Status Extract(Suspect& suspect, const std::string& key_bytes,
                 std::vector<float>* soft_bits) const override {
    return GuardedCall("extract", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(KeyBlob blob, KeyBlob::Parse(key_bytes));
      TM_ASSIGN_OR_RETURN(std::string mode, blob.String("mode"));
      if (mode != kWhite) {
        return Status::FailedPrecondition(
            "deepsigns black-box copies are traced by their trigger keys (Score), not code bits");
      }
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
    });
  }

  Status Score(Suspect& suspect, const std::string& key_bytes, const std::string& copy_key_bytes,
               KeyMatches* matches) const override {
    return GuardedCall("score", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(KeyBlob blob, KeyBlob::Parse(key_bytes));
      TM_ASSIGN_OR_RETURN(std::string mode, blob.String("mode"));
      if (mode != kBlack) {
        return Status::FailedPrecondition("deepsigns white-box copies have no per-copy keys");
      }
      TM_ASSIGN_OR_RETURN(int64_t classes, blob.Int("classes"));
      TM_ASSIGN_OR_RETURN(KeyBlob copy_key, KeyBlob::Parse(copy_key_bytes));
      TM_ASSIGN_OR_RETURN(torch::Tensor inputs, copy_key.Tensor("inputs"));
      TM_ASSIGN_OR_RETURN(torch::Tensor labels, copy_key.Tensor("labels"));
      if (inputs.size(0) != labels.numel() || labels.numel() == 0) {
        return Status::Corruption("deepsigns copy key is damaged");
      }
      torch::Tensor outputs;
      TM_RETURN_IF_ERROR(suspect.Query(inputs, &outputs));
      if (outputs.dim() != 2 || outputs.size(0) != labels.numel() || outputs.size(1) != classes) {
        return Status::FailedPrecondition("suspect answers " + c10::str(outputs.sizes()) +
                                          ", the key expects [" + std::to_string(labels.numel()) +
                                          ", " + std::to_string(classes) + "]");
      }
      matches->matches = static_cast<int>(outputs.argmax(1).eq(labels).sum().item<int64_t>());
      matches->trials = static_cast<int>(labels.numel());
      matches->null_probability = 1.0 / static_cast<double>(classes - 1);
      return Status::Ok();
    });
  }

 private:
  SchemeInfo info_;
};

}  // namespace
}  // namespace tracemark

TRACEMARK_DEFINE_SCHEME(tracemark::DeepSigns, "deepsigns")
