#include "tracemark/lab/inference_server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "tracemark/sdk/model.h"

namespace tracemark {
namespace testing {
namespace {

using Json = nlohmann::json;

constexpr char kJsonType[] = "application/json";
constexpr char kOutputName[] = "output__0";
// An idle keep-alive connection holds a worker until this passes, and the
// destructor joins the workers: keep it short.
constexpr time_t kKeepAliveSeconds = 1;

void Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(), kJsonType);
}

void ReplyError(httplib::Response& res, int status, const std::string& message) {
  Reply(res, status, Json{{"error", message}});
}

// Appends the numbers of `value` (a flat or nested array) to `out`; false
// when something else is in it.
bool Flatten(const Json& value, std::vector<float>* out) {
  if (value.is_number()) {
    out->push_back(value.get<float>());
    return true;
  }
  if (!value.is_array()) return false;
  for (const Json& v : value) {
    if (!Flatten(v, out)) return false;
  }
  return true;
}

}  // namespace

struct InferenceServer::Impl {
  InferenceServerOptions options;
  torch::jit::Module model;
  std::mutex model_mu;  // guards forward(): jit modules are not thread-safe

  httplib::Server server;
  std::thread thread;
  int port = -1;

  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> rows{0};

  // Set by Stop(); wakes handlers sleeping for kSlow.
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;

  void Routes();
  // Sleeps the configured delay (kSlow only); false when Stop() cut it short.
  bool Delay();
  bool KnownModel(const httplib::Request& req, httplib::Response& res) const;
  void Metadata(const httplib::Request& req, httplib::Response& res);
  void Infer(const httplib::Request& req, httplib::Response& res);
  // Runs the model on the request body; on failure returns the HTTP status
  // and sets *error.
  int Answer(const Json& request, Json* response, std::string* error);
  void Stop();
};

bool InferenceServer::Impl::Delay() {
  if (options.behaviour != EndpointBehaviour::kSlow || options.delay_seconds <= 0) return true;
  std::unique_lock<std::mutex> lock(stop_mu);
  return !stop_cv.wait_for(lock, std::chrono::duration<double>(options.delay_seconds),
                           [this] { return stopping; });
}

bool InferenceServer::Impl::KnownModel(const httplib::Request& req, httplib::Response& res) const {
  const std::string name = req.matches[1].str();
  if (name == options.model_name) return true;
  ReplyError(res, 404, "unknown model '" + name + "'");
  return false;
}

void InferenceServer::Impl::Routes() {
  auto ready = [this](const httplib::Request&, httplib::Response& res) {
    if (!Delay()) return ReplyError(res, 503, "the server is stopping");
    res.status = 200;
  };
  server.Get("/v2/health/ready", ready);
  server.Get("/v2/health/live", ready);
  server.Get("/v2/models/([^/]+)/ready",
             [this](const httplib::Request& req, httplib::Response& res) {
               if (!Delay()) return ReplyError(res, 503, "the server is stopping");
               if (KnownModel(req, res)) res.status = 200;
             });
  server.Get("/v2/models/([^/]+)",
             [this](const httplib::Request& req, httplib::Response& res) { Metadata(req, res); });
  server.Post("/v2/models/([^/]+)/infer",
              [this](const httplib::Request& req, httplib::Response& res) { Infer(req, res); });
  // Everything httplib answers itself (unknown paths, malformed requests).
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) {
          ReplyError(res, res.status, res.status == 404 ? "no such path" : "malformed request");
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                  std::exception_ptr) { ReplyError(res, 500, "internal error"); });
}

void InferenceServer::Impl::Metadata(const httplib::Request& req, httplib::Response& res) {
  if (!Delay()) return ReplyError(res, 503, "the server is stopping");
  if (!KnownModel(req, res)) return;
  // A TorchScript archive does not declare its input rank: every dimension
  // is reported as variable ([-1]); clients use the names.
  Reply(res, 200,
        Json{{"name", options.model_name},
             {"versions", Json::array({"1"})},
             {"platform", "pytorch_torchscript"},
             {"inputs", Json::array({Json{
                            {"name", options.input_name}, {"datatype", "FP32"}, {"shape", {-1}}}})},
             {"outputs",
              Json::array({Json{{"name", kOutputName}, {"datatype", "FP32"}, {"shape", {-1}}}})}});
}

void InferenceServer::Impl::Infer(const httplib::Request& req, httplib::Response& res) {
  ++requests;
  if (!Delay()) return ReplyError(res, 503, "the server is stopping");
  if (!KnownModel(req, res)) return;
  if (options.behaviour == EndpointBehaviour::kFailing) {
    return ReplyError(res, 500, "injected failure");
  }
  Json request = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) return ReplyError(res, 400, "the request body is not JSON");
  Json response;
  std::string error;
  const int status = Answer(request, &response, &error);
  if (status != 200) return ReplyError(res, status, error);
  if (options.behaviour == EndpointBehaviour::kMalformed) {
    res.status = 200;
    res.set_content("{\"outputs\": [{\"name\": \"" + std::string(kOutputName) + "\", \"da",
                    kJsonType);
    return;
  }
  if (options.behaviour == EndpointBehaviour::kNonFinite) {
    // JSON has no NaN: written the way Python servers (json.dumps) do.
    Json& output = response["outputs"][0];
    const size_t count = output["data"].size();
    output["data"] = Json::array();
    std::string body = response.dump();
    const std::string empty = "\"data\":[]";
    std::string nans;
    for (size_t i = 0; i < count; ++i) nans += i == 0 ? "NaN" : ",NaN";
    body.replace(body.find(empty), empty.size(), "\"data\":[" + nans + "]");
    res.status = 200;
    res.set_content(body, kJsonType);
    return;
  }
  Reply(res, 200, response);
}

