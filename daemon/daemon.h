// Daemon: tracemarkd's event loop and job runner.
//
// One Boost.Asio io_context thread owns timers, signals and the inotify
// watches; releases and investigations run on a bounded pool of `workers`
// threads; the REST server (HttpServer) answers from its own threads. Every
// job's state lives in the key store, so a daemon killed at any moment
// resumes on restart: releases still "embedding" are run again from where
// they stopped, investigations still queued or running are traced again.
//
// Ownership: the Daemon owns everything it starts; Run() returns after
// SIGTERM/SIGINT once in-flight jobs reached a checkpoint.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "daemon/api_backend.h"
#include "daemon/config.h"
#include "tracemark/status.h"

namespace tracemark {
class KeyStore;
class PluginHost;
}  // namespace tracemark

namespace tracemark::daemon {

class HttpServer;
class Metrics;

class Daemon : public ApiBackend {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon() override;

  // Creates the directories, opens the key store, loads the plugins, starts
  // the REST server and queues the interrupted jobs. Errors are fatal.
  Status Start();
  // Serves until SIGTERM or SIGINT; returns the process exit code.
  int Run();

  // ApiBackend
  StatusOr<Role> Authenticate(const std::string& token) override;
  bool Ready() override;
  std::string MetricsText() override;
  StatusOr<nlohmann::json> Schemes() override;
  StatusOr<nlohmann::json> Licensees() override;
  StatusOr<nlohmann::json> AddLicensee(const std::string& name) override;
  StatusOr<nlohmann::json> Releases() override;
  StatusOr<nlohmann::json> Release(int64_t id) override;
  StatusOr<nlohmann::json> CreateRelease(const nlohmann::json& body) override;
  StatusOr<nlohmann::json> Investigations() override;
  StatusOr<nlohmann::json> Investigation(int64_t id) override;
  StatusOr<nlohmann::json> CreateEndpointInvestigation(const nlohmann::json& body) override;
  StatusOr<nlohmann::json> CreateInvestigation(const std::string& uploaded_path,
                                               const std::string& original_name) override;

 private:
  struct Loop;  // the Boost.Asio parts, kept out of this header

  void ScanRegistry();
  void ScanInbox();
  // Plans a registered version (loads model and data: seconds); its id.
  StatusOr<int64_t> PlanVersion(const std::string& model, const std::string& version);
  // Runs `job` on the worker pool, counting it in `depth` (and the
  // tracemark_queue_depth{queue} gauge) until it starts.
  void Enqueue(std::atomic<int>* depth, const std::string& queue, std::function<void()> job);
  void QueueRelease(int64_t release_id);
  void QueueInvestigation(int64_t id);
  void RunRelease(int64_t release_id);
  void RunInvestigation(int64_t id);
  std::string InboxDir(const std::string& sub) const;

  DaemonConfig config_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<HttpServer> http_;
  std::mutex store_mu_;  // guards store_, the connection of the API and loop threads
  std::unique_ptr<KeyStore> store_;
  std::mutex planning_mu_;
  std::set<std::string> planning_;  // "model/version" being planned
  std::set<std::string> rejected_;  // manifests that failed planning, by path and mtime
  std::atomic<bool> stopping_{false};
  std::atomic<bool> ready_{false};
  std::atomic<int> queued_releases_{0};
  std::atomic<int> queued_investigations_{0};
};

}  // namespace tracemark::daemon
