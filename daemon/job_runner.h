// JobRunner: tracemarkd's worker pool. It plans registered versions, runs
// releases and traces investigations, `workers` jobs at a time, each job
// against the database through connections of its own. No exception
// escapes a job: an unexpected one ends the job's record as failed, with
// the reason, and is logged (docs/errors.md).
//
// Thread-safe. Borrows the config, plugins and metrics, which must outlive
// it; the destructor stops it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "daemon/config.h"
#include "registry/registry.h"
#include "tracemark/base/status.h"

namespace tracemark {
class PluginHost;
}  // namespace tracemark

namespace tracemark::daemon {

class Metrics;

class JobRunner {
 public:
  JobRunner(const DaemonConfig& config, const PluginHost& plugins, Metrics& metrics);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Queues the planning of `version` (loading its model and data; keygen
  // may train), then its release. AlreadyExists while that model/version
  // is being planned. `on_rejected` runs on the worker when planning fails
  // for any reason but Stop.
  Status QueuePlan(const registry::RegisteredVersion& version,
                   std::function<void(const Status&)> on_rejected);
  // Whether model/version is queued for planning or being planned.
  bool Planning(const std::string& model, const std::string& version) const;

  // Queues the (resumed) embedding of a planned release.
  void QueueRelease(int64_t release_id);
  // Queues the trace of a recorded investigation.
  void QueueInvestigation(int64_t id);

  // Jobs not started yet are dropped (their records stay queued and are
  // run at the next start); sandboxes are killed (their investigations stay
  // running and are traced at the next start); releases stop at their next
  // checkpoint. Returns when every worker has ended. Idempotent.
  void Stop();
  bool stopping() const { return stopping_; }

 private:
  struct Pool;  // the Boost.Asio thread pool, kept out of this header

  // Runs `job` on the pool, counting it in the `queue` depth until it
  // starts and catching whatever it throws (`what` names it in the log).
  void Enqueue(std::atomic<int>* depth, const char* queue, std::string what,
               std::function<void()> job);
  StatusOr<int64_t> Plan(const registry::RegisteredVersion& version);
  // Runs the base model once in the sandbox on an input of the dataset's shape.
  Status CheckBaseInSandbox(const registry::RegisteredVersion& version);
  void RunRelease(int64_t release_id);
  void RunInvestigation(int64_t id);
  // Ends investigation `id` as failed with `failure` (best effort, logged).
  void FailInvestigation(int64_t id, const std::string& failure);
  std::string StorePath() const;

  const DaemonConfig& config_;
  const PluginHost& plugins_;
  Metrics& metrics_;
  std::unique_ptr<Pool> pool_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> queued_releases_{0};
  std::atomic<int> queued_investigations_{0};
  mutable std::mutex planning_mu_;
  std::set<std::string> planning_;  // "model/version"
};

}  // namespace tracemark::daemon
