// ApiService: the REST API's backend (ApiBackend): the views of the stores
// as JSON documents (docs/api.md) and the requests that queue work. It
// answers from the HTTP server's threads through one pair of database
// connections of its own, behind a mutex; it never waits on a job: planning
// a release and tracing a suspect are queued on the JobRunner.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/api_backend.h"
#include "daemon/config.h"

namespace tracemark {
class DaemonStore;
class KeyStore;
class PluginHost;
}  // namespace tracemark

namespace tracemark::daemon {

class JobRunner;
class Metrics;

class ApiService : public ApiBackend {
 public:
  // Borrows config, plugins, metrics and runner; owns the two connections.
  ApiService(const DaemonConfig& config, const PluginHost& plugins, Metrics& metrics,
             JobRunner& runner, std::unique_ptr<KeyStore> keys, std::unique_ptr<DaemonStore> jobs);
  ~ApiService() override;

  // Ready() answers this (the daemon sets it once started, clears it when
  // stopping).
  void SetReady(bool ready) { ready_ = ready; }

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
  const DaemonConfig& config_;
  const PluginHost& plugins_;
  Metrics& metrics_;
  JobRunner& runner_;
  std::mutex mu_;  // guards the two connections
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<DaemonStore> jobs_;
  std::atomic<bool> ready_{false};
};

}  // namespace tracemark::daemon
