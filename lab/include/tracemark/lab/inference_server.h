// InferenceServer: a small Open Inference Protocol v2 endpoint for tests and
// benchmarks. It serves one TorchScript model on 127.0.0.1 (a free port) the
// way KServe/Triton do (docs/endpoint.md), and can misbehave on purpose so
// tests can show that a slow, failing or lying endpoint gives an
// inconclusive result rather than a hang.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tracemark/base/status.h"

namespace tracemark {
namespace testing {

enum class EndpointBehaviour {
  kHonest,      // runs the model, answers its outputs
  kSlow,        // sleeps `delay_seconds` before every answer
  kFailing,     // answers HTTP 500 to every inference request
  kMalformed,   // answers 200 with a body that is not JSON
  kWrongShape,  // answers an output with one row fewer than asked
  kNonFinite,   // answers NaN everywhere
};

struct InferenceServerOptions {
  std::string model_path;  // TorchScript file to serve
  std::string model_name = "suspect";
  std::string input_name = "input";  // reported by the metadata endpoint
  EndpointBehaviour behaviour = EndpointBehaviour::kHonest;
  double delay_seconds = 0;
  bool softmax_outputs = false;  // answer probabilities instead of logits
};

class InferenceServer {
 public:
  // Loads the model and starts listening; IoError/InvalidArgument on failure.
  static StatusOr<std::unique_ptr<InferenceServer>> Start(const InferenceServerOptions& options);
  ~InferenceServer();  // stops and joins
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  int port() const;
  std::string url() const;   // "http://127.0.0.1:<port>"
  int64_t requests() const;  // inference requests received
  int64_t rows() const;      // input rows received

 private:
  struct Impl;
  explicit InferenceServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace testing
}  // namespace tracemark
