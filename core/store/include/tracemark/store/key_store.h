// KeyStore: licensees, models, releases, the per-licensee copies with their
// codes, and the schemes' secret keys, in the Tracemark database file (the
// daemon's tokens and investigations share that file: daemon_store.h).
//
// Durability: WAL, synchronous=FULL, foreign_keys=ON, busy_timeout, writes
// in BEGIN IMMEDIATE transactions, schema migrations by PRAGMA user_version,
// file mode 0600 (created so; tightened when opened). A KeyStore object owns
// one connection and is not thread-safe; open one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/store/states.h"

struct sqlite3;

namespace tracemark {

struct Licensee {
  int64_t id = 0;
  std::string name;
  std::string created_at;  // UTC, ISO 8601
};

// A release (lifecycle: states.h; `failure` says why it failed).
struct ReleaseRecord {
  int64_t id = 0;
  std::string model;  // model name
  std::string version;
  std::string scheme;       // plugin name
  std::string params_json;  // effective scheme parameters, JSON object
  std::string code_family;  // "random" / "bibd"
  int code_bits = 0;
  int code_max_colluders = 0;
  uint64_t code_seed = 0;    // secret
  std::string architecture;  // architecture signature of the base model
  std::string base_sha256;
  // The base model's quality: test accuracy in [0, 1] for classifiers,
  // task PSNR in dB for image-to-image models (tracemark/image_task.h).
  double base_accuracy = 0;
  ReleaseStatus status = ReleaseStatus::kEmbedding;
  std::string failure;
  std::string created_at;
  // What resuming the release needs (schema 2):
  std::string source_path;     // the base model file
  std::string data_spec;       // the owner's dataset
  double accuracy_budget = 0;  // max quality drop of a copy: a fraction, or dB (image-to-image)
  // Model kinds (schema 5): "classifier" or "image-to-image", and the shape
  // of one input sample, e.g. "[1, 28, 28]" (empty for older releases).
  std::string model_kind = "classifier";
  std::string input_shape;
};

// One licensee's copy in a release (lifecycle: states.h).
struct CopyRecord {
  int64_t id = 0;
  int64_t release_id = 0;
  int64_t licensee_id = 0;
  std::string licensee;       // name (filled by reads)
  int slot = 0;               // index into the release codebook
  std::vector<uint8_t> code;  // bits embedded (0/1), secret
  std::string artifact_path;  // planned at CreateRelease, final once done
  std::string sha256;
  double accuracy = 0;
  double embed_seconds = 0;
  CopyStatus status = CopyStatus::kPending;
  std::string failure;
  // The scheme's per-copy key (schema 4), empty for schemes that tell
  // copies apart by their code bits. Secret.
  std::string copy_key;
};

class KeyStore {
 public:
  // Opens (creating if needed) the database at `path` and migrates it to
  // the current schema. The parent directory must exist. IoError if the
  // file cannot be opened, Corruption if it is not a Tracemark database or
  // its schema is newer than this build knows.
  static StatusOr<std::unique_ptr<KeyStore>> Open(const std::string& path);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  static int SchemaVersion();  // the user_version this build migrates to

  // Names of licensees, models and versions (they become path components):
  // 1..64 chars of [A-Za-z0-9._-], not starting with '.'. InvalidArgument
  // naming `what` otherwise.
  static Status ValidateName(const std::string& what, const std::string& name);

  // Licensees. Names as ValidateName; InvalidArgument otherwise.
  StatusOr<Licensee> AddLicensee(const std::string& name);   // AlreadyExists if taken
  StatusOr<Licensee> FindLicensee(const std::string& name);  // NotFound if absent
  StatusOr<std::vector<Licensee>> ListLicensees();           // by name

  // Records a new release with its copies (pending, codes and planned
  // artifact paths set) and
  // the release-wide scheme key, in one transaction: either all of it is
  // stored or none. Licensees named in `copies[i].licensee` that do not
  // exist yet are created in the same transaction. `release.status` is
  // stored as given (normally kEmbedding). AlreadyExists if the model
  // already has a release with that version. Returns the release id and
  // fills the ids of `copies`.
  StatusOr<int64_t> CreateRelease(const ReleaseRecord& release, std::vector<CopyRecord>* copies,
                                  const std::string& scheme_key);

  // Marks a copy published (kDone) with its artifact facts and the
  // scheme's per-copy key (may be empty).
  Status CompleteCopy(int64_t copy_id, const std::string& artifact_path, const std::string& sha256,
                      double accuracy, double embed_seconds, const std::string& copy_key = "");
  Status FailCopy(int64_t copy_id, const std::string& failure);
  Status SetReleaseStatus(int64_t release_id, ReleaseStatus status,
                          const std::string& failure = "");

  StatusOr<ReleaseRecord> GetRelease(int64_t release_id);            // NotFound if absent
  StatusOr<std::vector<ReleaseRecord>> ListReleases();               // by id
  StatusOr<std::vector<CopyRecord>> ListCopies(int64_t release_id);  // by slot
  StatusOr<std::string> GetSchemeKey(int64_t release_id);            // NotFound if absent

 private:
  explicit KeyStore(sqlite3* db);
  sqlite3* db_;  // owned
};

}  // namespace tracemark
