#include "tracemark/sdk/model.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test_files.h"
#include "tiny_models.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/sdk/weight_carrier.h"

namespace tracemark {
namespace {

using testing::MakeTinyLinear;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

namespace fs = std::filesystem;
using Code = Status::Code;

void WriteFileOrFail(const std::string& path, const std::string& bytes) {
  ASSERT_TRUE(WriteBytes(path, bytes)) << path;
}

torch::Tensor FixedInput() {
  torch::Generator gen = at::detail::createCPUGenerator(7);
  return torch::rand({3, 1, 28, 28}, gen);
}

void ExpectOneLine(const Status& st) {
  EXPECT_FALSE(st.message().empty());
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

TEST(ModelTest, LoadMissingFileIsNotFound) {
  TempDir dir;
  auto loaded = LoadModel(dir / "missing.pt");
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_NE(loaded.status().message().find("missing.pt"), std::string::npos);
}

TEST(ModelTest, LoadTextFileIsInvalidArgument) {
  TempDir dir;
  WriteFileOrFail(dir / "model.pt", "def forward(x): return x\n");
  auto loaded = LoadModel(dir / "model.pt");
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  ExpectOneLine(loaded.status());
  EXPECT_NE(loaded.status().message().find(dir / "model.pt"), std::string::npos);
}

TEST(ModelTest, LoadTruncatedArchiveIsInvalidArgument) {
  TempDir dir;
  ASSERT_TRUE(SaveModel(MakeDemoCnn(1), dir / "full.pt").ok());
  std::string bytes = ReadBytes(dir / "full.pt");
  ASSERT_GT(bytes.size(), 1000u);
  WriteFileOrFail(dir / "half.pt", bytes.substr(0, bytes.size() / 2));
  auto loaded = LoadModel(dir / "half.pt");
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  ExpectOneLine(loaded.status());
}

TEST(ModelTest, LoadDirectoryIsInvalidArgument) {
  TempDir dir;
  auto loaded = LoadModel(dir.path());
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  ExpectOneLine(loaded.status());
  EXPECT_NE(loaded.status().message().find("directory"), std::string::npos);
}

TEST(ModelTest, LoadTorchSavePickleIsInvalidArgument) {
  TempDir dir;
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("x", torch::zeros({2, 2}));
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  WriteFileOrFail(dir / "data.pt", std::string(bytes.begin(), bytes.end()));
  StatusOr<torch::jit::Module> loaded = Status::Internal("not run");
  EXPECT_NO_THROW(loaded = LoadModel(dir / "data.pt"));
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument) << loaded.status().message();
  ExpectOneLine(loaded.status());
}

TEST(ModelTest, LoadArchiveWithoutForwardIsInvalidArgument) {
  TempDir dir;
  torch::jit::Module m("NoForward");
  m.register_parameter("weight", torch::ones({2, 2}), false);
  ASSERT_TRUE(SaveModel(m, dir / "noforward.pt").ok());
  auto loaded = LoadModel(dir / "noforward.pt");
  EXPECT_EQ(loaded.status().code(), Code::kInvalidArgument);
  ExpectOneLine(loaded.status());
  EXPECT_NE(loaded.status().message().find("forward"), std::string::npos);
}

TEST(ModelTest, SaveLoadRoundTripPreservesParametersAndOutputs) {
  TempDir dir;
  torch::jit::Module original = MakeDemoCnn(3);
  ASSERT_TRUE(SaveModel(original, dir / "model.pt").ok());
  // Only the final file remains (no temporary left behind).
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);

  auto loaded = LoadModel(dir / "model.pt");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto a = ParameterShapes(original), b = ParameterShapes(*loaded);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    auto pa = FindParameter(original, a[i].name), pb = FindParameter(*loaded, a[i].name);
    ASSERT_TRUE(pa.ok() && pb.ok());
    EXPECT_TRUE(torch::equal(*pa, *pb)) << a[i].name;
  }
  auto out_a = RunForward(original, FixedInput());
  auto out_b = RunForward(*loaded, FixedInput());
  ASSERT_TRUE(out_a.ok() && out_b.ok());
  EXPECT_EQ(out_a->sizes(), (std::vector<int64_t>{3, 10}));
  EXPECT_TRUE(torch::equal(*out_a, *out_b));
}

