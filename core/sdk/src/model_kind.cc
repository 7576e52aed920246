#include "tracemark/sdk/model_kind.h"

#include <sstream>

#include "tracemark/base/numbers.h"
#include "tracemark/sdk/model.h"

namespace tracemark {

StatusOr<std::string> KindOfShapes(at::IntArrayRef input, at::IntArrayRef output) {
  if (input.size() == 4 && output.size() == 4 && input.equals(output))
    return std::string(kImageToImageKind);
  if (output.size() == 2 && !input.empty() && output[0] == input[0] && output[1] >= 2) {
    return std::string(kClassifierKind);
  }
  return Status::InvalidArgument("output " + ShapeText(output) + " for input " + ShapeText(input) +
                                 " is neither class scores [N, classes] nor an image of the "
                                 "input's layout");
}

StatusOr<std::string> DetectModelKind(torch::jit::Module& model, const at::Tensor& sample) {
  torch::NoGradGuard no_grad;
  TM_ASSIGN_OR_RETURN(at::Tensor out, RunForward(model, sample));
  return KindOfShapes(sample.sizes(), out.sizes());
}

Status ValidateModelKind(const std::string& kind) {
  if (kind == kClassifierKind || kind == kImageToImageKind) return Status::Ok();
  return Status::InvalidArgument("model kind '" + kind + "' is neither " + kClassifierKind +
                                 " nor " + kImageToImageKind);
}

Status CheckSchemeFitsKind(const SchemeInfo& scheme, const std::string& kind,
                           const std::string& what, const std::string& shape) {
  for (const auto& k : scheme.model_kinds) {
    if (k == kind) return Status::Ok();
  }
  std::string kinds;
  for (const auto& k : scheme.model_kinds) kinds += (kinds.empty() ? "" : " and ") + k;
  if (kinds.empty()) kinds = "no";
  return Status::FailedPrecondition("scheme " + scheme.name + " marks " + kinds + " models; " +
                                    what + " is " + kind +
                                    (shape.empty() ? "" : " (output " + shape + ")"));
}

std::string ShapeText(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

StatusOr<std::vector<int64_t>> ParseShape(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + text + "' is not a shape like [1, 28, 28]");
  };
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return bad();
  std::vector<int64_t> shape;
  std::stringstream list(text.substr(1, text.size() - 2));
  std::string item;
  while (std::getline(list, item, ',')) {
    size_t first = item.find_first_not_of(' '), last = item.find_last_not_of(' ');
    int64_t v = 0;
    if (first == std::string::npos || !ParseInt(item.substr(first, last - first + 1), &v) ||
        v < 1) {
      return bad();
    }
    shape.push_back(v);
  }
  return shape;
}

}  // namespace tracemark
