// The SQLite layer both stores share (private to core/store): statements,
// queries, write transactions, error mapping, and opening the one database
// file at its current schema. Every Tracemark table lives in that file; the
// schema history (kMigrations in sqlite_db.cc) is one list for all of them.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark::store_internal {

#define TM_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

// The user_version this build migrates to.
int SchemaVersion();

// Opens (creating with mode 0600 if needed) the Tracemark database at
// `path`, checks it is one, applies the connection settings (WAL,
// synchronous=FULL, foreign keys, busy timeout) and migrates it. The caller
// owns the returned connection (sqlite3_close_v2). Errors as KeyStore::Open.
StatusOr<sqlite3*> OpenDatabase(const std::string& path);

// Maps a failed SQLite call on `db` to a Status carrying SQLite's message.
inline Status SqlError(sqlite3* db, int rc) {
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
inline Blob BlobOf(const std::string& s) { return {s.data(), s.size()}; }
inline Blob BlobOf(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

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
inline Status ExecScript(sqlite3* db, const std::string& sql) {
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

inline int64_t ReadInt(const Statement& row) { return row.Int(0); }
inline std::string ReadStr(const Statement& row) { return row.Str(0); }

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

}  // namespace tracemark::store_internal
