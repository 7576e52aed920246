// GradSigns (Aramoon, Chen, Qu, MLSys 2021): fingerprints in the input
// gradients of a classifier.
//
// Keygen draws, per release, a secret set S of input coordinates, a
// projection K ~ U(-1, 1)^{T x |S|} and N carrier inputs (dithered training
// images with their labels, stored in the key). With g the mean over the
// carrier inputs of grad_x CE(f(x), y), restricted to S, the decoded values
// are d = K g_S and bit t reads 1 when d_t >= 0.
//
// Embedding fine-tunes with CE + strength * BCE(sigma(d), b) (double
// back-propagation) and stops once every bit has (2 b_t - 1) d_t >= margin
// and accuracy is within budget. The margin is absolute: d_t is the change
// of the mean loss, in nats, along a full-range step K_t of the input, a
// unit every classifier on [0, 1] inputs shares. Its size, not only its
// sign, is what survives fine-tuning and pruning.
//
// Extraction reads d two ways, giving the same soft bits for the same key:
//   * from the model file: exact input gradients by autograd;
//   * from a deployed endpoint's outputs: forward finite differences along
//     K's rows, d_t ~ mean_n [CE(x_n + h k_t) - CE(x_n)] / h with k_t the
//     row K_t placed on S — N (T + 1) queries, sent as one batch.
// Soft bits are (1 + d / max|d|) / 2, linear in d.
//
// The dither matters: in a plain image, background pixels are exactly 0, so
// neighbouring units of a convolution compute equal values and max-pooling
// ties. At a tie the loss has no gradient — autograd follows one branch,
// finite differences the largest — and the two readings disagree on a
// fifth of the bits. Dithered inputs tie nowhere.
#include <torch/torch.h>

#include <sstream>

#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/key_blob.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/scheme.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/suspect.h"
#include "tracemark/sdk/training.h"
#include "tracemark/sdk/typed_scheme.h"

