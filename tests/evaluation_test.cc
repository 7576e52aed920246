// The evaluation harness (bench/evaluation.h) on a reduced configuration:
// Uchida on the MLP, three licensees, three null models. It checks the
// harness against attacks with known outcomes — int8 quantization must
// leave a weight mark traceable, distillation into a freshly initialised
// student must remove it (the student's weights never carried it),
// overwriting must move the licensee's bits — and that every cell the
// report reads is filled.
#include "tracemark/lab/evaluation.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace tracemark::testing {
namespace {

using json = nlohmann::json;

class EvaluationHarness : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    evaluation::Config config;
    config.data = FashionMnist();
    config.owner_rows = "0:10000";
    config.null_rows = "20000:30000";
    config.attacker_rows = "40000:45000";
    config.plugins = PluginDir();
    config.work = dir_->path();
    config.architectures = {"mlp"};
    config.runs = {"uchida"};
    config.attacks = {"int8", "distill", "average", "overwrite"};
    config.licensees = 3;
    config.base_epochs = 1;
    config.null_models = 3;
    config.colluders = {2};
    config.distill_epochs = 2;
    config.scaling_licensees = {1, 10};
    auto doc = evaluation::Run(
        config, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
    ASSERT_TRUE(doc.ok()) << doc.status().message();
    doc_ = new json(std::move(doc).value());
  }
  static void TearDownTestSuite() {
    delete doc_;
    delete dir_;
  }

  static const json& Run() { return doc_->at("runs").at(0); }
  static const json& AttackRow(const std::string& attack) {
    for (const json& row : Run().at("attacks")) {
      if (row.at("attack") == attack) return row;
    }
    throw std::runtime_error("no row for " + attack);
  }

  static TempDir* dir_;
  static json* doc_;
};

TempDir* EvaluationHarness::dir_ = nullptr;
json* EvaluationHarness::doc_ = nullptr;

TEST_F(EvaluationHarness, ReleasesAndTracesEveryCopy) {
  ASSERT_FALSE(Run().contains("error")) << Run().dump();
  EXPECT_EQ(Run().at("scheme"), "uchida");
  EXPECT_GT(doc_->at("architectures").at("mlp").at("base_accuracy").get<double>(), 0.7);
  ASSERT_EQ(Run().at("copies").size(), 3u);
  for (const json& copy : Run().at("copies")) {
    EXPECT_TRUE(copy.at("traced").get<bool>()) << copy.dump();
    EXPECT_TRUE(copy.at("innocent_accused").empty()) << copy.dump();
    EXPECT_GT(copy.at("accuracy").get<double>(), 0.7);
  }
  EXPECT_GT(Run().at("embed_seconds").get<double>(), 0);
  EXPECT_GT(Run().at("embed_epochs").get<double>(), 0);
  EXPECT_GE(Run().at("trace_load_ratio").get<double>(), 1.0);
}

TEST_F(EvaluationHarness, QuantizationLeavesTheMark) {
  const json& row = AttackRow("int8");
  ASSERT_FALSE(row.contains("error")) << row.dump();
  EXPECT_TRUE(row.at("traced").get<bool>()) << row.dump();
  EXPECT_LE(row.at("p_value").get<double>(), 1e-6);
  EXPECT_GE(row.at("bit_accuracy").get<double>(), 0.95);
  EXPECT_TRUE(row.at("innocent_accused").empty());
}

TEST_F(EvaluationHarness, DistillationIntoAFreshStudentRemovesTheMark) {
  const json& row = AttackRow("distill");
  ASSERT_FALSE(row.contains("error")) << row.dump();
  EXPECT_FALSE(row.at("traced").get<bool>()) << row.dump();
  EXPECT_TRUE(row.at("accused").empty()) << row.dump();
  EXPECT_LT(row.at("bit_accuracy").get<double>(), 0.75);
  EXPECT_GT(row.at("p_value").get<double>(), 1e-3);
  // The student still does the task: the mark is gone, not the model.
  EXPECT_GT(row.at("accuracy").get<double>(), 0.6);
}

TEST_F(EvaluationHarness, AveragingNamesNoInnocent) {
  const json& row = AttackRow("average");
  ASSERT_FALSE(row.contains("error")) << row.dump();
  EXPECT_EQ(row.at("parameter"), "2 copies");
  EXPECT_TRUE(row.at("innocent_accused").empty()) << row.dump();
}

TEST_F(EvaluationHarness, OverwritingEmbedsTheAttackersOwnMark) {
  const json& row = AttackRow("overwrite");
  ASSERT_FALSE(row.contains("error")) << row.dump();
  EXPECT_FALSE(row.contains("attack_note")) << row.dump();  // the attacker's loop converged
  // A second mark in the same carrier moves the licensee's bits...
  EXPECT_LT(row.at("bit_accuracy").get<double>(), 1.0);
  EXPECT_TRUE(row.at("innocent_accused").empty()) << row.dump();
  // ...within the attacker's accuracy budget of one point.
  EXPECT_GT(row.at("accuracy").get<double>(),
            AttackRow("int8").at("accuracy").get<double>() - 0.02);
}

TEST_F(EvaluationHarness, NullModelsAccuseNobody) {
  const json& null = Run().at("null");
  EXPECT_EQ(null.at("models").get<int>(), 3);
  EXPECT_EQ(null.at("false_accusations").get<int>(), 0);
  EXPECT_EQ(null.at("min_p_values").size(), 3u);
  EXPECT_GT(null.at("min_p_value").get<double>(), 1e-6);
}

TEST_F(EvaluationHarness, MeasuresTraceTimeAgainstStoreSize) {
  const json& scaling = Run().at("scaling");
  ASSERT_EQ(scaling.size(), 2u);
  for (const json& row : scaling) {
    ASSERT_FALSE(row.contains("error")) << row.dump();
    EXPECT_GT(row.at("trace_seconds").get<double>(), 0);
  }
  EXPECT_EQ(scaling[0].at("hypotheses").get<int>(), 1);
  EXPECT_EQ(scaling[1].at("hypotheses").get<int>(), 10);
}

TEST(EvaluationConfig, RefusesUnknownAttacksAndArchitectures) {
  TempDir dir;
  evaluation::Config config;
  config.data = FashionMnist();
  config.plugins = PluginDir();
  config.work = dir.path();
  config.attacks = {"melt"};
  auto doc = evaluation::Run(config, [](const std::string&) {});
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("unknown attack melt"), std::string::npos);
  config.attacks = {};
  config.architectures = {"transformer"};
  doc = evaluation::Run(config, [](const std::string&) {});
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("unknown architecture transformer"), std::string::npos);
}

}  // namespace
}  // namespace tracemark::testing
