#include "tracemark/store/daemon_store.h"

#include "sqlite_db.h"
#include "tracemark/base/text.h"

namespace tracemark {
namespace {

using namespace store_internal;

const char kSelectToken[] = "SELECT id, role, name, created_at FROM tokens ";
const char kSelectInvestigation[] =
    "SELECT id, source, original_name, path, status, verdict, report_json, failure, created_at,"
    " finished_at, endpoint_url, endpoint_model, attempts FROM investigations ";

TokenRecord ReadToken(const Statement& row) {
  return TokenRecord{row.Int(0), row.Str(1), row.Str(2), row.Str(3)};
}

InvestigationRecord ReadInvestigation(const Statement& row) {
  InvestigationRecord r;
  r.id = row.Int(0);
  if (!Parse(row.Str(1), &r.source)) r.source = InvestigationSource::kUpload;
  r.original_name = row.Str(2);
  r.path = row.Str(3);
  if (!Parse(row.Str(4), &r.status)) r.status = InvestigationStatus::kFailed;
  r.verdict = row.Str(5);
  r.report_json = row.Str(6);
  r.failure = row.Str(7);
  r.created_at = row.Str(8);
  r.finished_at = row.Str(9);
  r.endpoint_url = row.Str(10);
  r.endpoint_model = row.Str(11);
  r.attempts = static_cast<int>(row.Int(12));
  return r;
}

}  // namespace

DaemonStore::DaemonStore(sqlite3* db) : db_(db) {}

DaemonStore::~DaemonStore() { sqlite3_close_v2(db_); }

StatusOr<std::unique_ptr<DaemonStore>> DaemonStore::Open(const std::string& path) {
  TM_ASSIGN_OR_RETURN(sqlite3 * db, OpenDatabase(path));
  return std::unique_ptr<DaemonStore>(new DaemonStore(db));
}

StatusOr<TokenRecord> DaemonStore::AddToken(const std::string& token_sha256,
                                            const std::string& role, const std::string& name) {
  if (role != "admin" && role != "investigator" && role != "viewer") {
    return Status::InvalidArgument("unknown role '" + Printable(role) +
                                   "' (roles: admin, investigator, viewer)");
  }
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(Exec(db_, "INSERT INTO tokens(token_sha256, role, name) VALUES (?,?,?)",
                          token_sha256, role, name));
  TM_ASSIGN_OR_RETURN(TokenRecord token, QueryOne(db_, ReadToken, "token vanished",
                                                  std::string(kSelectToken) + "WHERE id = ?",
                                                  int64_t{sqlite3_last_insert_rowid(db_)}));
  TM_RETURN_IF_ERROR(txn.Commit());
  return token;
}

StatusOr<TokenRecord> DaemonStore::FindToken(const std::string& token_sha256) {
  return QueryOne(db_, ReadToken, "unknown token",
                  std::string(kSelectToken) + "WHERE token_sha256 = ?", token_sha256);
}

StatusOr<int64_t> DaemonStore::AddInvestigation(InvestigationSource source,
                                                const std::string& original_name,
                                                const std::string& path) {
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(Exec(db_,
                          "INSERT INTO investigations(source, original_name, path, status)"
                          " VALUES (?,?,?,'queued')",
                          std::string(Name(source)), original_name, path));
  const int64_t id = sqlite3_last_insert_rowid(db_);
  TM_RETURN_IF_ERROR(txn.Commit());
  return id;
}

StatusOr<int64_t> DaemonStore::AddEndpointInvestigation(const std::string& url,
                                                        const std::string& model) {
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(
      Exec(db_,
           "INSERT INTO investigations(source, original_name, path, status,"
           " endpoint_url, endpoint_model) VALUES ('endpoint', ?, '', 'queued', ?, ?)",
           model + " at " + url, url, model));
  const int64_t id = sqlite3_last_insert_rowid(db_);
  TM_RETURN_IF_ERROR(txn.Commit());
  return id;
}

Status DaemonStore::SetInvestigationPath(int64_t id, const std::string& path) {
  return UpdateOne(db_, "no investigation with id " + std::to_string(id),
                   "UPDATE investigations SET path = ? WHERE id = ?", path, id);
}

Status DaemonStore::StartInvestigation(int64_t id) {
  return UpdateOne(
      db_, "no investigation with id " + std::to_string(id),
      "UPDATE investigations SET status = 'running', attempts = attempts + 1 WHERE id = ?", id);
}

Status DaemonStore::FinishInvestigation(int64_t id, const std::string& verdict,
                                        const std::string& report_json,
                                        const std::string& failure) {
  return UpdateOne(db_, "no investigation with id " + std::to_string(id),
                   "UPDATE investigations SET status = ?, verdict = ?, report_json = ?,"
                   " failure = ?, finished_at = " TM_NOW " WHERE id = ?",
                   std::string(Name(failure.empty() ? InvestigationStatus::kDone
                                                    : InvestigationStatus::kFailed)),
                   verdict, report_json, failure, id);
}

StatusOr<InvestigationRecord> DaemonStore::GetInvestigation(int64_t id) {
  return QueryOne(db_, ReadInvestigation, "no investigation with id " + std::to_string(id),
                  std::string(kSelectInvestigation) + "WHERE id = ?", id);
}

StatusOr<std::vector<InvestigationRecord>> DaemonStore::ListInvestigations() {
  return Query(db_, ReadInvestigation, std::string(kSelectInvestigation) + "ORDER BY id");
}

Status DaemonStore::RefuseManifest(const RefusedManifest& m) {
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(Exec(db_,
                          "INSERT OR REPLACE INTO refused_manifests(path, mtime, reason)"
                          " VALUES (?,?,?)",
                          m.path, m.mtime, m.reason));
  return txn.Commit();
}

Status DaemonStore::ForgetManifest(const std::string& path) {
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(Exec(db_, "DELETE FROM refused_manifests WHERE path = ?", path));
  return txn.Commit();
}

StatusOr<std::vector<RefusedManifest>> DaemonStore::ListRefusedManifests() {
  return Query(
      db_,
      +[](const Statement& row) {
        return RefusedManifest{row.Str(0), row.Str(1), row.Str(2)};
      },
      "SELECT path, mtime, reason FROM refused_manifests ORDER BY path");
}

}  // namespace tracemark
