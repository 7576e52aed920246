#include "tracemark/sdk/weight_carrier.h"

#include "tracemark/sdk/model.h"

namespace tracemark {

StatusOr<WeightCarrier> ChooseWeightCarrier(const torch::jit::Module& model,
                                            const std::string& requested) {
  std::vector<WeightCarrier> candidates;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    if (p.value.dim() >= 2) candidates.push_back({p.name, p.value.numel() / p.value.size(0)});
    if (p.name == requested) {
      if (p.value.dim() < 2) {
        return Status::InvalidArgument("carrier '" + requested + "' has rank " +
                                       std::to_string(p.value.dim()) +
                                       "; a weight of rank >= 2 is needed");
      }
      return candidates.back();
    }
  }
  if (requested != "auto") {
    std::string names;
    for (const auto& c : candidates) names += (names.empty() ? "" : ", ") + c.parameter;
    return Status::InvalidArgument("no weight named '" + requested + "' (weights: " + names + ")");
  }
  if (candidates.size() < 2) {
    return Status::InvalidArgument("model has no hidden weight layer to carry a fingerprint");
  }
  candidates.pop_back();  // the classifier head
  const WeightCarrier* best = &candidates.front();
  for (const auto& c : candidates) {
    if (c.size > best->size) best = &c;
  }
  return *best;
}

torch::Tensor CarrierVector(const torch::Tensor& weight) { return weight.mean(0).flatten(); }

StatusOr<torch::Tensor> ReadCarrier(const torch::jit::Module& model, const WeightCarrier& carrier) {
  auto weight = FindParameter(model, carrier.parameter);
  if (!weight.ok()) {
    return Status::FailedPrecondition("model does not fit the key: " + weight.status().message());
  }
  if (weight->dim() < 2 || weight->numel() / weight->size(0) != carrier.size) {
    return Status::FailedPrecondition("model does not fit the key: carrier " + carrier.parameter +
                                      " has shape " + c10::str(weight->sizes()));
  }
  return *weight;
}

}  // namespace tracemark
