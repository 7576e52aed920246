#include "registry/filesystem_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "test_files.h"

namespace tracemark::registry {
namespace {

namespace fs = std::filesystem;
using Code = Status::Code;

const char kManifest[] =
    R"({"scheme": "deepmarks", "licensees": ["acme", "globex"], "data": "/data/fmnist"})";

class FilesystemRegistryTest : public ::testing::Test {
 protected:
  // Writes `<root>/<model>/<version>/<name>`, creating directories.
  void Write(const std::string& model, const std::string& version, const std::string& name,
             const std::string& bytes) {
    fs::path dir = fs::path(root_.path()) / model / version;
    fs::create_directories(dir);
    ASSERT_TRUE(testing::WriteBytes((dir / name).string(), bytes));
  }

  // A version as a publisher following the contract leaves it.
  void WriteVersion(const std::string& model, const std::string& version,
                    const std::string& manifest = kManifest) {
    Write(model, version, "model.pt", "torchscript bytes");
    Write(model, version, "release.json", manifest);
  }

  std::string ManifestPath(const std::string& model, const std::string& version) const {
    return root_ / model + "/" + version + "/release.json";
  }

  // Scans, expecting success; fills problems_.
  std::vector<RegisteredVersion> Scan() {
    problems_.clear();
    StatusOr<std::vector<RegisteredVersion>> found = registry_.Scan(&problems_);
    EXPECT_TRUE(found.ok()) << found.status().message();
    return found.ok() ? *found : std::vector<RegisteredVersion>{};
  }

  // Expects `manifest` to make its version invalid, with one problem that
  // names the manifest and contains `reason`; a valid version beside it
  // is still listed.
  void ExpectInvalid(const std::string& manifest, const std::string& reason) {
    SCOPED_TRACE(manifest);
    WriteVersion("good", "1");
    WriteVersion("bad", "1", manifest);
    std::vector<RegisteredVersion> found = Scan();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].model, "good");
    ASSERT_EQ(problems_.size(), 1u);
    EXPECT_EQ(problems_[0].rfind(ManifestPath("bad", "1") + ": ", 0), 0u) << problems_[0];
    EXPECT_NE(problems_[0].find(reason), std::string::npos) << problems_[0];
  }

  static std::vector<std::string> Ids(const std::vector<RegisteredVersion>& versions) {
    std::vector<std::string> ids;
    for (const RegisteredVersion& v : versions) ids.push_back(v.model + "/" + v.version);
    return ids;
  }

  testing::TempDir root_;
  FilesystemRegistry registry_{root_.path()};
  std::vector<std::string> problems_;
};

TEST_F(FilesystemRegistryTest, NamesAndDescription) {
  EXPECT_EQ(FilesystemRegistry::ManifestName(), "release.json");
  EXPECT_EQ(FilesystemRegistry::ModelName(), "model.pt");
  EXPECT_EQ(registry_.Describe(), "filesystem registry " + root_.path());
  EXPECT_EQ(registry_.root(), root_.path());
}

TEST_F(FilesystemRegistryTest, EmptyRootHasNoVersions) {
  EXPECT_TRUE(Scan().empty());
  EXPECT_TRUE(problems_.empty());
}

TEST_F(FilesystemRegistryTest, MissingRootIsNotFound) {
  FilesystemRegistry registry(root_ / "absent");
  StatusOr<std::vector<RegisteredVersion>> found = registry.Scan(nullptr);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), Code::kNotFound);
  EXPECT_NE(found.status().message().find(root_ / "absent"), std::string::npos);
}

TEST_F(FilesystemRegistryTest, RootThatIsAFileIsRejected) {
  ASSERT_TRUE(testing::WriteBytes(root_ / "file", "x"));
  StatusOr<std::vector<RegisteredVersion>> found = FilesystemRegistry(root_ / "file").Scan(nullptr);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), Code::kInvalidArgument);
  EXPECT_NE(found.status().message().find("is not a directory"), std::string::npos);
}

TEST_F(FilesystemRegistryTest, CompleteVersionIsListedWithEveryField) {
  WriteVersion("fashion-cnn", "2",
               R"({"scheme": "uchida", "licensees": ["globex", "acme"],
                   "data": "/usr/share/datasets/fashion-mnist[0:30000]",
                   "params": {"layer": "conv2.weight"}})");
  std::vector<RegisteredVersion> found = Scan();
  EXPECT_TRUE(problems_.empty());
  ASSERT_EQ(found.size(), 1u);
  const RegisteredVersion& v = found[0];
  EXPECT_EQ(v.model, "fashion-cnn");
  EXPECT_EQ(v.version, "2");
  EXPECT_EQ(v.model_path, root_ / "fashion-cnn/2/model.pt");
  EXPECT_EQ(v.manifest_path, ManifestPath("fashion-cnn", "2"));
  EXPECT_EQ(v.scheme, "uchida");
  EXPECT_EQ(v.licensees, (std::vector<std::string>{"globex", "acme"}));  // order kept
  EXPECT_EQ(v.data, "/usr/share/datasets/fashion-mnist[0:30000]");
  EXPECT_EQ(v.params, (std::map<std::string, std::string>{{"layer", "conv2.weight"}}));
}

