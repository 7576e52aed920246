// A release killed with SIGKILL mid-way loses nothing: `tracemark resume`
// finishes it, every licensee ends with exactly one code and one complete,
// traceable copy, and no partial file is left behind.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.h"
#include "tracemark/base/file_util.h"
#include "tracemark/store/key_store.h"

extern char** environ;

namespace tracemark::testing {
namespace {

namespace fs = std::filesystem;

// Starts argv without waiting; output goes to /dev/null.
pid_t Spawn(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

TEST(ResumeTest, ReleaseKilledMidwayIsFinishedByResume) {
  TempDir dir;
  const std::string model = CachedPythonMlp(0, "0:20000", 2);
  const std::vector<std::string> licensees = {"acme", "globex", "initech", "umbrella"};
  std::vector<std::string> cli = {CliPath(), "--state", dir / "state", "--plugins", PluginDir()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), cli.begin(), cli.end());
    return args;
  };
  pid_t pid = Spawn(with({"release", model, "--name", "mlp", "--version", "1", "--scheme",
                          "deepmarks", "--licensees", "acme,globex,initech,umbrella", "--data",
                          OwnerData(), "--out", dir / "dist", "--set", "seed=3"}));
  // Kill it right after the first copy is published.
  const std::string first_manifest = dir / "dist/acme/manifest.json";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!fs::exists(first_manifest) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(fs::exists(first_manifest)) << "the release never published a copy";
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the release finished before it could be killed";

  {
    auto store = KeyStore::Open(dir / "state/keystore.db");
    ASSERT_TRUE(store.ok());
    auto release = (*store)->GetRelease(1);
    ASSERT_TRUE(release.ok());
    EXPECT_EQ(release->status, ReleaseStatus::kEmbedding);
    EXPECT_FALSE(fs::exists(dir / "dist/umbrella/mlp.pt")) << "nothing is published out of order";
  }

  CommandResult resumed = RunCommand(with({"resume", "1", "--json"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto result = nlohmann::json::parse(resumed.out);
  ASSERT_EQ(result["copies"].size(), licensees.size());

  auto store = KeyStore::Open(dir / "state/keystore.db");
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->GetRelease(1)->status, ReleaseStatus::kDone);
  auto copies = (*store)->ListCopies(1).value();
  ASSERT_EQ(copies.size(), licensees.size()) << "exactly one code per licensee";
  for (size_t i = 0; i < copies.size(); ++i) {
    EXPECT_EQ(copies[i].licensee, licensees[i]);
    EXPECT_EQ(copies[i].status, CopyStatus::kDone);
    EXPECT_EQ(Sha256File(copies[i].artifact_path).value(), copies[i].sha256);
    auto manifest = nlohmann::json::parse(
        ReadBytes((fs::path(copies[i].artifact_path).parent_path() / "manifest.json").string()));
    EXPECT_EQ(manifest["sha256"], copies[i].sha256);
    CommandResult trace = RunCommand(with({"trace", copies[i].artifact_path, "--json"}));
    ASSERT_EQ(trace.exit_code, 0) << trace.err;
    EXPECT_EQ(nlohmann::json::parse(trace.out)["accused"], nlohmann::json::array({licensees[i]}));
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir / "dist")) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  CommandResult again = RunCommand(with({"resume", "1"}));
  EXPECT_EQ(again.exit_code, 1) << "a finished release is not run twice";
}

}  // namespace
}  // namespace tracemark::testing