namespace tracemark {
namespace {

// Carrier inputs are x (1 - 2a) + a + U(-a, a), still in [0, 1].
constexpr double kDither = 0.05;
// Carrier inputs per key when `inputs` is auto (fewer when the query budget
// cannot probe that many).
constexpr int64_t kDefaultInputs = 16;
constexpr const char* kAuto = "auto";
constexpr const char* kAllClasses = "all";

SchemeInfo GradSignsInfo() {
  SchemeInfo info;
  info.name = "gradsigns";
  info.title = "GradSigns input-gradient fingerprints (model file or endpoint probabilities)";
  info.reference = "Aramoon, Chen, Qu. Don't Forget to Sign the Gradients! MLSys 2021";
  info.access = "gradients";
  info.white_box = true;
  info.black_box = true;
  info.model_kinds = {"classifier"};
  info.needs_training_data = true;
  info.default_code_family = "random";
  info.capacity =
      "bits <= carriers <= input coordinates (784 for 28x28 images); remote extraction takes "
      "inputs x (bits + 1) queries, at most max_queries";
  info.params = {
      {"carriers", kAuto,
       "secret input coordinates |S| (>= bits); auto = min(input size, 2 x bits)"},
      {"inputs", kAuto,
       "carrier inputs whose gradients are averaged; auto = min(16, max_queries / (bits + 1))"},
      {"classes", kAllClasses,
       "classes the carrier inputs are drawn from: all, or a comma-separated list (e.g. 3)"},
      {"strength", "3.0", "weight of the fingerprint loss against cross-entropy"},
      {"margin", "1.0", "decoded value K g_S each bit must reach (signed) before embedding stops"},
      {"max_steps", "1500", "optimizer steps before embedding gives up"},
      {"lr", "0.001", "Adam learning rate while embedding"},
      {"batch_size", "64", "minibatch size while embedding"},
      {"fd_step", "0.001", "endpoint extraction: finite-difference step along a projection row"},
      {"max_queries", "8192", "endpoint extraction: most queries (input rows) one trace may send"},
  };
  return info;
}

// Parameters, typed. Auto sizes are -1 until Keygen resolves them.
struct Settings {
  int64_t carriers = -1;
  int64_t inputs = -1;
  std::vector<int64_t> classes;  // empty: all
  double strength = 0;
  double margin = 0;
  EmbeddingLoopOptions loop;
  double fd_step = 0;
  int64_t max_queries = 0;
};

// An integer parameter that may be "auto" (read as -1).
StatusOr<int64_t> GetAutoInt(const SchemeParams& params, const std::string& name, int64_t min,
                             int64_t max) {
  auto it = params.find(name);
  if (it != params.end() && it->second == kAuto) return int64_t{-1};
  return GetInt(params, name, min, max);
}

// "all" (empty result) or a comma-separated list of class indices.
StatusOr<std::vector<int64_t>> ParseClasses(const SchemeParams& params) {
  auto it = params.find("classes");
  if (it == params.end()) return Status::InvalidArgument("missing parameter 'classes'");
  const std::string& text = it->second;
  std::vector<int64_t> classes;
  if (text == kAllClasses) return classes;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    TM_ASSIGN_OR_RETURN(int64_t c, GetInt({{"classes", item}}, "classes", 0, 1000000));
    classes.push_back(c);
  }
  if (classes.empty()) {
    return Status::InvalidArgument("parameter classes=" + text +
                                   " is neither all nor a list of class indices");
  }
  return classes;
}

StatusOr<Settings> ParseGradSignsSettings(const SchemeParams& params) {
  Settings s;
  TM_ASSIGN_OR_RETURN(s.carriers, GetAutoInt(params, "carriers", 1, 1 << 24));
  TM_ASSIGN_OR_RETURN(s.inputs, GetAutoInt(params, "inputs", 1, 4096));
  TM_ASSIGN_OR_RETURN(s.classes, ParseClasses(params));
  TM_ASSIGN_OR_RETURN(s.strength, GetDouble(params, "strength", 1e-6, 1e6));
  TM_ASSIGN_OR_RETURN(s.margin, GetDouble(params, "margin", 0, 1000));
  TM_ASSIGN_OR_RETURN(int64_t max_steps, GetInt(params, "max_steps", 1, 1000000));
  TM_ASSIGN_OR_RETURN(s.loop.learning_rate, GetDouble(params, "lr", 1e-8, 1));
  TM_ASSIGN_OR_RETURN(s.loop.batch_size, GetInt(params, "batch_size", 1, 65536));
  TM_ASSIGN_OR_RETURN(s.fd_step, GetDouble(params, "fd_step", 1e-6, 1));
  TM_ASSIGN_OR_RETURN(s.max_queries, GetInt(params, "max_queries", 2, int64_t{1} << 40));
  s.loop.max_steps = static_cast<int>(max_steps);
  return s;
}

// Everything Embed and Extract read from a key.
struct GradKey {
  torch::Tensor coordinates;  // int64 [|S|], flat indices into one input
  torch::Tensor projection;   // K, float [T, |S|]
  torch::Tensor inputs;       // carrier inputs, float [N, ...] as the model takes them
  torch::Tensor labels;       // int64 [N], their classes
  int64_t classes = 0;        // the model's output width
  Settings settings;          // with carriers and inputs resolved
  int64_t bits() const { return projection.size(0); }
  int64_t queries() const { return inputs.size(0) * (bits() + 1); }
};

StatusOr<GradKey> ReadKey(const KeyBlob& blob, const Settings& settings) {
  GradKey key;
  TM_ASSIGN_OR_RETURN(key.coordinates, blob.Tensor("coordinates"));
  TM_ASSIGN_OR_RETURN(key.projection, blob.Tensor("projection"));
  TM_ASSIGN_OR_RETURN(key.inputs, blob.Tensor("inputs"));
  TM_ASSIGN_OR_RETURN(key.labels, blob.Tensor("labels"));
  TM_ASSIGN_OR_RETURN(key.classes, blob.Int("classes"));
  key.settings = settings;
  const bool consistent =
      key.coordinates.dim() == 1 && key.coordinates.scalar_type() == torch::kLong &&
      key.projection.dim() == 2 && key.projection.size(1) == key.coordinates.size(0) &&
      key.inputs.dim() >= 2 && key.labels.dim() == 1 && key.labels.size(0) == key.inputs.size(0) &&
      key.labels.scalar_type() == torch::kLong && key.coordinates.size(0) > 0 &&
      key.inputs.size(0) > 0 && key.coordinates.max().item<int64_t>() < key.inputs[0].numel() &&
      key.coordinates.min().item<int64_t>() >= 0 && key.labels.max().item<int64_t>() < key.classes;
  if (!consistent) return Status::Corruption("gradsigns key tensors do not fit together");
  return key;
}

// The model's outputs for `inputs` must be [N, classes] class scores.
Status CheckScores(const torch::Tensor& outputs, int64_t rows, int64_t classes) {
  if (outputs.dim() == 2 && outputs.size(0) == rows && outputs.size(1) == classes) {
    return Status::Ok();
  }
  return Status::FailedPrecondition("suspect answers shape " + c10::str(outputs.sizes()) +
                                    ", not [" + std::to_string(rows) + ", " +
                                    std::to_string(classes) + "] class scores");
}

// d = K g_S from exact input gradients of `model` (in its current mode);
// differentiable in the parameters when `create_graph`. FailedPrecondition
// when the model does not fit the key.
StatusOr<torch::Tensor> DecodeGradients(torch::jit::Module& model, const GradKey& key,
                                        bool create_graph) {
  torch::AutoGradMode enable_grad(true);
  torch::Tensor x = key.inputs.clone().requires_grad_(true);
  auto logits = RunForward(model, x);
  if (!logits.ok()) return Status::FailedPrecondition(logits.status().message());
  TM_RETURN_IF_ERROR(CheckScores(*logits, x.size(0), key.classes));
  // Mean CE: summing the per-input gradients gives the mean gradient.
  torch::Tensor loss = torch::nn::functional::cross_entropy(*logits, key.labels);
  torch::Tensor grad = torch::autograd::grad({loss}, {x}, /*grad_outputs=*/{},
                                             /*retain_graph=*/create_graph, create_graph)[0];
  torch::Tensor g = grad.flatten(1).index_select(1, key.coordinates).sum(0);
  return torch::mv(key.projection, g);
}

// d estimated from `suspect`'s answers by forward finite differences along
// K's rows: key.queries() rows in one Query. Query failures (Unavailable for
// an endpoint that fails or runs out of budget) come back unchanged.
StatusOr<torch::Tensor> DecodeQueries(Suspect& suspect, const GradKey& key) {
  const int64_t n = key.inputs.size(0), bits = key.bits(), rows = key.queries();
  if (rows > key.settings.max_queries) {
    return Status::Corruption("gradsigns key needs " + std::to_string(rows) +
                              " queries, above its max_queries");
  }
  const double h = key.settings.fd_step;
  torch::NoGradGuard no_grad;
  torch::Tensor flat = key.inputs.flatten(1);  // [N, D]
  torch::Tensor offsets = torch::zeros({bits + 1, flat.size(1)});
  offsets.slice(0, 1).index_copy_(1, key.coordinates, key.projection * h);
  std::vector<int64_t> shape = {rows};
  for (int64_t i = 1; i < key.inputs.dim(); ++i) shape.push_back(key.inputs.size(i));
  torch::Tensor probes = (flat.unsqueeze(1) + offsets.unsqueeze(0)).reshape(shape);

  torch::Tensor outputs;
  Status st = suspect.Query(probes, &outputs);
  if (st.code() == Status::Code::kInvalidArgument) {
    return Status::FailedPrecondition("suspect rejects the key's inputs: " + st.message());
  }
  TM_RETURN_IF_ERROR(st);
  TM_RETURN_IF_ERROR(CheckScores(outputs, rows, key.classes));
  torch::Tensor labels = key.labels.repeat_interleave(bits + 1).unsqueeze(1);
  torch::Tensor loss =
      -LogProbabilities(outputs).to(torch::kDouble).gather(1, labels).view({n, bits + 1});
  torch::Tensor slopes = (loss.slice(1, 1) - loss.slice(1, 0, 1)) / h;  // [N, T]
  return slopes.mean(0).to(torch::kFloat);
}

class GradSigns final : public TypedScheme<Settings> {
 public:
  GradSigns() : TypedScheme(GradSignsInfo()) {}

