#include "daemon/daemon.h"

#include <sys/inotify.h>
#include <torch/version.h>

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <set>
#include <thread>

#include "daemon/api_service.h"
#include "daemon/http_server.h"
#include "daemon/inbox_files.h"
#include "daemon/inbox_watcher.h"
#include "daemon/job_runner.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/registry_watcher.h"
#include "tracemark/base/file_util.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/store/daemon_store.h"
#include "tracemark/store/key_store.h"

namespace tracemark::daemon {
namespace asio = boost::asio;
namespace {

constexpr auto kDebounce = std::chrono::milliseconds(200);
constexpr auto kStopGrace = std::chrono::seconds(20);
constexpr uint32_t kWatchMask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE;

std::string StorePath(const DaemonConfig& config) { return config.state_dir + "/keystore.db"; }

}  // namespace

// The io thread's machinery: signals, timers and the inotify descriptor.
struct Daemon::Loop {
  Loop() : signals(io, SIGTERM, SIGINT), scan_timer(io), debounce(io), inotify(io) {}
  asio::io_context io;
  asio::signal_set signals;
  asio::steady_timer scan_timer;
  asio::steady_timer debounce;
  asio::posix::stream_descriptor inotify;
  std::array<char, 16384> events;
  std::set<std::string> watched;
  bool scan_pending = false;

  void Watch(const std::string& dir) {
    if (!inotify.is_open() || watched.count(dir)) return;
    if (inotify_add_watch(inotify.native_handle(), dir.c_str(), kWatchMask) >= 0) {
      watched.insert(dir);
    }
  }
};

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

Daemon::~Daemon() {
  if (http_) http_->Stop();
  if (runner_) runner_->Stop();
}

Status Daemon::Start() {
  SetLogLevel(config_.log_level);
  TM_RETURN_IF_ERROR(MakeDirs(config_.state_dir, /*private_dir=*/true));
  for (const std::string& dir :
       {config_.registry_dir, config_.dist_dir, config_.inbox_dir, InboxDir(config_, "processing"),
        InboxDir(config_, "done"), InboxDir(config_, "failed"), UploadsDir(config_)}) {
    TM_RETURN_IF_ERROR(MakeDirs(dir));
  }
  // Each part gets connections of its own (a connection is not thread-safe).
  TM_ASSIGN_OR_RETURN(std::unique_ptr<KeyStore> api_keys, KeyStore::Open(StorePath(config_)));
  TM_ASSIGN_OR_RETURN(std::unique_ptr<DaemonStore> api_jobs, DaemonStore::Open(StorePath(config_)));
  TM_ASSIGN_OR_RETURN(std::unique_ptr<KeyStore> registry_keys, KeyStore::Open(StorePath(config_)));
  TM_ASSIGN_OR_RETURN(std::unique_ptr<DaemonStore> registry_jobs,
                      DaemonStore::Open(StorePath(config_)));
  TM_ASSIGN_OR_RETURN(std::unique_ptr<DaemonStore> inbox_jobs,
                      DaemonStore::Open(StorePath(config_)));

  plugins_ = std::make_unique<PluginHost>();
  std::string plugins_dir =
      config_.plugins_dir.empty() ? DefaultPluginDirectory() : config_.plugins_dir;
  TM_RETURN_IF_ERROR(plugins_->LoadDirectory(plugins_dir));
  std::vector<std::string> schemes;
  for (const Scheme* s : plugins_->schemes()) schemes.push_back(s->Info().name);
  for (const auto& refused : plugins_->refused()) {
    Log(LogLevel::kWarn, "plugin refused", {{"path", refused.path}, {"reason", refused.reason}});
  }
  metrics_ = std::make_unique<Metrics>(schemes, "0.1.0", TORCH_VERSION);
  runner_ = std::make_unique<JobRunner>(config_, *plugins_, *metrics_);
  registry_ = std::make_unique<RegistryWatcher>(config_, *runner_, *metrics_,
                                                std::move(registry_keys), std::move(registry_jobs));
  inbox_ = std::make_unique<InboxWatcher>(config_, *runner_, *metrics_, std::move(inbox_jobs));
  api_ = std::make_unique<ApiService>(config_, *plugins_, *metrics_, *runner_, std::move(api_keys),
                                      std::move(api_jobs));

  loop_ = std::make_unique<Loop>();
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd >= 0) {
    loop_->inotify.assign(fd);
  } else {
    Log(LogLevel::kWarn, "inotify unavailable; relying on periodic scans");
  }

