#include "daemon/registry_watcher.h"

#include <chrono>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "registry/filesystem_registry.h"
#include "tracemark/store/key_store.h"

namespace tracemark::daemon {
namespace fs = std::filesystem;

RegistryWatcher::RegistryWatcher(const DaemonConfig& config, JobRunner& runner, Metrics& metrics,
                                 std::unique_ptr<KeyStore> store)
    : config_(config), runner_(runner), metrics_(metrics), store_(std::move(store)) {}

RegistryWatcher::~RegistryWatcher() = default;

bool RegistryWatcher::RejectedAsIs(const std::string& path, fs::file_time_type mtime) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rejected_.find(path);
  return it != rejected_.end() && it->second == mtime;
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
  auto releases = store_->ListReleases();
  if (!releases.ok()) {
    Log(LogLevel::kError, "cannot list releases", {{"error", releases.status().message()}});
    return dirs;
  }
  std::set<std::pair<std::string, std::string>> released;
  for (const auto& r : *releases) released.insert({r.model, r.version});
  for (const auto& v : *versions) {
    if (released.count({v.model, v.version}) || runner_.Planning(v.model, v.version)) continue;
    const auto mtime = fs::last_write_time(v.manifest_path, ec);
    if (ec || RejectedAsIs(v.manifest_path, mtime)) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rejected_.erase(v.manifest_path);
    }
    const std::string path = v.manifest_path;
    Status queued = runner_.QueuePlan(v, [this, path, mtime](const Status&) {
      std::lock_guard<std::mutex> lock(mu_);
      rejected_[path] = mtime;
    });
    if (!queued.ok() && queued.code() != Status::Code::kAlreadyExists) {  // the API was first
      Log(LogLevel::kError, "cannot queue release", {{"error", queued.message()}});
    }
  }
  return dirs;
}

}  // namespace tracemark::daemon
