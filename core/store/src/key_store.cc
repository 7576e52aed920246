#include "tracemark/store/key_store.h"

#include <cassert>
#include <cstring>
#include <set>

#include "sqlite_db.h"
#include "tracemark/base/text.h"

namespace tracemark {
namespace {

using namespace store_internal;

constexpr size_t kMaxLicenseeName = 64;

// Column lists shared by every read of a record; each pairs with a Read* below.
const char kSelectLicensee[] = "SELECT id, name, created_at FROM licensees ";
const char kSelectRelease[] =
    "SELECT r.id, m.name, r.version, r.scheme, r.params_json, r.code_family, r.code_bits,"
    " r.code_max_colluders, r.code_seed, r.architecture, r.base_sha256, r.base_accuracy,"
    " r.status, r.failure, r.created_at, r.source_path, r.data_spec, r.accuracy_budget,"
    " r.model_kind, r.input_shape"
    " FROM releases r JOIN models m ON m.id = r.model_id ";
const char kSelectCopy[] =
    "SELECT c.id, c.release_id, c.licensee_id, l.name, c.slot, c.code, c.artifact_path,"
    " c.sha256, c.accuracy, c.embed_seconds, c.status, c.failure, c.copy_key"
    " FROM copies c JOIN licensees l ON l.id = c.licensee_id ";

int64_t ToInt64(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

uint64_t ToUint64(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

Licensee ReadLicensee(const Statement& row) {
  Licensee l;
  l.id = row.Int(0);
  l.name = row.Str(1);
  l.created_at = row.Str(2);
  return l;
}

ReleaseRecord ReadRelease(const Statement& row) {
  ReleaseRecord r;
  r.id = row.Int(0);
  r.model = row.Str(1);
  r.version = row.Str(2);
  r.scheme = row.Str(3);
  r.params_json = row.Str(4);
  r.code_family = row.Str(5);
  r.code_bits = static_cast<int>(row.Int(6));
  r.code_max_colluders = static_cast<int>(row.Int(7));
  r.code_seed = ToUint64(row.Int(8));
  r.architecture = row.Str(9);
  r.base_sha256 = row.Str(10);
  r.base_accuracy = row.Real(11);
  if (!Parse(row.Str(12), &r.status)) r.status = ReleaseStatus::kFailed;
  r.failure = row.Str(13);
  r.created_at = row.Str(14);
  r.source_path = row.Str(15);
  r.data_spec = row.Str(16);
  r.accuracy_budget = row.Real(17);
  r.model_kind = row.Str(18);
  r.input_shape = row.Str(19);
  return r;
}

CopyRecord ReadCopy(const Statement& row) {
  CopyRecord c;
  c.id = row.Int(0);
  c.release_id = row.Int(1);
  c.licensee_id = row.Int(2);
  c.licensee = row.Str(3);
  c.slot = static_cast<int>(row.Int(4));
  std::string code = row.Str(5);
  c.code.assign(code.begin(), code.end());
  c.artifact_path = row.Str(6);
  c.sha256 = row.Str(7);
  c.accuracy = row.Real(8);
  c.embed_seconds = row.Real(9);
  if (!Parse(row.Str(10), &c.status)) c.status = CopyStatus::kFailed;
  c.failure = row.Str(11);
  c.copy_key = row.Str(12);
  return c;
}

// The id of the row named `name` in `table` (licensees or models), inserting
// the row if it is missing. Call inside a write transaction.
StatusOr<int64_t> IdForName(sqlite3* db, const std::string& table, const std::string& name) {
  TM_RETURN_IF_ERROR(
      Exec(db, "INSERT INTO " + table + "(name) VALUES (?) ON CONFLICT(name) DO NOTHING", name));
  return QueryOne(db, ReadInt, "no " + table + " row named " + Printable(name),
                  "SELECT id FROM " + table + " WHERE name = ?", name);
}

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

Status CheckLicenseeName(const std::string& name) {
  return KeyStore::ValidateName("licensee name", name);
}

// Validates the caller's input to CreateRelease before anything is written.
Status CheckNewRelease(const ReleaseRecord& release, const std::vector<CopyRecord>& copies) {
  if (release.model.empty() || release.version.empty()) {
    return Status::InvalidArgument("a release needs a model name and a version");
  }
  std::set<std::string> names;
  std::set<int> slots;
  for (const CopyRecord& copy : copies) {
    TM_RETURN_IF_ERROR(CheckLicenseeName(copy.licensee));
    const std::string what = "copy for licensee " + copy.licensee;
    if (!names.insert(copy.licensee).second) {
      return Status::InvalidArgument("licensee " + copy.licensee +
                                     " has two copies in the release");
    }
    if (copy.slot < 0) return Status::InvalidArgument(what + ": negative slot");
    if (!slots.insert(copy.slot).second) {
      return Status::InvalidArgument(what + ": slot " + std::to_string(copy.slot) +
                                     " is used twice");
    }
    for (uint8_t bit : copy.code) {
      if (bit > 1) return Status::InvalidArgument(what + ": code holds a value other than 0/1");
    }
  }
  return Status::Ok();
}

}  // namespace

KeyStore::KeyStore(sqlite3* db) : db_(db) {}

KeyStore::~KeyStore() { sqlite3_close_v2(db_); }

Status KeyStore::ValidateName(const std::string& what, const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxLicenseeName && name[0] != '.';
  for (char c : name) ok = ok && IsNameChar(c);
  if (ok) return Status::Ok();
  return Status::InvalidArgument(
      "invalid " + what + " '" + Printable(name) +
      "': use 1 to 64 characters from A-Z a-z 0-9 . _ -, not starting with .");
}

int KeyStore::SchemaVersion() { return store_internal::SchemaVersion(); }

StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& path) {
  TM_ASSIGN_OR_RETURN(sqlite3 * db, OpenDatabase(path));
  return std::unique_ptr<KeyStore>(new KeyStore(db));
}

StatusOr<Licensee> KeyStore::AddLicensee(const std::string& name) {
  TM_RETURN_IF_ERROR(CheckLicenseeName(name));
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  Status st = Exec(db_, "INSERT INTO licensees(name) VALUES (?)", name);
  if (st.code() == Status::Code::kAlreadyExists) {
    return Status::AlreadyExists("licensee " + name + " already exists");
  }
  TM_RETURN_IF_ERROR(st);
  TM_ASSIGN_OR_RETURN(Licensee licensee,
                      QueryOne(db_, ReadLicensee, "licensee " + name + " vanished",
                               std::string(kSelectLicensee) + "WHERE id = ?",
                               int64_t{sqlite3_last_insert_rowid(db_)}));
  TM_RETURN_IF_ERROR(txn.Commit());
  return licensee;
}

StatusOr<Licensee> KeyStore::FindLicensee(const std::string& name) {
  TM_RETURN_IF_ERROR(CheckLicenseeName(name));
  return QueryOne(db_, ReadLicensee, "no licensee named " + name,
                  std::string(kSelectLicensee) + "WHERE name = ?", name);
}

StatusOr<std::vector<Licensee>> KeyStore::ListLicensees() {
  return Query(db_, ReadLicensee, std::string(kSelectLicensee) + "ORDER BY name");
}

StatusOr<int64_t> KeyStore::CreateRelease(const ReleaseRecord& release,
                                          std::vector<CopyRecord>* copies,
                                          const std::string& scheme_key) {
  assert(copies != nullptr);
  TM_RETURN_IF_ERROR(CheckNewRelease(release, *copies));
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());

