// Barrier: deep watermarking of image-to-image models after Zhang et al.,
// "Deep Model Intellectual Property Protection via Deep Watermarking"
// (TPAMI 2021), with the licensee's code as the hidden watermark.
//
// H, the barrier after the model, is a code-conditioned convolution: with
// T secret k x k kernels K_t (k = the smallest odd size with k^2 - 1 >= T,
// so the T filter responses are linearly independent) and s = 2b - 1,
//   H(x, y) = y + epsilon * tanh(gain * sum_t s_t (K_t * x) / sqrt(T))
// where x is the model's input and y its output. The residual is bounded by
// epsilon, zero-mean, and a linear function of the input below the tanh —
// the kind of mapping any surrogate trained on (input, output) pairs learns
// first, which is what lets the mark survive model extraction. Stage 1
// calibrates `gain` (bisection) so that PSNR(H(x, y), y) on the owner's
// data meets the `psnr` target.
//
// R, the extractor, reads a batch of outputs z of known probe inputs x with
// the unmarked model's outputs y_ref on the same probes (both in the key):
// with features F_t = Q_t * x (Q: learned kernels, initialised to K) it
// solves the least-squares problem  z - y_ref ~ sum_t a_t F_t  and returns
// logits scale_t * a_t / se(a_t) (z-scores). On clean images or unmarked
// models a_t carries no code: its signs are independent of every
// licensee's code. Stage 2, the paper's second stage, trains `surrogates`
// models of other architectures (a plain conv net with L2 loss and a small
// U-Net with L1 loss, alternating) on (noisy input, marked output) pairs of
// their own random codes, plus one on clean targets (unmarked), and
// fine-tunes Q and scale with BCE on surrogate batches and marked batches,
// pushing the unmarked surrogate's z-scores to 0. H is not changed.
//
// A copy is "the target followed by H": one TorchScript module with the
// original forward(x) = h(x, target(x)), where h holds only the combined
// kernel W = gain * sum_t s_t K_t / sqrt(T) (neither K nor the code).
// Embedding a licensee therefore takes seconds and never fine-tunes the
// owner's network; fidelity is exactly controlled by epsilon and gain. The
// price: a white-box thief could cut H off the graph — the paper's threat
// model is black-box use of the outputs, and so is this scheme's.
//
// Extraction queries the key's probes (noisy owner images; `probes`
// queries, from a file or an endpoint) and maps R's logits to soft bits
// sigmoid(logit); the core compares them with each licensee's code.
#include <torch/torch.h>

#include <cmath>

#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/image_task.h"
#include "tracemark/sdk/key_blob.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/model_kind.h"
#include "tracemark/sdk/scheme.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/suspect.h"
#include "tracemark/sdk/typed_scheme.h"