 private:
  StatusOr<Settings> ParseSettings(const SchemeParams& params) const override {
    return ParseGradSignsSettings(params);
  }

  Status MakeKey(const torch::jit::Module& model, const Settings& settings, int bits, uint64_t seed,
                 const Dataset& train, KeyBlob* blob, SchemeParams* params) const override {
    Settings s = settings;  // with the auto sizes resolved below
    if (train.size() == 0) {
      return Status::InvalidArgument("gradsigns draws its carrier inputs from training data");
    }
    if (bits < 1) return Status::InvalidArgument("gradsigns needs at least one bit");
    const int64_t coordinates = train.images[0].numel();
    TM_ASSIGN_OR_RETURN(int64_t classes, CountClasses(model, train));

    if (s.carriers < 0) s.carriers = std::min(coordinates, int64_t{2} * bits);
    if (s.carriers < bits || s.carriers > coordinates) {
      return Status::FailedPrecondition(
          "gradsigns needs bits <= carriers <= input coordinates, got " + std::to_string(bits) +
          " bits, carriers=" + std::to_string(s.carriers) + ", " + std::to_string(coordinates) +
          " coordinates (K g_S cannot take every sign pattern when |S| < bits)");
    }
    const int64_t per_input = int64_t{bits} + 1;
    if (s.inputs < 0) s.inputs = std::min(kDefaultInputs, s.max_queries / per_input);
    if (s.inputs < 1 || s.inputs * per_input > s.max_queries) {
      return Status::FailedPrecondition(
          "max_queries=" + std::to_string(s.max_queries) + " cannot probe " +
          std::to_string(std::max<int64_t>(s.inputs, 1)) + " carrier inputs at bits + 1 = " +
          std::to_string(per_input) + " queries each; raise max_queries or lower inputs/bits");
    }
    TM_ASSIGN_OR_RETURN(torch::Tensor pool, CarrierPool(train, s.classes, classes));
    if (pool.size(0) < s.inputs) {
      return Status::FailedPrecondition(
          "the training data has " + std::to_string(pool.size(0)) +
          " images of the chosen classes, fewer than inputs=" + std::to_string(s.inputs));
    }

    torch::Generator gen = at::detail::createCPUGenerator(seed);
    torch::Tensor chosen_coordinates =
        torch::randperm(coordinates, gen, torch::kLong).slice(0, 0, s.carriers);
    torch::Tensor projection = torch::rand({bits, s.carriers}, gen) * 2 - 1;
    torch::Tensor picks = pool.index_select(
        0, torch::randperm(pool.size(0), gen, torch::kLong).slice(0, 0, s.inputs));

    blob->SetTensor("coordinates", chosen_coordinates.contiguous());
    blob->SetTensor("projection", projection.contiguous());
    torch::Tensor images = train.images.index_select(0, picks).to(torch::kFloat);
    torch::Tensor noise = torch::rand(images.sizes(), gen) * 2 - 1;
    torch::Tensor inputs = images * (1 - 2 * kDither) + kDither * (1 + noise);
    blob->SetTensor("inputs", inputs.contiguous());
    blob->SetTensor("labels", train.labels.index_select(0, picks).contiguous());
    blob->SetInt("classes", classes);
    (*params)["carriers"] = std::to_string(s.carriers);
    (*params)["inputs"] = std::to_string(s.inputs);
    return Status::Ok();
  }

