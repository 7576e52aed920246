#include "sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

namespace tracemark::store_internal {
namespace {

// "TMKS": marks a SQLite file as a Tracemark key store (PRAGMA application_id).
constexpr int kApplicationId = 0x544d4b53;
constexpr int kBusyTimeoutMs = 5000;

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
    // 6: attempts per investigation (a suspect that keeps its daemon from
    // finishing is not run forever) and the manifests the daemon refused
    // (not planned again until they change, across restarts).
    "ALTER TABLE investigations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE refused_manifests ("
    "  path TEXT PRIMARY KEY,"
    "  mtime TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  refused_at TEXT NOT NULL DEFAULT (" TM_NOW "));",
};

// Creates `path` with mode 0600 if it does not exist yet. An existing file
// is never opened here: closing a descriptor of a database file drops every
// POSIX lock this process holds on it, SQLite's included, and another
// process could then delete the WAL under live connections.
Status CreateOwnerOnly(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return Status::Ok();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) return Status::Ok();  // created by another process meanwhile
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

Status Migrate(sqlite3* db) {
  TM_ASSIGN_OR_RETURN(int version, UserVersion(db));
  if (version == SchemaVersion()) return Status::Ok();
  WriteTransaction txn(db);
  TM_RETURN_IF_ERROR(txn.Begin());
  TM_ASSIGN_OR_RETURN(version, UserVersion(db));  // another process may have migrated
  if (version > SchemaVersion()) {
    return Status::Corruption("key store " + std::string(sqlite3_db_filename(db, "main")) +
                              ": schema version " + std::to_string(version) +
                              " is newer than this build (" + std::to_string(SchemaVersion()) +
                              ")");
  }
  for (int v = version; v < SchemaVersion(); ++v)
    TM_RETURN_IF_ERROR(ExecScript(db, kMigrations[v]));
  TM_RETURN_IF_ERROR(
      ExecScript(db, "PRAGMA application_id = " + std::to_string(kApplicationId) +
                         "; PRAGMA user_version = " + std::to_string(SchemaVersion()) + ";"));
  return txn.Commit();
}

}  // namespace

int SchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

StatusOr<sqlite3*> OpenDatabase(const std::string& path) {
  TM_RETURN_IF_ERROR(CreateOwnerOnly(path));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  auto fail = [&](const Status& st) {
    sqlite3_close_v2(db);
    return st;
  };
  if (rc != SQLITE_OK) {
    return fail(Status::IoError("cannot open key store " + path + ": " +
                                (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  Status st = CheckIsKeyStore(db, path);
  if (st.ok()) st = RestrictModes(path);
  if (st.ok()) st = ConfigureConnection(db, path);
  if (st.ok()) st = Migrate(db);
  if (!st.ok()) return fail(st);
  return db;
}

}  // namespace tracemark::store_internal
