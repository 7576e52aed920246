// The `tracemark` command-line contract, run as a user runs it: output
// formats, exit codes, and bad input giving one clear line, a non-zero exit
// and an untouched key store.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tracemark/base/file_util.h"
#include "tracemark/store/key_store.h"
#include "tracemark/store/states.h"

namespace tracemark::testing {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    base_ = new std::string(CachedDemoCnn(0, OwnerData(), 2));
    CommandResult r = Run({"release", *base_, "--name", "fashion-cnn", "--version", "1", "--scheme",
                           "deepmarks", "--licensees", "acme,globex", "--data", OwnerData(),
                           "--out", Out(), "--set", "seed=7", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    release_ = new nlohmann::json(nlohmann::json::parse(r.out));
  }
  static void TearDownTestSuite() {
    delete release_;
    delete base_;
    delete dir_;
  }

  static std::string State() { return *dir_ / "state"; }
  static std::string Out() { return *dir_ / "dist"; }

  static CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {CliPath(), "--state", State(), "--plugins", PluginDir()});
    return RunCommand(args);
  }

  // A snapshot of what the key store holds, to show a command changed nothing.
  static std::string StoreSnapshot() {
    auto store = KeyStore::Open(State() + "/keystore.db");
    EXPECT_TRUE(store.ok());
    nlohmann::json snap;
    for (const auto& l : (*store)->ListLicensees().value()) snap["licensees"].push_back(l.name);
    for (const auto& r : (*store)->ListReleases().value()) {
      snap["releases"].push_back({r.id, r.model, r.version, Name(r.status)});
      for (const auto& c : (*store)->ListCopies(r.id).value()) {
        snap["copies"].push_back({c.licensee, Name(c.status), c.sha256});
      }
    }
    return snap.dump();
  }

  // Asserts the command failed with exactly one "tracemark: ..." line and
  // left the store as it was.
  static void ExpectCleanFailure(const std::vector<std::string>& args, const std::string& needle) {
    std::string before = StoreSnapshot();
    CommandResult r = Run(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.exit_code, 3) << "3 means 'nobody accused', not an error";
    EXPECT_EQ(r.err.rfind("tracemark: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(StoreSnapshot(), before);
  }

  static std::vector<std::string> ReleaseArgs(const std::string& model, const std::string& data,
                                              const std::string& setting = "bits=256") {
    return {"release", model,      "--name",    "other",           "--version",
            "9",       "--scheme", "deepmarks", "--licensees",     "acme,newcomer",
            "--data",  data,       "--out",     *dir_ / "bad-out", "--set",
            setting};
  }

  static TempDir* dir_;
  static std::string* base_;
  static nlohmann::json* release_;
};

TempDir* CliTest::dir_ = nullptr;
std::string* CliTest::base_ = nullptr;
nlohmann::json* CliTest::release_ = nullptr;

TEST_F(CliTest, ReleaseJsonDescribesEveryCopy) {
  const auto& copies = (*release_)["copies"];
  ASSERT_EQ(copies.size(), 2u);
  for (const auto& c : copies) {
    std::string path = c["path"];
    EXPECT_EQ(path, fs::absolute(Out() + "/" + c["licensee"].get<std::string>() + "/" +
                                 fs::path(*base_).filename().string()));
    EXPECT_EQ(c["sha256"], Sha256File(path).value());
    EXPECT_EQ(c["bits"], (*release_)["bits"]);
    EXPECT_GT(c["accuracy"].get<double>(), 0.8);
    EXPECT_GT(c["seconds"].get<double>(), 0.0);
  }
  EXPECT_EQ((*release_)["code"], "bibd");
}

TEST_F(CliTest, TraceJsonNamesTheLicenseeAndExitsZero) {
  CommandResult r =
      Run({"trace", Out() + "/globex/" + fs::path(*base_).filename().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["verdict"], "attributed");
  EXPECT_EQ(report["accused"], nlohmann::json::array({"globex"}));
  const auto& top = report["candidates"][0];
  EXPECT_EQ(top["licensee"], "globex");
  EXPECT_LE(top["p_value"].get<double>(), 1e-6);
  EXPECT_EQ(top["scheme"], "deepmarks");
  EXPECT_EQ(top["release"]["version"], "1");
  EXPECT_EQ(top["matches"], top["bits"]);
}

TEST_F(CliTest, ASuspectWhoseNameIsNotUtf8IsTracedAndShownEscaped) {
  const std::string odd = *dir_ / "caf\xe9.pt";
  fs::copy_file(Out() + "/globex/" + fs::path(*base_).filename().string(), odd,
                fs::copy_options::overwrite_existing);
  CommandResult r = Run({"trace", odd, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = nlohmann::json::parse(r.out);  // throws (fails the test) if not valid JSON
  EXPECT_EQ(report["suspect"], std::string(*dir_ / "caf\\xe9.pt"));
  EXPECT_EQ(report["accused"], nlohmann::json::array({"globex"}));
  r = Run({"trace", odd});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("caf\\xe9.pt"), std::string::npos) << r.out;
}

TEST_F(CliTest, TraceOfTheBaseModelExitsThreeAndAccusesNobody) {
  CommandResult r = Run({"trace", *base_, "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["verdict"], "not-ours");
  EXPECT_TRUE(report["accused"].empty());
}

TEST_F(CliTest, TraceOfAnotherArchitectureIsNotOursWithANote) {
  std::string mlp = CachedPythonMlp(0, "0:20000", 2);
  CommandResult r = Run({"trace", mlp, "--json"});
  EXPECT_EQ(r.exit_code, 3);
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["releases_tested"], 0);
  EXPECT_NE(report["notes"].dump().find("architecture"), std::string::npos);
}

TEST_F(CliTest, LicenseesAndSchemesAreListed) {
  CommandResult r = Run({"licensee", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  auto names = nlohmann::json::parse(r.out);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0]["name"], "acme");
  r = Run({"schemes", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  auto schemes = nlohmann::json::parse(r.out);
  std::vector<std::string> scheme_names;
  for (const auto& s : schemes) {
    scheme_names.push_back(s["name"]);
    EXPECT_FALSE(s["params"].empty()) << s["name"];
    const auto kinds = s["model_kinds"].get<std::vector<std::string>>();
    EXPECT_EQ(kinds,
              std::vector<std::string>{s["name"] == "barrier" ? "image-to-image" : "classifier"})
        << s["name"];
  }
  EXPECT_EQ(scheme_names,
            (std::vector<std::string>{"barrier", "deepmarks", "deepsigns", "gradsigns", "uchida"}));
}

TEST_F(CliTest, DuplicateLicenseeIsAnError) {
  ExpectCleanFailure({"licensee", "add", "acme"}, "already exists");
}

TEST_F(CliTest, FileThatIsNotAModelIsRefused) {
  std::string text = *dir_ / "notes.pt";
  std::ofstream(text) << "this is not a model\n";
  ExpectCleanFailure(ReleaseArgs(text, OwnerData()), "not a readable TorchScript model");
  ExpectCleanFailure({"trace", text}, "not a readable TorchScript model");
}

TEST_F(CliTest, TruncatedModelIsRefused) {
  std::string bytes = ReadFile(*base_).value();
  std::string truncated = *dir_ / "truncated.pt";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  ExpectCleanFailure(ReleaseArgs(truncated, OwnerData()), "not a readable TorchScript model");
  ExpectCleanFailure({"trace", truncated}, "not a readable TorchScript model");
}

TEST_F(CliTest, MissingModelAndMissingDatasetAreRefused) {
  ExpectCleanFailure(ReleaseArgs(*dir_ / "absent.pt", OwnerData()), "no such model file");
  ExpectCleanFailure({"trace", *dir_ / "absent.pt"}, "no such model file");
  ExpectCleanFailure(ReleaseArgs(*base_, *dir_ / "no-such-data"), "no such dataset");
}

TEST_F(CliTest, ModelThatDoesNotFitTheDatasetIsRefused) {
  // An MLP is fine on Fashion-MNIST; a dataset of 3-channel 8x8 images is not.
  std::string python_mlp = CachedPythonMlp(0, "0:20000", 2);
  std::string data = *dir_ / "rgb.pt";
  CommandResult made =
      RunCommand({"/usr/bin/python3", "-c",
                  "import torch,sys; torch.save({'x': torch.rand(20,3,8,8), 'y': torch.zeros(20, "
                  "dtype=torch.long)}, sys.argv[1])",
                  data});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ExpectCleanFailure(ReleaseArgs(python_mlp, data), "model does not fit dataset");
}

TEST_F(CliTest, BadSettingsAreRefused) {
  ExpectCleanFailure(ReleaseArgs(*base_, OwnerData(), "no_such_knob=1"),
                     "unknown parameter 'no_such_knob'");
  ExpectCleanFailure(ReleaseArgs(*base_, OwnerData(), "strength=-3"), "strength=-3");
  ExpectCleanFailure(ReleaseArgs(*base_, OwnerData(), "bits=lots"), "bits=lots");
  ExpectCleanFailure(ReleaseArgs(*base_, OwnerData(), "novalue"), "expected key=value");
  ExpectCleanFailure(ReleaseArgs(*base_, OwnerData(), "layer=fc9.weight"), "no weight named");
}

TEST_F(CliTest, CodesTooShortForAVerdictAreRefused) {
  auto args = ReleaseArgs(*base_, OwnerData(), "bits=16");
  args[7] = "uchida";  // random codes: 16 bits cannot keep two licensees apart
  ExpectCleanFailure(args, "bits are too few");
}

TEST_F(CliTest, DatasetSavedByPythonTorchSaveIsRead) {
  std::string data = *dir_ / "python-data.pt";
  CommandResult made = RunCommand(
      {"/usr/bin/python3", "-c",
       "import torch,sys; torch.manual_seed(0); torch.save({'x': torch.randint(0, 256, (500, 28, "
       "28), dtype=torch.uint8), 'y': torch.randint(0, 10, (500,))}, sys.argv[1])",
       data});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  CommandResult r =
      RunCommand({LabPath(), "train", "--data", data, "--epochs", "1", "--out", *dir_ / "py.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("on 450 images"), std::string::npos) << r.out << " (90 % train split)";
}

TEST_F(CliTest, UnknownSchemeAndDuplicateReleaseAreRefused) {
  auto args = ReleaseArgs(*base_, OwnerData());
  args[7] = "nosuchscheme";
  ExpectCleanFailure(args, "no scheme 'nosuchscheme'");
  ExpectCleanFailure(
      {"release", *base_, "--name", "fashion-cnn", "--version", "1", "--scheme", "deepmarks",
       "--licensees", "acme", "--data", OwnerData(), "--out", *dir_ / "again"},
      "already exists");
}

TEST_F(CliTest, BadEndpointArgumentsAreUsageErrors) {
  ExpectCleanFailure({"trace", "--endpoint", "https://example.com", "--model", "m"},
                     "https is not supported");
  ExpectCleanFailure({"trace", "--endpoint", "http://127.0.0.1:1"}, "--model");
  ExpectCleanFailure({"trace", *base_, "--endpoint", "http://127.0.0.1:1", "--model", "m"},
                     "or --endpoint URL --model NAME");
  ExpectCleanFailure(
      {"trace", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--max-queries", "0"},
      "max_queries must be positive");
  ExpectCleanFailure(
      {"trace", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--timeout", "soon"},
      "take numbers");
  EXPECT_EQ(Run({"trace", "--endpoint", "ftp://x", "--model", "m"}).exit_code, 2);
}

TEST_F(CliTest, EndpointWithOnlyWhiteBoxReleasesIsNotOursWithANote) {
  // Every release here is DeepMarks/Uchida (weights): nothing to query, so
  // even an unreachable endpoint is answered without a query.
  CommandResult r = Run({"trace", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["verdict"], "not-ours");
  EXPECT_EQ(report["queries"], 0);
  EXPECT_EQ(report["notes"][0], "no release uses a scheme that can be traced from queries");
}

TEST_F(CliTest, EmbeddingThatCannotConvergeMarksTheReleaseFailed) {
  CommandResult r = Run({"release", *base_, "--name", "fashion-cnn", "--version", "stuck",
                         "--scheme", "uchida", "--licensees", "acme", "--data", OwnerData(),
                         "--out", *dir_ / "stuck", "--set", "max_steps=30", "--set", "margin=50"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("did not converge in 30 steps"), std::string::npos) << r.err;
  auto store = KeyStore::Open(State() + "/keystore.db");
  ASSERT_TRUE(store.ok());
  auto releases = (*store)->ListReleases().value();
  ASSERT_EQ(releases.back().version, "stuck");
  EXPECT_EQ(releases.back().status, ReleaseStatus::kFailed);
  EXPECT_NE(releases.back().failure.find("did not converge"), std::string::npos);
  auto copies = (*store)->ListCopies(releases.back().id).value();
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].status, CopyStatus::kFailed);
  EXPECT_FALSE(fs::exists(*dir_ / "stuck/acme/" + fs::path(*base_).filename().string()));
}

}  // namespace
}  // namespace tracemark::testing