TEST_F(FilesystemRegistryTest, ParamsAreOptional) {
  WriteVersion("m", "1");
  std::vector<RegisteredVersion> found = Scan();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].params.empty());
}

TEST_F(FilesystemRegistryTest, RelativeDataIsKeptAsGiven) {
  WriteVersion("m", "1", R"({"scheme": "s", "licensees": ["a"], "data": "data/train.pt"})");
  std::vector<RegisteredVersion> found = Scan();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].data, "data/train.pt");
}

TEST_F(FilesystemRegistryTest, ScalarParamsBecomeStrings) {
  WriteVersion("m", "1", R"({"scheme": "s", "licensees": ["a"], "data": "d", "params": {
      "text": "conv2.weight", "int": 20, "negative": -3, "real": 0.5, "tiny": 1e-6,
      "yes": true, "no": false, "empty": ""}})");
  std::vector<RegisteredVersion> found = Scan();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].params, (std::map<std::string, std::string>{{"text", "conv2.weight"},
                                                                 {"int", "20"},
                                                                 {"negative", "-3"},
                                                                 {"real", "0.5"},
                                                                 {"tiny", "1e-06"},
                                                                 {"yes", "true"},
                                                                 {"no", "false"},
                                                                 {"empty", ""}}));
}

TEST_F(FilesystemRegistryTest, NestedOrNullParamsAreInvalid) {
  for (const char* value : {"{}", "[1]", "null"}) {
    ExpectInvalid(
        std::string(R"({"scheme": "s", "licensees": ["a"], "data": "d", "params": {"x": )") +
            value + "}}",
        "params.x: must be a string, number or boolean");
  }
}

TEST_F(FilesystemRegistryTest, VersionWithoutManifestIsSkippedSilently) {
  Write("m", "1", "model.pt", "half-written");
  Write("m", "2", ".release.json.tmp", kManifest);
  Write("m", "3", "release.json.partial", kManifest);
  Write("m", "4", "release.json~", kManifest);
  Write("m", "4", "model.pt", "bytes");
  fs::create_directories(root_ / "m/5");
  EXPECT_TRUE(Scan().empty());
  EXPECT_TRUE(problems_.empty());
}

TEST_F(FilesystemRegistryTest, RenamingTheManifestIntoPlacePublishesTheVersion) {
  Write("m", "1", "model.pt", "bytes");
  Write("m", "1", ".release.json.tmp", kManifest);
  EXPECT_TRUE(Scan().empty());
  fs::rename(root_ / "m/1/.release.json.tmp", ManifestPath("m", "1"));
  EXPECT_EQ(Ids(Scan()), (std::vector<std::string>{"m/1"}));
  EXPECT_TRUE(problems_.empty());
}

TEST_F(FilesystemRegistryTest, HiddenDirectoriesAndStrayFilesAreIgnored) {
  WriteVersion(".staging", "1");
  WriteVersion("m", ".1");
  WriteVersion("m", "2");
  ASSERT_TRUE(testing::WriteBytes(root_ / "README", "x"));
  ASSERT_TRUE(testing::WriteBytes(root_ / "m/notes.txt", "x"));
  EXPECT_EQ(Ids(Scan()), (std::vector<std::string>{"m/2"}));
  EXPECT_TRUE(problems_.empty());
}

TEST_F(FilesystemRegistryTest, ManifestWithoutModelIsReported) {
  Write("m", "1", "release.json", kManifest);
  EXPECT_TRUE(Scan().empty());
  ASSERT_EQ(problems_.size(), 1u);
  EXPECT_EQ(problems_[0],
            ManifestPath("m", "1") + ": model.pt is missing (write it before the manifest)");
}

TEST_F(FilesystemRegistryTest, MalformedManifestsAreReported) {
  ExpectInvalid("{\"scheme\": ", "invalid JSON: ");
  ExpectInvalid("{\n\"scheme\": \"s\",\n}", "line 3, column 1");
  ExpectInvalid("[]", "must be a JSON object, got array");
}

TEST_F(FilesystemRegistryTest, MissingFieldsAreReported) {
  ExpectInvalid(R"({"licensees": ["a"], "data": "d"})", "scheme: missing");
  ExpectInvalid(R"({"scheme": "s", "data": "d"})", "licensees: missing");
  ExpectInvalid(R"({"scheme": "s", "licensees": ["a"]})", "data: missing");
}

