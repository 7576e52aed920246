// GradSigns beyond the shared end-to-end suite (schemes_e2e_test): on a tiny
// model, finite differences over query answers reproduce the autograd
// extraction within a bounded, counted number of queries, endpoint failures
// come back unchanged, and invalid parameters are refused with clear errors;
// on a released Fashion-MNIST copy, extraction from an Open Inference
// Protocol v2 endpoint (logits or probabilities) agrees with white-box
// extraction and traces the copy, and the report states the queries.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>

#include "test_support.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/lab/inference_server.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/suspect.h"
#include "tracemark/store/key_store.h"

namespace tracemark::testing {
namespace {

constexpr int64_t kSide = 4;  // tiny inputs: [1, 4, 4], 16 coordinates
constexpr int64_t kClasses = 3;

const PluginHost& Plugins() {
  static PluginHost* host = [] {
    auto* h = new PluginHost();
    Status st = h->Load(PluginDir() + "/libgradsigns.so");
    if (!st.ok()) throw std::runtime_error(st.message());
    return h;
  }();
  return *host;
}

const Scheme& GradSigns() { return *Plugins().Find("gradsigns").value(); }

// flatten -> linear(16 -> 8) -> tanh -> linear(8 -> 3), seeded weights: a
// smooth classifier whose finite differences converge to its gradients.
torch::jit::Module MakeTinyClassifier(int64_t inputs = kSide * kSide) {
  torch::manual_seed(11);
  torch::jit::Module m("TinyTanhMlp");
  m.register_parameter("w1", torch::randn({8, inputs}), false);
  m.register_parameter("b1", torch::randn({8}) * 0.1, false);
  m.register_parameter("w2", torch::randn({kClasses, 8}), false);
  m.register_parameter("b2", torch::randn({kClasses}) * 0.1, false);
  m.define(
      "def forward(self, x):\n"
      "    h = torch.tanh(torch.linear(torch.flatten(x, 1), self.w1, self.b1))\n"
      "    return torch.linear(h, self.w2, self.b2)\n");
  return m;
}

Dataset TinyData() {
  torch::manual_seed(12);
  Dataset data;
  data.images = torch::rand({64, 1, kSide, kSide});
  data.labels = torch::randint(kClasses, {64}, torch::kLong);
  return data;
}

SchemeParams Resolve(const SchemeParams& given) {
  SchemeParams effective;
  Status st = GradSigns().ResolveParams(given, &effective);
  if (!st.ok()) throw std::runtime_error(st.message());
  return effective;
}

// A deployed model as the scheme sees it: queries only, no module. Answers
// the wrapped model's logits (or softmax probabilities), or `failure`.
class QueryOnlySuspect : public Suspect {
 public:
  explicit QueryOnlySuspect(torch::jit::Module* model) : local_(model) {}
  torch::jit::Module* module() override { return nullptr; }
  Status Query(const at::Tensor& inputs, at::Tensor* outputs) override {
    ++calls;
    if (!failure.ok()) return failure;
    TM_RETURN_IF_ERROR(local_.Query(inputs, outputs));
    if (softmax) *outputs = torch::softmax(*outputs, 1);
    return Status::Ok();
  }
  int64_t queries() const override { return local_.queries(); }

  bool softmax = false;
  Status failure;
  int calls = 0;

 private:
  ModelSuspect local_;
};

std::vector<float> ExtractOrDie(Suspect& suspect, const std::string& key) {
  std::vector<float> soft;
  Status st = GradSigns().Extract(suspect, key, &soft);
  if (!st.ok()) throw std::runtime_error(st.message());
  return soft;
}

class GradSignsTiny : public ::testing::Test {
 protected:
  std::string Keygen(const SchemeParams& given, int bits) {
    std::string key;
    Status st = GradSigns().Keygen(model_, Resolve(given), bits, /*seed=*/5, data_, &key);
    EXPECT_TRUE(st.ok()) << st.message();
    return key;
  }
  Status KeygenStatus(const SchemeParams& given, int bits) {
    std::string key;
    return GradSigns().Keygen(model_, Resolve(given), bits, /*seed=*/5, data_, &key);
  }

