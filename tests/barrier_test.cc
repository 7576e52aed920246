// Barrier (deep watermarking of image-to-image models, issue #7) end to end
// on Fashion-MNIST: a demo denoiser trained by the project is released to
// three licensees; each copy keeps the base's task quality and traces to
// exactly its licensee, from the file and from an Open Inference Protocol v2
// endpoint; the base and independently trained denoisers accuse nobody; an
// attacker's surrogate of another architecture, trained only on one copy's
// (input, output) pairs until it matches the copy's task quality, traces to
// that copy's licensee; and schemes are refused on models of another kind.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "test_support.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/lab/attacks.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/lab/inference_server.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/image_task.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/training.h"
#include "tracemark/store/key_store.h"

namespace tracemark::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <typename T>
T OrThrow(StatusOr<T> value, const std::string& what) {
  if (!value.ok()) throw std::runtime_error(what + ": " + value.status().message());
  return std::move(value).value();
}

const PluginHost& Plugins() {
  static PluginHost* host = [] {
    auto* h = new PluginHost();
    for (const char* name : {"libbarrier.so", "libuchida.so"}) {
      Status st = h->Load(PluginDir() + "/" + name);
      if (!st.ok()) throw std::runtime_error(st.message());
    }
    return h;
  }();
  return *host;
}

const DataSplits& Fashion(const std::string& spec) {
  static std::map<std::string, DataSplits>* cache = new std::map<std::string, DataSplits>();
  auto it = cache->find(spec);
  if (it == cache->end()) it = cache->emplace(spec, OrThrow(LoadDataset(spec), spec)).first;
  return it->second;
}

constexpr double kNoise = 0.3;
// Test images for the quality figures: the first 2000 of the test split.
constexpr int64_t kQualityRows = 2000;
// The attacker stops once its task PSNR is within this of the copy's.
constexpr double kAttackerTolerance = 0.1;

class BarrierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    store_ = OrThrow(KeyStore::Open(*dir_ / "keystore.db"), "key store").release();
    base_ = new std::string(CachedDemoDenoiser(0, OwnerData(), 2));
    ReleaseRequest request = Request("barrier", *base_, "fashion-denoiser");
    request.settings = {{"seed", "7"},
                        {"bits", "64"},
                        {"rows", "4000"},
                        {"noise", "0.3"},
                        {"surrogate_epochs", "2"},
                        {"finetune_steps", "100"}};
    auto start = Clock::now();
    auto result = ReleaseEngine(store_, &Plugins()).Release(request);
    ASSERT_TRUE(result.ok()) << result.status().message();
    release_ = new ReleaseResult(*result);
    std::printf("release: %.1fs for %zu copies (keygen and embedding), base task PSNR %.2f dB\n",
                SecondsSince(start), release_->copies.size(), release_->base_accuracy);
    for (const auto& c : release_->copies) {
      std::printf("  %s: embedded in %.2fs, task PSNR %.2f dB, %d/%d bits read back\n",
                  c.licensee.c_str(), c.seconds, c.accuracy, c.bits_with_margin, c.bits);
    }
  }
  static void TearDownTestSuite() {
    delete release_;
    delete base_;
    delete store_;
    delete dir_;
  }

  static ReleaseRequest Request(const std::string& scheme, const std::string& model,
                                const std::string& name) {
    ReleaseRequest request;
    request.model_path = model;
    request.model_name = name;
    request.version = "1";
    request.scheme = scheme;
    request.data_spec = OwnerData();
    request.out_dir = *dir_ / ("dist-" + scheme + "-" + name);
    request.licensees = {"acme", "globex", "initech"};
    return request;
  }

  static std::string Copy(const std::string& licensee) {
    for (const auto& c : release_->copies) {
      if (c.licensee == licensee) return c.path;
    }
    throw std::runtime_error("no copy for " + licensee);
  }

  static TraceReport TraceFile(const std::string& path) {
    auto report = TraceEngine(store_, &Plugins()).Trace(path);
    if (!report.ok()) throw std::runtime_error(report.status().message());
    return *report;
  }

  static void PrintBest(const std::string& what, const TraceReport& r) {
    const TraceCandidate& best = r.candidates.front();
    std::printf("%s: verdict %s, best %s %d/%d matches p=%.3g, %lld queries, %.2fs\n", what.c_str(),
                VerdictName(r.verdict), best.licensee.c_str(), best.matches, best.bits,
                best.p_value, static_cast<long long>(r.queries), r.seconds);
  }

  static TempDir* dir_;
  static KeyStore* store_;
  static std::string* base_;
  static ReleaseResult* release_;
};

TempDir* BarrierTest::dir_ = nullptr;
KeyStore* BarrierTest::store_ = nullptr;
std::string* BarrierTest::base_ = nullptr;
ReleaseResult* BarrierTest::release_ = nullptr;

