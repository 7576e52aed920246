#include "tracemark/key_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <set>

#include "tracemark/message_text.h"

namespace tracemark {
namespace {

// "TMKS": marks a SQLite file as a Tracemark key store (PRAGMA application_id).
constexpr int kApplicationId = 0x544d4b53;
constexpr int kBusyTimeoutMs = 5000;
constexpr size_t kMaxLicenseeName = 64;

#define TM_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

// kMigrations[i] takes the schema from user_version i to i + 1.
const char* const kMigrations[] = {
    // 1: the initial schema.
    "CREATE TABLE licensees ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at TEXT NOT NULL DEFAULT (" TM_NOW
    "));"
    "CREATE TABLE models ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at TEXT NOT NULL DEFAULT (" TM_NOW
    "));"
    "CREATE TABLE releases ("
    "  id INTEGER PRIMARY KEY,"
    "  model_id INTEGER NOT NULL REFERENCES models(id),"
    "  version TEXT NOT NULL,"
    "  scheme TEXT NOT NULL,"
    "  params_json TEXT NOT NULL,"
    "  code_family TEXT NOT NULL,"
    "  code_bits INTEGER NOT NULL,"
    "  code_max_colluders INTEGER NOT NULL,"
    "  code_seed INTEGER NOT NULL,"  // uint64 bit-cast to int64
    "  architecture TEXT NOT NULL,"
    "  base_sha256 TEXT NOT NULL,"
    "  base_accuracy REAL NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('embedding', 'done', 'failed')),"
    "  failure TEXT NOT NULL DEFAULT '',"
    "  created_at TEXT NOT NULL DEFAULT (" TM_NOW
    "),"
    "  UNIQUE (model_id, version));"
    "CREATE TABLE copies ("
    "  id INTEGER PRIMARY KEY,"
    "  release_id INTEGER NOT NULL REFERENCES releases(id),"
    "  licensee_id INTEGER NOT NULL REFERENCES licensees(id),"
    "  slot INTEGER NOT NULL CHECK (slot >= 0),"
    "  code BLOB NOT NULL,"
    "  artifact_path TEXT NOT NULL DEFAULT '',"
    "  sha256 TEXT NOT NULL DEFAULT '',"
    "  accuracy REAL NOT NULL DEFAULT 0,"
    "  embed_seconds REAL NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),"
    "  failure TEXT NOT NULL DEFAULT '',"
    "  UNIQUE (release_id, licensee_id),"
    "  UNIQUE (release_id, slot));"
    "CREATE INDEX copies_by_licensee ON copies(licensee_id);"
    "CREATE TABLE scheme_keys ("
    "  release_id INTEGER PRIMARY KEY REFERENCES releases(id),"
    "  key BLOB NOT NULL);",
    // 2: what resuming an interrupted release needs.
    "ALTER TABLE releases ADD COLUMN source_path TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE releases ADD COLUMN data_spec TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE releases ADD COLUMN accuracy_budget REAL NOT NULL DEFAULT 0.005;",
    // 3: the daemon's API tokens and investigations.
    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  token_sha256 TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'investigator', 'viewer')),"
    "  name TEXT NOT NULL DEFAULT '',"
    "  created_at TEXT NOT NULL DEFAULT (" TM_NOW
    "));"
    "CREATE TABLE investigations ("
    "  id INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL CHECK (source IN ('inbox', 'upload')),"
    "  original_name TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),"
    "  verdict TEXT NOT NULL DEFAULT '',"
    "  report_json TEXT NOT NULL DEFAULT '',"
    "  failure TEXT NOT NULL DEFAULT '',"
    "  created_at TEXT NOT NULL DEFAULT (" TM_NOW
    "),"
    "  finished_at TEXT NOT NULL DEFAULT '');",
    // 4: per-copy scheme keys (black-box trigger sets) and investigations of
    // deployed endpoints (the source CHECK changes, so the table is rebuilt).
    "ALTER TABLE copies ADD COLUMN copy_key BLOB NOT NULL DEFAULT x'';"
    "CREATE TABLE investigations_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL CHECK (source IN ('inbox', 'upload', 'endpoint')),"
    "  original_name TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),"
    "  verdict TEXT NOT NULL DEFAULT '',"
    "  report_json TEXT NOT NULL DEFAULT '',"
    "  failure TEXT NOT NULL DEFAULT '',"
    "  created_at TEXT NOT NULL DEFAULT (" TM_NOW
    "),"
    "  finished_at TEXT NOT NULL DEFAULT '',"
    "  endpoint_url TEXT NOT NULL DEFAULT '',"
    "  endpoint_model TEXT NOT NULL DEFAULT '');"
    "INSERT INTO investigations_v4 (id, source, original_name, path, status, verdict,"
    "  report_json, failure, created_at, finished_at)"
    " SELECT id, source, original_name, path, status, verdict, report_json, failure,"
    "  created_at, finished_at FROM investigations;"
    "DROP TABLE investigations;"
    "ALTER TABLE investigations_v4 RENAME TO investigations;",
    // 5: model kinds. Releases made before are classifiers; their input
    // shape was not recorded (traced by architecture only, as before).
    "ALTER TABLE releases ADD COLUMN model_kind TEXT NOT NULL DEFAULT 'classifier';"
    "ALTER TABLE releases ADD COLUMN input_shape TEXT NOT NULL DEFAULT '';",
};