  torch::jit::Module model_ = MakeTinyClassifier();
  Dataset data_ = TinyData();
};

TEST_F(GradSignsTiny, FiniteDifferencesMatchAutogradWithinTheQueryBound) {
  const int bits = 8;
  std::string key = Keygen({}, bits);  // carriers auto = 16, inputs auto = 16
  ModelSuspect white_box(&model_);
  std::vector<float> exact = ExtractOrDie(white_box, key);
  EXPECT_EQ(white_box.queries(), 0) << "white-box extraction reads gradients, not outputs";
  for (bool softmax : {false, true}) {
    QueryOnlySuspect remote(&model_);
    remote.softmax = softmax;
    std::vector<float> estimated = ExtractOrDie(remote, key);
    ASSERT_EQ(estimated.size(), exact.size());
    for (size_t t = 0; t < exact.size(); ++t) {
      EXPECT_NEAR(estimated[t], exact[t], 0.02) << "bit " << t << " softmax " << softmax;
      EXPECT_EQ(estimated[t] >= 0.5, exact[t] >= 0.5) << "bit " << t;
    }
    EXPECT_EQ(remote.calls, 1) << "one batched query";
    EXPECT_EQ(remote.queries(), 16 * (bits + 1));
  }
}

TEST_F(GradSignsTiny, QueriesStayWithinMaxQueries) {
  const int bits = 8;
  std::string key = Keygen({{"max_queries", "100"}}, bits);
  QueryOnlySuspect remote(&model_);
  ExtractOrDie(remote, key);
  EXPECT_LE(remote.queries(), 100);
  EXPECT_EQ(remote.queries(), (100 / (bits + 1)) * (bits + 1)) << "auto inputs fill the budget";
}

TEST_F(GradSignsTiny, EndpointFailuresComeBackUnchanged) {
  std::string key = Keygen({}, 8);
  QueryOnlySuspect remote(&model_);
  remote.failure = Status::Unavailable("query budget of 100 rows exhausted");
  std::vector<float> soft;
  Status st = GradSigns().Extract(remote, key, &soft);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(st.message(), "query budget of 100 rows exhausted");
}

TEST_F(GradSignsTiny, SuspectsOfAnotherShapeDoNotFitTheKey) {
  std::string key = Keygen({}, 8);
  torch::jit::Module other = MakeTinyClassifier(/*inputs=*/25);
  ModelSuspect white_box(&other);
  QueryOnlySuspect remote(&other);
  std::vector<float> soft;
  EXPECT_EQ(GradSigns().Extract(white_box, key, &soft).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(GradSigns().Extract(remote, key, &soft).code(), Status::Code::kFailedPrecondition);
  ModelSuspect fits(&model_);
  EXPECT_EQ(GradSigns().Extract(fits, "not a key", &soft).code(), Status::Code::kCorruption);
}

// Expects `status` to have `code` and mention every fragment.
void ExpectError(const Status& status, Status::Code code, std::vector<std::string> fragments) {
  EXPECT_EQ(status.code(), code) << status.message();
  for (const auto& f : fragments) {
    EXPECT_NE(status.message().find(f), std::string::npos)
        << "'" << status.message() << "' should mention '" << f << "'";
  }
}

TEST_F(GradSignsTiny, InvalidParametersAreRefusedClearly) {
  SchemeParams effective;
  auto resolve = [&](const SchemeParams& given) {
    return GradSigns().ResolveParams(given, &effective);
  };
  const auto kInvalid = Status::Code::kInvalidArgument;
  ExpectError(resolve({{"carrier", "5"}}), kInvalid, {"carrier", "carriers", "max_queries"});
  ExpectError(resolve({{"carriers", "many"}}), kInvalid, {"carriers=many"});
  ExpectError(resolve({{"inputs", "0"}}), kInvalid, {"inputs=0"});
  ExpectError(resolve({{"classes", "shirts"}}), kInvalid, {"shirts"});
  ExpectError(resolve({{"classes", ""}}), kInvalid, {"classes"});
  ExpectError(resolve({{"fd_step", "0"}}), kInvalid, {"fd_step=0"});
  ExpectError(resolve({{"max_queries", "-3"}}), kInvalid, {"max_queries=-3"});
  ExpectError(resolve({{"strength", "nan"}}), kInvalid, {"strength"});
  EXPECT_TRUE(resolve({{"classes", "0,2"}, {"carriers", "12"}, {"inputs", "4"}}).ok());

  const auto kUnfit = Status::Code::kFailedPrecondition;
  ExpectError(KeygenStatus({{"carriers", "4"}}, 8), kUnfit, {"carriers=4", "8 bits"});
  ExpectError(KeygenStatus({}, 17), kUnfit, {"17 bits", "16 coordinates"});
  ExpectError(KeygenStatus({{"max_queries", "8"}}, 8), kUnfit, {"max_queries=8", "9 queries"});
  ExpectError(KeygenStatus({{"inputs", "12"}, {"max_queries", "100"}}, 8), kUnfit,
              {"max_queries=100", "12 carrier inputs"});
  ExpectError(KeygenStatus({{"classes", "5"}}, 8), kInvalid, {"class 5", "3"});
  ExpectError(KeygenStatus({{"inputs", "4000"}, {"max_queries", "100000"}}, 8), kUnfit,
              {"64 images", "inputs=4000"});
}

// A Fashion-MNIST release of the demo CNN to two licensees (256 bits), served
// by an Open Inference Protocol v2 endpoint. max_queries = 3000 leaves room
// for 3000 / 257 = 11 carrier inputs.
class GradSignsEndpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto store = KeyStore::Open(*dir_ / "keystore.db");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value().release();
    ReleaseRequest request;
    request.model_path = CachedDemoCnn(0, OwnerData(), 2);
    request.model_name = "fashion-cnn";
    request.version = "1";
    request.scheme = "gradsigns";
    request.data_spec = OwnerData();
    request.out_dir = *dir_ / "dist";
    request.licensees = {"acme", "globex"};
    request.settings = {{"seed", "77"}, {"max_queries", std::to_string(kMaxQueries)}};
    auto result = ReleaseEngine(store_, &Plugins()).Release(request);
    ASSERT_TRUE(result.ok()) << result.status().message();
    release_ = new ReleaseResult(*result);
  }
  static void TearDownTestSuite() {
    delete release_;
    delete store_;
    delete dir_;
  }

