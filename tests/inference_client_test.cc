// InferenceClient against a real Open Inference Protocol v2 endpoint
// (InferenceServer on a free port) serving a tiny TorchScript model: the
// honest endpoint's answers equal the model's own outputs, large batches are
// split, and every misbehaviour (slow, failing, malformed, wrong shape, NaN,
// budget, deadline, refused connection, unknown model) is Unavailable with a
// reason, quickly, rather than a hang or a wrong answer.
#include "tracemark/endpoint/inference_client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.h"
#include "tracemark/lab/inference_server.h"
#include "tracemark/sdk/model.h"

namespace tracemark::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int64_t kInputs = 4;
constexpr int64_t kClasses = 3;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// linear(4 -> 3) with seeded random weights, saved once per process.
const std::string& ModelPath() {
  static TempDir dir;
  static const std::string path = [] {
    torch::manual_seed(7);
    torch::jit::Module m("TinyClassifier");
    m.register_parameter("weight", torch::randn({kClasses, kInputs}), false);
    m.register_parameter("bias", torch::randn({kClasses}), false);
    m.define(
        "def forward(self, x):\n"
        "    return torch.linear(x, self.weight, self.bias)\n");
    std::string p = dir / "tiny.pt";
    Status s = SaveModel(m, p);
    if (!s.ok()) throw std::runtime_error(s.message());
    return p;
  }();
  return path;
}

std::vector<float> Rows(int64_t n) {
  std::vector<float> data(n * kInputs);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::sin(0.37f * i) * 2.0f;
  return data;
}

// The model's own outputs for `data`, computed in-process.
torch::Tensor Expected(const std::vector<float>& data) {
  StatusOr<torch::jit::Module> model = LoadModel(ModelPath());
  if (!model.ok()) throw std::runtime_error(model.status().message());
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::from_blob(const_cast<float*>(data.data()),
                                     {static_cast<int64_t>(data.size()) / kInputs, kInputs})
                        .clone();
  StatusOr<torch::Tensor> out = RunForward(*model, x);
  if (!out.ok()) throw std::runtime_error(out.status().message());
  return out.value();
}

std::unique_ptr<InferenceServer> Serve(InferenceServerOptions options = {}) {
  options.model_path = ModelPath();
  StatusOr<std::unique_ptr<InferenceServer>> server = InferenceServer::Start(options);
  if (!server.ok()) throw std::runtime_error(server.status().message());
  return std::move(server).value();
}

std::unique_ptr<InferenceServer> Serve(EndpointBehaviour behaviour, double delay = 0) {
  InferenceServerOptions options;
  options.behaviour = behaviour;
  options.delay_seconds = delay;
  return Serve(options);
}

EndpointOptions Endpoint(const InferenceServer& server) {
  EndpointOptions options;
  options.url = server.url();
  options.model = "suspect";
  options.request_timeout_seconds = 5;
  return options;
}

std::unique_ptr<InferenceClient> Connect(const EndpointOptions& options) {
  StatusOr<std::unique_ptr<InferenceClient>> client = InferenceClient::Connect(options);
  if (!client.ok()) throw std::runtime_error(client.status().message());
  return std::move(client).value();
}

struct Answer {
  Status status;
  std::vector<int64_t> shape;
  std::vector<float> data;
  double seconds = 0;
};

Answer Ask(InferenceClient& client, int64_t rows) {
  Answer a;
  auto start = Clock::now();
  a.status = client.Infer({rows, kInputs}, Rows(rows), &a.shape, &a.data);
  a.seconds = SecondsSince(start);
  return a;
}

void ExpectMatchesModel(const Answer& a, int64_t rows, bool softmax = false) {
  ASSERT_TRUE(a.status.ok()) << a.status.message();
  ASSERT_EQ(a.shape, (std::vector<int64_t>{rows, kClasses}));
  torch::Tensor expected = Expected(Rows(rows));
  if (softmax) expected = expected.softmax(-1);
  ASSERT_EQ(static_cast<int64_t>(a.data.size()), expected.numel());
  const float* want = expected.contiguous().data_ptr<float>();
  for (size_t i = 0; i < a.data.size(); ++i) EXPECT_NEAR(a.data[i], want[i], 1e-5) << "at " << i;
}

// Expects Unavailable naming the endpoint and containing `reason`, within
// `max_seconds`.
void ExpectUnavailable(const Answer& a, const std::string& reason, double max_seconds = 1.0) {
  EXPECT_EQ(a.status.code(), Status::Code::kUnavailable) << a.status.message();
  EXPECT_NE(a.status.message().find("endpoint http://127.0.0.1:"), std::string::npos)
      << a.status.message();
  EXPECT_NE(a.status.message().find(reason), std::string::npos) << a.status.message();
  EXPECT_EQ(a.status.message().find('\n'), std::string::npos) << a.status.message();
  EXPECT_LT(a.seconds, max_seconds);
}

