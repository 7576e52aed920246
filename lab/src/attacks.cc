#include "tracemark/lab/attacks.h"

#include <torch/torch.h>

#include "tracemark/lab/demo_training.h"
#include "tracemark/sdk/image_task.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/training.h"

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

Status RetrainLastLayer(torch::jit::Module& model, const Dataset& attacker_data, int epochs,
                        double learning_rate, uint64_t seed) {
  // Parameters come in definition order; the head is the last matrix, its
  // bias the vector right after it (if any).
  std::vector<std::pair<std::string, int64_t>> params;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    params.emplace_back(p.name, p.value.dim());
  }
  int head = -1;
  for (int i = 0; i < static_cast<int>(params.size()); ++i) {
    if (params[i].second >= 2) head = i;
  }
  if (head < 0) return Status::InvalidArgument("the model has no weight matrix to re-train");
  TrainOptions options;
  options.epochs = epochs;
  options.learning_rate = learning_rate;
  options.seed = seed;
  options.only_parameters = {params[head].first};
  if (head + 1 < static_cast<int>(params.size()) && params[head + 1].second == 1) {
    options.only_parameters.push_back(params[head + 1].first);
  }
  return TrainClassifier(model, attacker_data, options);
}

Status ShiftWeights(torch::jit::Module& model, const Dataset& attacker_data,
                    const WeightShiftOptions& options) {
  if (options.shift < 0 || options.noise < 0 || options.epochs < 0) {
    return Status::InvalidArgument("weight shift, noise and epochs must not be negative");
  }
  {
    torch::NoGradGuard no_grad;
    torch::Generator gen = at::detail::createCPUGenerator(options.seed);
    for (const auto& p : model.parameters(/*recurse=*/true)) {
      if (p.dim() < 2) continue;
      torch::Tensor noise = torch::randn(p.sizes(), gen) * (options.noise * p.std().item<double>());
      p.sub_(p.mean(0, /*keepdim=*/true) * options.shift).add_(noise);
    }
  }
  if (options.epochs == 0) return Status::Ok();
  return FineTuneAttack(model, attacker_data, options.epochs, options.learning_rate,
                        options.seed + 1);
}

Status DistillInto(torch::jit::Module& teacher, torch::jit::Module& student,
                   const Dataset& attacker_data, int epochs, double temperature,
                   double learning_rate, uint64_t seed) {
  if (!(temperature > 0)) return Status::InvalidArgument("distillation temperature must be > 0");
  return GuardedCall("distillation", [&]() -> Status {
    teacher.eval();
    std::vector<torch::Tensor> params = TrainableParameters(student);
    torch::optim::Adam optimizer(params, torch::optim::AdamOptions(learning_rate));
    BatchSampler sampler(attacker_data, 64, seed);
    student.train();
    torch::Tensor x, unused_labels;
    for (int64_t step = 0, steps = epochs * sampler.batches_per_epoch(); step < steps; ++step) {
      sampler.Next(&x, &unused_labels);
      torch::Tensor soft_targets;
      {
        torch::NoGradGuard no_grad;
        soft_targets = torch::softmax(teacher.forward({x}).toTensor() / temperature, 1);
      }
      torch::Tensor log_student =
          torch::log_softmax(student.forward({x}).toTensor() / temperature, 1);
      torch::Tensor loss = torch::kl_div(log_student, soft_targets, at::Reduction::Mean) *
                           (temperature * temperature * soft_targets.size(1));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
    student.eval();
    return Status::Ok();
  });
}

Status OverwriteMark(torch::jit::Module& model, const Scheme& scheme, const Dataset& attacker_data,
                     const Dataset& validation, const OverwriteOptions& options) {
  if (options.bits <= 0) return Status::InvalidArgument("overwriting needs at least one bit");
  SchemeParams params;
  TM_RETURN_IF_ERROR(scheme.ResolveParams(options.params, &params));
  std::string key;
  TM_RETURN_IF_ERROR(scheme.Keygen(model, params, options.bits, options.seed, attacker_data, &key));
  torch::Generator gen = at::detail::createCPUGenerator(options.seed + 1);
  torch::Tensor draws = torch::randint(0, 2, {options.bits}, gen, torch::kUInt8);
  std::vector<uint8_t> bits(draws.data_ptr<uint8_t>(), draws.data_ptr<uint8_t>() + options.bits);
  EmbedContext ctx;
  ctx.train = &attacker_data;
  ctx.validation = &validation;
  TM_ASSIGN_OR_RETURN(ctx.base_accuracy, Accuracy(model, validation));
  ctx.max_accuracy_drop = options.max_accuracy_drop;
  ctx.seed = options.seed + 2;
  EmbedReport report;
  return scheme.Embed(model, key, bits, ctx, &report).WithContext("the attacker's embedding");
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

StatusOr<int> ExtractSurrogate(torch::jit::Module& victim, torch::jit::Module& surrogate,
                               const torch::Tensor& inputs, const SurrogateOptions& options,
                               const std::function<bool(torch::jit::Module&)>& good_enough) {
  TM_ASSIGN_OR_RETURN(torch::Tensor targets, RunBatched(victim, inputs));
  int epochs = 0;
  Status st = GuardedCall("surrogate training", [&]() -> Status {
    torch::optim::Adam optimizer(TrainableParameters(surrogate),
                                 torch::optim::AdamOptions(options.learning_rate));
    torch::Generator gen = at::detail::createCPUGenerator(options.seed);
    while (epochs < options.max_epochs) {
      surrogate.train();
      torch::Tensor order = torch::randperm(inputs.size(0), gen);
      for (int64_t i = 0; i < inputs.size(0); i += options.batch_size) {
        torch::Tensor idx = order.slice(0, i, i + options.batch_size);
        torch::Tensor out = surrogate.forward({inputs.index_select(0, idx)}).toTensor();
        torch::Tensor loss = torch::mse_loss(out, targets.index_select(0, idx));
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
      }
      surrogate.eval();
      ++epochs;
      if (good_enough(surrogate)) break;
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return epochs;
}

}  // namespace tracemark