int InferenceServer::Impl::Answer(const Json& request, Json* response, std::string* error) {
  const Json* input = nullptr;
  if (request.is_object() && request.contains("inputs") && request["inputs"].is_array()) {
    for (const Json& candidate : request["inputs"]) {
      if (candidate.is_object() && candidate.value("name", Json()) == options.input_name) {
        input = &candidate;
      }
    }
  }
  if (input == nullptr) {
    *error = "the request has no input named '" + options.input_name + "'";
    return 400;
  }
  if (input->value("datatype", Json()) != "FP32") {
    *error = "input '" + options.input_name + "' must have datatype FP32";
    return 400;
  }
  const Json shape_json = input->value("shape", Json());
  std::vector<int64_t> shape;
  int64_t count = 1;
  bool shape_ok = shape_json.is_array() && !shape_json.empty();
  for (const Json& d : shape_json) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t{1} << 31)) {
      shape_ok = false;
      break;
    }
    shape.push_back(d.get<int64_t>());
    count *= shape.back();
    if (count > (int64_t{1} << 31)) shape_ok = false;
  }
  if (!shape_ok) {
    *error = "input shape must be a non-empty array of non-negative integers";
    return 400;
  }
  std::vector<float> data;
  if (!Flatten(input->value("data", Json()), &data)) {
    *error = "input data must be an array of numbers";
    return 400;
  }
  if (static_cast<int64_t>(data.size()) != count) {
    *error = "input data has " + std::to_string(data.size()) + " values, shape needs " +
             std::to_string(count);
    return 400;
  }
  rows += shape[0];

  torch::Tensor out;
  {
    std::lock_guard<std::mutex> lock(model_mu);
    torch::NoGradGuard no_grad;
    torch::Tensor x = torch::from_blob(data.data(), shape, torch::kFloat32).clone();
    StatusOr<torch::Tensor> result = RunForward(model, x);
    if (!result.ok()) {
      *error = result.status().message();
      return 400;
    }
    out = result.value().to(torch::kFloat32).contiguous();
    if (options.softmax_outputs && out.dim() > 0) out = out.softmax(-1);
    if (options.behaviour == EndpointBehaviour::kWrongShape && out.dim() > 0 && out.size(0) > 0) {
      out = out.narrow(0, 0, out.size(0) - 1).contiguous();
    }
  }
  const float* begin = out.data_ptr<float>();
  *response = Json{
      {"model_name", options.model_name},
      {"model_version", "1"},
      {"outputs", Json::array({Json{{"name", kOutputName},
                                    {"datatype", "FP32"},
                                    {"shape", out.sizes().vec()},
                                    {"data", std::vector<float>(begin, begin + out.numel())}}})}};
  return 200;
}

void InferenceServer::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu);
    stopping = true;
  }
  stop_cv.notify_all();
  if (!thread.joinable()) return;
  server.stop();
  thread.join();
}

StatusOr<std::unique_ptr<InferenceServer>> InferenceServer::Start(
    const InferenceServerOptions& options) {
  if (options.model_name.empty() || options.model_name.find('/') != std::string::npos) {
    return Status::InvalidArgument("model name must be non-empty and without '/': '" +
                                   options.model_name + "'");
  }
  if (options.input_name.empty()) return Status::InvalidArgument("input name must be non-empty");
  if (!(options.delay_seconds >= 0) || !std::isfinite(options.delay_seconds)) {
    return Status::InvalidArgument("delay_seconds must be finite and non-negative");
  }
  StatusOr<torch::jit::Module> model = LoadModel(options.model_path);
  if (!model.ok()) return Status::InvalidArgument(model.status().message());

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->model = std::move(model).value();
  impl->model.eval();
  // httplib sends without MSG_NOSIGNAL: a client that timed out and closed
  // its socket must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  impl->Routes();
  impl->server.set_keep_alive_timeout(kKeepAliveSeconds);
  // httplib's default adds SO_REUSEPORT, which could share a port in use.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  impl->port = impl->server.bind_to_any_port("127.0.0.1");
  if (impl->port < 0) {
    return Status::IoError(std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno));
  }
  impl->thread = std::thread([server = &impl->server] { server->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs.
  while (!impl->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<InferenceServer>(new InferenceServer(std::move(impl)));
}

InferenceServer::InferenceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

InferenceServer::~InferenceServer() { impl_->Stop(); }

int InferenceServer::port() const { return impl_->port; }

std::string InferenceServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

int64_t InferenceServer::requests() const { return impl_->requests.load(); }

int64_t InferenceServer::rows() const { return impl_->rows.load(); }

}  // namespace testing
}  // namespace tracemark