// --- the honest endpoint ---------------------------------------------------

TEST(InferenceClientTest, HonestEndpointAnswersTheModelsOutputs) {
  InferenceServerOptions options;
  options.input_name = "pixels";  // the server refuses any other name
  auto server = Serve(options);
  auto client = Connect(Endpoint(*server));
  EXPECT_EQ(client->input_name(), "pixels");

  Answer a = Ask(*client, 5);
  ExpectMatchesModel(a, 5);
  EXPECT_EQ(server->requests(), 1);
  EXPECT_EQ(server->rows(), 5);
  EXPECT_EQ(client->queries(), 5);
  EXPECT_EQ(client->requests(), 2);  // metadata + one inference
}

TEST(InferenceClientTest, BatchesLargerThanMaxBatchAreSplit) {
  auto server = Serve();
  EndpointOptions options = Endpoint(*server);
  options.max_batch = 4;
  auto client = Connect(options);
  EXPECT_EQ(client->input_name(), "input");

  ExpectMatchesModel(Ask(*client, 10), 10);  // 4 + 4 + 2
  EXPECT_EQ(server->requests(), 3);
  EXPECT_EQ(server->rows(), 10);
  EXPECT_EQ(client->queries(), 10);
  ExpectMatchesModel(Ask(*client, 4), 4);  // exactly one batch
  EXPECT_EQ(server->requests(), 4);
}

TEST(InferenceClientTest, SoftmaxEndpointAnswersProbabilities) {
  InferenceServerOptions options;
  options.softmax_outputs = true;
  auto server = Serve(options);
  auto client = Connect(Endpoint(*server));
  Answer a = Ask(*client, 6);
  ExpectMatchesModel(a, 6, /*softmax=*/true);
  for (int64_t r = 0; r < 6; ++r) {
    float sum = 0;
    for (int64_t c = 0; c < kClasses; ++c) sum += a.data[r * kClasses + c];
    EXPECT_NEAR(sum, 1.0f, 1e-5);
  }
}

TEST(InferenceClientTest, SlowEndpointWithinTheTimeoutStillAnswers) {
  auto server = Serve(EndpointBehaviour::kSlow, 0.2);
  auto client = Connect(Endpoint(*server));
  Answer a = Ask(*client, 3);
  ExpectMatchesModel(a, 3);
  EXPECT_GE(a.seconds, 0.2);
}

// --- misbehaviour ------------------------------------------------------------

TEST(InferenceClientTest, SlowEndpointTimesOutWithoutHanging) {
  auto server = Serve(EndpointBehaviour::kSlow, 3.0);
  EndpointOptions options = Endpoint(*server);
  options.request_timeout_seconds = 0.5;
  auto start = Clock::now();
  auto client = Connect(options);  // the slow metadata call times out: not an error
  const double connect_seconds = SecondsSince(start);
  EXPECT_GE(connect_seconds, 0.4);
  EXPECT_LT(connect_seconds, 1.0);
  EXPECT_EQ(client->input_name(), "input");

  Answer a = Ask(*client, 2);
  ExpectUnavailable(a, "no complete answer within 0.5 s", 1.0);
  EXPECT_GE(a.seconds, 0.4);
  EXPECT_EQ(client->queries(), 0);

  // The server's sleeping handlers do not hold up its shutdown.
  start = Clock::now();
  server.reset();
  EXPECT_LT(SecondsSince(start), 2.0);
}