  static std::string Copy(const std::string& licensee) {
    for (const auto& c : release_->copies) {
      if (c.licensee == licensee) return c.path;
    }
    throw std::runtime_error("no copy for " + licensee);
  }
  static std::unique_ptr<InferenceServer> Serve(const std::string& model, bool softmax) {
    InferenceServerOptions options;
    options.model_path = model;
    options.softmax_outputs = softmax;
    auto server = InferenceServer::Start(options);
    if (!server.ok()) throw std::runtime_error(server.status().message());
    return std::move(server).value();
  }
  static EndpointOptions Endpoint(const InferenceServer& server) {
    EndpointOptions options;
    options.url = server.url();
    options.model = "suspect";
    return options;
  }

  static constexpr int64_t kMaxQueries = 3000;
  static constexpr int64_t kCarrierInputs = kMaxQueries / 257;
  static TempDir* dir_;
  static KeyStore* store_;
  static ReleaseResult* release_;
};

TempDir* GradSignsEndpoint::dir_ = nullptr;
KeyStore* GradSignsEndpoint::store_ = nullptr;
ReleaseResult* GradSignsEndpoint::release_ = nullptr;

TEST_F(GradSignsEndpoint, RemoteBitsAgreeWithWhiteBoxBits) {
  const std::string copy = Copy("globex");
  std::string key = store_->GetSchemeKey(release_->release_id).value();
  torch::jit::Module model = LoadModel(copy).value();
  ModelSuspect white_box(&model);
  std::vector<float> exact = ExtractOrDie(white_box, key);
  for (bool softmax : {false, true}) {
    auto server = Serve(copy, softmax);
    auto client = InferenceClient::Connect(Endpoint(*server));
    ASSERT_TRUE(client.ok()) << client.status().message();
    EndpointSuspect remote(std::move(client).value());
    std::vector<float> estimated = ExtractOrDie(remote, key);
    ASSERT_EQ(estimated.size(), exact.size());
    int agree = 0;
    for (size_t t = 0; t < exact.size(); ++t) agree += (estimated[t] >= 0.5) == (exact[t] >= 0.5);
    std::printf("softmax=%d: %d of %zu remote bits agree with white-box; %lld queries\n", softmax,
                agree, exact.size(), static_cast<long long>(remote.queries()));
    EXPECT_GE(agree, static_cast<int>(exact.size() * 0.95));
    EXPECT_EQ(remote.queries(), server->rows());
    EXPECT_EQ(remote.queries(), kCarrierInputs * 257);
    EXPECT_LE(remote.queries(), kMaxQueries);
  }
}

TEST_F(GradSignsEndpoint, EndpointTraceAttributesTheCopyAndCountsQueries) {
  for (bool softmax : {false, true}) {
    auto server = Serve(Copy("globex"), softmax);
    auto report = TraceEngine(store_, &Plugins()).TraceEndpoint(Endpoint(*server));
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->accused, std::vector<std::string>{"globex"}) << ToText(*report);
    EXPECT_EQ(report->verdict, Verdict::kAttributed);
    EXPECT_LE(report->candidates.front().p_value, 1e-6);
    EXPECT_EQ(report->queries, kCarrierInputs * (release_->bits + 1));
    EXPECT_LE(report->queries, kMaxQueries);
    EXPECT_EQ(report->queries, server->rows());
    std::printf("softmax=%d: %d/%d matches, p=%.3g, %lld queries in %lld requests, %.2fs\n",
                softmax, report->candidates.front().matches, report->candidates.front().bits,
                report->candidates.front().p_value, static_cast<long long>(report->queries),
                static_cast<long long>(report->requests), report->seconds);
  }
}

TEST_F(GradSignsEndpoint, EndpointServingTheBaseAccusesNobody) {
  auto server = Serve(CachedDemoCnn(0, OwnerData(), 2), /*softmax=*/true);
  auto report = TraceEngine(store_, &Plugins()).TraceEndpoint(Endpoint(*server));
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->accused.empty()) << ToText(*report);
  EXPECT_EQ(report->verdict, Verdict::kNotOurs);
}

}  // namespace
}  // namespace tracemark::testing
