// Training helpers of the schemes: minibatches, accuracy and the embedding
// loop every training-based scheme shares (part of the scheme SDK).
#pragma once

#include <torch/script.h>

#include <functional>

#include "tracemark/base/status.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark {

// Shuffled minibatches over a dataset, reproducible from a seed. Epochs
// wrap around with a fresh shuffle.
class BatchSampler {
 public:
  BatchSampler(const Dataset& data, int64_t batch_size, uint64_t seed);
  void Next(torch::Tensor* images, torch::Tensor* labels);
  int64_t batches_per_epoch() const;

 private:
  void Reshuffle();
  const Dataset& data_;
  int64_t batch_size_;
  torch::Tensor order_;
  int64_t cursor_ = 0;
  torch::Generator generator_;
};

// Top-1 accuracy in [0, 1], in eval mode without gradients.
// InvalidArgument when the model's outputs are not [N, classes] logits for
// the dataset's images (or the forward fails).
StatusOr<double> Accuracy(torch::jit::Module& model, const Dataset& data);

// All trainable parameters of the model (requires_grad set on each).
std::vector<torch::Tensor> TrainableParameters(torch::jit::Module& model);

struct EmbeddingLoopOptions {
  int max_steps = 1500;
  int64_t batch_size = 64;
  double learning_rate = 1e-4;
  int check_every = 25;  // steps between checks of the stopping rule
};

// The loop every training-based scheme shares: minimise CE(model) +
// `regularizer()` on ctx.train with Adam over all parameters, and stop at
// the first check where `bits_with_margin()` == report->bits and the
// accuracy on ctx.validation is within ctx.max_accuracy_drop of the base.
// FailedPrecondition when max_steps pass first (the message says which
// condition failed). Fills the report.
Status RunEmbeddingLoop(torch::jit::Module& model, const EmbedContext& ctx,
                        const EmbeddingLoopOptions& options,
                        const std::function<torch::Tensor()>& regularizer,
                        const std::function<int()>& bits_with_margin, EmbedReport* report);

// The whole loss of one embedding step on an owner batch (images, labels),
// cross-entropy included: for schemes that run the model their own way
// (for example through an ActivationTap) or add inputs of their own.
using BatchLoss =
    std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& labels)>;

// As above, minimising `batch_loss` instead of CE + regularizer().
Status RunEmbeddingLoop(torch::jit::Module& model, const EmbedContext& ctx,
                        const EmbeddingLoopOptions& options, const BatchLoss& batch_loss,
                        const std::function<int()>& bits_with_margin, EmbedReport* report);

}  // namespace tracemark
