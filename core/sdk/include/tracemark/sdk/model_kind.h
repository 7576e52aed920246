// Model kinds: what a model's outputs are, learned from the model itself.
//
// A scheme declares the kinds it marks (SchemeInfo::model_kinds); the
// release engine refuses a scheme that does not fit the model, and the
// trace engine only tests a suspect against releases of its own kind.
//   "classifier"      outputs [N, classes] scores for inputs [N, ...]
//   "image-to-image"  outputs an image of the input's layout [N, C, H, W]
// Includes LibTorch: for engines and plugins.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark {

inline constexpr const char* kClassifierKind = "classifier";
inline constexpr const char* kImageToImageKind = "image-to-image";

// The kind an output shape shows for an input shape: "image-to-image" when
// both are 4-D with equal sizes, "classifier" when the output is [N, K]
// (K >= 2) with the input's N; InvalidArgument (naming both shapes)
// otherwise.
StatusOr<std::string> KindOfShapes(at::IntArrayRef input, at::IntArrayRef output);

// Runs `model` on `sample` (a small batch of real inputs) and names its
// kind; InvalidArgument when the model rejects the input or its output
// fits no kind.
StatusOr<std::string> DetectModelKind(torch::jit::Module& model, const at::Tensor& sample);

// InvalidArgument unless `kind` is one of the known kinds.
Status ValidateModelKind(const std::string& kind);

// Ok when `scheme` marks models of `kind`; otherwise FailedPrecondition
// with one line, e.g. "scheme uchida marks classifier models; model X is
// image-to-image (output [1, 1, 28, 28])". `what` names the model, `shape`
// (optional) describes its output.
Status CheckSchemeFitsKind(const SchemeInfo& scheme, const std::string& kind,
                           const std::string& what, const std::string& shape = "");

// "[1, 28, 28]"-style text of a shape and back (the per-sample input shape
// a release records). ParseShape: InvalidArgument for anything else.
std::string ShapeText(at::IntArrayRef shape);
StatusOr<std::vector<int64_t>> ParseShape(const std::string& text);

}  // namespace tracemark
