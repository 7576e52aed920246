#include "tracemark/image_task.h"

#include <torch/torch.h>

#include <cmath>

#include "tracemark/model.h"
#include "tracemark/training.h"

namespace tracemark {

torch::Tensor AddNoise(const torch::Tensor& clean, double sigma, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  return (clean + torch::randn(clean.sizes(), gen) * sigma).clamp(0, 1);
}

double Psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a.to(torch::kDouble) - b.to(torch::kDouble)).pow(2).mean().item<double>();
  return mse > 0 ? 10 * std::log10(1 / mse) : 100.0;
}

StatusOr<double> TaskPsnr(torch::jit::Module& model, const torch::Tensor& clean, double sigma,
                          uint64_t seed, int64_t limit) {
  torch::Tensor x = limit > 0 ? clean.slice(0, 0, limit) : clean;
  TM_ASSIGN_OR_RETURN(torch::Tensor out, RunBatched(model, AddNoise(x, sigma, seed)));
  if (!out.sizes().equals(x.sizes())) {
    return Status::InvalidArgument("model answers " + c10::str(out.sizes()) + " for images " +
                                   c10::str(x.sizes()) + ", not images of the same layout");
  }
  return Psnr(out, x);
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