TEST_F(BarrierTest, CopiesStayCloseToTheBaseAndKeepItsTaskQuality) {
  EXPECT_EQ(release_->model_kind, "image-to-image");
  const torch::Tensor clean = Fashion(FashionMnist()).test.images.slice(0, 0, kQualityRows);
  const torch::Tensor noisy = AddNoise(clean, kNoise, kQualityNoiseSeed);
  torch::jit::Module base = OrThrow(LoadModel(*base_), "base");
  const torch::Tensor base_out = OrThrow(RunBatched(base, noisy), "base outputs");
  const double base_psnr = Psnr(base_out, clean);
  std::printf("base task PSNR %.2f dB (noisy input %.2f dB)\n", base_psnr, Psnr(noisy, clean));
  RecordProperty("base_task_psnr_db", std::to_string(base_psnr));
  for (const auto& c : release_->copies) {
    torch::jit::Module copy = OrThrow(LoadModel(c.path), c.path);
    const torch::Tensor out = OrThrow(RunBatched(copy, noisy), "copy outputs");
    const double fidelity = Psnr(out, base_out), task = Psnr(out, clean);
    std::printf("%s: PSNR vs base outputs %.2f dB, task PSNR %.2f dB (base %.2f)\n",
                c.licensee.c_str(), fidelity, task, base_psnr);
    RecordProperty(c.licensee + "_psnr_vs_base_db", std::to_string(fidelity));
    RecordProperty(c.licensee + "_task_psnr_db", std::to_string(task));
    EXPECT_GE(fidelity, 30.0) << c.licensee;
    EXPECT_GE(task, base_psnr - 0.5) << c.licensee;
    EXPECT_GE(c.accuracy, release_->base_accuracy - 0.5) << "the release's own quality check";
    // R reads the copy's bits back from the probes (stage 2 may cost a few;
    // 51 of 64 are what an accusation needs).
    EXPECT_GE(c.bits_with_margin, 58) << c.licensee;
  }
}

TEST_F(BarrierTest, EachCopyIsTracedToExactlyItsLicensee) {
  for (const auto& c : release_->copies) {
    TraceReport r = TraceFile(c.path);
    PrintBest(c.licensee + " copy", r);
    EXPECT_EQ(r.accused, std::vector<std::string>{c.licensee}) << ToText(r);
    EXPECT_EQ(r.verdict, Verdict::kAttributed);
    ASSERT_FALSE(r.candidates.empty());
    EXPECT_EQ(r.candidates.front().licensee, c.licensee);
    EXPECT_LE(r.candidates.front().p_value, 1e-6);
    EXPECT_EQ(r.queries, 256) << "one query per probe";
  }
}

TEST_F(BarrierTest, BaseAndIndependentDenoisersAccuseNobody) {
  // Independent: other seeds and data, one of another width and depth.
  for (const std::string& model :
       {*base_, CachedDemoDenoiser(1, IndependentData(), 1),
        CachedDemoDenoiser(2, IndependentData(), 1, /*channels=*/24, /*layers=*/5)}) {
    TraceReport r = TraceFile(model);
    PrintBest(model, r);
    EXPECT_EQ(r.releases_tested, 1) << "tested against the barrier release whatever its weights";
    EXPECT_TRUE(r.accused.empty()) << ToText(r);
    EXPECT_EQ(r.verdict, Verdict::kNotOurs);
    for (const auto& c : r.candidates) EXPECT_GT(c.p_value, 1e-6) << c.licensee;
  }
  // A "model" that returns its input unchanged: nothing decodable either.
  torch::jit::Module identity("Identity");
  identity.define("def forward(self, x):\n    return x\n");
  const std::string path = *dir_ / "identity.pt";
  ASSERT_TRUE(SaveModel(identity, path).ok());
  TraceReport r = TraceFile(path);
  PrintBest("identity", r);
  EXPECT_EQ(r.releases_tested, 1);
  EXPECT_TRUE(r.accused.empty()) << ToText(r);
}

