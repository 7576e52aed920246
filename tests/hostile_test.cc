// Attacker-made inputs against a real tracemarkd (one worker) and the CLI:
// suspects that read files, lie about their shapes, loop, bomb or fill
// memory (made by tests/python/make_hostile.py with Python PyTorch), inbox
// entries that are not files, hostile release manifests, slow clients, and
// CLI commands on a running daemon's state. Each must end with its reason,
// within the configured limits, while /healthz keeps answering and nothing
// is written or lost.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "daemon_process.h"
#include "test_support.h"

namespace tracemark::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kTimeLimit = 10;                      // investigation_timeout_seconds
constexpr int64_t kMemoryLimit = int64_t{2} << 30;  // investigation_memory_bytes

// The hostile suspects of make_hostile.py, made in `dir`; from_file.pt
// copies 4 KiB of `secret` into `stolen`.
std::string MakeHostileFiles(const std::string& dir, const std::string& secret,
                             const std::string& stolen) {
  CommandResult made =
      RunCommand({"/usr/bin/python3", SourceDir() + "/tests/python/make_hostile.py", "--out", dir,
                  "--secret", secret, "--stolen", stolen});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return dir;
}

// What each hostile file must fail with (a part of the reason).
const std::vector<std::pair<std::string, std::string>>& HostileFiles() {
  static const std::vector<std::pair<std::string, std::string>> files = {
      {"from_file.pt", "tried to open or change a file"},
      {"bad_shape.pt", ""},  // refused or crashed: any reason, but one
      {"loop.pt", "time limit of 10 s"},
      {"zip_bomb.pt", "memory limit of 2048 MiB"},
      {"fill.pt", "memory limit of 2048 MiB"},
  };
  return files;
}

// Peak resident set of `pid`, in bytes.
int64_t PeakRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// Every regular file below `dir` except the database's own.
std::set<std::string> FilesBelow(const std::string& dir) {
  std::set<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("keystore.db", 0) != 0) files.insert(e.path().string());
  }
  return files;
}

