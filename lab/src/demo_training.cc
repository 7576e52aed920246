#include "tracemark/lab/demo_training.h"

#include <torch/torch.h>

#include <chrono>
#include <set>

#include "tracemark/sdk/model.h"
#include "tracemark/sdk/scheme.h"
#include "tracemark/sdk/training.h"

namespace tracemark {

Status TrainClassifier(torch::jit::Module& model, const Dataset& data,
                       const TrainOptions& options) {
  return GuardedCall("training", [&]() -> Status {
    std::vector<torch::Tensor> params;
    std::set<std::string> wanted(options.only_parameters.begin(), options.only_parameters.end());
    for (const auto& p : model.named_parameters(/*recurse=*/true)) {
      bool train = wanted.empty() || wanted.count(p.name);
      p.value.set_requires_grad(train);
      if (train) params.push_back(p.value);
    }
    if (params.empty()) return Status::InvalidArgument("no parameters selected for training");
    torch::optim::Adam optimizer(params, torch::optim::AdamOptions(options.learning_rate));
    BatchSampler sampler(data, options.batch_size, options.seed);
    model.train();
    torch::Tensor x, y;
    for (int64_t step = 0, steps = options.epochs * sampler.batches_per_epoch(); step < steps;
         ++step) {
      sampler.Next(&x, &y);
      optimizer.zero_grad();
      torch::nn::functional::cross_entropy(model.forward({x}).toTensor(), y).backward();
      optimizer.step();
    }
    for (const auto& p : model.parameters(/*recurse=*/true)) p.set_requires_grad(true);
    model.eval();
    return Status::Ok();
  });
}

StatusOr<double> PlainEpochSeconds(const torch::jit::Module& model, const Dataset& data,
                                   int64_t batch_size) {
  torch::jit::Module copy = CloneModel(model);
  auto start = std::chrono::steady_clock::now();
  TrainOptions options;
  options.batch_size = batch_size;
  TM_RETURN_IF_ERROR(TrainClassifier(copy, data, options));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Status TrainDenoiser(torch::jit::Module& model, const Dataset& data,
                     const DenoiserTrainOptions& options) {
  return GuardedCall("training", [&]() -> Status {
    std::vector<torch::Tensor> params = TrainableParameters(model);
    torch::optim::Adam optimizer(params, torch::optim::AdamOptions(options.learning_rate));
    model.train();
    BatchSampler sampler(data, options.batch_size, options.seed);
    torch::Generator gen = at::detail::createCPUGenerator(options.seed ^ 0xd1ce);
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      for (int64_t b = 0; b < sampler.batches_per_epoch(); ++b) {
        torch::Tensor clean, labels;
        sampler.Next(&clean, &labels);
        torch::Tensor noisy =
            (clean + torch::randn(clean.sizes(), gen) * options.noise).clamp(0, 1);
        auto out = RunForward(model, noisy);
        if (!out.ok()) return out.status();
        if (!out->sizes().equals(clean.sizes())) {
          return Status::InvalidArgument("model answers " + c10::str(out->sizes()) +
                                         " for images " + c10::str(clean.sizes()));
        }
        torch::Tensor loss = torch::mse_loss(*out, clean);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
      }
    }
    model.eval();
    return Status::Ok();
  });
}

}  // namespace tracemark
