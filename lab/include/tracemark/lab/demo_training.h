// Training the lab's models from scratch: the demo classifier and denoiser,
// the attacks' fine-tuning and the benchmarks' unit of cost. Not product
// code: releases embed into models the vendor trained.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/image_task.h"

namespace tracemark {

struct TrainOptions {
  int epochs = 1;
  int64_t batch_size = 64;
  double learning_rate = 1e-3;
  uint64_t seed = 0;
  // Parameters to update; empty means all.
  std::vector<std::string> only_parameters;
};

// Cross-entropy training with Adam, in train mode. InvalidArgument when the
// model's outputs do not fit the labels.
Status TrainClassifier(torch::jit::Module& model, const Dataset& data, const TrainOptions& options);

// One plain epoch's wall time on `data`, the unit in which embedding costs
// are reported. Trains a clone, leaving `model` unchanged.
StatusOr<double> PlainEpochSeconds(const torch::jit::Module& model, const Dataset& data,
                                   int64_t batch_size = 64);

struct DenoiserTrainOptions {
  int epochs = 2;
  int64_t batch_size = 64;
  double learning_rate = 2e-3;
  double noise = kDefaultNoise;
  uint64_t seed = 0;  // batch order and the training noise
};

// Trains an image-to-image model to map AddNoise(x) to x with MSE and Adam,
// fresh noise each epoch. InvalidArgument when the model's outputs do not
// have the images' layout.
Status TrainDenoiser(torch::jit::Module& model, const Dataset& data,
                     const DenoiserTrainOptions& options);

}  // namespace tracemark
