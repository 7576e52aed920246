// TorchScript models: loading with clear errors, atomic saving, parameters
// and the architecture signature that matches a suspect to its releases.
// Includes LibTorch: for engines and plugins, not for widely used headers.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark {

// Loads a TorchScript archive onto the CPU. Missing file -> NotFound; a file
// that is not a TorchScript archive, a truncated one, or one without a
// `forward` method -> InvalidArgument with a one-line reason.
StatusOr<torch::jit::Module> LoadModel(const std::string& path);

// The same from the bytes of a TorchScript archive; `name` stands for the
// archive in messages.
StatusOr<torch::jit::Module> LoadModelFromBytes(const std::string& bytes, const std::string& name);

// Saves `model` to `path` atomically (temp file + rename): readers see the
// old file or the complete new one, never a partial archive. `mode`: the
// file's permission bits (-1: as the umask makes them).
Status SaveModel(const torch::jit::Module& model, const std::string& path, int mode = -1);

// An independent deep copy (parameters and buffers are not shared).
torch::jit::Module CloneModel(const torch::jit::Module& model);

struct ParameterShape {
  std::string name;  // dotted path, e.g. "features.0.weight"
  std::vector<int64_t> shape;
};
std::vector<ParameterShape> ParameterShapes(const torch::jit::Module& model);

// SHA-256 over the canonical "name:shape" list of the parameters: two models
// share it exactly when they have the same parameter names and shapes.
std::string ArchitectureSignature(const torch::jit::Module& model);

// Looks up a parameter by dotted name. NotFound lists what exists.
StatusOr<torch::Tensor> FindParameter(const torch::jit::Module& model, const std::string& name);

// Runs forward(x) and returns the output tensor. InvalidArgument when the
// model rejects the input or returns something other than one tensor.
StatusOr<torch::Tensor> RunForward(torch::jit::Module& model, const torch::Tensor& x);

// Runs `model` over `inputs` in eval mode without gradients, in batches of
// `batch` rows, and concatenates the outputs. InvalidArgument when the
// model rejects the input or there are no inputs.
StatusOr<torch::Tensor> RunBatched(torch::jit::Module& model, const torch::Tensor& inputs,
                                   int64_t batch = 500);

}  // namespace tracemark