// Column lists shared by every read of a record; each pairs with a Read* below.
const char kSelectLicensee[] = "SELECT id, name, created_at FROM licensees ";
const char kSelectRelease[] =
    "SELECT r.id, m.name, r.version, r.scheme, r.params_json, r.code_family, r.code_bits,"
    " r.code_max_colluders, r.code_seed, r.architecture, r.base_sha256, r.base_accuracy,"
    " r.status, r.failure, r.created_at, r.source_path, r.data_spec, r.accuracy_budget,"
    " r.model_kind, r.input_shape"
    " FROM releases r JOIN models m ON m.id = r.model_id ";
const char kSelectToken[] = "SELECT id, role, name, created_at FROM tokens ";
const char kSelectInvestigation[] =
    "SELECT id, source, original_name, path, status, verdict, report_json, failure, created_at,"
    " finished_at, endpoint_url, endpoint_model FROM investigations ";
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

// Maps a failed SQLite call on `db` to a Status carrying SQLite's message.
Status SqlError(sqlite3* db, int rc) {
  const char* file = sqlite3_db_filename(db, "main");
  std::string msg = std::string("key store ") + (file ? file : "") + ": " + sqlite3_errmsg(db);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::AlreadyExists(msg);
      }
      return Status::InvalidArgument(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
      return Status::IoError(msg);
    default:
      return Status::Internal(msg);
  }
}

