#include "daemon/daemon.h"

#include <sys/inotify.h>
#include <torch/version.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>

#include "daemon/http_server.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "registry/filesystem_registry.h"
#include "tracemark/file_util.h"
#include "tracemark/key_store.h"
#include "tracemark/plugin_host.h"
#include "tracemark/release_engine.h"
#include "tracemark/scheme_json.h"
#include "tracemark/trace_engine.h"

namespace tracemark::daemon {
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDebounce = std::chrono::milliseconds(200);
constexpr uint32_t kWatchMask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Key(const std::string& model, const std::string& version) {
  return model + "/" + version;
}

// Whether a file in the inbox is ready: visible names only, no temp suffix
// (writers copy to a dot-name or *.partial and rename into place).
bool IsReadySuspect(const fs::directory_entry& entry) {
  std::string name = entry.path().filename().string();
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::error_code ec;
  return entry.is_regular_file(ec) && name[0] != '.' && !ends_with(".partial") &&
         !ends_with(".tmp");
}

// A unique, readable file name for a kept suspect: <utc-seconds>-<n>-<name>.
std::string KeptName(const std::string& original) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count()) + "-" +
         std::to_string(counter++) + "-" + fs::path(original).filename().string();
}

Status MoveFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return Status::IoError("cannot move " + from + " to " + to + ": " + ec.message());
  return Status::Ok();
}

StatusOr<std::unique_ptr<KeyStore>> OpenStore(const DaemonConfig& config) {
  return KeyStore::Open(config.state_dir + "/keystore.db");
}

nlohmann::json ReleaseJson(const ReleaseRecord& r, const std::vector<CopyRecord>& copies,
                           bool with_copies) {
  int done = 0;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : copies) {
    done += c.status == "done";
    list.push_back({{"licensee", c.licensee},
                    {"status", c.status},
                    {"path", c.artifact_path},
                    {"sha256", c.sha256},
                    {"accuracy", c.accuracy},
                    {"seconds", c.embed_seconds},
                    {"failure", c.failure}});
  }
  nlohmann::json out = {{"id", r.id},
                        {"model", r.model},
                        {"version", r.version},
                        {"scheme", r.scheme},
                        {"params", nlohmann::json::parse(r.params_json, nullptr, false)},
                        {"code", r.code_family},
                        {"base_accuracy", r.base_accuracy},
                        {"status", r.status},
                        {"failure", r.failure},
                        {"created_at", r.created_at},
                        {"copies_done", done},
                        {"copies_total", copies.size()}};
  if (with_copies) out["copies"] = list;
  return out;
}

// The bounds of an endpoint investigation come from the config.
EndpointOptions EndpointFor(const DaemonConfig& config, const std::string& url,
                            const std::string& model) {
  EndpointOptions options;
  options.url = url;
  options.model = model;
  options.max_queries = config.endpoint_max_queries;
  options.deadline_seconds = config.endpoint_timeout_seconds;
  options.request_timeout_seconds = config.endpoint_request_timeout_seconds;
  return options;
}

nlohmann::json InvestigationJson(const InvestigationRecord& r, bool with_report) {
  nlohmann::json out = {{"id", r.id},
                        {"source", r.source},
                        {"name", r.original_name},
                        {"status", r.status},
                        {"verdict", r.verdict},
                        {"failure", r.failure},
                        {"created_at", r.created_at},
                        {"finished_at", r.finished_at}};
  if (r.source == "endpoint")
    out["endpoint"] = {{"url", r.endpoint_url}, {"model", r.endpoint_model}};
  if (with_report) {
    out["report"] = r.report_json.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json::parse(r.report_json, nullptr, false);
  }
  return out;
}

}  // namespace

// The Boost.Asio machinery: one io thread, a worker pool, signals, timers
// and the inotify descriptor.
struct Daemon::Loop {
  explicit Loop(int workers)
      : pool(workers), signals(io, SIGTERM, SIGINT), scan_timer(io), debounce(io), inotify(io) {}
  asio::io_context io;
  asio::thread_pool pool;
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
  if (loop_) loop_->pool.join();
}

std::string Daemon::InboxDir(const std::string& sub) const {
  return (fs::path(config_.inbox_dir) / sub).string();
}

