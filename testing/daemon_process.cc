#include "daemon_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "test_support.h"

extern char** environ;

namespace tracemark::testing {
namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string DaemonPath() { return std::string(TRACEMARK_BUILD_DIR) + "/bin/tracemarkd"; }

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return done();
}

void Publish(const std::string& path, const std::string& contents) {
  fs::path target(path);
  std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".tmp")).string();
  ASSERT_TRUE(WriteBytes(tmp, contents));
  fs::rename(tmp, target);
}

DaemonProcess::DaemonProcess(const TempDir& dir, const Json& config) : dir_(dir) {
  Json all = {{"registry_dir", dir / "registry"}, {"state_dir", dir / "state"},
              {"dist_dir", dir / "dist"},         {"inbox_dir", dir / "inbox"},
              {"plugins_dir", PluginDir()},       {"listen", "127.0.0.1:0"},
              {"scan_interval_seconds", 2},       {"workers", 1},
              {"max_upload_bytes", 4 << 20}};
  for (const auto& [key, value] : config.items()) all[key] = value;
  WriteBytes(dir / "tracemarkd.json", all.dump(2));
}

void DaemonProcess::Start() {
  log_ = dir_ / ("tracemarkd-" + std::to_string(starts_++) + ".log");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT, 0600);
  std::string config = dir_ / "tracemarkd.json";
  std::vector<std::string> argv = {DaemonPath(), "--config", config};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  ASSERT_EQ(posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  std::smatch match;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string text = ReadBytes(log_);
        static const std::regex listening(R"(msg=listening address=127\.0\.0\.1:(\d+))");
        if (!std::regex_search(text, match, listening)) return false;
        port_ = std::stoi(match[1]);
        return true;
      },
      std::chrono::seconds(60)))
      << ReadBytes(log_);
}

int DaemonProcess::Kill(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

httplib::Client DaemonProcess::Client() const {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30, 0);
  return client;
}

std::string DaemonProcess::log() const { return ReadBytes(log_); }

std::string Token(const TempDir& dir, const std::string& role) {
  CommandResult r =
      RunCommand({CliPath(), "--state", dir / "state", "token", "create", "--role", role});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

Json GetJson(const DaemonProcess& d, const std::string& path, const std::string& token) {
  auto response = d.Client().Get(path.c_str(), Bearer(token));
  if (!response || response->status != 200) return Json();
  return Json::parse(response->body, nullptr, false);
}

void RegisterVersion(const TempDir& dir, const std::string& model, const std::string& version,
                     const std::vector<std::string>& licensees, const std::string& scheme) {
  fs::path version_dir = fs::path(dir / "registry") / model / version;
  fs::create_directories(version_dir);
  Publish((version_dir / "model.pt").string(), ReadBytes(CachedPythonMlp(0, "0:20000", 2)));
  Json manifest = {{"scheme", scheme},
                   {"licensees", licensees},
                   {"data", OwnerData()},
                   {"params", {{"seed", "11"}}}};
  Publish((version_dir / "release.json").string(), manifest.dump());
}

Json WaitForRelease(const DaemonProcess& d, const std::string& token, size_t copies) {
  Json release;
  EXPECT_TRUE(WaitFor(
      [&] {
        Json list = GetJson(d, "/v1/releases", token);
        if (!list.is_array() || list.empty() || list[0]["status"] != "done") return false;
        release = GetJson(d, "/v1/releases/" + std::to_string(list[0]["id"].get<int>()), token);
        return release["copies"].size() == copies;
      },
      std::chrono::seconds(240)))
      << d.log();
  return release;
}

Json WaitForInvestigation(const DaemonProcess& d, const std::string& token, int64_t id,
                          std::chrono::seconds limit) {
  Json inv;
  EXPECT_TRUE(WaitFor(
      [&] {
        inv = GetJson(d, "/v1/investigations/" + std::to_string(id), token);
        return inv.is_object() && (inv["status"] == "done" || inv["status"] == "failed");
      },
      limit))
      << d.log();
  return inv;
}

}  // namespace tracemark::testing
