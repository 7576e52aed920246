#include "tracemark/sdk/suspect.h"

#include "tracemark/sdk/model.h"

namespace tracemark {

Status ModelSuspect::Query(const at::Tensor& inputs, at::Tensor* outputs) {
  torch::NoGradGuard no_grad;
  model_->eval();
  TM_ASSIGN_OR_RETURN(*outputs, RunForward(*model_, inputs));
  queries_ += inputs.size(0);
  return Status::Ok();
}

Status EndpointSuspect::Query(const at::Tensor& inputs, at::Tensor* outputs) {
  torch::Tensor flat = inputs.to(torch::kFloat32).contiguous();
  std::vector<int64_t> shape(flat.sizes().begin(), flat.sizes().end());
  std::vector<float> data(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  std::vector<int64_t> out_shape;
  std::vector<float> out_data;
  TM_RETURN_IF_ERROR(client_->Infer(shape, data, &out_shape, &out_data));
  *outputs = torch::from_blob(out_data.data(), out_shape, torch::kFloat32).clone();
  return Status::Ok();
}

at::Tensor LogProbabilities(const at::Tensor& outputs) {
  torch::Tensor x = outputs.to(torch::kFloat32);
  bool probabilities = x.dim() == 2 && x.ge(0).all().item<bool>() &&
                       (x.sum(1) - 1).abs().le(1e-3).all().item<bool>();
  return probabilities ? x.clamp_min(1e-12).log() : torch::log_softmax(x, 1);
}

}  // namespace tracemark