Status Daemon::Start() {
  SetLogLevel(config_.log_level);
  TM_RETURN_IF_ERROR(MakeDirs(config_.state_dir, /*private_dir=*/true));
  for (const std::string& dir :
       {config_.registry_dir, config_.dist_dir, config_.inbox_dir, InboxDir("processing"),
        InboxDir("done"), InboxDir("failed"), config_.state_dir + "/uploads"}) {
    TM_RETURN_IF_ERROR(MakeDirs(dir));
  }
  TM_ASSIGN_OR_RETURN(store_, OpenStore(config_));
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

  loop_ = std::make_unique<Loop>(config_.workers);
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
  options.upload_dir = config_.state_dir + "/uploads";
  http_ = std::make_unique<HttpServer>(this, metrics_.get(), options);
  TM_RETURN_IF_ERROR(http_->Start());
  Log(LogLevel::kInfo, "listening",
      {{"address", config_.listen_host + ":" + std::to_string(http_->port())},
       {"schemes", std::to_string(schemes.size())},
       {"workers", std::to_string(config_.workers)}});

  // Jobs a previous run left unfinished.
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, store_->ListReleases());
  for (const auto& r : releases) {
    if (r.status != "embedding") continue;
    Log(LogLevel::kInfo, "resuming release", {{"release", std::to_string(r.id)}});
    QueueRelease(r.id);
  }
  TM_ASSIGN_OR_RETURN(std::vector<InvestigationRecord> investigations,
                      store_->ListInvestigations());
  std::set<std::string> known_paths;
  for (const auto& inv : investigations) {
    known_paths.insert(inv.path);
    if (inv.status == "queued" || inv.status == "running") QueueInvestigation(inv.id);
  }
  // Suspects moved into processing/ just before a crash, with no record yet.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(InboxDir("processing"), ec)) {
    if (known_paths.count(entry.path().string())) continue;
    auto id =
        store_->AddInvestigation("inbox", entry.path().filename().string(), entry.path().string());
    if (id.ok()) QueueInvestigation(*id);
  }
  ready_ = true;
  return Status::Ok();
}

int Daemon::Run() {
  Loop& loop = *loop_;
  loop.signals.async_wait([this, &loop](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    Log(LogLevel::kInfo, "stopping", {{"signal", std::to_string(signal)}});
    stopping_ = true;
    ready_ = false;
    http_->Stop();
    loop.scan_timer.cancel();
    loop.debounce.cancel();
    if (loop.inotify.is_open()) loop.inotify.close();
    loop.pool.join();  // in-flight jobs stop at their next checkpoint
    loop.io.stop();
  });

  // Periodic scans.
  std::function<void()> schedule = [this, &loop, &schedule] {
    loop.scan_timer.expires_after(std::chrono::seconds(config_.scan_interval_seconds));
    loop.scan_timer.async_wait([this, &schedule](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      ScanRegistry();
      ScanInbox();
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
              ScanRegistry();
              ScanInbox();
            });
          }
          read_events();
        });
  };
  loop.Watch(config_.registry_dir);
  loop.Watch(config_.inbox_dir);
  asio::post(loop.io, [this] {
    ScanRegistry();
    ScanInbox();
  });
  schedule();
  if (loop.inotify.is_open()) read_events();
  loop.io.run();
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

