// Activation taps and the deepsigns plugin beyond the shared end-to-end
// cases (schemes_e2e_test.cc): taps compared with manual computations on
// the demo CNN and on a CNN scripted in Python with nested Sequentials,
// BatchNorm, pooling and dropout (tests/python/make_nested_cnn.py);
// white-box releases tapped at three layers of that model, each copy traced
// to its licensee and still loading in Python and C++ with the base's
// forward; and the errors for bad layers, parameters and suspects.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/sdk/activation_tap.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/suspect.h"
#include "tracemark/store/key_store.h"

namespace tracemark::testing {
namespace {

// make_nested_cnn.py trained for one epoch on the owner's rows; cached.
std::string CachedNestedCnn() {
  std::string path = CacheDir() + "/python-nested-cnn-seed0-0_20000-1ep.pt";
  if (std::filesystem::exists(path)) return path;
  CommandResult r = RunCommand(
      {"/usr/bin/python3", SourceDir() + "/tests/python/make_nested_cnn.py", "--data",
       FashionMnist(), "--rows", "0:20000", "--seed", "0", "--epochs", "1", "--out", path});
  if (r.exit_code != 0) throw std::runtime_error("make_nested_cnn.py failed: " + r.err);
  return path;
}

torch::jit::Module Load(const std::string& path) {
  auto model = LoadModel(path);
  if (!model.ok()) throw std::runtime_error(model.status().message());
  return std::move(model).value();
}

// Python's view of a saved model: forward's schema without the class name
// (copies get a fresh, mangled one) and the output shape for 2 images.
std::string PythonView(const std::string& path) {
  CommandResult r = RunCommand(
      {"/usr/bin/python3", SourceDir() + "/tests/python/make_nested_cnn.py", "--check", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(r.out.find(" self"));
}

torch::Tensor Call(const torch::jit::Module& parent, const std::string& child,
                   const torch::Tensor& x) {
  return parent.attr(child).toModule().forward({x}).toTensor();
}

torch::Tensor RandomImages(int64_t n, uint64_t seed) {
  return torch::rand({n, 1, 28, 28}, at::detail::createCPUGenerator(seed));
}

TapOutput MustTap(const torch::jit::Module& model, const std::string& path,
                  const torch::Tensor& x) {
  auto tap = ActivationTap::Create(model, path);
  if (!tap.ok()) throw std::runtime_error(tap.status().message());
  auto out = tap->Forward(x);
  if (!out.ok()) throw std::runtime_error(out.status().message());
  return *out;
}

TEST(ActivationTapTest, MatchesManualComputationOnDemoCnn) {
  torch::jit::Module cnn = MakeDemoCnn(5);
  for (const auto& p : cnn.parameters()) p.set_requires_grad(true);
  torch::Tensor x = RandomImages(3, 1);
  torch::Tensor conv2 =
      Call(cnn, "conv2", torch::max_pool2d(torch::relu(Call(cnn, "conv1", x)), {2, 2}));
  torch::Tensor fc1 =
      Call(cnn, "fc1", torch::flatten(torch::max_pool2d(torch::relu(conv2), {2, 2}), 1));
  torch::Tensor logits = Call(cnn, "fc2", torch::relu(fc1));

  TapOutput at_conv2 = MustTap(cnn, "conv2", x);
  EXPECT_TRUE(torch::allclose(at_conv2.activation, conv2));
  EXPECT_TRUE(torch::allclose(at_conv2.output, logits));
  TapOutput at_fc1 = MustTap(cnn, "fc1", x);
  EXPECT_TRUE(torch::allclose(at_fc1.activation, fc1));

  // Gradients through the tap reach the model's own parameters.
  torch::Tensor weight = cnn.attr("conv1").toModule().attr("weight").toTensor();
  torch::Tensor tapped = torch::autograd::grad({at_fc1.activation.square().sum()}, {weight})[0];
  torch::Tensor manual = torch::autograd::grad({fc1.square().sum()}, {weight})[0];
  EXPECT_TRUE(torch::allclose(tapped, manual, 1e-4, 1e-6));
}

TEST(ActivationTapTest, MatchesManualComputationInNestedPythonModel) {
  torch::jit::Module model = Load(CachedNestedCnn());
  torch::Tensor x = RandomImages(4, 2);
  torch::jit::Module features = model.attr("features").toModule();
  torch::jit::Module block = features.attr("1").toModule();
  torch::Tensor after_block0 = Call(features, "0", x);
  torch::Tensor batch_norm = Call(block, "1", Call(block, "0", after_block0));
  torch::Tensor relu = Call(block, "2", batch_norm);
  torch::Tensor logits = model.forward({x}).toTensor();

  EXPECT_TRUE(torch::allclose(MustTap(model, "features.0", x).activation, after_block0));
  EXPECT_TRUE(torch::allclose(MustTap(model, "features.1.1", x).activation, batch_norm));
  TapOutput at_relu = MustTap(model, "features.1.2", x);
  EXPECT_TRUE(torch::allclose(at_relu.activation, relu));
  EXPECT_TRUE(torch::allclose(at_relu.output, logits));
  // Every submodule can be tapped, and the output is always forward's.
  for (const std::string& path : SubmodulePaths(model)) {
    EXPECT_TRUE(torch::allclose(MustTap(model, path, x).output, logits)) << path;
  }
  EXPECT_EQ(MustTap(model, "head.3", x).activation.sizes(), torch::IntArrayRef({4, 128}));
  EXPECT_EQ(MustTap(model, "features.1", x).activation.sizes(), torch::IntArrayRef({4, 32, 4, 4}));
}

TEST(ActivationTapTest, FollowsTrainModeAndLeavesModelUnchanged) {
  TempDir dir;
  torch::jit::Module model = Load(CachedNestedCnn());
  torch::Tensor x = RandomImages(8, 3);
  auto tap = ActivationTap::Create(model, "head.2");
  ASSERT_TRUE(tap.ok());
  torch::Tensor before = tap->Forward(x)->activation;
  model.train();  // BatchNorm1d now normalises with the batch's statistics
  torch::Tensor in_train = tap->Forward(x)->activation;
  EXPECT_NEAR(in_train.mean(0).abs().max().item<double>(), 0.0, 0.2);
  EXPECT_FALSE(torch::allclose(before, in_train));
  model.eval();
  ASSERT_TRUE(SaveModel(model, dir / "tapped.pt").ok());
  EXPECT_EQ(PythonView(dir / "tapped.pt"), PythonView(CachedNestedCnn()));
}

TEST(ActivationTapTest, DefaultLayerIsTheInputOfTheHead) {
  EXPECT_EQ(DefaultTapLayer(MakeDemoCnn(0)).value(), "fc1");
  EXPECT_EQ(DefaultTapLayer(Load(CachedPythonMlp(0, "0:20000", 2))).value(), "features.4");
  EXPECT_EQ(DefaultTapLayer(Load(CachedNestedCnn())).value(), "head.4");
}

TEST(ActivationTapTest, UnknownPathListsTheSubmodules) {
  torch::jit::Module model = Load(CachedNestedCnn());
  auto tap = ActivationTap::Create(model, "features.2");
  ASSERT_FALSE(tap.ok());
  EXPECT_EQ(tap.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(tap.status().message().find("no submodule 'features.2'"), std::string::npos);
  EXPECT_NE(tap.status().message().find("features, features.0, features.0.0, features.0.1"),
            std::string::npos)
      << tap.status().message();
  EXPECT_NE(tap.status().message().find("head.5"), std::string::npos);
}

class DeepSignsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plugins_ = new PluginHost();
    ASSERT_TRUE(plugins_->LoadDirectory(PluginDir()).ok());
    auto scheme = plugins_->Find("deepsigns");
    ASSERT_TRUE(scheme.ok()) << scheme.status().message();
    scheme_ = *scheme;
  }
  static void TearDownTestSuite() {
    delete plugins_;
    plugins_ = nullptr;
  }

  static StatusOr<std::string> Keygen(const torch::jit::Module& model, SchemeParams given,
                                      int bits) {
    SchemeParams params;
    TM_RETURN_IF_ERROR(scheme_->ResolveParams(given, &params));
    auto data = LoadDataset(FashionMnist() + "[0:2000]");
    if (!data.ok()) return data.status();
    std::string key;
    TM_RETURN_IF_ERROR(scheme_->Keygen(model, params, bits, 1, data->train, &key));
    return key;
  }

  static PluginHost* plugins_;
  static const Scheme* scheme_;
};
PluginHost* DeepSignsTest::plugins_ = nullptr;
const Scheme* DeepSignsTest::scheme_ = nullptr;

TEST_F(DeepSignsTest, RejectsBadParameters) {
  SchemeParams effective;
  for (const SchemeParams& bad : std::vector<SchemeParams>{{{"mode", "grey"}},
                                                           {{"targets", "1,1"}},
                                                           {{"targets", "a"}},
                                                           {{"layer", ""}},
                                                           {{"keys", "3"}},
                                                           {{"margin", "1.5"}},
                                                           {{"gamma", "1"}}}) {
    Status st = scheme_->ResolveParams(bad, &effective);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << bad.begin()->first;
  }
  ASSERT_TRUE(scheme_->ResolveParams({}, &effective).ok());
  EXPECT_EQ(effective.at("mode"), "white");
  EXPECT_EQ(effective.at("layer"), "auto");
}

TEST_F(DeepSignsTest, KeygenNamesValidLayersAndChecksCapacity) {
  torch::jit::Module model = Load(CachedNestedCnn());
  auto bad_layer = Keygen(model, {{"layer", "head.9"}}, 64);
  ASSERT_EQ(bad_layer.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad_layer.status().message().find("head.0, head.1, head.2"), std::string::npos)
      << bad_layer.status().message();
  // head.5 has 10 units: 2 bits per target class, 20 over all classes.
  auto too_many = Keygen(model, {{"layer", "head.5"}}, 64);
  EXPECT_EQ(too_many.status().code(), Status::Code::kFailedPrecondition);
  auto bad_target = Keygen(model, {{"targets", "10"}}, 16);
  EXPECT_EQ(bad_target.status().code(), Status::Code::kInvalidArgument);
}

// A deployed model as the scheme sees it: queries only.
class QueryOnlySuspect : public Suspect {
 public:
  explicit QueryOnlySuspect(torch::jit::Module* model) : inner_(model) {}
  torch::jit::Module* module() override { return nullptr; }
  Status Query(const at::Tensor& inputs, at::Tensor* outputs) override {
    return inner_.Query(inputs, outputs);
  }
  int64_t queries() const override { return inner_.queries(); }

 private:
  ModelSuspect inner_;
};

TEST_F(DeepSignsTest, ModesRefuseWhatTheyCannotDo) {
  torch::jit::Module model = MakeDemoCnn(0);
  auto white = Keygen(model, {}, 64);
  auto black = Keygen(model, {{"mode", "black"}}, 64);
  ASSERT_TRUE(white.ok()) << white.status().message();
  ASSERT_TRUE(black.ok()) << black.status().message();
  std::vector<float> soft;
  QueryOnlySuspect endpoint(&model);
  Status st = scheme_->Extract(endpoint, *white, &soft);
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(st.message().find("white-box mode needs the model file"), std::string::npos);
  ModelSuspect file(&model);
  EXPECT_TRUE(scheme_->Extract(file, *white, &soft).ok());
  EXPECT_EQ(soft.size(), 64u);
  EXPECT_EQ(scheme_->Extract(file, *black, &soft).code(), Status::Code::kFailedPrecondition);
  KeyMatches matches;
  EXPECT_EQ(scheme_->Score(file, *white, "", &matches).code(), Status::Code::kFailedPrecondition);
  // Another architecture does not fit the key.
  torch::jit::Module other = Load(CachedPythonMlp(0, "0:20000", 2));
  ModelSuspect wrong(&other);
  EXPECT_EQ(scheme_->Extract(wrong, *white, &soft).code(), Status::Code::kFailedPrecondition);
}

// White-box releases of the nested Python model tapped at three layers of
// different kinds: a ReLU after BatchNorm2d inside a nested conv block (a
// feature map), a Linear inside the head, and a ReLU after BatchNorm1d.
TEST_F(DeepSignsTest, WhiteBoxOnThreeLayersOfNestedPythonModelTracesEachCopy) {
  const std::string base_path = CachedNestedCnn();
  const std::string base_view = PythonView(base_path);
  torch::jit::Module base = Load(base_path);
  std::vector<std::string> base_methods;
  for (const auto& m : base.get_methods()) base_methods.push_back(m.name());
  for (const std::string layer : {"features.1.2", "head.1", "head.3"}) {
    SCOPED_TRACE(layer);
    TempDir dir;
    auto store = KeyStore::Open(dir / "keystore.db");
    ASSERT_TRUE(store.ok());
    ReleaseRequest request;
    request.model_path = base_path;
    request.model_name = "nested-cnn";
    request.version = "1";
    request.scheme = "deepsigns";
    request.data_spec = OwnerData();
    request.out_dir = dir / "dist";
    request.licensees = {"acme", "globex"};
    request.settings = {{"seed", "77"}, {"bits", "64"}, {"layer", layer}};
    auto result = ReleaseEngine(store->get(), plugins_).Release(request);
    ASSERT_TRUE(result.ok()) << result.status().message();
    TraceEngine tracer(store->get(), plugins_);
    for (const CopyResult& copy : result->copies) {
      EXPECT_GE(copy.accuracy, result->base_accuracy - 0.005);
      auto report = tracer.Trace(copy.path);
      ASSERT_TRUE(report.ok()) << report.status().message();
      EXPECT_EQ(report->accused, std::vector<std::string>{copy.licensee}) << ToText(*report);
      EXPECT_LE(report->candidates.front().p_value, 1e-6);
      std::printf("%s %s: %d/%d bits, p = %.3g, %d steps, %.1fs\n", layer.c_str(),
                  copy.licensee.c_str(), report->candidates.front().matches,
                  report->candidates.front().bits, report->candidates.front().p_value, copy.steps,
                  copy.seconds);
      // The copy keeps the base's forward, methods and output, in Python and C++.
      EXPECT_EQ(PythonView(copy.path), base_view);
      torch::jit::Module loaded = Load(copy.path);
      std::vector<std::string> methods;
      for (const auto& m : loaded.get_methods()) methods.push_back(m.name());
      EXPECT_EQ(methods, base_methods);
      auto out = RunForward(loaded, RandomImages(2, 4));
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(out->sizes(), torch::IntArrayRef({2, 10}));
    }
    auto base_report = tracer.Trace(base_path);
    ASSERT_TRUE(base_report.ok());
    EXPECT_TRUE(base_report->accused.empty()) << ToText(*base_report);
  }
}

}  // namespace
}  // namespace tracemark::testing