namespace tracemark {
namespace {

namespace F = torch::nn::functional;

namespace F = torch::nn::functional;

SchemeInfo BarrierInfo() {
  SchemeInfo info;
  info.name = "barrier";
  info.title = "Deep-watermarking barrier H and extractor R for image-to-image models";
  info.reference =
      "Zhang, Chen, Liao, Fang, Zhang, Zhou, Yu. Deep Model Intellectual Property Protection via "
      "Deep Watermarking. TPAMI 2021";
  info.access = "queries";
  info.white_box = true;
  info.black_box = true;
  info.model_kinds = {kImageToImageKind};
  info.needs_training_data = true;
  info.default_code_family = "random";
  info.capacity =
      "any number of bits (kernels grow: k^2 - 1 >= bits); 64 or more for p <= 1e-6; a trace "
      "sends `probes` queries";
  info.params = {
      {"noise", "0.3", "sigma of the Gaussian noise on the model's inputs (the core's setting)"},
      {"epsilon", "0.1", "bound of H's residual: |H(x, y) - y| < epsilon per pixel"},
      {"psnr", "35", "fidelity target: PSNR of a copy's outputs against the base model's (dB)"},
      {"kernel", "auto", "H's kernel size (odd); auto = smallest with kernel^2 - 1 >= bits"},
      {"rows", "8000", "owner images used for calibration, surrogates and fine-tuning"},
      {"surrogates", "2", "stage 2: marked surrogate models (0 skips stage 2)"},
      {"surrogate_epochs", "2", "stage 2: training epochs of each surrogate over rows"},
      {"finetune_steps", "150", "stage 2: R fine-tuning steps on surrogate outputs"},
      {"batch_size", "64", "minibatch size of surrogate training and R fine-tuning"},
      {"lr", "0.002", "Adam learning rate of surrogates (R uses lr / 4)"},
      {"probes", "256", "probe inputs per trace (the queries an endpoint trace sends)"},
  };
  return info;
}

struct Settings {
  double noise = 0, epsilon = 0, psnr = 0, lr = 0;
  int64_t kernel = -1, rows = 0, surrogates = 0, surrogate_epochs = 0, finetune_steps = 0,
          batch_size = 0, probes = 0;
};

StatusOr<Settings> ParseBarrierSettings(const SchemeParams& p) {
  Settings s;
  TM_ASSIGN_OR_RETURN(s.noise, GetDouble(p, "noise", 0, 1));
  TM_ASSIGN_OR_RETURN(s.epsilon, GetDouble(p, "epsilon", 1e-4, 1));
  TM_ASSIGN_OR_RETURN(s.psnr, GetDouble(p, "psnr", 10, 80));
  auto kernel = p.find("kernel");
  if (kernel != p.end() && kernel->second == "auto") {
    s.kernel = -1;
  } else {
    TM_ASSIGN_OR_RETURN(s.kernel, GetInt(p, "kernel", 1, 63));
    if (s.kernel % 2 == 0)
      return Status::InvalidArgument("parameter kernel=" + kernel->second + " must be odd");
  }
  TM_ASSIGN_OR_RETURN(s.rows, GetInt(p, "rows", 64, 1000000));
  TM_ASSIGN_OR_RETURN(s.surrogates, GetInt(p, "surrogates", 0, 16));
  TM_ASSIGN_OR_RETURN(s.surrogate_epochs, GetInt(p, "surrogate_epochs", 1, 1000));
  TM_ASSIGN_OR_RETURN(s.finetune_steps, GetInt(p, "finetune_steps", 0, 1000000));
  TM_ASSIGN_OR_RETURN(s.batch_size, GetInt(p, "batch_size", 8, 4096));
  TM_ASSIGN_OR_RETURN(s.lr, GetDouble(p, "lr", 1e-6, 1));
  TM_ASSIGN_OR_RETURN(s.probes, GetInt(p, "probes", 8, 100000));
  return s;
}

int64_t AutoKernel(int64_t bits) {
  int64_t k = 1;
  while (k * k - 1 < bits) k += 2;
  return k;
}

// W = gain * sum_t s_t K_t / sqrt(T): [C, C, k, k] from K [T, C, C, k, k].
torch::Tensor CombinedKernel(const torch::Tensor& kernels, const torch::Tensor& code, double gain) {
  const int64_t bits = kernels.size(0);
  torch::Tensor sign = (code.to(torch::kFloat) * 2 - 1).view({bits, 1, 1, 1, 1});
  return (kernels * sign).sum(0) * (gain / std::sqrt(static_cast<double>(bits)));
}

torch::Tensor HForward(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w,
                       double epsilon) {
  const int64_t pad = w.size(2) / 2;
  return y + epsilon * torch::tanh(torch::conv2d(x, w, {}, 1, pad));
}

// R: z-scores of the least-squares fit z - y_ref ~ sum_t a_t (Q_t * x).
torch::Tensor RLogits(const torch::Tensor& q, const torch::Tensor& scale, const torch::Tensor& x,
                      const torch::Tensor& z, const torch::Tensor& y_ref) {
  const int64_t bits = q.size(0), c = q.size(1), k = q.size(3), pad = k / 2;
  torch::Tensor f = torch::conv2d(x, q.reshape({bits * c, c, k, k}), {}, 1, pad);  // [N, T*C, H, W]
  f = f.view({x.size(0), bits, c, x.size(2), x.size(3)}).transpose(0, 1).reshape({bits, -1});
  torch::Tensor fd = f.to(torch::kDouble);                         // [T, P]
  torch::Tensor d = (z - y_ref).reshape({-1}).to(torch::kDouble);  // [P]
  torch::Tensor gram = fd.mm(fd.t());
  gram = gram + torch::eye(bits, torch::kDouble) * (1e-6 * gram.diagonal().mean() + 1e-12);
  torch::Tensor inverse = torch::linalg::inv(gram);
  torch::Tensor a = inverse.mv(fd.mv(d));
  torch::Tensor residual = d - fd.t().mv(a);
  const double dof = std::max<double>(1.0, static_cast<double>(d.size(0) - bits));
  torch::Tensor sigma2 = residual.pow(2).sum() / dof + 1e-18;
  torch::Tensor se = (sigma2 * inverse.diagonal()).sqrt();
  return (scale.to(torch::kDouble) * a / se).to(torch::kFloat);
}

// Stage-2 surrogates, architectures unlike the demo denoiser: a plain conv
// net (5x5 then 3x3 convolutions, no residual) and a small U-Net (one
// stride-2 level, a skip connection, residual output).
using Params = std::map<std::string, torch::Tensor>;

void AddConv(Params& p, const std::string& name, int64_t in, int64_t out, int64_t k,
             torch::Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in * k * k));
  p[name + "_w"] = (torch::rand({out, in, k, k}, gen) * 2 - 1).mul_(bound).requires_grad_(true);
  p[name + "_b"] = (torch::rand({out}, gen) * 2 - 1).mul_(bound).requires_grad_(true);
}