// A BLOB parameter (a plain std::string binds as TEXT).
struct Blob {
  const void* data;
  size_t size;
};
Blob BlobOf(const std::string& s) { return {s.data(), s.size()}; }
Blob BlobOf(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

// A prepared statement. Parameters bind in order; a bind error surfaces at
// the next Step().
class Statement {
 public:
  static StatusOr<Statement> Prepare(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqlError(db, rc);
    return Statement(db, stmt);
  }

  Statement& Bind(int64_t v) { return Check(sqlite3_bind_int64(stmt(), next_++, v)); }
  Statement& Bind(int v) { return Bind(int64_t{v}); }
  Statement& Bind(double v) { return Check(sqlite3_bind_double(stmt(), next_++, v)); }
  Statement& Bind(const std::string& v) {
    return Check(
        sqlite3_bind_text64(stmt(), next_++, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Statement& Bind(const Blob& v) {
    // A null pointer would bind NULL rather than an empty blob.
    if (v.size == 0) return Check(sqlite3_bind_zeroblob(stmt(), next_++, 0));
    return Check(sqlite3_bind_blob64(stmt(), next_++, v.data, v.size, SQLITE_TRANSIENT));
  }
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    (Bind(args), ...);
    return *this;
  }

  // True when a row is ready, false when the statement has finished.
  StatusOr<bool> Step() {
    if (bind_rc_ != SQLITE_OK) return SqlError(db_, bind_rc_);
    int rc = sqlite3_step(stmt());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(db_, rc);
  }

  // Steps to completion, discarding rows.
  Status Run() {
    for (;;) {
      TM_ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return Status::Ok();
    }
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt(), col); }
  double Real(int col) const { return sqlite3_column_double(stmt(), col); }
  // The bytes of a TEXT or BLOB column.
  std::string Str(int col) const {
    const void* p = sqlite3_column_blob(stmt(), col);
    int n = sqlite3_column_bytes(stmt(), col);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };

  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3_stmt* stmt() const { return stmt_.get(); }
  Statement& Check(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  int next_ = 1;
  int bind_rc_ = SQLITE_OK;
};

// Runs one parameterised statement that returns no rows.
template <typename... Args>
Status Exec(sqlite3* db, const std::string& sql, const Args&... args) {
  TM_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, sql));
  return st.BindAll(args...).Run();
}

// Runs a script of parameterless statements.
Status ExecScript(sqlite3* db, const std::string& sql) {
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqlError(db, rc);
}

// Runs a query and converts every row with `read`.
template <typename T, typename... Args>
StatusOr<std::vector<T>> Query(sqlite3* db, T (*read)(const Statement&), const std::string& sql,
                               const Args&... args) {
  TM_ASSIGN_OR_RETURN(Statement st, Statement::Prepare(db, sql));
  st.BindAll(args...);
  std::vector<T> rows;
  for (;;) {
    TM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return rows;
    rows.push_back(read(st));
  }
}

// Like Query, for exactly one row; NotFound(`not_found`) when there is none.
template <typename T, typename... Args>
StatusOr<T> QueryOne(sqlite3* db, T (*read)(const Statement&), const std::string& not_found,
                     const std::string& sql, const Args&... args) {
  TM_ASSIGN_OR_RETURN(std::vector<T> rows, Query(db, read, sql, args...));
  if (rows.empty()) return Status::NotFound(not_found);
  return std::move(rows.front());
}

int64_t ReadInt(const Statement& row) { return row.Int(0); }
std::string ReadStr(const Statement& row) { return row.Str(0); }

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
  r.status = row.Str(12);
  r.failure = row.Str(13);
  r.created_at = row.Str(14);
  r.source_path = row.Str(15);
  r.data_spec = row.Str(16);
  r.accuracy_budget = row.Real(17);
  r.model_kind = row.Str(18);
  r.input_shape = row.Str(19);
  return r;
}

TokenRecord ReadToken(const Statement& row) {
  return TokenRecord{row.Int(0), row.Str(1), row.Str(2), row.Str(3)};
}

InvestigationRecord ReadInvestigation(const Statement& row) {
  InvestigationRecord r;
  r.id = row.Int(0);
  r.source = row.Str(1);
  r.original_name = row.Str(2);
  r.path = row.Str(3);
  r.status = row.Str(4);
  r.verdict = row.Str(5);
  r.report_json = row.Str(6);
  r.failure = row.Str(7);
  r.created_at = row.Str(8);
  r.finished_at = row.Str(9);
  r.endpoint_url = row.Str(10);
  r.endpoint_model = row.Str(11);
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
  c.status = row.Str(10);
  c.failure = row.Str(11);
  c.copy_key = row.Str(12);
  return c;
}

