// DaemonStore: tracemarkd's own records, its API tokens and its
// investigations, in the same Tracemark database file as the KeyStore
// (same durability; one connection per object, not thread-safe; several
// objects, in this process or others, may use the file at once).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/store/states.h"

struct sqlite3;

namespace tracemark {

// A daemon API token: only the SHA-256 of the token is stored.
struct TokenRecord {
  int64_t id = 0;
  std::string role;  // "admin", "investigator" or "viewer"
  std::string name;
  std::string created_at;
};

// A suspect model under investigation (lifecycle: states.h).
struct InvestigationRecord {
  int64_t id = 0;
  InvestigationSource source = InvestigationSource::kUpload;
  std::string original_name;  // as received: any bytes (show it with ValidUtf8)
  std::string path;           // where the suspect file is kept; empty for an endpoint
  InvestigationStatus status = InvestigationStatus::kQueued;
  std::string verdict;  // VerdictName() once done
  std::string report_json;
  std::string failure;
  std::string created_at;
  std::string finished_at;
  std::string endpoint_url;    // source kEndpoint: the v2 server's base URL
  std::string endpoint_model;  // source kEndpoint: the model name it serves
  int attempts = 0;            // times StartInvestigation ran (schema 6)
};

// A registry manifest the daemon could not release, remembered until the
// manifest changes (its modification time, as text).
struct RefusedManifest {
  std::string path;
  std::string mtime;
  std::string reason;
};

class DaemonStore {
 public:
  // Opens (creating and migrating if needed) the database at `path`;
  // errors as KeyStore::Open.
  static StatusOr<std::unique_ptr<DaemonStore>> Open(const std::string& path);
  ~DaemonStore();
  DaemonStore(const DaemonStore&) = delete;
  DaemonStore& operator=(const DaemonStore&) = delete;

  // API tokens. InvalidArgument for an unknown role, AlreadyExists for a
  // duplicate hash; FindToken is NotFound when unknown.
  StatusOr<TokenRecord> AddToken(const std::string& token_sha256, const std::string& role,
                                 const std::string& name);
  StatusOr<TokenRecord> FindToken(const std::string& token_sha256);

  // Investigations: queued on Add, then Start, then Finish (an empty
  // `failure` means done, with `verdict` and the report).
  StatusOr<int64_t> AddInvestigation(InvestigationSource source, const std::string& original_name,
                                     const std::string& path);
  // An investigation of a deployed endpoint (source kEndpoint, no file).
  StatusOr<int64_t> AddEndpointInvestigation(const std::string& url, const std::string& model);
  Status SetInvestigationPath(int64_t id, const std::string& path);
  // Marks it running and counts the attempt.
  Status StartInvestigation(int64_t id);
  Status FinishInvestigation(int64_t id, const std::string& verdict, const std::string& report_json,
                             const std::string& failure);
  StatusOr<InvestigationRecord> GetInvestigation(int64_t id);       // NotFound if absent
  StatusOr<std::vector<InvestigationRecord>> ListInvestigations();  // by id

  // Refused manifests (schema 6): Refuse records or replaces one; Forget
  // drops it (no error when absent).
  Status RefuseManifest(const RefusedManifest& manifest);
  Status ForgetManifest(const std::string& path);
  StatusOr<std::vector<RefusedManifest>> ListRefusedManifests();

 private:
  explicit DaemonStore(sqlite3* db);
  sqlite3* db_;  // owned
};

}  // namespace tracemark