TEST(InferenceClientTest, DeadlineStopsFurtherRequests) {
  auto server = Serve();
  EndpointOptions options = Endpoint(*server);
  options.deadline_seconds = 0.3;
  auto client = Connect(options);
  ExpectMatchesModel(Ask(*client, 2), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ExpectUnavailable(Ask(*client, 2), "deadline");
  EXPECT_EQ(server->requests(), 1);  // nothing sent after the deadline
}

TEST(InferenceClientTest, DeadlineCutsASlowRequestShort) {
  auto server = Serve(EndpointBehaviour::kSlow, 1.0);
  EndpointOptions options = Endpoint(*server);
  options.request_timeout_seconds = 10;
  options.deadline_seconds = 1.3;
  auto client = Connect(options);  // the metadata answers after 1 s
  Answer a = Ask(*client, 2);      // ~0.3 s of the deadline are left
  ExpectUnavailable(a, "no complete answer within", 0.8);
  EXPECT_LT(client->seconds(), options.deadline_seconds + 0.3);
}

TEST(InferenceClientTest, FailingEndpointIsUnavailable) {
  auto server = Serve(EndpointBehaviour::kFailing);
  auto client = Connect(Endpoint(*server));
  ExpectUnavailable(Ask(*client, 2), "HTTP 500");
  EXPECT_EQ(server->requests(), 1);  // not retried
}

TEST(InferenceClientTest, MalformedAnswerIsUnavailable) {
  auto server = Serve(EndpointBehaviour::kMalformed);
  auto client = Connect(Endpoint(*server));
  ExpectUnavailable(Ask(*client, 2), "not a JSON object");
}

TEST(InferenceClientTest, WrongShapeIsUnavailable) {
  auto server = Serve(EndpointBehaviour::kWrongShape);
  auto client = Connect(Endpoint(*server));
  Answer a = Ask(*client, 3);
  ExpectUnavailable(a, "for 3 input rows");
  EXPECT_NE(a.status.message().find("[2,3]"), std::string::npos) << a.status.message();
  EXPECT_EQ(client->queries(), 0);
}

TEST(InferenceClientTest, NanAnswerIsUnavailable) {
  auto server = Serve(EndpointBehaviour::kNonFinite);
  auto client = Connect(Endpoint(*server));
  // Bare NaN tokens, as Python's json.dumps writes them.
  ExpectUnavailable(Ask(*client, 2), "non-finite values");
}

TEST(InferenceClientTest, ValuesBeyondFloatRangeAreNonFinite) {
  // Valid JSON whose values overflow FP32: the client's finiteness check.
  httplib::Server raw;
  raw.Post("/v2/models/suspect/infer", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"outputs":[{"name":"output__0","shape":[2,3],"datatype":"FP32",)"
                    R"("data":[1e39,0,0,0,0,0]}]})",
                    "application/json");
  });
  const int port = raw.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { raw.listen_after_bind(); });
  while (!raw.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EndpointOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port);
  options.model = "suspect";
  auto client = Connect(options);
  ExpectUnavailable(Ask(*client, 2), "non-finite");
  raw.stop();
  thread.join();
}

TEST(InferenceClientTest, QueryBudgetIsCheckedBeforeSending) {
  auto server = Serve();
  EndpointOptions options = Endpoint(*server);
  options.max_queries = 8;
  auto client = Connect(options);
  ExpectUnavailable(Ask(*client, 9), "query budget of 8");
  EXPECT_EQ(server->requests(), 0);
  ExpectMatchesModel(Ask(*client, 5), 5);
  ExpectUnavailable(Ask(*client, 5), "query budget of 8");
  EXPECT_EQ(server->requests(), 1);
  EXPECT_EQ(client->queries(), 5);
  ExpectMatchesModel(Ask(*client, 3), 3);  // exactly the rest of the budget
  EXPECT_EQ(client->queries(), 8);
}

TEST(InferenceClientTest, RefusedConnectionIsUnavailable) {
  std::string url;
  {
    auto closed = Serve();
    url = closed->url();
  }  // the port is closed now
  EndpointOptions options;
  options.url = url;
  options.model = "suspect";
  options.request_timeout_seconds = 5;
  auto start = Clock::now();
  auto client = Connect(options);  // failing metadata is not an error
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_EQ(client->input_name(), "input");
  ExpectUnavailable(Ask(*client, 2), "cannot connect");
}

TEST(InferenceClientTest, UnknownModelIsUnavailable) {
  auto server = Serve();
  EndpointOptions options = Endpoint(*server);
  options.model = "other";
  auto client = Connect(options);
  Answer a = Ask(*client, 2);
  ExpectUnavailable(a, "HTTP 404");
  EXPECT_NE(a.status.message().find("unknown model"), std::string::npos) << a.status.message();
  EXPECT_EQ(server->rows(), 0);
}

TEST(InferenceClientTest, RowsTheModelRejectsAreUnavailable) {
  auto server = Serve();
  auto client = Connect(Endpoint(*server));
  std::vector<int64_t> shape;
  std::vector<float> data;
  Status s = client->Infer({2, 5}, std::vector<float>(10, 1.0f), &shape, &data);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.message();
  EXPECT_NE(s.message().find("HTTP 400"), std::string::npos) << s.message();
}

// --- options -------------------------------------------------------------------

