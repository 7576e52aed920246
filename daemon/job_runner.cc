#include "daemon/job_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>

#include "daemon/inbox_files.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "tracemark/base/guarded_call.h"
#include "tracemark/base/text.h"
#include "tracemark/engine/examiner.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model_kind.h"
#include "tracemark/store/daemon_store.h"
#include "tracemark/store/key_store.h"

namespace tracemark::daemon {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Key(const std::string& model, const std::string& version) {
  return model + "/" + version;
}

// Starts of one investigation before it is given up (each start that did
// not finish means the daemon died while it ran).
constexpr int kMaxAttempts = 3;

}  // namespace

struct JobRunner::Pool {
  explicit Pool(int workers) : threads(workers) {}
  boost::asio::thread_pool threads;
};

JobRunner::JobRunner(const DaemonConfig& config, const PluginHost& plugins, Metrics& metrics)
    : config_(config),
      plugins_(plugins),
      metrics_(metrics),
      pool_(std::make_unique<Pool>(config.workers)) {}

JobRunner::~JobRunner() { Stop(); }

void JobRunner::Stop() {
  stopping_ = true;
  sandbox::KillAllSandboxes();
  pool_->threads.join();
}

std::string JobRunner::StorePath() const { return config_.state_dir + "/keystore.db"; }

void JobRunner::Enqueue(std::atomic<int>* depth, const char* queue, std::string what,
                        std::function<void()> job) {
  metrics_.SetQueueDepth(queue, ++*depth);
  boost::asio::post(pool_->threads,
                    [this, depth, queue, what = std::move(what), job = std::move(job)] {
                      metrics_.SetQueueDepth(queue, --*depth);
                      if (stopping_) return;
                      // The jobs catch what they expect; this is the last barrier, so that a
                      // bug cannot take the process down through std::terminate.
                      Status st = GuardedCall(what.c_str(), [&] {
                        job();
                        return Status::Ok();
                      });
                      if (!st.ok()) Log(LogLevel::kError, "job aborted", {{"error", st.message()}});
                    });
}

Status JobRunner::QueuePlan(const registry::RegisteredVersion& version,
                            std::function<void(const Status&)> on_rejected) {
  const std::string key = Key(version.model, version.version);
  {
    std::lock_guard<std::mutex> lock(planning_mu_);
    if (!planning_.insert(key).second) {
      return Status::AlreadyExists("release " + key + " is being planned");
    }
  }
  Enqueue(&queued_releases_, "release", "planning " + key, [this, version, key, on_rejected] {
    StatusOr<int64_t> id = GuardedCall("planning", [&] { return Plan(version); });
    {
      std::lock_guard<std::mutex> lock(planning_mu_);
      planning_.erase(key);
    }
    if (id.ok()) {
      RunRelease(*id);
      return;
    }
    if (id.status().code() == Status::Code::kCancelled) return;
    Log(LogLevel::kError, "release rejected", {{"release", key}, {"error", id.status().message()}});
    metrics_.ReleaseFinished(version.scheme, false);
    if (on_rejected) on_rejected(id.status());
  });
  return Status::Ok();
}

bool JobRunner::Planning(const std::string& model, const std::string& version) const {
  std::lock_guard<std::mutex> lock(planning_mu_);
  return planning_.count(Key(model, version)) > 0;
}