torch::Tensor Conv(const Params& p, const std::string& name, const torch::Tensor& x,
                   int64_t stride = 1) {
  const torch::Tensor& w = p.at(name + "_w");
  return torch::conv2d(x, w, p.at(name + "_b"), stride, w.size(2) / 2);
}

Params MakeSurrogate(int kind, int64_t channels, torch::Generator& gen) {
  Params p;
  if (kind == 0) {
    AddConv(p, "conv1", channels, 24, 5, gen);
    AddConv(p, "conv2", 24, 24, 3, gen);
    AddConv(p, "conv3", 24, 24, 3, gen);
    AddConv(p, "conv4", 24, channels, 3, gen);
  } else {
    AddConv(p, "enc1", channels, 16, 3, gen);
    AddConv(p, "enc2", 16, 32, 3, gen);
    AddConv(p, "mid", 32, 32, 3, gen);
    AddConv(p, "up", 32, 16, 3, gen);
    AddConv(p, "dec", 32, 16, 3, gen);
    AddConv(p, "out", 16, channels, 3, gen);
  }
  return p;
}

torch::Tensor SurrogateForward(int kind, const Params& p, const torch::Tensor& x) {
  if (kind == 0) {
    torch::Tensor h = torch::relu(Conv(p, "conv1", x));
    h = torch::relu(Conv(p, "conv2", h));
    h = torch::relu(Conv(p, "conv3", h));
    return Conv(p, "conv4", h);
  }
  torch::Tensor e1 = torch::relu(Conv(p, "enc1", x));
  torch::Tensor e2 = torch::relu(Conv(p, "enc2", e1, 2));
  torch::Tensor m = torch::relu(Conv(p, "mid", e2));
  torch::Tensor u = F::interpolate(m, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                          .mode(torch::kNearest));
  u = torch::relu(Conv(p, "up", u));
  torch::Tensor d = torch::relu(Conv(p, "dec", torch::cat({u, e1}, 1)));
  return x - Conv(p, "out", d);
}

std::vector<torch::Tensor> Values(const Params& p) {
  std::vector<torch::Tensor> v;
  for (const auto& [name, t] : p) v.push_back(t);
  return v;
}

// Everything Embed and Extract read from a key.
struct BarrierKey {
  torch::Tensor kernels;     // K [T, C, C, k, k], H's secret kernels
  double gain = 0;           // H's calibrated gain
  torch::Tensor decoder;     // Q [T, C, C, k, k], R's kernels
  torch::Tensor scale;       // [T], R's per-bit scale
  torch::Tensor probes;      // [P, C, H, W] noisy owner images
  torch::Tensor references;  // [P, C, H, W] the base model's outputs on them
  Settings settings;
  int64_t bits() const { return kernels.size(0); }
};