// Probes GET /healthz every 100 ms on its own thread, keeping the slowest
// answer, until destroyed.
class HealthProbe {
 public:
  explicit HealthProbe(int port)
      : thread_([this, port] {
          while (!stop_) {
            httplib::Client client("127.0.0.1", port);
            client.set_connection_timeout(2, 0);
            client.set_read_timeout(2, 0);
            const auto start = Clock::now();
            auto res = client.Get("/healthz");
            const int64_t ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
            if (!res || res->status != 200) ++failures_;
            worst_ms_ = std::max<int64_t>(worst_ms_, ms);
            ++probes_;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }) {}
  ~HealthProbe() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t worst_ms() const { return worst_ms_; }
  int failures() const { return failures_; }
  int probes() const { return probes_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> worst_ms_{0};
  std::atomic<int> failures_{0};
  std::atomic<int> probes_{0};
  std::thread thread_;
};

Json HostileConfig() {
  return {{"investigation_timeout_seconds", kTimeLimit},
          {"investigation_memory_bytes", kMemoryLimit},
          {"max_upload_bytes", 64 << 20}};
}

int64_t Upload(const DaemonProcess& d, const std::string& token, const std::string& path,
               const std::string& name) {
  auto posted = d.Client().Post(("/v1/investigations?name=" + name).c_str(), Bearer(token),
                                ReadBytes(path), "application/octet-stream");
  EXPECT_TRUE(posted);
  if (!posted) return -1;
  EXPECT_EQ(posted->status, 202) << posted->body;
  return Json::parse(posted->body, nullptr, false).value("id", int64_t{-1});
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(HostileTest, HostileUploadsFailWithTheirReasonWhileTheDaemonStaysWell) {
  TempDir dir;
  DaemonProcess daemon(dir, HostileConfig());
  const std::string viewer = Token(dir, "viewer"), investigator = Token(dir, "investigator");
  daemon.Start();
  RegisterVersion(dir, "fashion-mlp", "1", {"acme", "globex"});
  WaitForRelease(daemon, viewer, 2);
  const int64_t rss_after_release = PeakRss(daemon.pid());
  const std::string stolen = dir / "dist/stolen.bin";
  const std::string hostile = MakeHostileFiles(dir / "hostile", dir / "state/keystore.db", stolen);
  const std::set<std::string> files_before = FilesBelow(dir / "dist");

  HealthProbe probe(daemon.port());
  for (const auto& [file, reason] : HostileFiles()) {
    const auto start = Clock::now();
    const int64_t id = Upload(daemon, investigator, hostile + "/" + file, file);
    Json inv = WaitForInvestigation(daemon, viewer, id, std::chrono::seconds(90));
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(inv["status"], "failed") << file << ": " << inv.dump(2);
    const std::string failure = inv.value("failure", "");
    EXPECT_FALSE(failure.empty()) << file;
    EXPECT_NE(failure.find(reason), std::string::npos) << file << ": " << failure;
    if (file != "from_file.pt") {  // that one quotes the path the suspect itself named
      EXPECT_EQ(failure.find(dir.path()), std::string::npos)
          << file << ": the reason shows a server path: " << failure;
    }
    EXPECT_LT(seconds, kTimeLimit + 20) << file;
    std::printf("%-13s failed in %5.1f s: %s\n", file.c_str(), seconds, failure.c_str());
  }
  // A real leak after all that: still traced to its licensee.
  const std::string leak =
      FineTuned(dir / "dist/globex/fashion-mlp/1/model.pt", dir / "leak.pt", 1);
  Json real = WaitForInvestigation(daemon, viewer, Upload(daemon, investigator, leak, "leak.pt"));
  EXPECT_EQ(real["status"], "done") << real.dump(2);
  EXPECT_EQ(real["report"]["accused"], Json::array({"globex"})) << real.dump(2);
  probe.Stop();

  EXPECT_EQ(probe.failures(), 0);
  EXPECT_LT(probe.worst_ms(), 500) << "slowest /healthz of " << probe.probes();
  std::printf("healthz: %d probes, slowest %lld ms\n", probe.probes(),
              static_cast<long long>(probe.worst_ms()));
  EXPECT_FALSE(fs::exists(stolen)) << "the suspect wrote outside the sandbox";
  EXPECT_EQ(FilesBelow(dir / "dist"), files_before);
  for (const auto& e : fs::directory_iterator(dir / "state/uploads")) {
    ADD_FAILURE() << "uploads are removed once investigated: " << e.path();
  }
  const int64_t rss_end = PeakRss(daemon.pid());
  std::printf("daemon peak RSS: %lld MiB after the release, %lld MiB at the end\n",
              static_cast<long long>(rss_after_release >> 20),
              static_cast<long long>(rss_end >> 20));
  EXPECT_LT(rss_end, rss_after_release + (int64_t{256} << 20))
      << "the hostile files grew the daemon itself";
  const auto stop = Clock::now();
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - stop).count(), 25);
}

TEST(HostileTest, TheCliRefusesEachHostileFileWithOneLineAndWritesNothing) {
  TempDir dir;
  const std::string state = dir / "state";
  CommandResult released = RunCommand(
      {CliPath(), "--state", state, "--plugins", PluginDir(), "release",
       CachedPythonMlp(0, "0:20000", 2), "--name", "fashion-mlp", "--version", "1", "--scheme",
       "deepmarks", "--licensees", "acme,globex", "--data", OwnerData(), "--out", dir / "dist"});
  ASSERT_EQ(released.exit_code, 0) << released.err;
  const std::string stolen = dir / "stolen.bin";
  const std::string hostile = MakeHostileFiles(dir / "hostile", state + "/keystore.db", stolen);
  const std::set<std::string> files_before = FilesBelow(dir.path());
  for (const auto& [file, reason] : HostileFiles()) {
    CommandResult r = RunCommand({CliPath(), "--state", state, "--plugins", PluginDir(), "trace",
                                  hostile + "/" + file, "--time-limit", std::to_string(kTimeLimit),
                                  "--memory-limit", std::to_string(kMemoryLimit >> 20)});
    EXPECT_EQ(r.exit_code, 1) << file << ": " << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << file << ": " << r.out;
    EXPECT_EQ(r.err.rfind("tracemark: error: ", 0), 0u) << file << ": " << r.err;
    EXPECT_EQ(Count(r.err, "\n"), 1u) << file << ": " << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << file << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(stolen));
  EXPECT_EQ(FilesBelow(dir.path()), files_before);
}

TEST(HostileTest, InboxEntriesThatAreNotFilesAreMovedAsideUnopened) {
  TempDir dir;
  DaemonProcess daemon(dir, HostileConfig());
  const std::string viewer = Token(dir, "viewer");
  daemon.Start();
  WriteBytes(dir / "secret.txt", "not for the inbox");
  fs::create_symlink(dir / "secret.txt", dir / "inbox/link.pt");
  ASSERT_EQ(mkfifo((dir / "inbox/pipe.pt").c_str(), 0600), 0);
  fs::create_directory(dir / "inbox/folder.pt");
  Publish(dir / "inbox/real.pt", ReadBytes(CachedPythonMlp(0, "0:20000", 2)));
  ASSERT_TRUE(WaitFor([&] { return Count(daemon.log(), "inbox entry refused") >= 3; },
                      std::chrono::seconds(30)))
      << daemon.log();
  const std::string log = daemon.log();
  for (const char* kind : {"kind=symlink", "kind=fifo", "kind=directory"}) {
    EXPECT_NE(log.find(kind), std::string::npos) << kind << "\n" << log;
  }
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "inbox/failed")) {
    const std::string name = e.path().filename().string();
    names.insert(name.substr(name.find('-', name.find('-') + 1) + 1));  // after "<ts>-<n>-"
  }
  EXPECT_EQ(names, (std::set<std::string>{"link.pt", "pipe.pt", "folder.pt"}));
  for (const auto& e : fs::directory_iterator(dir / "inbox/failed")) {
    const std::string name = e.path().filename().string();
    if (name.size() > 7 && name.substr(name.size() - 7) == "link.pt") {
      EXPECT_TRUE(fs::is_symlink(fs::symlink_status(e.path()))) << "moved as a link, not copied";
    }
  }
  Json list;
  ASSERT_TRUE(WaitFor(
      [&] {
        list = GetJson(daemon, "/v1/investigations", viewer);
        return list.is_array() && list.size() == 1 && list[0]["status"] == "done";
      },
      std::chrono::seconds(60)))
      << list.dump(2) << daemon.log();
  EXPECT_EQ(list[0]["name"], "real.pt");
  EXPECT_EQ(ReadBytes(dir / "secret.txt"), "not for the inbox");
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
}

