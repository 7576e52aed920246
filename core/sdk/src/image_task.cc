#include "tracemark/sdk/image_task.h"

#include <torch/torch.h>

#include <cmath>

#include "tracemark/sdk/model.h"
#include "tracemark/sdk/training.h"

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

}  // namespace tracemark
