// Tracing deployed models through `tracemark trace --endpoint`, as an
// investigator would: copies released with the two schemes that work from
// queries (DeepSigns black-box trigger keys, GradSigns input gradients) are
// served by an Open Inference Protocol v2 endpoint inside the test, next to
// an independent model and endpoints that fail, stall, garble their answers
// or need more queries than allowed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tracemark/lab/inference_server.h"

namespace tracemark::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class EndpointTraceTest : public ::testing::Test {
 protected:
  // Two releases of the Python-scripted MLP: version 1 with DeepSigns
  // black-box, version 2 with GradSigns. An endpoint trace tests both.
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    base_ = new std::string(CachedPythonMlp(0, "0:20000", 2));
    for (const auto& [version, scheme, mode] :
         {std::tuple{"1", "deepsigns", "mode=black"}, std::tuple{"2", "gradsigns", "bits=64"}}) {
      CommandResult r = Run({"release", *base_, "--name", "fashion-mlp", "--version", version,
                             "--scheme", scheme, "--licensees", "acme,globex,initech", "--data",
                             OwnerData(), "--out", Out(version), "--set", "seed=5", "--set", mode});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() {
    delete base_;
    delete dir_;
  }

  static std::string Out(const std::string& version) { return *dir_ / ("dist" + version); }
  static std::string Copy(const std::string& version, const std::string& licensee) {
    return fs::path(Out(version)) / licensee / fs::path(*base_).filename();
  }
  static CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {CliPath(), "--state", *dir_ / "state", "--plugins", PluginDir()});
    return RunCommand(args);
  }

  struct Traced {
    CommandResult result;
    nlohmann::json report;
    double seconds = 0;
  };
  // Serves `model` with `behaviour` and traces it through the CLI.
  static Traced TraceServed(const std::string& model, EndpointBehaviour behaviour,
                            std::vector<std::string> extra = {}, bool softmax = false,
                            double delay = 0) {
    InferenceServerOptions options;
    options.model_path = model;
    options.model_name = "leaked";
    options.behaviour = behaviour;
    options.softmax_outputs = softmax;
    options.delay_seconds = delay;
    auto server = InferenceServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status().message();
    if (!server.ok()) return {};
    std::vector<std::string> args = {"trace",   "--endpoint", (*server)->url(),
                                     "--model", "leaked",     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto start = Clock::now();
    Traced t;
    t.result = Run(args);
    t.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    t.report = nlohmann::json::parse(t.result.out, nullptr, false);
    EXPECT_FALSE(t.report.is_discarded()) << t.result.out << t.result.err;
    return t;
  }

  static TempDir* dir_;
  static std::string* base_;
};

TempDir* EndpointTraceTest::dir_ = nullptr;
std::string* EndpointTraceTest::base_ = nullptr;

TEST_F(EndpointTraceTest, DeepSignsCopyBehindAnEndpointIsTracedToItsLicensee) {
  Traced t = TraceServed(Copy("1", "globex"), EndpointBehaviour::kHonest);
  EXPECT_EQ(t.result.exit_code, 0) << t.result.err;
  EXPECT_EQ(t.report["verdict"], "attributed") << t.report.dump(2);
  EXPECT_EQ(t.report["accused"], nlohmann::json::array({"globex"}));
  EXPECT_EQ(t.report["releases_tested"], 2);
  EXPECT_GT(t.report["queries"].get<int64_t>(), 0);
  EXPECT_LE(t.report["queries"].get<int64_t>(), 20000);
  EXPECT_GT(t.report["requests"].get<int64_t>(), 0);
  for (const auto& c : t.report["candidates"]) {
    if (c["accused"]) {
      EXPECT_EQ(c["evidence"], "keys");
      EXPECT_LE(c["p_value"].get<double>(), 1e-6);
    }
  }
}

TEST_F(EndpointTraceTest, GradSignsCopyAnsweringProbabilitiesIsTracedToItsLicensee) {
  Traced t = TraceServed(Copy("2", "initech"), EndpointBehaviour::kHonest, {}, /*softmax=*/true);
  EXPECT_EQ(t.result.exit_code, 0) << t.result.err;
  EXPECT_EQ(t.report["accused"], nlohmann::json::array({"initech"})) << t.report.dump(2);
  EXPECT_GT(t.report["queries"].get<int64_t>(), 0);
}

TEST_F(EndpointTraceTest, IndependentModelBehindAnEndpointAccusesNobody) {
  Traced t = TraceServed(CachedPythonMlp(101, "20000:40000", 1), EndpointBehaviour::kHonest);
  EXPECT_EQ(t.result.exit_code, 3) << t.result.err;
  EXPECT_EQ(t.report["verdict"], "not-ours") << t.report.dump(2);
  EXPECT_EQ(t.report["releases_tested"], 2);
}

TEST_F(EndpointTraceTest, MisbehavingEndpointsAreInconclusiveWithinTheirBounds) {
  const std::string copy = Copy("1", "acme");
  for (auto behaviour : {EndpointBehaviour::kFailing, EndpointBehaviour::kMalformed,
                         EndpointBehaviour::kWrongShape, EndpointBehaviour::kNonFinite}) {
    Traced t = TraceServed(copy, behaviour);
    EXPECT_EQ(t.result.exit_code, 4) << static_cast<int>(behaviour) << t.result.err;
    EXPECT_EQ(t.report["verdict"], "inconclusive") << t.report.dump(2);
    EXPECT_TRUE(t.report["accused"].empty());
    EXPECT_EQ(t.report["notes"].size(), 2u) << "one note per release not tested";
  }
  // A stalled endpoint: bounded by the request timeout, not a hang.
  Traced slow = TraceServed(copy, EndpointBehaviour::kSlow, {"--request-timeout", "0.5"},
                            /*softmax=*/false, /*delay=*/3);
  EXPECT_EQ(slow.result.exit_code, 4) << slow.result.err;
  EXPECT_LT(slow.seconds, 8) << "metadata and one inference request time out, nothing more";
  // A budget too small for the keys: stopped before sending, inconclusive.
  Traced budget = TraceServed(copy, EndpointBehaviour::kHonest, {"--max-queries", "10"});
  EXPECT_EQ(budget.result.exit_code, 4) << budget.result.err;
  EXPECT_NE(budget.report["notes"].dump().find("query budget of 10"), std::string::npos)
      << budget.report.dump(2);
  EXPECT_LE(budget.report["queries"].get<int64_t>(), 10);
}

}  // namespace
}  // namespace tracemark::testing