  Status EmbedBits(torch::jit::Module& model, const KeyBlob& blob, const Settings& settings,
                   const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                   EmbedReport* report) const override {
    TM_ASSIGN_OR_RETURN(GradKey key, ReadKey(blob, settings));
    TM_RETURN_IF_ERROR(CheckBitCount(bits, key.bits()));
    TM_RETURN_IF_ERROR(DecodeGradients(model, key, false).status());
    const Settings& s = key.settings;
    torch::Tensor target = torch::tensor(std::vector<float>(bits.begin(), bits.end()));
    torch::Tensor sign = target * 2 - 1;
    report->bits = static_cast<int>(bits.size());
    // Checked above, so only a LibTorch failure throws (GuardedCall reports it).
    auto decode = [&](bool create_graph) {
      auto d = DecodeGradients(model, key, create_graph);
      if (!d.ok()) throw std::runtime_error(d.status().message());
      return std::move(d).value();
    };
    auto regularizer = [&] {
      return s.strength *
             torch::binary_cross_entropy_with_logits(decode(/*create_graph=*/true), target);
    };
    auto bits_with_margin = [&] {
      torch::Tensor d = decode(/*create_graph=*/false).detach();
      return static_cast<int>((sign * d).ge(s.margin).sum().item<int64_t>());
    };
    return RunEmbeddingLoop(model, ctx, s.loop, regularizer, bits_with_margin, report);
  }

