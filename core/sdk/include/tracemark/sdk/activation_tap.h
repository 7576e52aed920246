// Activation taps: the output of a named submodule of any TorchScript model,
// computed in the same forward pass as the model's output, with autograd to
// the model's real parameters.
//
// Nothing is asked of the model's author (no hooks, no extra methods) and
// the module is never modified: a tap runs a private, inlined copy of the
// model's `forward` graph that also returns the submodule's output, with
// the module object as `self`. A model saved after tapping keeps its
// forward signature, methods and file format. Includes LibTorch: for
// plugins and tests.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace torch {
namespace jit {
struct GraphFunction;
}  // namespace jit
}  // namespace torch

namespace tracemark {

struct TapOutput {
  torch::Tensor output;      // what forward(input) returns
  torch::Tensor activation;  // the tapped submodule's output in that pass
};

class ActivationTap {
 public:
  // Taps the submodule of `model` at dotted `path` ("fc2", "features.3",
  // "head.1"). The tap shares `model` (a handle): it sees later parameter
  // updates and the module's train/eval mode. InvalidArgument when `path`
  // names no submodule (the message lists the valid paths), when forward
  // never calls it, or when its output is not one tensor computed outside
  // control flow (a submodule called twice, or returning a tuple).
  static StatusOr<ActivationTap> Create(const torch::jit::Module& model, const std::string& path);

  // Runs forward(input) once. Records gradients unless a NoGradGuard is
  // active. InvalidArgument when the model rejects the input or does not
  // return one tensor.
  StatusOr<TapOutput> Forward(const torch::Tensor& input) const;

  const std::string& path() const { return path_; }

 private:
  ActivationTap(torch::jit::Module model, std::string path,
                std::shared_ptr<torch::jit::GraphFunction> function)
      : model_(std::move(model)), path_(std::move(path)), function_(std::move(function)) {}

  torch::jit::Module model_;
  std::string path_;
  std::shared_ptr<torch::jit::GraphFunction> function_;
};

// Dotted paths of every submodule of `model` (depth first, in definition
// order), e.g. "features", "features.0", "features.0.1", "head".
std::vector<std::string> SubmodulePaths(const torch::jit::Module& model);

// The layer a scheme taps when none is named: the penultimate
// representation, i.e. the submodule whose output feeds the classifier
// head. The head is the innermost submodule producing forward's output
// (looking through parameter-free operations applied after it); its input
// is traced back, again through parameter-free operations written in a
// forward (e.g. torch.relu), to the innermost submodule that produced it.
// Demo CNN: "fc1"; make_mlp.py's MLP: "features.4". InvalidArgument when the
// model has no such structure (the caller should then name a layer).
StatusOr<std::string> DefaultTapLayer(const torch::jit::Module& model);

}  // namespace tracemark