Status JobRunner::CheckBaseInSandbox(const registry::RegisteredVersion& version) {
  TM_ASSIGN_OR_RETURN(DataSplits data, LoadDataset(version.data));
  if (data.train.size() == 0)
    return Status::InvalidArgument("dataset " + version.data + " is empty");
  const std::string shape = ShapeText(data.train.images.sizes().slice(1));
  int fd = ::open(version.model_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::IoError("cannot open " + version.model_path);
  struct stat st;
  Status checked = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
                       ? Status::Ok()
                       : Status::InvalidArgument(version.model_path + " is not a regular file");
  if (checked.ok()) {
    SandboxedExaminer examiner(fd, SandboxFor(config_, plugins_.directory()));
    checked = examiner.Facts({shape}).status();
  }
  ::close(fd);
  return checked.WithContext("base model");
}

StatusOr<int64_t> JobRunner::Plan(const registry::RegisteredVersion& version) {
  if (stopping_) return Status::Cancelled("stopping");
  // The base model comes from a registry: it runs in the sandbox first, so
  // that one that crashes, loops or reaches for files is refused here.
  TM_RETURN_IF_ERROR(CheckBaseInSandbox(version));
  if (stopping_) return Status::Cancelled("stopping");
  ReleaseRequest request;
  request.model_path = version.model_path;
  request.model_name = version.model;
  request.version = version.version;
  request.scheme = version.scheme;
  request.data_spec = version.data;
  request.out_dir = config_.dist_dir;
  request.copy_subdir = Key(version.model, version.version);
  request.licensees = version.licensees;
  request.settings = version.params;
  TM_ASSIGN_OR_RETURN(std::unique_ptr<KeyStore> store, KeyStore::Open(StorePath()));
  TM_ASSIGN_OR_RETURN(int64_t id, ReleaseEngine(store.get(), &plugins_).Plan(request));
  Log(LogLevel::kInfo, "release planned",
      {{"release", std::to_string(id)},
       {"model", version.model},
       {"version", version.version},
       {"licensees", std::to_string(request.licensees.size())}});
  return id;
}

void JobRunner::QueueRelease(int64_t release_id) {
  Enqueue(&queued_releases_, "release", "release " + std::to_string(release_id),
          [this, release_id] { RunRelease(release_id); });
}

void JobRunner::RunRelease(int64_t release_id) {
  if (stopping_) return;
  const std::string id = std::to_string(release_id);
  auto store = KeyStore::Open(StorePath());
  if (!store.ok()) {
    Log(LogLevel::kError, "cannot open key store", {{"error", store.status().message()}});
    return;
  }
  auto release = (*store)->GetRelease(release_id);
  const std::string scheme = release.ok() ? release->scheme : "unknown";
  ReleaseEngine engine(store->get(), &plugins_);
  engine.set_stop_flag(&stopping_);
  auto result = engine.Run(release_id, [&](const CopyResult& copy) {
    metrics_.CopyFinished(scheme, true, copy.seconds);
    Log(LogLevel::kInfo, "copy published",
        {{"release", id},
         {"licensee", copy.licensee},
         {"sha256", copy.sha256},
         {"seconds", std::to_string(copy.seconds)}});
  });
  if (result.ok()) {
    metrics_.ReleaseFinished(scheme, true);
    Log(LogLevel::kInfo, "release done",
        {{"release", id}, {"seconds", std::to_string(result->seconds)}});
  } else if (result.status().code() == Status::Code::kCancelled) {
    Log(LogLevel::kInfo, "release paused", {{"release", id}});
  } else {
    metrics_.CopyFinished(scheme, false, 0);
    metrics_.ReleaseFinished(scheme, false);
    Log(LogLevel::kError, "release failed",
        {{"release", id}, {"error", result.status().message()}});
  }
}

void JobRunner::QueueInvestigation(int64_t id) {
  Enqueue(&queued_investigations_, "investigation", "investigation " + std::to_string(id),
          [this, id] {
            Status st = GuardedCall("investigation", [&] {
              RunInvestigation(id);
              return Status::Ok();
            });
            if (!st.ok()) FailInvestigation(id, st.message());
          });
}

void JobRunner::FailInvestigation(int64_t id, const std::string& failure) {
  auto store = DaemonStore::Open(StorePath());
  Status st = store.ok() ? (*store)->FinishInvestigation(id, "", "", failure) : store.status();
  if (!st.ok()) {
    Log(LogLevel::kError, "cannot record investigation failure",
        {{"investigation", std::to_string(id)}, {"error", st.message()}});
  }
}

void JobRunner::RunInvestigation(int64_t id) {
  if (stopping_) return;
  const auto start = Clock::now();
  const std::string id_text = std::to_string(id);
  auto jobs = DaemonStore::Open(StorePath());
  auto keys = KeyStore::Open(StorePath());
  if (!jobs.ok() || !keys.ok()) {
    Log(LogLevel::kError, "cannot open key store",
        {{"error", (jobs.ok() ? keys.status() : jobs.status()).message()}});
    return;
  }
  auto inv = (*jobs)->GetInvestigation(id);
  Status started = inv.ok() ? (*jobs)->StartInvestigation(id) : inv.status();
  if (!started.ok()) {
    Log(LogLevel::kError, "cannot start investigation",
        {{"investigation", id_text}, {"error", started.message()}});
    return;
  }
  if (inv->attempts >= kMaxAttempts) {
    // Started that often without finishing: the daemon died each time.
    FailInvestigation(
        id, "started " + std::to_string(inv->attempts) + " times without finishing; not retried");
    Log(LogLevel::kWarn, "investigation abandoned", {{"investigation", id_text}});
    return;
  }
  TraceEngine engine(keys->get(), &plugins_, SandboxFor(config_, plugins_.directory()));
  StatusOr<TraceReport> report =
      inv->source == InvestigationSource::kEndpoint
          ? engine.TraceEndpoint(EndpointFor(config_, inv->endpoint_url, inv->endpoint_model))
          : engine.Trace(inv->path, inv->original_name);
  if (!report.ok() && stopping_) {
    // Stop killed its sandbox: it stays running and is traced at the next start.
    Log(LogLevel::kInfo, "investigation paused", {{"investigation", id_text}});
    return;
  }
  const std::string verdict = report.ok() ? VerdictName(report->verdict) : "failed";
  Status finished = (*jobs)->FinishInvestigation(id, report.ok() ? verdict : "",
                                                 report.ok() ? JsonText(ToJson(*report)) : "",
                                                 report.ok() ? "" : report.status().message());
  if (!finished.ok()) {
    Log(LogLevel::kError, "cannot record investigation",
        {{"investigation", id_text}, {"error", finished.message()}});
  }
  if (inv->source == InvestigationSource::kUpload && !config_.keep_uploads) {
    std::error_code ec;
    std::filesystem::remove(inv->path, ec);
    Status recorded = ec ? Status::IoError(ec.message()) : (*jobs)->SetInvestigationPath(id, "");
    if (!recorded.ok()) {
      Log(LogLevel::kWarn, "cannot remove upload",
          {{"investigation", id_text}, {"error", recorded.message()}});
    }
  }
  if (inv->source == InvestigationSource::kInbox) {
    StatusOr<std::string> moved =
        MoveInto(inv->path, InboxDir(config_, report.ok() ? "done" : "failed"));
    Status recorded = moved.ok() ? (*jobs)->SetInvestigationPath(id, *moved) : moved.status();
    if (!recorded.ok()) {
      Log(LogLevel::kWarn, "cannot move suspect",
          {{"investigation", id_text}, {"error", recorded.message()}});
    }
  }
  metrics_.InvestigationFinished(verdict, SecondsSince(start));
  Log(report.ok() ? LogLevel::kInfo : LogLevel::kWarn, "investigation finished",
      {{"investigation", id_text},
       {"verdict", verdict},
       {"accused", report.ok() ? JsonText(report->accused) : "[]"},
       {"error", report.ok() ? "" : report.status().message()}});
}

}  // namespace tracemark::daemon