TEST_F(FilesystemRegistryTest, BadFieldValuesAreReported) {
  ExpectInvalid(R"({"scheme": "", "licensees": ["a"], "data": "d"})",
                "scheme: must be a non-empty string, got \"\"");
  ExpectInvalid(R"({"scheme": 3, "licensees": ["a"], "data": "d"})",
                "scheme: must be a non-empty string, got 3");
  ExpectInvalid(R"({"scheme": "s", "licensees": ["a"], "data": ""})",
                "data: must be a non-empty string");
  ExpectInvalid(R"({"scheme": "s", "licensees": [], "data": "d"})",
                "licensees: must be a non-empty array of licensee names, got array");
  ExpectInvalid(R"({"scheme": "s", "licensees": "acme", "data": "d"})",
                "licensees: must be a non-empty array of licensee names, got \"acme\"");
  ExpectInvalid(R"({"scheme": "s", "licensees": ["a", 7], "data": "d"})",
                "licensees: must hold strings, got 7");
  ExpectInvalid(R"({"scheme": "s", "licensees": ["acme", "b", "acme"], "data": "d"})",
                "licensees: 'acme' is listed twice");
  ExpectInvalid(R"({"scheme": "s", "licensees": ["a"], "data": "d", "params": []})",
                "params: must be an object, got array");
  ExpectInvalid(R"({"scheme": "s", "licensees": ["a"], "data": "d", "licencees": ["b"]})",
                "licencees: unknown key; valid keys are data, licensees, params, scheme");
}

TEST_F(FilesystemRegistryTest, InvalidLicenseeNamesAreReported) {
  ExpectInvalid(R"({"scheme": "s", "licensees": ["evil corp"], "data": "d"})",
                "licensees: invalid licensee name 'evil corp'");
  ExpectInvalid(R"({"scheme": "s", "licensees": [".hidden"], "data": "d"})",
                "licensees: invalid licensee name '.hidden'");
  ExpectInvalid(R"({"scheme": "s", "licensees": [""], "data": "d"})",
                "licensees: invalid licensee name ''");
}

TEST_F(FilesystemRegistryTest, InvalidModelAndVersionNamesAreReported) {
  WriteVersion("my model", "1");
  WriteVersion("m", "v 1");
  WriteVersion(std::string(65, 'x'), "1");
  EXPECT_TRUE(Scan().empty());
  ASSERT_EQ(problems_.size(), 3u);
  EXPECT_EQ(problems_[0].rfind(ManifestPath("m", "v 1") + ": invalid version name 'v 1'", 0), 0u)
      << problems_[0];
  EXPECT_EQ(problems_[1].rfind(ManifestPath("my model", "1") + ": invalid model name", 0), 0u)
      << problems_[1];
  EXPECT_NE(problems_[2].find("invalid model name '" + std::string(65, 'x') + "'"),
            std::string::npos)
      << problems_[2];
}

TEST_F(FilesystemRegistryTest, ProblemsStayOnOneLine) {
  WriteVersion("bad\nmodel", "1");
  EXPECT_TRUE(Scan().empty());
  ASSERT_EQ(problems_.size(), 1u);
  EXPECT_EQ(problems_[0].find('\n'), std::string::npos) << problems_[0];
  EXPECT_NE(problems_[0].find("invalid model name 'bad?model'"), std::string::npos) << problems_[0];
}

TEST_F(FilesystemRegistryTest, VersionsAreSortedByModelThenVersion) {
  for (const char* id : {"b/2", "a/2", "b/10", "a/1", "b/1"}) {
    std::string s = id;
    WriteVersion(s.substr(0, 1), s.substr(2));
  }
  // Plain string order: "10" sorts before "2".
  EXPECT_EQ(Ids(Scan()), (std::vector<std::string>{"a/1", "a/2", "b/1", "b/10", "b/2"}));
}

TEST_F(FilesystemRegistryTest, ProblemsMayBeIgnored) {
  WriteVersion("m", "1");
  WriteVersion("m", "2", "{");
  StatusOr<std::vector<RegisteredVersion>> found = registry_.Scan(nullptr);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(Ids(*found), (std::vector<std::string>{"m/1"}));
}

TEST_F(FilesystemRegistryTest, UsableThroughTheInterface) {
  WriteVersion("m", "1");
  std::unique_ptr<Registry> registry = std::make_unique<FilesystemRegistry>(root_.path());
  std::vector<std::string> problems;
  StatusOr<std::vector<RegisteredVersion>> found = registry->Scan(&problems);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 1u);
  EXPECT_TRUE(problems.empty());
}

}  // namespace
}  // namespace tracemark::registry