void Daemon::ScanRegistry() {
  auto start = Clock::now();
  registry::FilesystemRegistry registry(config_.registry_dir);
  std::vector<std::string> problems;
  auto versions = registry.Scan(&problems);
  metrics_->ScanFinished("registry", SecondsSince(start));
  if (!versions.ok()) {
    Log(LogLevel::kError, "registry scan failed", {{"error", versions.status().message()}});
    return;
  }
  for (const auto& problem : problems) {
    std::lock_guard<std::mutex> lock(planning_mu_);
    if (rejected_.insert(problem).second)
      Log(LogLevel::kWarn, "invalid registry entry", {{"problem", problem}});
  }
  // Watch every model and version directory so new manifests wake us.
  std::error_code ec;
  for (const auto& model : fs::directory_iterator(config_.registry_dir, ec)) {
    if (!model.is_directory(ec)) continue;
    loop_->Watch(model.path().string());
    for (const auto& version : fs::directory_iterator(model.path(), ec)) {
      if (version.is_directory(ec)) loop_->Watch(version.path().string());
    }
  }
  std::set<std::string> released;
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    auto releases = store_->ListReleases();
    if (!releases.ok()) return;
    for (const auto& r : *releases) released.insert(Key(r.model, r.version));
  }
  for (const auto& v : *versions) {
    const std::string key = Key(v.model, v.version);
    if (released.count(key)) continue;
    {
      std::lock_guard<std::mutex> lock(planning_mu_);
      if (planning_.count(key) || rejected_.count(v.manifest_path)) continue;
      planning_.insert(key);
    }
    Enqueue(&queued_releases_, "release", [this, v, key] {
      auto id = stopping_ ? StatusOr<int64_t>(Status::Cancelled("stopping"))
                          : PlanVersion(v.model, v.version);
      {
        std::lock_guard<std::mutex> lock(planning_mu_);
        planning_.erase(key);
        if (!id.ok() && id.status().code() != Status::Code::kCancelled) {
          rejected_.insert(v.manifest_path);
        }
      }
      if (id.ok()) {
        RunRelease(*id);
      } else if (id.status().code() != Status::Code::kCancelled) {
        Log(LogLevel::kError, "release rejected",
            {{"release", key}, {"error", id.status().message()}});
        metrics_->ReleaseFinished(v.scheme, false);
      }
    });
  }
}

StatusOr<int64_t> Daemon::PlanVersion(const std::string& model, const std::string& version) {
  registry::FilesystemRegistry registry(config_.registry_dir);
  TM_ASSIGN_OR_RETURN(std::vector<registry::RegisteredVersion> versions, registry.Scan(nullptr));
  auto it = std::find_if(versions.begin(), versions.end(),
                         [&](const auto& v) { return v.model == model && v.version == version; });
  if (it == versions.end()) {
    return Status::NotFound("no registered version " + Key(model, version));
  }
  ReleaseRequest request;
  request.model_path = it->model_path;
  request.model_name = model;
  request.version = version;
  request.scheme = it->scheme;
  request.data_spec = it->data;
  request.out_dir = config_.dist_dir;
  request.copy_subdir = Key(model, version);
  request.licensees = it->licensees;
  request.settings = it->params;
  TM_ASSIGN_OR_RETURN(std::unique_ptr<KeyStore> store, OpenStore(config_));
  TM_ASSIGN_OR_RETURN(int64_t id, ReleaseEngine(store.get(), plugins_.get()).Plan(request));
  Log(LogLevel::kInfo, "release planned",
      {{"release", std::to_string(id)},
       {"model", model},
       {"version", version},
       {"licensees", std::to_string(request.licensees.size())}});
  return id;
}

void Daemon::Enqueue(std::atomic<int>* depth, const std::string& queue, std::function<void()> job) {
  metrics_->SetQueueDepth(queue, ++*depth);
  asio::post(loop_->pool, [this, depth, queue, job = std::move(job)] {
    metrics_->SetQueueDepth(queue, --*depth);
    job();
  });
}

void Daemon::QueueRelease(int64_t release_id) {
  Enqueue(&queued_releases_, "release", [this, release_id] { RunRelease(release_id); });
}

void Daemon::RunRelease(int64_t release_id) {
  if (stopping_) return;
  auto store = OpenStore(config_);
  if (!store.ok()) {
    Log(LogLevel::kError, "cannot open key store", {{"error", store.status().message()}});
    return;
  }
  auto release = (*store)->GetRelease(release_id);
  const std::string scheme = release.ok() ? release->scheme : "unknown";
  ReleaseEngine engine(store->get(), plugins_.get());
  engine.set_stop_flag(&stopping_);
  auto result = engine.Run(release_id, [&](const CopyResult& copy) {
    metrics_->CopyFinished(scheme, true, copy.seconds);
    Log(LogLevel::kInfo, "copy published",
        {{"release", std::to_string(release_id)},
         {"licensee", copy.licensee},
         {"sha256", copy.sha256},
         {"seconds", std::to_string(copy.seconds)}});
  });
  if (result.ok()) {
    metrics_->ReleaseFinished(scheme, true);
    Log(LogLevel::kInfo, "release done",
        {{"release", std::to_string(release_id)}, {"seconds", std::to_string(result->seconds)}});
  } else if (result.status().code() == Status::Code::kCancelled) {
    Log(LogLevel::kInfo, "release paused", {{"release", std::to_string(release_id)}});
  } else {
    metrics_->CopyFinished(scheme, false, 0);
    metrics_->ReleaseFinished(scheme, false);
    Log(LogLevel::kError, "release failed",
        {{"release", std::to_string(release_id)}, {"error", result.status().message()}});
  }
}

