// InferenceClient: the one client of the Open Inference Protocol v2 (KServe,
// Triton, Seldon) that every query-based extraction shares.
//
// Protocol subset used (docs/endpoint.md):
//   GET  {url}/v2/models/{model}          metadata; the first entry of
//                                         "inputs" names the input tensor
//                                         (when absent or failing: "input")
//   POST {url}/v2/models/{model}/infer    {"inputs": [{"name", "shape",
//        "datatype": "FP32", "data": [row-major floats]}]}
//        answered by {"outputs": [{"name", "shape", "datatype", "data"}]};
//        the first output is used; FP32/FP64/INT* data is read as float.
// Batches larger than `max_batch` rows are split into several requests.
//
// Bounds: every request has `request_timeout_seconds` to connect, send and
// answer; the client stops with Unavailable before a request would exceed
// `max_queries` rows or when `deadline_seconds` since Connect have passed.
// Any transport failure, non-2xx status, malformed JSON, wrong output
// size or non-finite value is Unavailable with a one-line reason; nothing
// is retried. No LibTorch in this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark {

struct EndpointOptions {
  std::string url;           // "http://host:port" (optionally with a path prefix)
  std::string model;         // the endpoint's model name
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when set
  int64_t max_queries = 20000;
  double deadline_seconds = 300;
  double request_timeout_seconds = 10;
  int max_batch = 128;
};

// Validates `options` (http:// URL, model name, positive bounds).
Status ValidateEndpointOptions(const EndpointOptions& options);

class InferenceClient {
 public:
  // Validates the options and reads the model metadata (a failing metadata
  // call is not an error; the input name defaults to "input").
  static StatusOr<std::unique_ptr<InferenceClient>> Connect(const EndpointOptions& options);
  ~InferenceClient();
  InferenceClient(const InferenceClient&) = delete;
  InferenceClient& operator=(const InferenceClient&) = delete;

  // Sends `data` (row-major, shape `shape`, shape[0] = rows) and returns the
  // first output's shape and data. The output's first dimension must equal
  // the input's.
  Status Infer(const std::vector<int64_t>& shape, const std::vector<float>& data,
               std::vector<int64_t>* out_shape, std::vector<float>* out_data);

  const EndpointOptions& options() const { return options_; }
  const std::string& input_name() const { return input_name_; }
  int64_t queries() const { return queries_; }    // rows answered
  int64_t requests() const { return requests_; }  // HTTP requests sent
  double seconds() const;                         // since Connect

 private:
  struct Connection;
  explicit InferenceClient(EndpointOptions options);
  Status InferBatch(const std::vector<int64_t>& shape, const float* data, size_t count,
                    std::vector<int64_t>* out_shape, std::vector<float>* out_data);

  EndpointOptions options_;
  std::unique_ptr<Connection> connection_;
  std::string input_name_ = "input";
  int64_t queries_ = 0;
  int64_t requests_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tracemark
