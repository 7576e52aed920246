// Weight carriers shared by the weight-domain schemes (Uchida, DeepMarks):
// a weight tensor reduced to a vector w in R^M by averaging over its output
// filters (dimension 0), as in Uchida et al. 2017.
#pragma once

#include <torch/script.h>

#include <string>

#include "tracemark/base/status.h"

namespace tracemark {

struct WeightCarrier {
  std::string parameter;  // dotted name of the weight tensor
  int64_t size = 0;       // M
};

// Resolves the carrier for `requested` ("auto" or a parameter name). Auto
// picks, among weights of rank >= 2 other than the last one (the classifier
// head), the one with the largest M; ties go to the earlier layer.
// InvalidArgument for an unknown name or a rank-1 tensor.
StatusOr<WeightCarrier> ChooseWeightCarrier(const torch::jit::Module& model,
                                            const std::string& requested);

// w = mean over dim 0 of the weight, flattened: [M]. Differentiable.
torch::Tensor CarrierVector(const torch::Tensor& weight);

// Reads the carrier of `model`, checking its size. FailedPrecondition when
// the model lacks the parameter or its shape differs (another architecture).
StatusOr<torch::Tensor> ReadCarrier(const torch::jit::Module& model, const WeightCarrier& carrier);

}  // namespace tracemark