TEST(HostileTest, HostileReleasesAreRefusedOnceAndNotReplannedAfterARestart) {
  TempDir dir;
  DaemonProcess daemon(dir, HostileConfig());
  const std::string viewer = Token(dir, "viewer");
  ASSERT_EQ(mkfifo((dir / "data.fifo").c_str(), 0600), 0);
  const std::string hostile = MakeHostileFiles(dir / "hostile", dir / "x", dir / "y");
  auto publish = [&](const std::string& version, const std::string& model,
                     const std::string& data) {
    fs::path version_dir = fs::path(dir / "registry") / "m" / version;
    fs::create_directories(version_dir);
    Publish((version_dir / "model.pt").string(), ReadBytes(model));
    Json manifest = {{"scheme", "deepmarks"}, {"licensees", {"acme", "globex"}}, {"data", data}};
    Publish((version_dir / "release.json").string(), manifest.dump());
  };
  const std::string mlp = CachedPythonMlp(0, "0:20000", 2);
  publish("zero", mlp, "/dev/zero");
  publish("fifo", mlp, dir / "data.fifo");
  publish("loop", hostile + "/loop.pt", OwnerData());
  daemon.Start();
  ASSERT_TRUE(WaitFor([&] { return Count(daemon.log(), "release rejected") >= 3; },
                      std::chrono::seconds(90)))
      << daemon.log();
  const std::string log = daemon.log();
  EXPECT_NE(log.find("not a regular file"), std::string::npos) << log;
  EXPECT_NE(log.find("time limit of 10 s"), std::string::npos) << log;
  std::this_thread::sleep_for(std::chrono::seconds(6));  // three rescans
  EXPECT_EQ(Count(daemon.log(), "release rejected"), 3u) << daemon.log();
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
  daemon.Start();
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_EQ(Count(daemon.log(), "release rejected"), 0u) << "replanned after a restart\n"
                                                         << daemon.log();
  EXPECT_EQ(GetJson(daemon, "/v1/releases", viewer), Json::array());
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
}