// A BEGIN IMMEDIATE transaction, rolled back unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(sqlite3* db) : db_(db) {}
  ~WriteTransaction() {
    if (open_ && !sqlite3_get_autocommit(db_)) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  Status Begin() {
    TM_RETURN_IF_ERROR(ExecScript(db_, "BEGIN IMMEDIATE"));
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    TM_RETURN_IF_ERROR(ExecScript(db_, "COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

// Runs `sql` (one statement, parameters `args`) in its own write transaction
// and expects it to change exactly one row; NotFound(`not_found`) otherwise.
template <typename... Args>
Status UpdateOne(sqlite3* db, const std::string& not_found, const std::string& sql,
                 const Args&... args) {
  WriteTransaction txn(db);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(Exec(db, sql, args...));
  if (sqlite3_changes(db) != 1) return Status::NotFound(not_found);
  return txn.Commit();
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

Status CheckReleaseStatus(const std::string& status) {
  if (status == "embedding" || status == "done" || status == "failed") return Status::Ok();
  return Status::InvalidArgument("invalid release status '" + Printable(status) +
                                 "': expected embedding, done or failed");
}

// Validates the caller's input to CreateRelease before anything is written.
Status CheckNewRelease(const ReleaseRecord& release, const std::vector<CopyRecord>& copies) {
  if (release.model.empty() || release.version.empty()) {
    return Status::InvalidArgument("a release needs a model name and a version");
  }
  TM_RETURN_IF_ERROR(CheckReleaseStatus(release.status));
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

// Creates `path` with mode 0600 if it does not exist yet.
Status CreateOwnerOnly(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot open key store " + path + ": " + std::strerror(errno));
  ::close(fd);
  return Status::Ok();
}

// Sets mode 0600 on the database and its WAL side files, where they exist.
// SQLite creates side files later with the database file's mode.
Status RestrictModes(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string file = path + suffix;
    struct stat st;
    if (::stat(file.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return Status::IoError("cannot stat " + file + ": " + std::strerror(errno));
    }
    if ((st.st_mode & 07777) != 0600 && ::chmod(file.c_str(), 0600) != 0) {
      return Status::IoError("cannot chmod 0600 " + file + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

// Corruption unless `db` is a SQLite database that is empty or a key store.
// Reads only, so a foreign file is left untouched.
Status CheckIsKeyStore(sqlite3* db, const std::string& path) {
  const std::string prefix = "not a Tracemark key store: " + path + ": ";
  StatusOr<int64_t> objects = QueryOne(db, ReadInt, "", "SELECT count(*) FROM sqlite_master");
  if (!objects.ok()) {
    if (objects.status().code() != Status::Code::kCorruption) return objects.status();
    return Status::Corruption(prefix + sqlite3_errmsg(db));
  }
  TM_ASSIGN_OR_RETURN(int64_t app_id, QueryOne(db, ReadInt, "", "PRAGMA application_id"));
  if (*objects > 0 && app_id != kApplicationId) {
    return Status::Corruption(prefix + "the database belongs to another application");
  }
  return Status::Ok();
}

// Applies the per-connection settings (busy_timeout is set at open).
Status ConfigureConnection(sqlite3* db, const std::string& path) {
  TM_ASSIGN_OR_RETURN(std::string mode, QueryOne(db, ReadStr, "", "PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return Status::IoError("key store " + path + ": cannot enable WAL (journal mode " + mode + ")");
  }
  return ExecScript(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
}

StatusOr<int> UserVersion(sqlite3* db) {
  TM_ASSIGN_OR_RETURN(int64_t version, QueryOne(db, ReadInt, "", "PRAGMA user_version"));
  return static_cast<int>(version);
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

int KeyStore::SchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& path) {
  TM_RETURN_IF_ERROR(CreateOwnerOnly(path));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<KeyStore> store(new KeyStore(db));  // owns `db` even on failure
  if (rc != SQLITE_OK) {
    return Status::IoError("cannot open key store " + path + ": " +
                           (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  TM_RETURN_IF_ERROR(CheckIsKeyStore(db, path));
  TM_RETURN_IF_ERROR(RestrictModes(path));
  TM_RETURN_IF_ERROR(ConfigureConnection(db, path));
  TM_RETURN_IF_ERROR(store->Migrate());
  return store;
}

Status KeyStore::Migrate() {
  TM_ASSIGN_OR_RETURN(int version, UserVersion(db_));
  if (version == SchemaVersion()) return Status::Ok();
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_ASSIGN_OR_RETURN(version, UserVersion(db_));  // another process may have migrated
  if (version > SchemaVersion()) {
    return Status::Corruption("key store " + std::string(sqlite3_db_filename(db_, "main")) +
                              ": schema version " + std::to_string(version) +
                              " is newer than this build (" + std::to_string(SchemaVersion()) +
                              ")");
  }
  for (int v = version; v < SchemaVersion(); ++v)
    TM_RETURN_IF_ERROR(ExecScript(db_, kMigrations[v]));
  TM_RETURN_IF_ERROR(
      ExecScript(db_, "PRAGMA application_id = " + std::to_string(kApplicationId) +
                          "; PRAGMA user_version = " + std::to_string(SchemaVersion()) + ";"));
  return txn.Commit();
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
           release.architecture, release.base_sha256, release.base_accuracy, release.status,
           release.failure, release.source_path, release.data_spec, release.accuracy_budget,
           release.model_kind, release.input_shape);
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
    c.status = "pending";
    TM_RETURN_IF_ERROR(Exec(db_,
                            "INSERT INTO copies(release_id, licensee_id, slot, code, status,"
                            " artifact_path) VALUES (?,?,?,?,?,?)",
                            c.release_id, c.licensee_id, c.slot, BlobOf(c.code), c.status,
                            c.artifact_path));
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

Status KeyStore::SetReleaseStatus(int64_t release_id, const std::string& status,
                                  const std::string& failure) {
  TM_RETURN_IF_ERROR(CheckReleaseStatus(status));
  return UpdateOne(db_, "no release with id " + std::to_string(release_id),
                   "UPDATE releases SET status = ?, failure = ? WHERE id = ?", status, failure,
                   release_id);
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

StatusOr<TokenRecord> KeyStore::AddToken(const std::string& token_sha256, const std::string& role,
                                         const std::string& name) {
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

StatusOr<TokenRecord> KeyStore::FindToken(const std::string& token_sha256) {
  return QueryOne(db_, ReadToken, "unknown token",
                  std::string(kSelectToken) + "WHERE token_sha256 = ?", token_sha256);
}

StatusOr<int64_t> KeyStore::AddInvestigation(const std::string& source,
                                             const std::string& original_name,
                                             const std::string& path) {
  WriteTransaction txn(db_);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_RETURN_IF_ERROR(Exec(db_,
                          "INSERT INTO investigations(source, original_name, path, status)"
                          " VALUES (?,?,?,'queued')",
                          source, original_name, path));
  const int64_t id = sqlite3_last_insert_rowid(db_);
  TM_RETURN_IF_ERROR(txn.Commit());
  return id;
}

StatusOr<int64_t> KeyStore::AddEndpointInvestigation(const std::string& url,
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

Status KeyStore::SetInvestigationPath(int64_t id, const std::string& path) {
  return UpdateOne(db_, "no investigation with id " + std::to_string(id),
                   "UPDATE investigations SET path = ? WHERE id = ?", path, id);
}

Status KeyStore::StartInvestigation(int64_t id) {
  return UpdateOne(db_, "no investigation with id " + std::to_string(id),
                   "UPDATE investigations SET status = 'running' WHERE id = ?", id);
}

Status KeyStore::FinishInvestigation(int64_t id, const std::string& verdict,
                                     const std::string& report_json, const std::string& failure) {
  return UpdateOne(db_, "no investigation with id " + std::to_string(id),
                   "UPDATE investigations SET status = ?, verdict = ?, report_json = ?,"
                   " failure = ?, finished_at = " TM_NOW " WHERE id = ?",
                   std::string(failure.empty() ? "done" : "failed"), verdict, report_json, failure,
                   id);
}

StatusOr<InvestigationRecord> KeyStore::GetInvestigation(int64_t id) {
  return QueryOne(db_, ReadInvestigation, "no investigation with id " + std::to_string(id),
                  std::string(kSelectInvestigation) + "WHERE id = ?", id);
}

StatusOr<std::vector<InvestigationRecord>> KeyStore::ListInvestigations() {
  return Query(db_, ReadInvestigation, std::string(kSelectInvestigation) + "ORDER BY id");
}

}  // namespace tracemark