  HttpOptions options;
  options.host = config_.listen_host;
  options.port = config_.listen_port;
  options.max_upload_bytes = config_.max_upload_bytes;
  options.upload_dir = UploadsDir(config_);
  http_ = std::make_unique<HttpServer>(api_.get(), metrics_.get(), options);
  TM_RETURN_IF_ERROR(http_->Start());
  Log(LogLevel::kInfo, "listening",
      {{"address", config_.listen_host + ":" + std::to_string(http_->port())},
       {"schemes", std::to_string(schemes.size())},
       {"workers", std::to_string(config_.workers)}});
  TM_RETURN_IF_ERROR(ResumeUnfinished());
  api_->SetReady(true);
  return Status::Ok();
}

Status Daemon::ResumeUnfinished() {
  TM_ASSIGN_OR_RETURN(std::unique_ptr<KeyStore> keys, KeyStore::Open(StorePath(config_)));
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, keys->ListReleases());
  for (const auto& r : releases) {
    if (r.status != ReleaseStatus::kEmbedding) continue;
    Log(LogLevel::kInfo, "resuming release", {{"release", std::to_string(r.id)}});
    runner_->QueueRelease(r.id);
  }
  TM_ASSIGN_OR_RETURN(std::unique_ptr<DaemonStore> jobs, DaemonStore::Open(StorePath(config_)));
  TM_ASSIGN_OR_RETURN(std::vector<InvestigationRecord> investigations, jobs->ListInvestigations());
  std::set<std::string> known_paths;
  for (const auto& inv : investigations) {
    known_paths.insert(inv.path);
    if (inv.status == InvestigationStatus::kQueued || inv.status == InvestigationStatus::kRunning) {
      runner_->QueueInvestigation(inv.id);
    }
  }
  inbox_->RecoverUnrecorded(known_paths);
  return Status::Ok();
}

void Daemon::ScanAll() {
  for (const std::string& dir : registry_->Scan()) loop_->Watch(dir);
  inbox_->Scan();
}

int Daemon::Run() {
  Loop& loop = *loop_;
  loop.signals.async_wait([this, &loop](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    Log(LogLevel::kInfo, "stopping", {{"signal", std::to_string(signal)}});
    stopping_ = true;
    // Stopping is bounded: a release between checkpoints gets kStopGrace,
    // then the process ends anyway (every job resumes from the database).
    std::thread([] {
      std::this_thread::sleep_for(kStopGrace);
      Log(LogLevel::kWarn,
          "stopped without waiting for running jobs; they resume at the next start");
      std::_Exit(0);
    }).detach();
    api_->SetReady(false);
    http_->Stop();
    loop.scan_timer.cancel();
    loop.debounce.cancel();
    if (loop.inotify.is_open()) loop.inotify.close();
    runner_->Stop();  // in-flight jobs stop at their next checkpoint
    loop.io.stop();
  });

  // Periodic scans.
  std::function<void()> schedule = [this, &loop, &schedule] {
    loop.scan_timer.expires_after(std::chrono::seconds(config_.scan_interval_seconds));
    loop.scan_timer.async_wait([this, &schedule](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      ScanAll();
      schedule();
    });
  };
  // inotify: any event schedules one scan of both after a short debounce.
  std::function<void()> read_events = [this, &loop, &read_events] {
    loop.inotify.async_read_some(
        asio::buffer(loop.events),
        [this, &loop, &read_events](const boost::system::error_code& ec, size_t) {
          if (ec || stopping_) return;
          if (!loop.scan_pending) {
            loop.scan_pending = true;
            loop.debounce.expires_after(kDebounce);
            loop.debounce.async_wait([this, &loop](const boost::system::error_code& ec) {
              loop.scan_pending = false;
              if (ec || stopping_) return;
              ScanAll();
            });
          }
          read_events();
        });
  };
  loop.Watch(config_.registry_dir);
  loop.Watch(config_.inbox_dir);
  asio::post(loop.io, [this] { ScanAll(); });
  schedule();
  if (loop.inotify.is_open()) read_events();
  loop.io.run();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace tracemark::daemon