TEST(InferenceClientTest, ValidateEndpointOptionsRejectsBadOptions) {
  EndpointOptions good;
  good.url = "http://127.0.0.1:8080/prefix/";
  good.model = "suspect";
  EXPECT_TRUE(ValidateEndpointOptions(good).ok()) << ValidateEndpointOptions(good).message();

  auto rejected = [&](const std::function<void(EndpointOptions&)>& change) {
    EndpointOptions o = good;
    change(o);
    Status s = ValidateEndpointOptions(o);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
    return s.message();
  };
  EXPECT_NE(rejected([](EndpointOptions& o) { o.url = "https://example.com"; }).find("https"),
            std::string::npos);
  EXPECT_NE(
      rejected([](EndpointOptions& o) { o.url = "https://example.com"; }).find("not supported"),
      std::string::npos);
  EXPECT_NE(rejected([](EndpointOptions& o) { o.url = "ftp://example.com"; }).find("http://"),
            std::string::npos);
  rejected([](EndpointOptions& o) { o.url = "127.0.0.1:8080"; });
  rejected([](EndpointOptions& o) { o.url = ""; });
  rejected([](EndpointOptions& o) { o.url = "http://"; });
  EXPECT_NE(rejected([](EndpointOptions& o) { o.model = ""; }).find("model"), std::string::npos);
  rejected([](EndpointOptions& o) { o.model = "a/b"; });
  EXPECT_NE(rejected([](EndpointOptions& o) { o.max_queries = 0; }).find("max_queries"),
            std::string::npos);
  rejected([](EndpointOptions& o) { o.deadline_seconds = 0; });
  rejected([](EndpointOptions& o) { o.deadline_seconds = std::nan(""); });
  rejected([](EndpointOptions& o) { o.request_timeout_seconds = -1; });
  rejected([](EndpointOptions& o) { o.max_batch = 0; });

  // Connect validates too, without touching the network.
  EndpointOptions https = good;
  https.url = "https://127.0.0.1:1";
  EXPECT_EQ(InferenceClient::Connect(https).status().code(), Status::Code::kInvalidArgument);
}

// --- the server itself ---------------------------------------------------------

TEST(InferenceServerTest, SpeaksTheProtocolAndRefusesBadRequests) {
  auto server = Serve();
  httplib::Client http("127.0.0.1", server->port());
  auto ready = http.Get("/v2/health/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);

  auto meta = http.Get("/v2/models/suspect");
  ASSERT_TRUE(meta);
  ASSERT_EQ(meta->status, 200);
  Json m = Json::parse(meta->body);
  EXPECT_EQ(m["name"], "suspect");
  EXPECT_EQ(m["platform"], "pytorch_torchscript");
  EXPECT_EQ(m["inputs"][0]["name"], "input");
  EXPECT_EQ(m["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(m["outputs"][0]["name"], "output__0");

  auto unknown = http.Get("/v2/models/other");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_TRUE(Json::parse(unknown->body).contains("error"));

  auto post = [&](const std::string& body) {
    auto res = http.Post("/v2/models/suspect/infer", body, "application/json");
    if (!res) throw std::runtime_error("no answer");
    return std::make_pair(res->status, Json::parse(res->body, nullptr, false));
  };
  Json input = {
      {"name", "input"}, {"shape", {1, kInputs}}, {"datatype", "FP32"}, {"data", {1, 2, 3, 4}}};
  Json good = {{"inputs", Json::array({input})}};
  auto [status, answer] = post(good.dump());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(answer["model_name"], "suspect");
  EXPECT_EQ(answer["outputs"][0]["name"], "output__0");
  EXPECT_EQ(answer["outputs"][0]["shape"], Json({1, kClasses}));

  Json fp64 = good;
  fp64["inputs"][0]["datatype"] = "FP64";
  Json rejected_shape = good;
  rejected_shape["inputs"][0]["shape"] = {2, 2};
  Json short_data = good;
  short_data["inputs"][0]["data"] = {1, 2, 3};
  Json wrong_name = good;
  wrong_name["inputs"][0]["name"] = "x";
  for (const std::string& body : {std::string("{not json"), fp64.dump(), rejected_shape.dump(),
                                  short_data.dump(), wrong_name.dump()}) {
    auto [code, error] = post(body);
    EXPECT_EQ(code, 400) << body;
    EXPECT_TRUE(error.is_object() && error.contains("error")) << body;
  }
  EXPECT_EQ(server->requests(), 6);
  EXPECT_EQ(server->rows(), 3);  // the good request and the shape the model rejected
}

TEST(InferenceServerTest, StartRefusesAMissingModel) {
  InferenceServerOptions options;
  options.model_path = "/nonexistent/model.pt";
  StatusOr<std::unique_ptr<InferenceServer>> server = InferenceServer::Start(options);
  EXPECT_EQ(server.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace tracemark::testing