TEST_F(BarrierTest, AttackerSurrogateOfAnotherArchitectureIsTracedToTheCopysLicensee) {
  // The attacker holds globex's copy and its own images (rows 40000:50000):
  // it queries the copy on noisy versions and fits its own architecture to
  // the answers, epoch by epoch, until its task PSNR matches the copy's.
  auto start = Clock::now();
  torch::jit::Module copy = OrThrow(LoadModel(Copy("globex")), "copy");
  const torch::Tensor clean = Fashion(AttackerData()).train.images;
  const torch::Tensor inputs = AddNoise(clean, kNoise, /*seed=*/4242);
  const torch::Tensor test_clean = Fashion(FashionMnist()).test.images.slice(0, 0, kQualityRows);
  const double copy_psnr = OrThrow(TaskPsnr(copy, test_clean, kNoise), "copy quality");

  torch::jit::Module surrogate = MakeAttackerSurrogate(99);
  SurrogateOptions options;
  options.seed = 99;
  double surrogate_psnr = 0;
  const int epochs = OrThrow(
      ExtractSurrogate(copy, surrogate, inputs, options,
                       [&](torch::jit::Module& m) {
                         surrogate_psnr = OrThrow(TaskPsnr(m, test_clean, kNoise), "quality");
                         std::printf("attacker: task PSNR %.2f dB (copy %.2f dB)\n", surrogate_psnr,
                                     copy_psnr);
                         return surrogate_psnr >= copy_psnr - kAttackerTolerance;
                       }),
      "surrogate");
  std::printf("attacker trained %d epochs on %lld pairs in %.1fs\n", epochs,
              static_cast<long long>(inputs.size(0)), SecondsSince(start));
  RecordProperty("attacker_task_psnr_db", std::to_string(surrogate_psnr));
  ASSERT_GE(surrogate_psnr, copy_psnr - kAttackerTolerance) << "the attacker must match the copy";
  const std::string path = *dir_ / "attacker-surrogate.pt";
  ASSERT_TRUE(SaveModel(surrogate, path).ok());
  EXPECT_NE(ArchitectureSignature(surrogate),
            ArchitectureSignature(OrThrow(LoadModel(*base_), "base")));

  TraceReport r = TraceFile(path);
  PrintBest("attacker surrogate of globex", r);
  EXPECT_EQ(r.accused, std::vector<std::string>{"globex"}) << ToText(r);
  EXPECT_LE(r.candidates.front().p_value, 1e-6);
}

TEST_F(BarrierTest, CopyBehindAnEndpointIsTracedAndQueriesAreCounted) {
  InferenceServerOptions options;
  options.model_path = Copy("initech");
  auto server = InferenceServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().message();
  EndpointOptions endpoint;
  endpoint.url = (*server)->url();
  endpoint.model = "suspect";
  auto report = TraceEngine(store_, &Plugins()).TraceEndpoint(endpoint);
  ASSERT_TRUE(report.ok()) << report.status().message();
  PrintBest("initech copy at an endpoint", *report);
  EXPECT_EQ(report->accused, std::vector<std::string>{"initech"}) << ToText(*report);
  EXPECT_LE(report->candidates.front().p_value, 1e-6);
  EXPECT_EQ(report->queries, 256);
  EXPECT_EQ(report->queries, (*server)->rows());
  RecordProperty("endpoint_queries", std::to_string(report->queries));
}

TEST_F(BarrierTest, SchemesAreRefusedOnModelsOfAnotherKind) {
  // A classifier scheme on the denoiser.
  auto uchida = ReleaseEngine(store_, &Plugins()).Plan(Request("uchida", *base_, "denoiser-u"));
  ASSERT_FALSE(uchida.ok());
  EXPECT_EQ(uchida.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(uchida.status().message(),
            "scheme uchida marks classifier models; model denoiser-u is image-to-image (output "
            "[1, 1, 28, 28])");
  // The barrier on a classifier (the demo CNN; its weights do not matter).
  const std::string cnn = *dir_ / "demo-cnn.pt";
  ASSERT_TRUE(SaveModel(MakeDemoCnn(3), cnn).ok());
  auto barrier = ReleaseEngine(store_, &Plugins()).Plan(Request("barrier", cnn, "cnn-b"));
  ASSERT_FALSE(barrier.ok());
  EXPECT_EQ(barrier.status().message(),
            "scheme barrier marks image-to-image models; model cnn-b is classifier (output "
            "[1, 10])");
  // Nothing was recorded for either, and a wrong kind override is refused.
  EXPECT_EQ(store_->ListReleases().value().size(), 1u);
  ReleaseRequest forced = Request("barrier", *base_, "denoiser-k");
  forced.settings = {{"kind", "classifier"}};
  auto overridden = ReleaseEngine(store_, &Plugins()).Plan(forced);
  ASSERT_FALSE(overridden.ok());
  EXPECT_NE(overridden.status().message().find("model denoiser-k is classifier"), std::string::npos)
      << overridden.status().message();
  forced.settings = {{"kind", "segmenter"}};
  EXPECT_EQ(ReleaseEngine(store_, &Plugins()).Plan(forced).status().code(),
            Status::Code::kInvalidArgument);
  // A classifier file is never tested against the image-to-image release.
  TraceReport r = TraceFile(cnn);
  EXPECT_EQ(r.releases_tested, 0);
  EXPECT_EQ(r.verdict, Verdict::kNotOurs);
}

}  // namespace
}  // namespace tracemark::testing
