// End to end on real data: two Fashion-MNIST classifiers — the demo CNN that
// Tracemark builds itself and an MLP trained and scripted with Python
// PyTorch — are released to five licensees with each scheme, then copies —
// as released, attacked, or averaged by colluders — are traced through the
// real key store, plugins and engines.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "test_support.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/store/key_store.h"

namespace tracemark::testing {
namespace {

const std::vector<std::string> kLicensees = {"acme", "globex", "initech", "umbrella", "hooli"};
constexpr int kBaseEpochs = 2;

// One scheme's release, made once and shared by that scheme's tests.
struct Released {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::unique_ptr<KeyStore> store;
  ReleaseResult result;
  std::string Copy(const std::string& licensee) const {
    for (const auto& c : result.copies) {
      if (c.licensee == licensee) return c.path;
    }
    throw std::runtime_error("no copy for " + licensee);
  }
};

struct Case {
  std::string scheme;
  std::string model;      // "cnn" (built in C++) or "python-mlp"
  SchemeParams settings;  // release settings and scheme parameters besides the seed
  std::string label;      // distinguishes cases of one scheme (a mode), may be empty
  std::string Name() const {
    std::string name = scheme + (label.empty() ? "" : "_" + label) + "_" + model;
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
  }
};

class SchemeEndToEnd : public ::testing::TestWithParam<Case> {
 protected:
  // Plugins and releases are shared by every suite of this file and freed
  // by the global environment below (so a release is made once per case).
  static void SetUpTestSuite() {
    if (plugins_) return;
    plugins_ = new PluginHost();
    ASSERT_TRUE(plugins_->LoadDirectory(PluginDir()).ok());
    ASSERT_TRUE(plugins_->refused().empty());
  }

 public:
  static void FreeShared() {
    released_.clear();
    delete plugins_;
    plugins_ = nullptr;
  }

 protected:
  std::string Base() const {
    return GetParam().model == "cnn" ? CachedDemoCnn(0, OwnerData(), kBaseEpochs)
                                     : CachedPythonMlp(0, "0:20000", kBaseEpochs);
  }
  // A model of the same architecture trained independently (other data, seed).
  std::string Independent(uint64_t seed) const {
    return GetParam().model == "cnn" ? CachedDemoCnn(seed, IndependentData(), 1)
                                     : CachedPythonMlp(seed, "20000:40000", 1);
  }

  // Releases the base model with the test's scheme on first use.
  Released& Release() {
    auto& slot = released_[GetParam().Name()];
    if (!slot) {
      slot = std::make_unique<Released>();
      auto store = KeyStore::Open(*slot->dir / "keystore.db");
      EXPECT_TRUE(store.ok()) << store.status().message();
      slot->store = std::move(store).value();
      ReleaseRequest request;
      request.model_path = Base();
      request.model_name = "fashion-" + GetParam().model;
      request.version = "1";
      request.scheme = GetParam().scheme;
      request.data_spec = OwnerData();
      request.out_dir = *slot->dir / "dist";
      request.licensees = kLicensees;
      request.settings = GetParam().settings;
      request.settings["seed"] = "1234";
      auto result = ReleaseEngine(slot->store.get(), plugins_).Release(request);
      EXPECT_TRUE(result.ok()) << result.status().message();
      if (result.ok()) slot->result = *result;
    }
    return *slot;
  }

  TraceReport Trace(const std::string& suspect) {
    auto report = TraceEngine(Release().store.get(), plugins_).Trace(suspect);
    EXPECT_TRUE(report.ok()) << report.status().message();
    return report.ok() ? *report : TraceReport{};
  }

  // Asserts the report accuses exactly `expected`, each at p <= 1e-6.
  void ExpectAccused(const TraceReport& report, std::vector<std::string> expected) {
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(report.accused, expected) << ToText(report);
    for (const auto& c : report.candidates) {
      if (c.accused) EXPECT_LE(c.p_value, 1e-6);
    }
    const Verdict verdict = expected.empty()       ? Verdict::kNotOurs
                            : expected.size() == 1 ? Verdict::kAttributed
                                                   : Verdict::kCollusion;
    EXPECT_EQ(report.verdict, verdict) << VerdictName(report.verdict);
  }