StatusOr<BarrierKey> ReadKey(const KeyBlob& blob, const Settings& settings) {
  BarrierKey key;
  TM_ASSIGN_OR_RETURN(key.kernels, blob.Tensor("kernels"));
  TM_ASSIGN_OR_RETURN(torch::Tensor gain, blob.Tensor("gain"));
  TM_ASSIGN_OR_RETURN(key.decoder, blob.Tensor("decoder"));
  TM_ASSIGN_OR_RETURN(key.scale, blob.Tensor("scale"));
  TM_ASSIGN_OR_RETURN(key.probes, blob.Tensor("probes"));
  TM_ASSIGN_OR_RETURN(key.references, blob.Tensor("references"));
  key.settings = settings;
  const bool consistent =
      gain.numel() == 1 && key.kernels.dim() == 5 && key.decoder.sizes() == key.kernels.sizes() &&
      key.scale.dim() == 1 && key.scale.size(0) == key.kernels.size(0) && key.probes.dim() == 4 &&
      key.references.sizes() == key.probes.sizes() && key.probes.size(1) == key.kernels.size(1);
  if (!consistent) return Status::Corruption("barrier key tensors do not fit together");
  key.gain = gain.item<double>();
  return key;
}

// Outputs must be images of the inputs' layout.
Status CheckImages(const torch::Tensor& inputs, const torch::Tensor& outputs) {
  if (outputs.sizes().equals(inputs.sizes())) return Status::Ok();
  return Status::FailedPrecondition("barrier marks image-to-image models; the suspect answers " +
                                    ShapeText(outputs.sizes()) + " for images " +
                                    ShapeText(inputs.sizes()));
}

torch::Tensor RandomCode(int64_t bits, torch::Generator& gen) {
  return torch::randint(0, 2, {bits}, gen).to(torch::kFloat);
}

// The copy: forward(x) = h(x, target(x)), h holding W and epsilon only.
torch::jit::Module MakeCopy(const torch::jit::Module& target, const torch::Tensor& w,
                            double epsilon) {
  torch::jit::Module h("BarrierH");
  h.register_parameter("weight", w.detach().clone(), false);
  h.register_attribute("epsilon", c10::FloatType::get(), epsilon);
  const std::string pad = std::to_string(w.size(2) / 2);
  h.define(
      "def forward(self, x, y):\n"
      "    r = torch.conv2d(x, self.weight, None, [1, 1], [" +
      pad + ", " + pad +
      "])\n"
      "    return y + self.epsilon * torch.tanh(r)\n");
  torch::jit::Module copy("BarrierCopy");
  copy.register_module("target", target);
  copy.register_module("h", h);
  copy.define(
      "def forward(self, x):\n"
      "    return self.h.forward(x, self.target.forward(x))\n");
  copy.eval();
  return copy;
}

class Barrier final : public TypedScheme<Settings> {
 public:
  Barrier() : TypedScheme(BarrierInfo()) {}

 private:
  StatusOr<Settings> ParseSettings(const SchemeParams& params) const override {
    return ParseBarrierSettings(params);
  }

