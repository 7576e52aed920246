#include "tracemark/lab/attacks.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "tiny_models.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model.h"

namespace tracemark {
namespace {

using testing::MakeTinyLinear;

using Code = Status::Code;

// Copies of every parameter by name, detached from the model.
std::map<std::string, torch::Tensor> Snapshot(const torch::jit::Module& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) out[p.name] = p.value.clone();
  return out;
}

void ExpectUnchanged(const torch::jit::Module& model,
                     const std::map<std::string, torch::Tensor>& before) {
  for (const auto& [name, value] : Snapshot(model)) {
    EXPECT_TRUE(torch::equal(value, before.at(name))) << name << " changed";
  }
}

TEST(PruneTest, HalfZeroesHalfOfEveryWeightAndKeepsBiases) {
  torch::jit::Module model = MakeDemoCnn(11);
  auto before = Snapshot(model);
  ASSERT_TRUE(PruneByMagnitude(model, 0.5).ok());
  int weights = 0;
  for (const auto& [name, value] : Snapshot(model)) {
    const torch::Tensor& original = before.at(name);
    if (value.dim() < 2) {
      EXPECT_TRUE(torch::equal(value, original)) << name << " (a bias) was pruned";
      continue;
    }
    ++weights;
    torch::Tensor zero = value.eq(0);
    double fraction = zero.sum().item<double>() / static_cast<double>(value.numel());
    EXPECT_NEAR(fraction, 0.5, 0.01) << name;
    // The zeroed entries are the smallest in magnitude; the rest is intact.
    torch::Tensor kept = zero.logical_not();
    EXPECT_LE(original.abs().masked_select(zero).max().item<float>(),
              original.abs().masked_select(kept).min().item<float>())
        << name;
    EXPECT_TRUE(torch::equal(value.masked_select(kept), original.masked_select(kept))) << name;
  }
  EXPECT_EQ(weights, 4);
}

TEST(PruneTest, ZeroAndOneAreTheExtremes) {
  torch::jit::Module model = MakeDemoCnn(12);
  auto before = Snapshot(model);
  ASSERT_TRUE(PruneByMagnitude(model, 0.0).ok());
  ExpectUnchanged(model, before);

  ASSERT_TRUE(PruneByMagnitude(model, 1.0).ok());
  for (const auto& [name, value] : Snapshot(model)) {
    if (value.dim() >= 2) {
      EXPECT_TRUE(value.eq(0).all().item<bool>()) << name;
    } else {
      EXPECT_TRUE(torch::equal(value, before.at(name))) << name;
    }
  }
}

TEST(PruneTest, FractionOutsideUnitIntervalIsInvalidArgument) {
  torch::jit::Module model = MakeDemoCnn(13);
  auto before = Snapshot(model);
  for (double fraction : {-0.1, 1.01, 2.0, std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::infinity()}) {
    Status st = PruneByMagnitude(model, fraction);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << fraction;
  }
  ExpectUnchanged(model, before);
}

TEST(PruneTest, TiedMagnitudesPruneOnlyTheFraction) {
  torch::jit::Module model = MakeTinyLinear();  // weight: eight ones
  ASSERT_TRUE(PruneByMagnitude(model, 0.5).ok());
  torch::Tensor w = *FindParameter(model, "weight");
  EXPECT_EQ(w.eq(0).sum().item<int64_t>(), 4) << w;
}

TEST(AverageTest, TwoModelsGiveTheElementwiseMean) {
  torch::jit::Module a = MakeDemoCnn(21), b = MakeDemoCnn(22);
  auto pa = Snapshot(a), pb = Snapshot(b);
  auto average = AverageModels({a, b});
  ASSERT_TRUE(average.ok()) << average.status().message();
  auto avg = Snapshot(*average);
  ASSERT_EQ(avg.size(), pa.size());
  for (const auto& [name, value] : avg) {
    EXPECT_TRUE(torch::allclose(value, (pa.at(name) + pb.at(name)) / 2, 1e-6, 1e-7)) << name;
    EXPECT_FALSE(torch::equal(value, pa.at(name))) << name;
  }
  // The inputs are untouched, and the result owns its parameters.
  ExpectUnchanged(a, pa);
  ExpectUnchanged(b, pb);
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : average->parameters()) p.zero_();
  }
  ExpectUnchanged(a, pa);
  // The result is a working model.
  auto out = RunForward(*average, torch::zeros({1, 1, 28, 28}));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->sizes(), (std::vector<int64_t>{1, 10}));
}

TEST(AverageTest, ThreeModels) {
  torch::jit::Module a = MakeDemoCnn(31), b = MakeDemoCnn(32), c = MakeDemoCnn(33);
  auto pa = Snapshot(a), pb = Snapshot(b), pc = Snapshot(c);
  auto average = AverageModels({a, b, c});
  ASSERT_TRUE(average.ok()) << average.status().message();
  for (const auto& [name, value] : Snapshot(*average)) {
    EXPECT_TRUE(torch::allclose(value, (pa.at(name) + pb.at(name) + pc.at(name)) / 3, 1e-5, 1e-7))
        << name;
  }
}