TEST(ModelTest, SaveOverwritesExistingFile) {
  TempDir dir;
  ASSERT_TRUE(SaveModel(MakeDemoCnn(1), dir / "model.pt").ok());
  torch::jit::Module second = MakeDemoCnn(2);
  ASSERT_TRUE(SaveModel(second, dir / "model.pt").ok());
  auto loaded = LoadModel(dir / "model.pt");
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(
      torch::equal(*FindParameter(*loaded, "fc1.weight"), *FindParameter(second, "fc1.weight")));
}

TEST(ModelTest, SaveIntoMissingDirectoryFails) {
  TempDir dir;
  Status st = SaveModel(MakeDemoCnn(1), dir / "no/such/dir/model.pt");
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(fs::exists(dir / "no"));
}

TEST(ModelTest, DemoCnnIsDeterministicPerSeed) {
  auto a = MakeDemoCnn(5), b = MakeDemoCnn(5), c = MakeDemoCnn(6);
  EXPECT_TRUE(torch::equal(*FindParameter(a, "conv1.weight"), *FindParameter(b, "conv1.weight")));
  EXPECT_FALSE(torch::equal(*FindParameter(a, "conv1.weight"), *FindParameter(c, "conv1.weight")));
}

TEST(ModelTest, ArchitectureSignatureDependsOnShapesOnly) {
  std::string s1 = ArchitectureSignature(MakeDemoCnn(1));
  std::string s2 = ArchitectureSignature(MakeDemoCnn(2));
  std::string tiny = ArchitectureSignature(MakeTinyLinear());
  EXPECT_EQ(s1.size(), 64u);
  EXPECT_EQ(s1.find_first_not_of("0123456789abcdef"), std::string::npos) << s1;
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, tiny);
}

TEST(ModelTest, ArchitectureSignatureSeesShapeChange) {
  torch::jit::Module wider("TinyLinear");
  wider.register_parameter("weight", torch::ones({3, 4}), false);
  wider.register_parameter("bias", torch::zeros({3}), false);
  EXPECT_NE(ArchitectureSignature(wider), ArchitectureSignature(MakeTinyLinear()));
}

TEST(ModelTest, ParameterShapesOfDemoCnn) {
  auto shapes = ParameterShapes(MakeDemoCnn(1));
  ASSERT_EQ(shapes.size(), 8u);
  EXPECT_EQ(shapes[0].name, "conv1.weight");
  EXPECT_EQ(shapes[0].shape, (std::vector<int64_t>{16, 1, 3, 3}));
  EXPECT_EQ(shapes[4].name, "fc1.weight");
  EXPECT_EQ(shapes[4].shape, (std::vector<int64_t>{128, 1568}));
}

TEST(ModelTest, CloneIsIndependent) {
  torch::jit::Module original = MakeDemoCnn(4);
  torch::Tensor before = FindParameter(original, "fc1.weight")->clone();
  torch::Tensor bias_before = FindParameter(original, "fc2.bias")->clone();
  torch::jit::Module copy = CloneModel(original);
  EXPECT_EQ(ArchitectureSignature(copy), ArchitectureSignature(original));
  {
    torch::NoGradGuard no_grad;
    FindParameter(copy, "fc1.weight")->fill_(0.25);
    FindParameter(copy, "fc2.bias")->add_(1.0);
  }
  EXPECT_TRUE(torch::equal(*FindParameter(original, "fc1.weight"), before));
  EXPECT_TRUE(torch::equal(*FindParameter(original, "fc2.bias"), bias_before));
  EXPECT_TRUE(FindParameter(copy, "fc1.weight")->eq(0.25).all().item<bool>());
  // And the other way round.
  {
    torch::NoGradGuard no_grad;
    FindParameter(original, "conv1.weight")->zero_();
  }
  EXPECT_FALSE(FindParameter(copy, "conv1.weight")->eq(0).all().item<bool>());
}

TEST(ModelTest, FindParameterUnknownListsNames) {
  auto p = FindParameter(MakeDemoCnn(1), "fc3.weight");
  EXPECT_EQ(p.status().code(), Code::kNotFound);
  EXPECT_NE(p.status().message().find("fc3.weight"), std::string::npos);
  EXPECT_NE(p.status().message().find("conv2.bias"), std::string::npos) << p.status().message();
}

