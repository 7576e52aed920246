// ApiBackend: what the REST server asks of the daemon. The server owns HTTP
// (routing, authentication, limits, JSON errors); the backend owns the
// state. Every method is called from the server's connection threads and
// must be thread-safe; none may block for long (work is queued, not done).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tracemark/base/status.h"

namespace tracemark::daemon {

// Roles, from least to most privileged. viewer: every GET; investigator:
// also POST /v1/investigations; admin: everything.
enum class Role { kViewer, kInvestigator, kAdmin };

// "viewer", "investigator", "admin" (the names the key store keeps).
inline const char* RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kInvestigator:
      return "investigator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

// The role named `name`; InvalidArgument for another name.
inline StatusOr<Role> ParseRole(const std::string& name) {
  for (Role role : {Role::kViewer, Role::kInvestigator, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return Status::InvalidArgument("unknown role '" + name + "'");
}

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  // The role of a bearer token; NotFound when the token is unknown.
  virtual StatusOr<Role> Authenticate(const std::string& token) = 0;

  // True once the daemon has loaded its state and plugins.
  virtual bool Ready() = 0;
  // Prometheus text exposition.
  virtual std::string MetricsText() = 0;

  // JSON documents for the API (docs/api.md). Errors: InvalidArgument ->
  // 400, NotFound -> 404, AlreadyExists/FailedPrecondition -> 409, anything
  // else -> 500. No response ever holds secret key material.
  virtual StatusOr<nlohmann::json> Schemes() = 0;
  virtual StatusOr<nlohmann::json> Licensees() = 0;
  virtual StatusOr<nlohmann::json> AddLicensee(const std::string& name) = 0;
  virtual StatusOr<nlohmann::json> Releases() = 0;
  virtual StatusOr<nlohmann::json> Release(int64_t id) = 0;
  // Queues a release of a registered model version: body {"model", "version"}.
  virtual StatusOr<nlohmann::json> CreateRelease(const nlohmann::json& body) = 0;
  virtual StatusOr<nlohmann::json> Investigations() = 0;
  virtual StatusOr<nlohmann::json> Investigation(int64_t id) = 0;
  // Takes ownership of a complete uploaded file (moves it away) and queues
  // its investigation; returns {"id", "status"}.
  virtual StatusOr<nlohmann::json> CreateInvestigation(const std::string& uploaded_path,
                                                       const std::string& original_name) = 0;
  // Queues the investigation of a deployed endpoint: body {"endpoint": URL,
  // "model": NAME}; returns {"id", "status"}.
  virtual StatusOr<nlohmann::json> CreateEndpointInvestigation(const nlohmann::json& body) = 0;
};

}  // namespace tracemark::daemon