TEST(AverageTest, NeedsAtLeastTwoModels) {
  EXPECT_EQ(AverageModels({}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(AverageModels({MakeDemoCnn(1)}).status().code(), Code::kInvalidArgument);
}

TEST(AverageTest, RejectsDifferentArchitectures) {
  auto average = AverageModels({MakeDemoCnn(1), MakeTinyLinear()});
  EXPECT_EQ(average.status().code(), Code::kInvalidArgument);
  EXPECT_NE(average.status().message().find("architecture"), std::string::npos)
      << average.status().message();
  EXPECT_EQ(AverageModels({MakeDemoCnn(1), MakeDemoCnn(2), MakeTinyLinear()}).status().code(),
            Code::kInvalidArgument);
}

TEST(QuantizeTest, WeightsLandOnTheInt8GridAndBiasesStay) {
  torch::jit::Module model = MakeDemoCnn(5);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model.named_parameters(true)) before[p.name] = p.value.clone();
  ASSERT_TRUE(QuantizeInt8(model).ok());
  for (const auto& p : model.named_parameters(true)) {
    const torch::Tensor& old = before.at(p.name);
    if (p.value.dim() < 2) {
      EXPECT_TRUE(torch::equal(p.value, old)) << p.name;
      continue;
    }
    double scale = old.abs().max().item<double>() / 127.0;
    auto levels = p.value / scale;
    EXPECT_LT((levels - levels.round()).abs().max().item<double>(), 1e-3) << p.name;
    EXPECT_LE((p.value - old).abs().max().item<double>(), scale / 2 + 1e-6) << p.name;
    EXPECT_LE(std::get<0>(torch::_unique(levels.round().flatten())).size(0), 255) << p.name;
  }
}

// Random images and labels in the demo CNN's input layout.
Dataset RandomImages(int64_t n, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  return Dataset{torch::rand({n, 1, 28, 28}, gen), torch::randint(0, 10, {n}, gen)};
}

TEST(RetrainLastLayerTest, ChangesOnlyTheHeadAndItsBias) {
  torch::jit::Module model = MakeDemoCnn(3);
  auto before = Snapshot(model);
  ASSERT_TRUE(RetrainLastLayer(model, RandomImages(256, 1), 1, 1e-2, 0).ok());
  std::vector<std::string> changed;
  for (const auto& [name, value] : Snapshot(model)) {
    if (!torch::equal(value, before.at(name))) changed.push_back(name);
  }
  EXPECT_EQ(changed, (std::vector<std::string>{"fc2.bias", "fc2.weight"}));
}

TEST(ShiftWeightsTest, MovesEveryFilterMeanByTheShiftAndKeepsBiases) {
  torch::jit::Module model = MakeDemoCnn(4);
  auto before = Snapshot(model);
  WeightShiftOptions options;
  options.noise = 0;
  options.epochs = 0;
  ASSERT_TRUE(ShiftWeights(model, RandomImages(8, 2), options).ok());
  for (const auto& [name, value] : Snapshot(model)) {
    const torch::Tensor& original = before.at(name);
    if (value.dim() < 2) {
      EXPECT_TRUE(torch::equal(value, original)) << name;
      continue;
    }
    // mean(w - 1.5 mean(w)) = -0.5 mean(w), filter by filter position.
    EXPECT_TRUE(torch::allclose(value.mean(0), original.mean(0) * -0.5, 1e-4, 1e-6)) << name;
  }
  options.shift = -1;
  EXPECT_EQ(ShiftWeights(model, RandomImages(8, 2), options).code(), Code::kInvalidArgument);
}

TEST(DistillIntoTest, StudentLearnsTheTeachersOutputs) {
  torch::jit::Module teacher = MakeDemoCnn(5);
  torch::jit::Module student = MakeDemoCnn(6);
  Dataset data = RandomImages(512, 3);
  auto divergence = [&] {
    torch::NoGradGuard no_grad;
    torch::Tensor t = torch::softmax(teacher.forward({data.images}).toTensor(), 1);
    torch::Tensor s = torch::log_softmax(student.forward({data.images}).toTensor(), 1);
    return torch::kl_div(s, t, at::Reduction::Mean).item<double>() * 10;
  };
  double before = divergence();
  auto teacher_weights = Snapshot(teacher);
  ASSERT_TRUE(DistillInto(teacher, student, data, 3, 2.0, 1e-3, 0).ok());
  double after = divergence();
  EXPECT_LT(after, before * 0.5) << "KL before " << before << ", after " << after;
  ExpectUnchanged(teacher, teacher_weights);
  EXPECT_EQ(DistillInto(teacher, student, data, 1, 0.0, 1e-3, 0).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tracemark
