#include "tracemark/endpoint/infer_response.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace tracemark {
namespace {

using json = nlohmann::json;

// Appends every number of a (possibly nested) JSON array to `out`, without
// recursion and at most kMaxNesting deep; values beyond float's range
// become infinities (caught by the finiteness check).
bool Flatten(const json& value, std::vector<float>* out) {
  auto push = [&](double v) {
    out->push_back(std::abs(v) > std::numeric_limits<float>::max()
                       ? static_cast<float>(v > 0 ? INFINITY : -INFINITY)
                       : static_cast<float>(v));
  };
  if (value.is_number()) {
    push(value.get<double>());
    return true;
  }
  if (!value.is_array()) return false;
  std::vector<std::pair<const json*, size_t>> stack = {{&value, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next == node->size()) {
      stack.pop_back();
      continue;
    }
    const json& item = (*node)[next++];
    if (item.is_number()) {
      push(item.get<double>());
    } else if (item.is_array()) {
      if (stack.size() >= static_cast<size_t>(kMaxNesting)) return false;
      stack.push_back({&item, 0});
    } else {
      return false;
    }
  }
  return true;
}

// The number of values of `shape`, or -1 when it exceeds `limit`.
int64_t CappedProduct(const std::vector<int64_t>& shape, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > limit / d) return -1;
    n *= d;
  }
  return n;
}

}  // namespace

Status ParseInferResponse(const std::string& body, int64_t rows, std::vector<int64_t>* shape,
                          std::vector<float>* data) {
  json answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    // Python's json.dumps writes NaN/Infinity as bare tokens, which is not JSON.
    bool non_finite = answer.is_discarded() && (body.find("NaN") != std::string::npos ||
                                                body.find("Infinity") != std::string::npos);
    return Status::Unavailable(non_finite ? "answered non-finite values"
                                          : "answered a body that is not a JSON object");
  }
  if (!answer.contains("outputs") || !answer["outputs"].is_array() || answer["outputs"].empty() ||
      !answer["outputs"][0].is_object()) {
    return Status::Unavailable("answered no \"outputs\"");
  }
  const json& output = answer["outputs"][0];
  if (!output.contains("shape") || !output["shape"].is_array() || !output.contains("data")) {
    return Status::Unavailable("answered an output without shape or data");
  }
  shape->clear();
  for (const auto& d : output["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return Status::Unavailable("answered a malformed output shape");
    }
    shape->push_back(d.get<int64_t>());
  }
  data->clear();
  if (!Flatten(output["data"], data)) {
    return Status::Unavailable("answered output data that is not numeric");
  }
  const int64_t values = CappedProduct(*shape, std::numeric_limits<int64_t>::max() / 2);
  if (shape->empty() || (*shape)[0] != rows || values != static_cast<int64_t>(data->size())) {
    return Status::Unavailable("answered " + std::to_string(data->size()) + " values with shape " +
                               json(*shape).dump() + " for " + std::to_string(rows) +
                               " input rows");
  }
  for (float v : *data) {
    if (!std::isfinite(v)) return Status::Unavailable("answered non-finite values");
  }
  return Status::Ok();
}

}  // namespace tracemark