  static PluginHost* plugins_;
  static std::map<std::string, std::unique_ptr<Released>> released_;
};

PluginHost* SchemeEndToEnd::plugins_ = nullptr;
std::map<std::string, std::unique_ptr<Released>> SchemeEndToEnd::released_;

class FreeSharedReleases : public ::testing::Environment {
 public:
  void TearDown() override { SchemeEndToEnd::FreeShared(); }
};
const auto* const kFreeShared = ::testing::AddGlobalTestEnvironment(new FreeSharedReleases);

TEST_P(SchemeEndToEnd, CopiesKeepAccuracyWithinHalfAPoint) {
  const Released& r = Release();
  ASSERT_EQ(r.result.copies.size(), kLicensees.size());
  double base = TestAccuracy(Base());
  EXPECT_GT(base, 0.80);
  for (const auto& copy : r.result.copies) {
    double accuracy = TestAccuracy(copy.path);
    EXPECT_NEAR(accuracy, copy.accuracy, 1e-9) << "reported accuracy is the measured one";
    EXPECT_GE(accuracy, base - 0.005) << copy.licensee;
    EXPECT_EQ(copy.bits_with_margin, copy.bits);
    EXPECT_GE(copy.bits, 64) << "bits (or trigger keys) per licensee";
  }
}

TEST_P(SchemeEndToEnd, EachCopyTracesToExactlyItsLicensee) {
  for (const auto& copy : Release().result.copies) {
    TraceReport report = Trace(copy.path);
    ExpectAccused(report, {copy.licensee});
  }
}

TEST_P(SchemeEndToEnd, BaseAndIndependentModelsAccuseNobody) {
  ExpectAccused(Trace(Base()), {});
  for (uint64_t seed : {101, 102, 103}) {
    ExpectAccused(Trace(Independent(seed)), {});
  }
}

TEST_P(SchemeEndToEnd, CopyFineTunedTwoEpochsOnAttackerDataStillTraces) {
  const Released& r = Release();
  std::string attacked = FineTuned(r.Copy("initech"), *r.dir / "finetuned.pt", 2);
  EXPECT_GT(TestAccuracy(attacked), 0.80) << "the attack keeps the model useful";
  ExpectAccused(Trace(attacked), {"initech"});
}

TEST_P(SchemeEndToEnd, CopyPrunedByHalfStillTraces) {
  const Released& r = Release();
  std::string attacked = Pruned(r.Copy("umbrella"), *r.dir / "pruned.pt", 0.5);
  ExpectAccused(Trace(attacked), {"umbrella"});
}

TEST_P(SchemeEndToEnd, CopyQuantizedToInt8StillTraces) {
  const Released& r = Release();
  ExpectAccused(Trace(Quantized(r.Copy("globex"), *r.dir / "int8.pt")), {"globex"});
}

// Schemes whose averaged copies keep the colluders' fingerprints.
class SchemeCollusion : public SchemeEndToEnd {};

TEST_P(SchemeCollusion, AveragedCopiesNameExactlyTheColluders) {
  const Released& r = Release();
  ExpectAccused(Trace(Averaged({r.Copy("acme"), r.Copy("hooli")}, *r.dir / "avg2.pt")),
                {"acme", "hooli"});
  ExpectAccused(
      Trace(Averaged({r.Copy("acme"), r.Copy("globex"), r.Copy("initech")}, *r.dir / "avg3.pt")),
      {"acme", "globex", "initech"});
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.Name(); }

const std::vector<Case> kWeightCases = {
    {"deepmarks", "cnn", {}, ""},
    {"uchida", "cnn", {}, ""},
    {"deepmarks", "python-mlp", {}, ""},
    {"uchida", "python-mlp", {}, ""},
};

INSTANTIATE_TEST_SUITE_P(Weights, SchemeEndToEnd, ::testing::ValuesIn(kWeightCases), CaseName);
INSTANTIATE_TEST_SUITE_P(Weights, SchemeCollusion, ::testing::ValuesIn(kWeightCases), CaseName);

// DeepSigns with its defaults: white-box on the default layer (256 bits,
// random codes, 8 target classes) and black-box trigger keys (100 per copy).
const std::vector<Case> kActivationCases = {
    {"deepsigns", "cnn", {{"mode", "white"}}, "white"},
    {"deepsigns", "python-mlp", {{"mode", "white"}}, "white"},
    {"deepsigns", "cnn", {{"mode", "black"}}, "black"},
    {"deepsigns", "python-mlp", {{"mode", "black"}}, "black"},
};

INSTANTIATE_TEST_SUITE_P(Activations, SchemeEndToEnd, ::testing::ValuesIn(kActivationCases),
                         CaseName);

// GradSigns with its defaults (256 bits, random codes).
const std::vector<Case> kGradientCases = {
    {"gradsigns", "cnn", {}, ""},
    {"gradsigns", "python-mlp", {}, ""},
};

INSTANTIATE_TEST_SUITE_P(Gradients, SchemeEndToEnd, ::testing::ValuesIn(kGradientCases), CaseName);

// Averaging colluders are named through GradSigns' anti-collusion (bibd)
// codes: its soft bits are linear in the decoded gradients. On the MLP this
// held for every seed tried; on the CNN three averaged copies were named
// exactly for 3 of 4 seeds (the fourth named two of them), so the CNN is
// not listed.
const std::vector<Case> kGradientCollusionCases = {
    {"gradsigns", "python-mlp", {{"code", "bibd"}}, "bibd"},
};

INSTANTIATE_TEST_SUITE_P(Gradients, SchemeCollusion, ::testing::ValuesIn(kGradientCollusionCases),
                         CaseName);

}  // namespace
}  // namespace tracemark::testing