  TM_ASSIGN_OR_RETURN(int64_t model_id, IdForName(db_, "models", release.model));
  Status st =
      Exec(db_,
           "INSERT INTO releases(model_id, version, scheme, params_json, code_family,"
           " code_bits, code_max_colluders, code_seed, architecture, base_sha256,"
           " base_accuracy, status, failure, source_path, data_spec, accuracy_budget,"
           " model_kind, input_shape)"
           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
           model_id, release.version, release.scheme, release.params_json, release.code_family,
           release.code_bits, release.code_max_colluders, ToInt64(release.code_seed),
           release.architecture, release.base_sha256, release.base_accuracy,
           std::string(Name(release.status)), release.failure, release.source_path,
           release.data_spec, release.accuracy_budget, release.model_kind, release.input_shape);
  if (st.code() == Status::Code::kAlreadyExists) {
    return Status::AlreadyExists("release " + Printable(release.model) + " version " +
                                 Printable(release.version) + " already exists");
  }
  TM_RETURN_IF_ERROR(st);
  const int64_t release_id = sqlite3_last_insert_rowid(db_);

  // Built aside so that `*copies` changes only once everything is committed.
  std::vector<CopyRecord> stored;
  for (const CopyRecord& copy : *copies) {
    CopyRecord c;
    c.release_id = release_id;
    c.licensee = copy.licensee;
    TM_ASSIGN_OR_RETURN(c.licensee_id, IdForName(db_, "licensees", copy.licensee));
    c.slot = copy.slot;
    c.code = copy.code;
    c.artifact_path = copy.artifact_path;
    c.status = CopyStatus::kPending;
    TM_RETURN_IF_ERROR(Exec(db_,
                            "INSERT INTO copies(release_id, licensee_id, slot, code, status,"
                            " artifact_path) VALUES (?,?,?,?,?,?)",
                            c.release_id, c.licensee_id, c.slot, BlobOf(c.code),
                            std::string(Name(c.status)), c.artifact_path));
    c.id = sqlite3_last_insert_rowid(db_);
    stored.push_back(std::move(c));
  }
  TM_RETURN_IF_ERROR(Exec(db_, "INSERT INTO scheme_keys(release_id, key) VALUES (?,?)", release_id,
                          BlobOf(scheme_key)));
  TM_RETURN_IF_ERROR(txn.Commit());
  *copies = std::move(stored);
  return release_id;
}

Status KeyStore::CompleteCopy(int64_t copy_id, const std::string& artifact_path,
                              const std::string& sha256, double accuracy, double embed_seconds,
                              const std::string& copy_key) {
  return UpdateOne(db_, "no copy with id " + std::to_string(copy_id),
                   "UPDATE copies SET artifact_path = ?, sha256 = ?, accuracy = ?,"
                   " embed_seconds = ?, copy_key = ?, status = 'done', failure = '' WHERE id = ?",
                   artifact_path, sha256, accuracy, embed_seconds, BlobOf(copy_key), copy_id);
}

Status KeyStore::FailCopy(int64_t copy_id, const std::string& failure) {
  return UpdateOne(db_, "no copy with id " + std::to_string(copy_id),
                   "UPDATE copies SET status = 'failed', failure = ? WHERE id = ?", failure,
                   copy_id);
}

Status KeyStore::SetReleaseStatus(int64_t release_id, ReleaseStatus status,
                                  const std::string& failure) {
  return UpdateOne(db_, "no release with id " + std::to_string(release_id),
                   "UPDATE releases SET status = ?, failure = ? WHERE id = ?",
                   std::string(Name(status)), failure, release_id);
}

StatusOr<ReleaseRecord> KeyStore::GetRelease(int64_t release_id) {
  return QueryOne(db_, ReadRelease, "no release with id " + std::to_string(release_id),
                  std::string(kSelectRelease) + "WHERE r.id = ?", release_id);
}

StatusOr<std::vector<ReleaseRecord>> KeyStore::ListReleases() {
  return Query(db_, ReadRelease, std::string(kSelectRelease) + "ORDER BY r.id");
}

StatusOr<std::vector<CopyRecord>> KeyStore::ListCopies(int64_t release_id) {
  return Query(db_, ReadCopy, std::string(kSelectCopy) + "WHERE c.release_id = ? ORDER BY c.slot",
               release_id);
}

StatusOr<std::string> KeyStore::GetSchemeKey(int64_t release_id) {
  return QueryOne(db_, ReadStr, "no scheme key for release " + std::to_string(release_id),
                  "SELECT key FROM scheme_keys WHERE release_id = ?", release_id);
}

}  // namespace tracemark
