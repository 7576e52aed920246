#include "daemon/registry_watcher.h"

#include <chrono>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "registry/filesystem_registry.h"
#include "tracemark/store/daemon_store.h"
#include "tracemark/store/key_store.h"

namespace tracemark::daemon {
namespace fs = std::filesystem;

namespace {

std::string MtimeText(fs::file_time_type mtime) {
  return std::to_string(mtime.time_since_epoch().count());
}

}  // namespace

RegistryWatcher::RegistryWatcher(const DaemonConfig& config, JobRunner& runner, Metrics& metrics,
                                 std::unique_ptr<KeyStore> keys, std::unique_ptr<DaemonStore> jobs)
    : config_(config),
      runner_(runner),
      metrics_(metrics),
      keys_(std::move(keys)),
      jobs_(std::move(jobs)) {
  auto refused = jobs_->ListRefusedManifests();
  if (!refused.ok()) {
    Log(LogLevel::kError, "cannot read refused manifests", {{"error", refused.status().message()}});
    return;
  }
  for (const auto& m : *refused) refused_[m.path] = m.mtime;
}

RegistryWatcher::~RegistryWatcher() = default;

bool RegistryWatcher::RefusedAsIs(const std::string& path, const std::string& mtime) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refused_.find(path);
  if (it == refused_.end()) return false;
  if (it->second == mtime) return true;
  refused_.erase(it);  // changed since: try again
  Status forgotten = jobs_->ForgetManifest(path);
  if (!forgotten.ok()) {
    Log(LogLevel::kError, "cannot forget a refused manifest", {{"error", forgotten.message()}});
  }
  return false;
}

void RegistryWatcher::Refuse(const std::string& path, const std::string& mtime,
                             const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  refused_[path] = mtime;
  Status recorded = jobs_->RefuseManifest({path, mtime, reason});
  if (!recorded.ok()) {
    Log(LogLevel::kError, "cannot record a refused manifest", {{"error", recorded.message()}});
  }
}

std::vector<std::string> RegistryWatcher::Scan() {
  const auto start = std::chrono::steady_clock::now();
  registry::FilesystemRegistry registry(config_.registry_dir);
  std::vector<std::string> problems;
  auto versions = registry.Scan(&problems);
  metrics_.ScanFinished(
      "registry", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  std::vector<std::string> dirs;
  if (!versions.ok()) {
    Log(LogLevel::kError, "registry scan failed", {{"error", versions.status().message()}});
    return dirs;
  }
  for (const auto& problem : problems) {
    std::lock_guard<std::mutex> lock(mu_);
    if (reported_problems_.insert(problem).second) {
      Log(LogLevel::kWarn, "invalid registry entry", {{"problem", problem}});
    }
  }
  std::error_code ec;
  for (const auto& model : fs::directory_iterator(config_.registry_dir, ec)) {
    if (!model.is_directory(ec)) continue;
    dirs.push_back(model.path().string());
    for (const auto& version : fs::directory_iterator(model.path(), ec)) {
      if (version.is_directory(ec)) dirs.push_back(version.path().string());
    }
  }
  auto releases = keys_->ListReleases();
  if (!releases.ok()) {
    Log(LogLevel::kError, "cannot list releases", {{"error", releases.status().message()}});
    return dirs;
  }
  std::set<std::pair<std::string, std::string>> released;
  for (const auto& r : *releases) released.insert({r.model, r.version});
  for (const auto& v : *versions) {
    if (released.count({v.model, v.version}) || runner_.Planning(v.model, v.version)) continue;
    const auto mtime = fs::last_write_time(v.manifest_path, ec);
    if (ec) continue;
    const std::string mtime_text = MtimeText(mtime);
    if (RefusedAsIs(v.manifest_path, mtime_text)) continue;
    const std::string path = v.manifest_path;
    Status queued = runner_.QueuePlan(v, [this, path, mtime_text](const Status& why) {
      Refuse(path, mtime_text, why.message());
    });
    if (!queued.ok() && queued.code() != Status::Code::kAlreadyExists) {  // the API was first
      Log(LogLevel::kError, "cannot queue release", {{"error", queued.message()}});
    }
  }
  return dirs;
}

}  // namespace tracemark::daemon
