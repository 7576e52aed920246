#include "tracemark/sdk/training.h"

#include <torch/torch.h>

#include "tracemark/sdk/model.h"

namespace tracemark {
namespace {

constexpr int64_t kEvalBatch = 1000;

torch::Tensor CrossEntropy(torch::jit::Module& model, const torch::Tensor& x,
                           const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(model.forward({x}).toTensor(), y);
}

}  // namespace

BatchSampler::BatchSampler(const Dataset& data, int64_t batch_size, uint64_t seed)
    : data_(data),
      batch_size_(std::max<int64_t>(1, std::min(batch_size, data.size()))),
      generator_(at::detail::createCPUGenerator(seed)) {
  Reshuffle();
}

void BatchSampler::Reshuffle() {
  order_ = torch::randperm(data_.size(), generator_, torch::kLong);
  cursor_ = 0;
}

void BatchSampler::Next(torch::Tensor* images, torch::Tensor* labels) {
  if (cursor_ + batch_size_ > data_.size()) Reshuffle();
  auto idx = order_.slice(0, cursor_, cursor_ + batch_size_);
  cursor_ += batch_size_;
  *images = data_.images.index_select(0, idx);
  *labels = data_.labels.index_select(0, idx);
}

int64_t BatchSampler::batches_per_epoch() const { return data_.size() / batch_size_; }

StatusOr<double> Accuracy(torch::jit::Module& model, const Dataset& data) {
  torch::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < data.size(); i += kEvalBatch) {
    Dataset batch = data.Slice(i, i + kEvalBatch);
    TM_ASSIGN_OR_RETURN(torch::Tensor logits, RunForward(model, batch.images));
    if (logits.dim() != 2 || logits.size(0) != batch.size()) {
      return Status::InvalidArgument("model answers " + c10::str(logits.sizes()) + " for " +
                                     std::to_string(batch.size()) +
                                     " images, not [N, classes] logits");
    }
    correct += logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  }
  return data.size() ? static_cast<double>(correct) / data.size() : 0.0;
}

std::vector<torch::Tensor> TrainableParameters(torch::jit::Module& model) {
  std::vector<torch::Tensor> params;
  for (const auto& p : model.parameters(/*recurse=*/true)) {
    p.set_requires_grad(true);
    params.push_back(p);
  }
  return params;
}

Status RunEmbeddingLoop(torch::jit::Module& model, const EmbedContext& ctx,
                        const EmbeddingLoopOptions& options,
                        const std::function<torch::Tensor()>& regularizer,
                        const std::function<int()>& bits_with_margin, EmbedReport* report) {
  BatchLoss batch_loss = [&](const torch::Tensor& x, const torch::Tensor& y) {
    return CrossEntropy(model, x, y) + regularizer();
  };
  return RunEmbeddingLoop(model, ctx, options, batch_loss, bits_with_margin, report);
}

Status RunEmbeddingLoop(torch::jit::Module& model, const EmbedContext& ctx,
                        const EmbeddingLoopOptions& options, const BatchLoss& batch_loss,
                        const std::function<int()>& bits_with_margin, EmbedReport* report) {
  if (!ctx.train || ctx.train->size() == 0) {
    return Status::InvalidArgument("embedding needs the owner's training data");
  }
  torch::optim::Adam optimizer(TrainableParameters(model),
                               torch::optim::AdamOptions(options.learning_rate));
  BatchSampler sampler(*ctx.train, options.batch_size, ctx.seed);
  const double min_accuracy = ctx.base_accuracy - ctx.max_accuracy_drop;
  torch::Tensor x, y;
  std::string last_shortfall = "no check ran";
  for (int step = 1; step <= options.max_steps; ++step) {
    model.train();
    sampler.Next(&x, &y);
    optimizer.zero_grad();
    batch_loss(x, y).backward();
    optimizer.step();
    report->steps = step;
    if (step % options.check_every != 0 && step != options.max_steps) continue;
    model.eval();
    {
      torch::NoGradGuard no_grad;
      report->bits_with_margin = bits_with_margin();
    }
    if (report->bits_with_margin < report->bits) {
      last_shortfall = std::to_string(report->bits_with_margin) + " of " +
                       std::to_string(report->bits) + " bits embedded with margin";
      continue;
    }
    if (ctx.validation) {
      TM_ASSIGN_OR_RETURN(report->validation_accuracy, Accuracy(model, *ctx.validation));
    } else {
      report->validation_accuracy = 1.0;
    }
    if (report->validation_accuracy >= min_accuracy) return Status::Ok();
    last_shortfall = "accuracy " + std::to_string(report->validation_accuracy) + " below " +
                     std::to_string(min_accuracy);
  }
  model.eval();
  return Status::FailedPrecondition("embedding did not converge in " +
                                    std::to_string(options.max_steps) +
                                    " steps: " + last_shortfall);
}

}  // namespace tracemark