void Daemon::ScanInbox() {
  auto start = Clock::now();
  std::error_code ec;
  int backlog = 0;
  for (const auto& entry : fs::directory_iterator(config_.inbox_dir, ec)) {
    if (!IsReadySuspect(entry)) continue;
    ++backlog;
    std::string name = entry.path().filename().string();
    std::string kept = InboxDir("processing") + "/" + KeptName(name);
    if (!MoveFile(entry.path().string(), kept).ok()) continue;
    StatusOr<int64_t> id = Status::Internal("unset");
    {
      std::lock_guard<std::mutex> lock(store_mu_);
      id = store_->AddInvestigation("inbox", name, kept);
    }
    if (!id.ok()) {
      Log(LogLevel::kError, "cannot record investigation", {{"error", id.status().message()}});
      continue;
    }
    Log(LogLevel::kInfo, "suspect received",
        {{"investigation", std::to_string(*id)}, {"source", "inbox"}, {"name", name}});
    QueueInvestigation(*id);
  }
  metrics_->SetInboxBacklog(backlog);
  metrics_->ScanFinished("inbox", SecondsSince(start));
}

void Daemon::QueueInvestigation(int64_t id) {
  Enqueue(&queued_investigations_, "investigation", [this, id] { RunInvestigation(id); });
}

void Daemon::RunInvestigation(int64_t id) {
  if (stopping_) return;
  auto start = Clock::now();
  auto store = OpenStore(config_);
  if (!store.ok()) return;
  auto inv = (*store)->GetInvestigation(id);
  if (!inv.ok() || !(*store)->StartInvestigation(id).ok()) return;
  TraceEngine engine(store->get(), plugins_.get());
  auto report =
      inv->source == "endpoint"
          ? engine.TraceEndpoint(EndpointFor(config_, inv->endpoint_url, inv->endpoint_model))
          : engine.Trace(inv->path);
  std::string verdict = report.ok() ? report->verdict : "failed";
  (*store)->FinishInvestigation(id, report.ok() ? verdict : "",
                                report.ok() ? ToJson(*report).dump() : "",
                                report.ok() ? "" : report.status().message());
  if (inv->source == "inbox") {
    std::string to =
        InboxDir(report.ok() ? "done" : "failed") + "/" + fs::path(inv->path).filename().string();
    if (MoveFile(inv->path, to).ok()) (*store)->SetInvestigationPath(id, to);
  }
  metrics_->InvestigationFinished(verdict, SecondsSince(start));
  Log(report.ok() ? LogLevel::kInfo : LogLevel::kWarn, "investigation finished",
      {{"investigation", std::to_string(id)},
       {"verdict", verdict},
       {"accused", report.ok() ? nlohmann::json(report->accused).dump() : "[]"},
       {"error", report.ok() ? "" : report.status().message()}});
}

// ---- ApiBackend ----

StatusOr<Role> Daemon::Authenticate(const std::string& token) {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(TokenRecord record, store_->FindToken(Sha256Hex(token)));
  return ParseRole(record.role);
}

bool Daemon::Ready() { return ready_; }

std::string Daemon::MetricsText() { return metrics_->Exposition(); }

StatusOr<nlohmann::json> Daemon::Schemes() {
  nlohmann::json out = nlohmann::json::array();
  for (const Scheme* s : plugins_->schemes()) out.push_back(SchemeInfoJson(s->Info()));
  return out;
}

StatusOr<nlohmann::json> Daemon::Licensees() {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(std::vector<Licensee> licensees, store_->ListLicensees());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : licensees) {
    out.push_back({{"id", l.id}, {"name", l.name}, {"created_at", l.created_at}});
  }
  return out;
}

StatusOr<nlohmann::json> Daemon::AddLicensee(const std::string& name) {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(Licensee l, store_->AddLicensee(name));
  return nlohmann::json{{"id", l.id}, {"name", l.name}, {"created_at", l.created_at}};
}