  Status ExtractBits(Suspect& suspect, const KeyBlob& blob, const Settings& settings,
                     std::vector<float>* soft_bits) const override {
    TM_ASSIGN_OR_RETURN(GradKey key, ReadKey(blob, settings));
    torch::Tensor d;
    if (torch::jit::Module* model = suspect.module()) {
      model->eval();
      TM_ASSIGN_OR_RETURN(d, DecodeGradients(*model, key, false));
    } else {
      TM_ASSIGN_OR_RETURN(d, DecodeQueries(suspect, key));
    }
    torch::NoGradGuard no_grad;
    d = d.detach();
    const double peak = d.abs().max().item<double>();
    torch::Tensor soft =
        (peak > 0 ? (d / peak + 1) / 2 : torch::full_like(d, 0.5)).clamp(0, 1).contiguous();
    soft_bits->assign(soft.data_ptr<float>(), soft.data_ptr<float>() + soft.numel());
    return Status::Ok();
  }

  // The model's number of output classes, checked against the labels.
  static StatusOr<int64_t> CountClasses(const torch::jit::Module& model, const Dataset& train) {
    torch::jit::Module handle = model;  // shares the module; forward is not const
    torch::NoGradGuard no_grad;
    TM_ASSIGN_OR_RETURN(torch::Tensor out, RunForward(handle, train.images.slice(0, 0, 2)));
    const int64_t labels = train.labels.max().item<int64_t>() + 1;
    if (out.dim() != 2 || out.size(1) < labels) {
      return Status::FailedPrecondition("gradsigns needs a classifier scoring the data's " +
                                        std::to_string(labels) + " classes; the model answers " +
                                        c10::str(out.sizes()));
    }
    return out.size(1);
  }

  // Training rows whose label is one of `wanted` (all rows when empty).
  static StatusOr<torch::Tensor> CarrierPool(const Dataset& train,
                                             const std::vector<int64_t>& wanted, int64_t classes) {
    if (wanted.empty()) return torch::arange(train.size(), torch::kLong);
    torch::Tensor mask = torch::zeros({train.size()}, torch::kBool);
    for (int64_t c : wanted) {
      if (c >= classes) {
        return Status::InvalidArgument("parameter classes names class " + std::to_string(c) +
                                       ", but the model has " + std::to_string(classes));
      }
      mask.logical_or_(train.labels.eq(c));
    }
    return mask.nonzero().flatten();
  }
};

}  // namespace
}  // namespace tracemark

TRACEMARK_DEFINE_SCHEME(tracemark::GradSigns, "gradsigns")
