// The two kinds of Suspect (tracemark/scheme.h) the host hands to schemes:
// a TorchScript model loaded from a file, and a deployed endpoint reached
// through InferenceClient. Includes LibTorch: for engines, plugins, tests.
#pragma once

#include <torch/script.h>

#include <memory>

#include "tracemark/endpoint/inference_client.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark {

// A model in memory. Query runs forward under NoGrad; the module is not owned.
class ModelSuspect : public Suspect {
 public:
  explicit ModelSuspect(torch::jit::Module* model) : model_(model) {}
  torch::jit::Module* module() override { return model_; }
  Status Query(const at::Tensor& inputs, at::Tensor* outputs) override;
  int64_t queries() const override { return queries_; }

 private:
  torch::jit::Module* model_;
  int64_t queries_ = 0;
};

// A deployed model: every Query goes through the client's bounds.
class EndpointSuspect : public Suspect {
 public:
  explicit EndpointSuspect(std::unique_ptr<InferenceClient> client) : client_(std::move(client)) {}
  torch::jit::Module* module() override { return nullptr; }
  Status Query(const at::Tensor& inputs, at::Tensor* outputs) override;
  int64_t queries() const override { return client_->queries(); }
  const InferenceClient& client() const { return *client_; }

 private:
  std::unique_ptr<InferenceClient> client_;
};

// Classifier outputs as log-probabilities [N, C]: rows that are already
// probabilities (non-negative, summing to 1 within 1e-3) are logged
// (clamped at 1e-12), anything else is treated as logits (log_softmax).
at::Tensor LogProbabilities(const at::Tensor& outputs);

}  // namespace tracemark