TEST(ModelTest, RunForwardRejectsWrongShape) {
  torch::jit::Module model = MakeDemoCnn(1);
  for (const auto& shape : {std::vector<int64_t>{2, 3, 28, 28}, std::vector<int64_t>{2, 1, 14, 14},
                            std::vector<int64_t>{5}}) {
    auto out = RunForward(model, torch::zeros(shape));
    std::string shape_text = c10::str(c10::IntArrayRef(shape));
    EXPECT_EQ(out.status().code(), Code::kInvalidArgument) << shape_text;
    ExpectOneLine(out.status());
    EXPECT_NE(out.status().message().find(shape_text), std::string::npos) << out.status().message();
  }
  auto ok = RunForward(model, torch::zeros({2, 1, 28, 28}));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(ModelTest, RunForwardRejectsNonTensorOutput) {
  torch::jit::Module m("PairOut");
  m.define(
      "def forward(self, x):\n"
      "    return (x, x)\n");
  auto out = RunForward(m, torch::zeros({1}));
  EXPECT_EQ(out.status().code(), Code::kInvalidArgument);
  ExpectOneLine(out.status());
}

// Weight carriers (weight_carrier.h).

TEST(WeightCarrierTest, AutoPicksLargestHiddenWeight) {
  auto carrier = ChooseWeightCarrier(MakeDemoCnn(1), "auto");
  ASSERT_TRUE(carrier.ok()) << carrier.status().message();
  EXPECT_EQ(carrier->parameter, "fc1.weight");
  EXPECT_EQ(carrier->size, 1568);
}

TEST(WeightCarrierTest, NamedWeight) {
  auto carrier = ChooseWeightCarrier(MakeDemoCnn(1), "conv2.weight");
  ASSERT_TRUE(carrier.ok()) << carrier.status().message();
  EXPECT_EQ(carrier->parameter, "conv2.weight");
  EXPECT_EQ(carrier->size, 16 * 3 * 3);
}

TEST(WeightCarrierTest, UnknownNameListsWeights) {
  auto carrier = ChooseWeightCarrier(MakeDemoCnn(1), "fc9.weight");
  EXPECT_EQ(carrier.status().code(), Code::kInvalidArgument);
  const std::string& msg = carrier.status().message();
  EXPECT_NE(msg.find("fc9.weight"), std::string::npos) << msg;
  for (const char* name : {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}) {
    EXPECT_NE(msg.find(name), std::string::npos) << name << " missing from: " << msg;
  }
  EXPECT_EQ(msg.find("bias"), std::string::npos) << msg;
}

TEST(WeightCarrierTest, BiasIsRejected) {
  auto carrier = ChooseWeightCarrier(MakeDemoCnn(1), "fc1.bias");
  EXPECT_EQ(carrier.status().code(), Code::kInvalidArgument);
  EXPECT_NE(carrier.status().message().find("rank 1"), std::string::npos)
      << carrier.status().message();
}

TEST(WeightCarrierTest, AutoNeedsAHiddenLayer) {
  auto carrier = ChooseWeightCarrier(MakeTinyLinear(), "auto");
  EXPECT_EQ(carrier.status().code(), Code::kInvalidArgument);
}

TEST(WeightCarrierTest, CarrierVectorAveragesOutputFilters) {
  torch::Tensor w = torch::arange(12, torch::kFloat32).reshape({3, 2, 2});
  torch::Tensor v = CarrierVector(w);
  EXPECT_EQ(v.sizes(), (std::vector<int64_t>{4}));
  EXPECT_TRUE(torch::allclose(v, torch::tensor({4.0f, 5.0f, 6.0f, 7.0f})));
}

TEST(WeightCarrierTest, ReadCarrierChecksArchitecture) {
  auto carrier = ChooseWeightCarrier(MakeDemoCnn(1), "auto");
  ASSERT_TRUE(carrier.ok());
  auto w = ReadCarrier(MakeDemoCnn(2), *carrier);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(w->sizes(), (std::vector<int64_t>{128, 1568}));
  EXPECT_EQ(ReadCarrier(MakeTinyLinear(), *carrier).status().code(), Code::kFailedPrecondition);
  WeightCarrier wrong_size = *carrier;
  wrong_size.size = 100;
  EXPECT_EQ(ReadCarrier(MakeDemoCnn(2), wrong_size).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace tracemark
