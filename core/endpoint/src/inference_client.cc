#include "tracemark/endpoint/inference_client.h"

#include <httplib.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "tracemark/base/text.h"
#include "tracemark/endpoint/infer_response.h"

namespace tracemark {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct ParsedUrl {
  std::string scheme_host_port;  // "http://host:port"
  std::string prefix;            // "" or "/path" without a trailing '/'
};

StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  const std::string http = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Status::InvalidArgument("endpoint " + url +
                                   ": https is not supported; use http:// (for example through a "
                                   "local TLS-terminating proxy)");
  }
  if (url.rfind(http, 0) != 0) {
    return Status::InvalidArgument("endpoint " + url + " is not an http:// URL");
  }
  size_t slash = url.find('/', http.size());
  ParsedUrl parsed;
  parsed.scheme_host_port = url.substr(0, slash);
  if (parsed.scheme_host_port.size() == http.size()) {
    return Status::InvalidArgument("endpoint " + url + " has no host");
  }
  if (slash != std::string::npos) parsed.prefix = url.substr(slash);
  while (!parsed.prefix.empty() && parsed.prefix.back() == '/') parsed.prefix.pop_back();
  return parsed;
}

// The number of values of one of our own request shapes.
int64_t Product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

// httplib's transport errors in words.
std::string TransportError(httplib::Error error, double timeout) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "no connection within " + Seconds(timeout);
    case httplib::Error::Read:
      return "no complete answer within " + Seconds(timeout) + " (or the connection was closed)";
    case httplib::Error::Write:
      return "the request could not be sent within " + Seconds(timeout);
    default:
      return "request failed (" + httplib::to_string(error) + ")";
  }
}

}  // namespace

struct InferenceClient::Connection {
  explicit Connection(const std::string& scheme_host_port) : http(scheme_host_port) {}
  httplib::Client http;
  std::string prefix;
};

Status ValidateEndpointOptions(const EndpointOptions& options) {
  TM_RETURN_IF_ERROR(ParseUrl(options.url).status());
  if (options.model.empty()) return Status::InvalidArgument("endpoint model name is empty");
  if (options.model.find_first_of("/?#% ") != std::string::npos) {
    return Status::InvalidArgument("endpoint model name " + Printable(options.model) +
                                   " contains a character not allowed in a URL path segment");
  }
  if (options.max_queries <= 0) return Status::InvalidArgument("max_queries must be positive");
  if (!(options.deadline_seconds > 0)) return Status::InvalidArgument("deadline must be positive");
  if (!(options.request_timeout_seconds > 0)) {
    return Status::InvalidArgument("request timeout must be positive");
  }
  if (options.max_batch <= 0) return Status::InvalidArgument("max_batch must be positive");
  return Status::Ok();
}

InferenceClient::InferenceClient(EndpointOptions options)
    : options_(std::move(options)), start_(Clock::now()) {}

InferenceClient::~InferenceClient() = default;

double InferenceClient::seconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

StatusOr<std::unique_ptr<InferenceClient>> InferenceClient::Connect(
    const EndpointOptions& options) {
  TM_RETURN_IF_ERROR(ValidateEndpointOptions(options));
  TM_ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(options.url));
  std::unique_ptr<InferenceClient> client(new InferenceClient(options));
  client->connection_ = std::make_unique<Connection>(url.scheme_host_port);
  client->connection_->prefix = url.prefix;
  auto& http = client->connection_->http;
  auto timeout = std::chrono::duration<double>(options.request_timeout_seconds);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  http.set_connection_timeout(micros / 1000000, micros % 1000000);
  http.set_read_timeout(micros / 1000000, micros % 1000000);
  http.set_write_timeout(micros / 1000000, micros % 1000000);
  if (!options.bearer_token.empty()) http.set_bearer_token_auth(options.bearer_token.c_str());

  // Metadata names the input tensor; an endpoint without it still works.
  client->requests_++;
  auto res = http.Get((url.prefix + "/v2/models/" + options.model).c_str());
  if (res && res->status == 200) {
    json meta = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (meta.is_object() && meta.contains("inputs") && meta["inputs"].is_array() &&
        !meta["inputs"].empty() && meta["inputs"][0].is_object() &&
        meta["inputs"][0].contains("name") && meta["inputs"][0]["name"].is_string()) {
      client->input_name_ = meta["inputs"][0]["name"].get<std::string>();
    }
  }
  return client;
}

Status InferenceClient::Infer(const std::vector<int64_t>& shape, const std::vector<float>& data,
                              std::vector<int64_t>* out_shape, std::vector<float>* out_data) {
  if (shape.empty() || shape[0] <= 0 || Product(shape) != static_cast<int64_t>(data.size())) {
    return Status::InvalidArgument("inference input shape does not match its data");
  }
  const int64_t rows = shape[0];
  const int64_t row_size = Product(shape) / rows;
  out_shape->clear();
  out_data->clear();
  for (int64_t begin = 0; begin < rows; begin += options_.max_batch) {
    int64_t count = std::min<int64_t>(options_.max_batch, rows - begin);
    std::vector<int64_t> batch_shape = shape;
    batch_shape[0] = count;
    std::vector<int64_t> part_shape;
    std::vector<float> part;
    TM_RETURN_IF_ERROR(InferBatch(batch_shape, data.data() + begin * row_size, count * row_size,
                                  &part_shape, &part));
    if (out_shape->empty()) {
      *out_shape = part_shape;
    } else {
      (*out_shape)[0] += part_shape[0];
    }
    out_data->insert(out_data->end(), part.begin(), part.end());
  }
  return Status::Ok();
}

Status InferenceClient::InferBatch(const std::vector<int64_t>& shape, const float* data,
                                   size_t count, std::vector<int64_t>* out_shape,
                                   std::vector<float>* out_data) {
  const std::string where = "endpoint " + options_.url + " model " + options_.model;
  const int64_t rows = shape[0];
  if (queries_ + rows > options_.max_queries) {
    return Status::Unavailable(where + ": query budget of " + std::to_string(options_.max_queries) +
                               " exhausted (" + std::to_string(queries_) + " used, " +
                               std::to_string(rows) + " more needed)");
  }
  double remaining = options_.deadline_seconds - seconds();
  if (remaining <= 0) {
    return Status::Unavailable(where + ": deadline of " + Seconds(options_.deadline_seconds) +
                               " passed");
  }
  auto& http = connection_->http;
  double timeout = std::min(remaining, options_.request_timeout_seconds);
  auto micros = static_cast<int64_t>(timeout * 1e6);
  http.set_connection_timeout(micros / 1000000, micros % 1000000);
  http.set_read_timeout(micros / 1000000, micros % 1000000);
  http.set_write_timeout(micros / 1000000, micros % 1000000);

  json input = {{"name", input_name_},
                {"shape", shape},
                {"datatype", "FP32"},
                {"data", std::vector<float>(data, data + count)}};
  json request = {{"inputs", json::array({input})}};
  requests_++;
  auto res = http.Post((connection_->prefix + "/v2/models/" + options_.model + "/infer").c_str(),
                       request.dump(), "application/json");
  if (!res) {
    return Status::Unavailable(where + ": " + TransportError(res.error(), timeout));
  }
  if (res->status < 200 || res->status >= 300) {
    return Status::Unavailable(where + " answered HTTP " + std::to_string(res->status) + ": " +
                               Printable(res->body.substr(0, 200)));
  }
  Status parsed = ParseInferResponse(res->body, rows, out_shape, out_data);
  if (!parsed.ok()) return Status::Unavailable(where + " " + parsed.message());
  queries_ += rows;
  return Status::Ok();
}

}  // namespace tracemark