// Opens a TCP connection to 127.0.0.1:`port`.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(HostileTest, SixteenClientsDribblingHeadersDoNotStallTheApi) {
  TempDir dir;
  DaemonProcess daemon(dir, HostileConfig());
  daemon.Start();
  constexpr int kClients = 16;
  std::vector<std::thread> clients;
  std::atomic<int> cut{0};
  std::atomic<bool> stop{false};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, port = daemon.port()] {
      int fd = Connect(port);
      if (fd < 0) return;
      const std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
      (void)!send(fd, start.data(), start.size(), MSG_NOSIGNAL);
      // One header line a second: each arrives long before any read
      // timeout, so only a deadline on the whole header can stop it.
      for (int line = 0; line < 20 && !stop; ++line) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        const std::string header = "X-Slow-" + std::to_string(line) + ": 1\r\n";
        if (send(fd, header.data(), header.size(), MSG_NOSIGNAL) < 0) {
          ++cut;
          break;
        }
        char buf[256];
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 0) {
          ++cut;
          break;
        }
      }
      close(fd);
    });
  }
  HealthProbe probe(daemon.port());
  std::this_thread::sleep_for(std::chrono::seconds(15));
  probe.Stop();
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(probe.failures(), 0);
  EXPECT_LT(probe.worst_ms(), 500) << probe.probes() << " probes";
  EXPECT_EQ(cut.load(), kClients) << "every dribbling client is cut at the header deadline";
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
}

// PRAGMA integrity_check of the database at `path`.
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

TEST(HostileTest, CliCommandsOnARunningDaemonsStateLoseNothing) {
  TempDir dir;
  DaemonProcess daemon(dir, HostileConfig());
  const std::string viewer = Token(dir, "viewer"), investigator = Token(dir, "investigator");
  daemon.Start();
  RegisterVersion(dir, "fashion-mlp", "1", {"acme", "globex"});
  WaitForRelease(daemon, viewer, 2);
  const std::string copy = dir / "dist/acme/fashion-mlp/1/model.pt";
  std::vector<int64_t> accepted;
  for (int round = 0; round < 3; ++round) {
    // The documented ways to use the state beside the daemon.
    const std::string state = dir / "state";
    EXPECT_EQ(
        RunCommand({CliPath(), "--state", state, "token", "create", "--role", "viewer"}).exit_code,
        0);
    EXPECT_EQ(RunCommand({CliPath(), "--state", state, "licensee", "add",
                          "newcomer" + std::to_string(round)})
                  .exit_code,
              0);
    CommandResult traced =
        RunCommand({CliPath(), "--state", state, "--plugins", PluginDir(), "trace", copy});
    EXPECT_EQ(traced.exit_code, 0) << traced.err;
    accepted.push_back(Upload(daemon, investigator, copy, "copy.pt"));
    Json releases = GetJson(daemon, "/v1/releases", viewer);
    EXPECT_TRUE(releases.is_array()) << "GET /v1/releases after CLI use: " << releases;
  }
  for (int64_t id : accepted) {
    Json inv = WaitForInvestigation(daemon, viewer, id);
    EXPECT_EQ(inv["status"], "done") << inv.dump(2);
  }
  EXPECT_EQ(daemon.Kill(SIGKILL), 128 + SIGKILL);
  EXPECT_EQ(IntegrityCheck(dir / "state/keystore.db"), "ok");
  daemon.Start();
  Json list = GetJson(daemon, "/v1/investigations", viewer);
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list.size(), accepted.size()) << "accepted investigations survive kill -9";
  EXPECT_EQ(GetJson(daemon, "/v1/licensees", viewer).size(), 5u);  // acme, globex, 3 newcomers
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
  EXPECT_EQ(IntegrityCheck(dir / "state/keystore.db"), "ok");
}

}  // namespace
}  // namespace tracemark::testing
