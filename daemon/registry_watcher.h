// RegistryWatcher: finds the registered versions that have no release yet
// and hands them to the JobRunner for planning. A manifest whose planning
// failed is not tried again while it stays as it was: it is remembered by
// path and modification time in the daemon store (so across restarts too),
// and fixing it in place (or replacing it) releases it on the next scan.
// Each registry problem is logged once.
//
// Scan runs on the daemon's io thread; rejections arrive from workers.
// Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/job_runner.h"

namespace tracemark {
class DaemonStore;
class KeyStore;
}  // namespace tracemark

namespace tracemark::daemon {

class Metrics;

class RegistryWatcher {
 public:
  // `keys` and `jobs` are this watcher's own connections (owned); the
  // refused manifests are read from `jobs` here.
  RegistryWatcher(const DaemonConfig& config, JobRunner& runner, Metrics& metrics,
                  std::unique_ptr<KeyStore> keys, std::unique_ptr<DaemonStore> jobs);
  ~RegistryWatcher();

  // One pass over the registry. Returns the model and version directories,
  // for the caller to watch.
  std::vector<std::string> Scan();

 private:
  // Whether the manifest at `path` was refused as it is now (`mtime`, as
  // text); forgets a refusal of an older state.
  bool RefusedAsIs(const std::string& path, const std::string& mtime);
  void Refuse(const std::string& path, const std::string& mtime, const std::string& reason);

  const DaemonConfig& config_;
  JobRunner& runner_;
  Metrics& metrics_;
  std::unique_ptr<KeyStore> keys_;
  std::mutex mu_;  // guards jobs_ and the two members below
  std::unique_ptr<DaemonStore> jobs_;
  std::map<std::string, std::string> refused_;  // manifest path -> mtime, as stored
  std::set<std::string> reported_problems_;
};

}  // namespace tracemark::daemon
