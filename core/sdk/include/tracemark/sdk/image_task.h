// The image-to-image task of the project's demo and of image-to-image
// releases: denoising. A release's dataset gives clean images; the model's
// inputs are noisy versions of them:
//   noisy = clamp(clean + sigma * N(0, 1), 0, 1)
// with the Gaussian noise drawn from a fixed seed, so the base model's
// training, the release's quality measure and the trace probes all see the
// same convention (sigma is the release setting `noise`, default 0.3).
// Quality is PSNR in dB with a data range of 1 (outputs are not clamped).
// Includes LibTorch: for engines, plugins, tests and benchmarks.
#pragma once

#include <torch/script.h>

#include <cstdint>

#include "tracemark/base/status.h"
#include "tracemark/sdk/dataset.h"

namespace tracemark {

// The default noise sigma of image-to-image releases.
inline constexpr double kDefaultNoise = 0.3;
// The seed of the noise added to a release's test split for its quality measure.
inline constexpr uint64_t kQualityNoiseSeed = 0x5eed;

// clamp(clean + sigma * N(0, 1), 0, 1), reproducible from `seed`.
torch::Tensor AddNoise(const torch::Tensor& clean, double sigma, uint64_t seed);

// 10 log10(1 / MSE(a, b)) over all elements; 100 when they are equal.
double Psnr(const torch::Tensor& a, const torch::Tensor& b);

// The task quality: PSNR of model(AddNoise(clean, sigma, seed)) against
// clean, over at most `limit` rows of `clean` (all when limit <= 0).
StatusOr<double> TaskPsnr(torch::jit::Module& model, const torch::Tensor& clean, double sigma,
                          uint64_t seed = kQualityNoiseSeed, int64_t limit = 0);

}  // namespace tracemark