  Status MakeKey(const torch::jit::Module& model, const Settings& s, int bits, uint64_t seed,
                 const Dataset& train, KeyBlob* blob, SchemeParams* /*params*/) const override {
    if (bits < 1) return Status::InvalidArgument("barrier needs at least one bit");
    if (train.images.dim() != 4 || train.size() < s.probes + 64) {
      return Status::InvalidArgument(
          "barrier needs at least probes + 64 = " + std::to_string(s.probes + 64) +
          " training images [N, C, H, W]");
    }
    const int64_t k = s.kernel > 0 ? s.kernel : AutoKernel(bits);
    if (k * k - 1 < bits) {
      return Status::FailedPrecondition(
          "kernel=" + std::to_string(k) + " gives " + std::to_string(k * k - 1) +
          " independent filters, fewer than " + std::to_string(bits) + " bits; use kernel=auto");
    }
    torch::jit::Module base = model;  // shares the module; forward is not const
    torch::Generator gen = at::detail::createCPUGenerator(seed);
    const int64_t rows = std::min(s.rows, train.size() - s.probes);
    torch::Tensor clean = train.images.slice(0, 0, rows).to(torch::kFloat);
    torch::Tensor noisy = AddNoise(clean, s.noise, seed ^ 0x1);
    TM_ASSIGN_OR_RETURN(torch::Tensor y, RunBatched(base, noisy));
    if (!y.sizes().equals(noisy.sizes())) {
      return Status::FailedPrecondition("barrier marks image-to-image models; the model answers " +
                                        ShapeText(y.sizes()) + " for images " +
                                        ShapeText(noisy.sizes()));
    }
    torch::Tensor probes = AddNoise(
        train.images.slice(0, train.size() - s.probes).to(torch::kFloat), s.noise, seed ^ 0x2);
    TM_ASSIGN_OR_RETURN(torch::Tensor references, RunBatched(base, probes));
    const int64_t c = clean.size(1);

    // H's secret kernels: Gaussian, zero-mean, unit norm.
    torch::Tensor kernels = torch::randn({bits, c, c, k, k}, gen);
    kernels = kernels - kernels.mean({3, 4}, true);
    kernels = kernels / kernels.flatten(1).norm(2, 1).view({bits, 1, 1, 1, 1});

    // Stage 1: the gain meeting the PSNR target on owner outputs.
    double gain = 0;
    {
      torch::NoGradGuard no_grad;
      const int64_t n = std::min<int64_t>(rows, 1000);
      torch::Tensor xs = noisy.slice(0, 0, n), ys = y.slice(0, 0, n);
      std::vector<torch::Tensor> codes;
      for (int i = 0; i < 4; ++i) codes.push_back(RandomCode(bits, gen));
      auto worst_psnr = [&](double g) {
        double worst = 1e9;
        for (const auto& code : codes) {
          worst = std::min(worst,
                           Psnr(HForward(xs, ys, CombinedKernel(kernels, code, g), s.epsilon), ys));
        }
        return worst;
      };
      double lo = -12, hi = 6;  // log gain
      for (int i = 0; i < 40; ++i) {
        const double mid = (lo + hi) / 2;
        (worst_psnr(std::exp(mid)) >= s.psnr ? lo : hi) = mid;
      }
      gain = std::exp(lo);
      if (worst_psnr(gain) < s.psnr - 0.5) {
        return Status::FailedPrecondition("barrier cannot reach psnr=" + std::to_string(s.psnr) +
                                          " dB against the base outputs; lower psnr");
      }
    }

    // Stage 2: surrogates on (noisy, marked) pairs; R fine-tuned on them.
    torch::Tensor decoder = kernels.clone().requires_grad_(true);
    torch::Tensor scale = torch::ones({bits}).requires_grad_(true);
    const int64_t B = s.batch_size;
    auto batch = [&] { return torch::randint(0, rows, {B}, gen); };
    std::vector<torch::Tensor> outputs, codes;
    torch::Tensor unmarked;
    for (int64_t m = 0; s.surrogates > 0 && m <= s.surrogates; ++m) {
      const bool is_unmarked = m == s.surrogates;
      const int kind = static_cast<int>(m % 2);
      torch::Tensor code = RandomCode(bits, gen), target;
      {
        torch::NoGradGuard no_grad;
        target = is_unmarked ? clean
                             : HForward(noisy, y, CombinedKernel(kernels, code, gain), s.epsilon);
      }
      Params sur = MakeSurrogate(kind, c, gen);
      torch::optim::Adam opt(Values(sur), torch::optim::AdamOptions(s.lr));
      const int64_t steps = s.surrogate_epochs * ((rows + B - 1) / B);
      for (int64_t i = 0; i < steps; ++i) {
        torch::Tensor idx = batch();
        torch::Tensor out = SurrogateForward(kind, sur, noisy.index_select(0, idx));
        torch::Tensor want = target.index_select(0, idx);
        torch::Tensor loss = kind == 0 ? torch::mse_loss(out, want) : torch::l1_loss(out, want);
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < rows; i += 500) {
        parts.push_back(SurrogateForward(kind, sur, noisy.slice(0, i, i + 500)));
      }
      (is_unmarked ? unmarked : outputs.emplace_back()) = torch::cat(parts);
      if (!is_unmarked) codes.push_back(code);
    }
    if (s.surrogates > 0 && s.finetune_steps > 0) {
      torch::optim::Adam opt({decoder, scale}, torch::optim::AdamOptions(s.lr / 4));
      for (int64_t i = 0; i < s.finetune_steps; ++i) {
        torch::Tensor idx = batch();
        torch::Tensor xb = noisy.index_select(0, idx), yb = y.index_select(0, idx);
        torch::Tensor code = RandomCode(bits, gen);
        torch::Tensor marked;
        {
          torch::NoGradGuard no_grad;
          marked = HForward(xb, yb, CombinedKernel(kernels, code, gain), s.epsilon);
        }
        torch::Tensor loss =
            torch::binary_cross_entropy_with_logits(RLogits(decoder, scale, xb, marked, yb), code);
        for (size_t m = 0; m < outputs.size(); ++m) {
          loss = loss +
                 torch::binary_cross_entropy_with_logits(
                     RLogits(decoder, scale, xb, outputs[m].index_select(0, idx), yb), codes[m]);
        }
        loss = loss +
               0.01 * RLogits(decoder, scale, xb, unmarked.index_select(0, idx), yb).pow(2).mean();
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
    }

    blob->SetTensor("kernels", kernels.contiguous());
    blob->SetTensor("gain", torch::tensor({gain}, torch::kDouble));
    blob->SetTensor("decoder", decoder.detach().contiguous());
    blob->SetTensor("scale", scale.detach().contiguous());
    blob->SetTensor("probes", probes.contiguous());
    blob->SetTensor("references", references.contiguous());
    return Status::Ok();
  }

  Status EmbedBits(torch::jit::Module& model, const KeyBlob& blob, const Settings& settings,
                   const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                   EmbedReport* report) const override {
    TM_ASSIGN_OR_RETURN(BarrierKey key, ReadKey(blob, settings));
    TM_RETURN_IF_ERROR(CheckBitCount(bits, key.bits()));
    torch::Tensor code = torch::tensor(std::vector<float>(bits.begin(), bits.end()));
    torch::jit::Module copy =
        MakeCopy(model, CombinedKernel(key.kernels, code, key.gain), key.settings.epsilon);

    // Read the copy back through R on the probes.
    torch::Tensor outputs;
    ModelSuspect suspect(&copy);
    TM_RETURN_IF_ERROR(suspect.Query(key.probes, &outputs));
    TM_RETURN_IF_ERROR(CheckImages(key.probes, outputs));
    torch::NoGradGuard no_grad;
    torch::Tensor logits = RLogits(key.decoder, key.scale, key.probes, outputs, key.references);
    report->bits = static_cast<int>(key.bits());
    report->bits_with_margin =
        static_cast<int>(logits.gt(0).to(torch::kFloat).eq(code).sum().item<int64_t>());
    report->steps = 0;
    if (ctx.validation != nullptr && ctx.validation->size() > 0) {
      TM_ASSIGN_OR_RETURN(report->validation_accuracy,
                          TaskPsnr(copy, ctx.validation->images, key.settings.noise));
      const double floor = ctx.base_accuracy - ctx.max_accuracy_drop;
      if (report->validation_accuracy < floor) {
        return Status::FailedPrecondition("the copy's task PSNR " +
                                          std::to_string(report->validation_accuracy) +
                                          " dB is below the budget's " + std::to_string(floor) +
                                          " dB; raise the barrier's psnr target");
      }
    }
    model = copy;
    return Status::Ok();
  }

  Status ExtractBits(Suspect& suspect, const KeyBlob& blob, const Settings& settings,
                     std::vector<float>* soft_bits) const override {
    TM_ASSIGN_OR_RETURN(BarrierKey key, ReadKey(blob, settings));
    torch::Tensor outputs;
    Status st = suspect.Query(key.probes, &outputs);
    if (st.code() == Status::Code::kInvalidArgument) {
      return Status::FailedPrecondition("suspect rejects the probe images: " + st.message());
    }
    TM_RETURN_IF_ERROR(st);
    TM_RETURN_IF_ERROR(CheckImages(key.probes, outputs));
    torch::NoGradGuard no_grad;
    torch::Tensor soft = torch::sigmoid(RLogits(key.decoder, key.scale, key.probes,
                                                outputs.to(torch::kFloat), key.references))
                             .contiguous();
    soft_bits->assign(soft.data_ptr<float>(), soft.data_ptr<float>() + soft.numel());
    return Status::Ok();
  }
};

}  // namespace
}  // namespace tracemark

TRACEMARK_DEFINE_SCHEME(tracemark::Barrier, "barrier")