StatusOr<nlohmann::json> Daemon::Releases() {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, store_->ListReleases());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : releases) {
    TM_ASSIGN_OR_RETURN(std::vector<CopyRecord> copies, store_->ListCopies(r.id));
    out.push_back(ReleaseJson(r, copies, /*with_copies=*/false));
  }
  return out;
}

StatusOr<nlohmann::json> Daemon::Release(int64_t id) {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(ReleaseRecord r, store_->GetRelease(id));
  TM_ASSIGN_OR_RETURN(std::vector<CopyRecord> copies, store_->ListCopies(id));
  return ReleaseJson(r, copies, /*with_copies=*/true);
}

StatusOr<nlohmann::json> Daemon::CreateRelease(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("model") || !body.contains("version") ||
      !body["model"].is_string() || !body["version"].is_string()) {
    return Status::InvalidArgument("body must be {\"model\": string, \"version\": string}");
  }
  const std::string model = body["model"], version = body["version"];
  const std::string key = Key(model, version);
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, store_->ListReleases());
    for (const auto& r : releases) {
      if (Key(r.model, r.version) == key) {
        return Status::AlreadyExists("release " + key + " exists (id " + std::to_string(r.id) +
                                     ")");
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(planning_mu_);
    if (!planning_.insert(key).second)
      return Status::AlreadyExists("release " + key + " is being planned");
  }
  auto id = PlanVersion(model, version);  // seconds: loads the model and data
  {
    std::lock_guard<std::mutex> lock(planning_mu_);
    planning_.erase(key);
  }
  TM_RETURN_IF_ERROR(id.status());
  QueueRelease(*id);
  return nlohmann::json{
      {"id", *id}, {"model", model}, {"version", version}, {"status", "embedding"}};
}

StatusOr<nlohmann::json> Daemon::Investigations() {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(std::vector<InvestigationRecord> list, store_->ListInvestigations());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& inv : list) out.push_back(InvestigationJson(inv, /*with_report=*/false));
  return out;
}

StatusOr<nlohmann::json> Daemon::Investigation(int64_t id) {
  std::lock_guard<std::mutex> lock(store_mu_);
  TM_ASSIGN_OR_RETURN(InvestigationRecord inv, store_->GetInvestigation(id));
  return InvestigationJson(inv, /*with_report=*/true);
}

StatusOr<nlohmann::json> Daemon::CreateEndpointInvestigation(const nlohmann::json& body) {
  for (const auto& [key, value] : body.items()) {
    if ((key != "endpoint" && key != "model") || !value.is_string()) {
      return Status::InvalidArgument(
          "the body must be {\"endpoint\": \"http://HOST:PORT\", \"model\": NAME}");
    }
  }
  if (!body.contains("endpoint") || !body.contains("model")) {
    return Status::InvalidArgument("the body must name both \"endpoint\" and \"model\"");
  }
  const std::string url = body["endpoint"].get<std::string>();
  const std::string model = body["model"].get<std::string>();
  TM_RETURN_IF_ERROR(ValidateEndpointOptions(EndpointFor(config_, url, model)));
  StatusOr<int64_t> id = Status::Internal("unset");
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    id = store_->AddEndpointInvestigation(url, model);
  }
  TM_RETURN_IF_ERROR(id.status());
  Log(LogLevel::kInfo, "endpoint investigation received",
      {{"investigation", std::to_string(*id)}, {"endpoint", url}, {"model", model}});
  QueueInvestigation(*id);
  return nlohmann::json{{"id", *id}, {"status", "queued"}};
}

StatusOr<nlohmann::json> Daemon::CreateInvestigation(const std::string& uploaded_path,
                                                     const std::string& original_name) {
  std::string name = original_name.empty() ? "upload.pt" : original_name;
  std::string kept = config_.state_dir + "/uploads/" + KeptName(name);
  TM_RETURN_IF_ERROR(MoveFile(uploaded_path, kept));
  StatusOr<int64_t> id = Status::Internal("unset");
  {
    std::lock_guard<std::mutex> lock(store_mu_);
    id = store_->AddInvestigation("upload", name, kept);
  }
  TM_RETURN_IF_ERROR(id.status());
  Log(LogLevel::kInfo, "suspect received",
      {{"investigation", std::to_string(*id)}, {"source", "upload"}, {"name", name}});
  QueueInvestigation(*id);
  return nlohmann::json{{"id", *id}, {"status", "queued"}};
}

}  // namespace tracemark::daemon
