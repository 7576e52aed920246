#include "black_box.h"

#include <cmath>

#include "tracemark/sdk/model.h"
#include "tracemark/sdk/suspect.h"

namespace tracemark::deepsigns {
namespace {

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

}  // namespace

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

Status BlackScore(Suspect& suspect, const KeyBlob& blob, const std::string& copy_key_bytes,
                  KeyMatches* matches) {
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
}

}  // namespace tracemark::deepsigns
