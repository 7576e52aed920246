#include "tracemark/attacks.h"

#include <torch/torch.h>

#include "tracemark/model.h"
#include "tracemark/training.h"

namespace tracemark {

Status FineTuneAttack(torch::jit::Module& model, const Dataset& attacker_data, int epochs,
                      double learning_rate, uint64_t seed) {
  TrainOptions options;
  options.epochs = epochs;
  options.learning_rate = learning_rate;
  options.seed = seed;
  return TrainClassifier(model, attacker_data, options);
}

Status PruneByMagnitude(torch::jit::Module& model, double fraction) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return Status::InvalidArgument("pruning fraction must be in [0, 1]");
  }
  torch::NoGradGuard no_grad;
  for (const auto& p : model.parameters(/*recurse=*/true)) {
    if (p.dim() < 2) continue;
    int64_t k = static_cast<int64_t>(fraction * p.numel());
    if (k == 0) continue;
    // Exactly k entries, even when magnitudes tie at the threshold.
    auto smallest = std::get<1>(p.abs().flatten().topk(k, /*dim=*/0, /*largest=*/false));
    p.view({-1}).index_fill_(0, smallest, 0.0);
  }
  return Status::Ok();
}

Status QuantizeInt8(torch::jit::Module& model) {
  torch::NoGradGuard no_grad;
  for (const auto& p : model.parameters(/*recurse=*/true)) {
    if (p.dim() < 2) continue;
    double scale = p.abs().max().item<double>() / 127.0;
    if (scale == 0) continue;
    p.copy_(p.div(scale).round_().clamp_(-127, 127).mul_(scale));
  }
  return Status::Ok();
}

StatusOr<torch::jit::Module> AverageModels(const std::vector<torch::jit::Module>& models) {
  if (models.size() < 2) return Status::InvalidArgument("averaging needs at least 2 models");
  std::string signature = ArchitectureSignature(models[0]);
  for (const auto& m : models) {
    if (ArchitectureSignature(m) != signature) {
      return Status::InvalidArgument("cannot average models of different architectures");
    }
  }
  torch::jit::Module average = CloneModel(models[0]);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> target;
  for (const auto& p : average.parameters(/*recurse=*/true)) target.push_back(p.zero_());
  for (const auto& m : models) {
    size_t i = 0;  // same architecture, so parameters come in the same order
    for (const auto& p : m.parameters(/*recurse=*/true)) target[i++].add_(p);
  }
  for (auto& t : target) t.div_(static_cast<double>(models.size()));
  return average;
}

}  // namespace tracemark
