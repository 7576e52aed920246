#include "tracemark/store/key_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "test_files.h"

namespace tracemark {
namespace {

using testing::ReadBytes;
using testing::WriteBytes;

using Code = Status::Code;

// Connections opened while CaptureConnections is registered as an SQLite
// auto-extension; lets a test inspect the KeyStore's own connection.
std::vector<sqlite3*> g_captured;
int CaptureConnection(sqlite3* db, char**, const sqlite3_api_routines*) {
  g_captured.push_back(db);
  return SQLITE_OK;
}

// A plain connection for inspecting or tampering with a store from outside.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  void Exec(const std::string& sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
  }
  std::string Text(const std::string& sql) { return QueryText(db_, sql); }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }

  // The first column of the first row of `sql` on `db`, as text.
  static std::string QueryText(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

int FileMode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool IsUtcTimestamp(const std::string& s) {
  return std::regex_match(s, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"));
}

ReleaseRecord SampleRelease(const std::string& version) {
  ReleaseRecord r;
  r.model = "acme-cnn";
  r.version = version;
  r.scheme = "uchida";
  r.params_json = R"({"lambda":0.01,"layer":"conv2"})";
  r.code_family = "bibd";
  r.code_bits = 13;
  r.code_max_colluders = 3;
  r.code_seed = 0xF00DBABEDEADBEEFull;  // above 2^63
  r.architecture = "conv(1,32,3)|linear(512,10)";
  r.base_sha256 = std::string(64, 'a');
  r.base_accuracy = 0.9125;
  r.status = ReleaseStatus::kEmbedding;
  return r;
}

CopyRecord SampleCopy(const std::string& licensee, int slot) {
  CopyRecord c;
  c.licensee = licensee;
  c.slot = slot;
  for (int i = 0; i < 13; ++i) c.code.push_back(static_cast<uint8_t>((i * 7 + slot) % 3 == 0));
  return c;
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "key_store_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/keys.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<KeyStore> OpenStore() {
    StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Creates release `version` of acme-cnn for `licensees` (slots 0, 1, ...).
  StatusOr<int64_t> CreateSample(KeyStore* store, const std::string& version,
                                 const std::vector<std::string>& licensees,
                                 std::vector<CopyRecord>* copies) {
    copies->clear();
    for (size_t i = 0; i < licensees.size(); ++i) {
      copies->push_back(SampleCopy(licensees[i], static_cast<int>(i)));
    }
    return store->CreateRelease(SampleRelease(version), copies, "key-" + version);
  }

  std::vector<std::string> LicenseeNames(KeyStore* store) {
    std::vector<std::string> names;
    StatusOr<std::vector<Licensee>> all = store->ListLicensees();
    EXPECT_TRUE(all.ok()) << all.status().message();
    if (all.ok()) {
      for (const Licensee& l : *all) names.push_back(l.name);
    }
    return names;
  }

  std::string dir_;
  std::string path_;
};

void ExpectSameRelease(const ReleaseRecord& want, const ReleaseRecord& got) {
  EXPECT_EQ(got.model, want.model);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.scheme, want.scheme);
  EXPECT_EQ(got.params_json, want.params_json);
  EXPECT_EQ(got.code_family, want.code_family);
  EXPECT_EQ(got.code_bits, want.code_bits);
  EXPECT_EQ(got.code_max_colluders, want.code_max_colluders);
  EXPECT_EQ(got.code_seed, want.code_seed);
  EXPECT_EQ(got.architecture, want.architecture);
  EXPECT_EQ(got.base_sha256, want.base_sha256);
  EXPECT_EQ(got.base_accuracy, want.base_accuracy);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.failure, want.failure);
}

void ExpectSameCopy(const CopyRecord& want, const CopyRecord& got) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.release_id, want.release_id);
  EXPECT_EQ(got.licensee_id, want.licensee_id);
  EXPECT_EQ(got.licensee, want.licensee);
  EXPECT_EQ(got.slot, want.slot);
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.artifact_path, want.artifact_path);
  EXPECT_EQ(got.sha256, want.sha256);
  EXPECT_EQ(got.accuracy, want.accuracy);
  EXPECT_EQ(got.embed_seconds, want.embed_seconds);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.failure, want.failure);
}

TEST_F(KeyStoreTest, OpenCreatesOwnerOnlyFiles) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(FileMode(path_), 0600);
  ASSERT_TRUE(store->AddLicensee("alice").ok());
  EXPECT_EQ(FileMode(path_ + "-wal"), 0600);
  EXPECT_EQ(FileMode(path_ + "-shm"), 0600);
}

TEST_F(KeyStoreTest, OpenTightensLooseExistingStore) {
  ASSERT_NE(OpenStore(), nullptr);
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(FileMode(path_), 0600);
  EXPECT_EQ(FileMode(path_ + "-wal"), 0600);
  EXPECT_EQ(FileMode(path_ + "-shm"), 0600);
}

TEST_F(KeyStoreTest, ConnectionSettingsAndSchemaVersion) {
  g_captured.clear();
  auto capture = reinterpret_cast<void (*)()>(&CaptureConnection);
  ASSERT_EQ(sqlite3_auto_extension(capture), SQLITE_OK);
  auto store = OpenStore();
  sqlite3_cancel_auto_extension(capture);
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(g_captured.size(), 1u);
  sqlite3* own = g_captured[0];
  EXPECT_EQ(RawDb::QueryText(own, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawDb::QueryText(own, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(RawDb::QueryText(own, "PRAGMA synchronous"), "2");
  EXPECT_EQ(RawDb::QueryText(own, "PRAGMA busy_timeout"), "5000");

  RawDb raw(path_);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");  // persistent
  EXPECT_EQ(raw.Int("PRAGMA user_version"), KeyStore::SchemaVersion());
  EXPECT_EQ(raw.Int("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                    " ('licensees', 'models', 'releases', 'copies', 'scheme_keys')"),
            5);
}

TEST_F(KeyStoreTest, AddFindListLicensees) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  StatusOr<Licensee> bob = store->AddLicensee("bob");
  ASSERT_TRUE(bob.ok()) << bob.status().message();
  EXPECT_GT(bob->id, 0);
  EXPECT_EQ(bob->name, "bob");
  EXPECT_TRUE(IsUtcTimestamp(bob->created_at)) << bob->created_at;
  ASSERT_TRUE(store->AddLicensee("Alice_2.eu-west").ok());

  StatusOr<Licensee> found = store->FindLicensee("bob");
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->id, bob->id);
  EXPECT_EQ(found->created_at, bob->created_at);
  EXPECT_EQ(store->FindLicensee("carol").status().code(), Code::kNotFound);

  EXPECT_EQ(LicenseeNames(store.get()), (std::vector<std::string>{"Alice_2.eu-west", "bob"}));
}

TEST_F(KeyStoreTest, DuplicateLicenseeIsAlreadyExists) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->AddLicensee("bob").ok());
  StatusOr<Licensee> again = store->AddLicensee("bob");
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "licensee bob already exists");
  EXPECT_EQ(LicenseeNames(store.get()), std::vector<std::string>{"bob"});
}

TEST_F(KeyStoreTest, LicenseeNamesAreValidated) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (const std::string& bad :
       {std::string(), std::string(65, 'x'), std::string("a b"), std::string("a/b"),
        std::string("caf\xc3\xa9"), std::string("x;DROP"), std::string("new\nline")}) {
    StatusOr<Licensee> added = store->AddLicensee(bad);
    EXPECT_EQ(added.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(added.status().message().find('\n'), std::string::npos);
    EXPECT_EQ(store->FindLicensee(bad).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(store->AddLicensee(std::string(64, 'x')).ok());
  EXPECT_TRUE(store->AddLicensee("A-z_0.9").ok());
}

TEST_F(KeyStoreTest, CreateReleaseRoundTrip) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  StatusOr<Licensee> bob = store->AddLicensee("bob");
  ASSERT_TRUE(bob.ok());

  // Out of slot order, and "alice" does not exist yet.
  std::vector<CopyRecord> copies = {SampleCopy("bob", 1), SampleCopy("alice", 0)};
  const std::vector<CopyRecord> given = copies;
  const std::string key("k\0\xff\x01secret", 10);
  const ReleaseRecord release = SampleRelease("1");
  StatusOr<int64_t> id = store->CreateRelease(release, &copies, key);
  ASSERT_TRUE(id.ok()) << id.status().message();

  StatusOr<Licensee> alice = store->FindLicensee("alice");
  ASSERT_TRUE(alice.ok()) << alice.status().message();
  ASSERT_EQ(copies.size(), 2u);
  for (size_t i = 0; i < copies.size(); ++i) {
    EXPECT_GT(copies[i].id, 0);
    EXPECT_EQ(copies[i].release_id, *id);
    EXPECT_EQ(copies[i].licensee, given[i].licensee);
    EXPECT_EQ(copies[i].slot, given[i].slot);
    EXPECT_EQ(copies[i].code, given[i].code);
    EXPECT_EQ(copies[i].status, CopyStatus::kPending);
  }
  EXPECT_EQ(copies[0].licensee_id, bob->id);
  EXPECT_EQ(copies[1].licensee_id, alice->id);

  StatusOr<ReleaseRecord> got = store->GetRelease(*id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->id, *id);
  ExpectSameRelease(release, *got);
  EXPECT_TRUE(IsUtcTimestamp(got->created_at)) << got->created_at;

  StatusOr<std::vector<ReleaseRecord>> all = store->ListReleases();
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 1u);
  ExpectSameRelease(release, (*all)[0]);

  StatusOr<std::vector<CopyRecord>> listed = store->ListCopies(*id);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);
  ExpectSameCopy(copies[1], (*listed)[0]);  // slot 0
  ExpectSameCopy(copies[0], (*listed)[1]);  // slot 1

  StatusOr<std::string> stored_key = store->GetSchemeKey(*id);
  ASSERT_TRUE(stored_key.ok()) << stored_key.status().message();
  EXPECT_EQ(*stored_key, key);
}

TEST_F(KeyStoreTest, MissingIdsAreNotFound) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetRelease(42).status().code(), Code::kNotFound);
  EXPECT_EQ(store->GetSchemeKey(42).status().code(), Code::kNotFound);
  EXPECT_EQ(store->CompleteCopy(42, "/x", "ab", 0.5, 1).code(), Code::kNotFound);
  EXPECT_EQ(store->FailCopy(42, "boom").code(), Code::kNotFound);
  EXPECT_EQ(store->SetReleaseStatus(42, ReleaseStatus::kDone).code(), Code::kNotFound);
  StatusOr<std::vector<CopyRecord>> copies = store->ListCopies(42);
  ASSERT_TRUE(copies.ok());
  EXPECT_TRUE(copies->empty());
}

TEST_F(KeyStoreTest, DuplicateVersionLeavesStoreUnchanged) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<CopyRecord> copies;
  ASSERT_TRUE(CreateSample(store.get(), "1", {"alice", "bob"}, &copies).ok());

  StatusOr<int64_t> again = CreateSample(store.get(), "1", {"alice", "carol"}, &copies);
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "release acme-cnn version 1 already exists");
  EXPECT_EQ(copies[1].id, 0);  // untouched on failure
  EXPECT_EQ(LicenseeNames(store.get()), (std::vector<std::string>{"alice", "bob"}));
  StatusOr<std::vector<ReleaseRecord>> all = store->ListReleases();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);

  EXPECT_TRUE(CreateSample(store.get(), "2", {"alice", "carol"}, &copies).ok());
}

TEST_F(KeyStoreTest, FailureLateInCreateReleaseStoresNothing) {
  ASSERT_NE(OpenStore(), nullptr);
  RawDb raw(path_);
  raw.Exec(
      "CREATE TRIGGER fail_keys BEFORE INSERT ON scheme_keys"
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);

  std::vector<CopyRecord> copies;
  StatusOr<int64_t> id = CreateSample(store.get(), "1", {"alice", "bob"}, &copies);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("injected failure"), std::string::npos)
      << id.status().message();
  for (const char* table : {"licensees", "models", "releases", "copies", "scheme_keys"}) {
    EXPECT_EQ(raw.Int(std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
  EXPECT_EQ(copies[0].id, 0);
}

TEST_F(KeyStoreTest, CreateReleaseRejectsBadInput) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto attempt = [&](ReleaseRecord release, std::vector<CopyRecord> copies) {
    return store->CreateRelease(release, &copies, "key").status().code();
  };
  const ReleaseRecord ok = SampleRelease("1");
  ReleaseRecord no_version = ok;
  no_version.version.clear();
  CopyRecord bad_code = SampleCopy("alice", 0);
  bad_code.code[0] = 2;

  EXPECT_EQ(attempt(no_version, {SampleCopy("alice", 0)}), Code::kInvalidArgument);
  EXPECT_EQ(attempt(ok, {SampleCopy("bad name", 0)}), Code::kInvalidArgument);
  EXPECT_EQ(attempt(ok, {SampleCopy("alice", 0), SampleCopy("alice", 1)}), Code::kInvalidArgument);
  EXPECT_EQ(attempt(ok, {SampleCopy("alice", 0), SampleCopy("bob", 0)}), Code::kInvalidArgument);
  EXPECT_EQ(attempt(ok, {SampleCopy("alice", -1)}), Code::kInvalidArgument);
  EXPECT_EQ(attempt(ok, {bad_code}), Code::kInvalidArgument);
  EXPECT_TRUE(LicenseeNames(store.get()).empty());
  StatusOr<std::vector<ReleaseRecord>> all = store->ListReleases();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(KeyStoreTest, CopyAndReleaseStatusRoundTrip) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<CopyRecord> copies;
  StatusOr<int64_t> id = CreateSample(store.get(), "1", {"alice", "bob"}, &copies);
  ASSERT_TRUE(id.ok()) << id.status().message();

  ASSERT_TRUE(store->CompleteCopy(copies[0].id, "/srv/out/alice.pt", "beef", 0.91, 12.5).ok());
  ASSERT_TRUE(store->FailCopy(copies[1].id, "out of memory").ok());
  StatusOr<std::vector<CopyRecord>> listed = store->ListCopies(*id);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].status, CopyStatus::kDone);
  EXPECT_EQ((*listed)[0].artifact_path, "/srv/out/alice.pt");
  EXPECT_EQ((*listed)[0].sha256, "beef");
  EXPECT_EQ((*listed)[0].accuracy, 0.91);
  EXPECT_EQ((*listed)[0].embed_seconds, 12.5);
  EXPECT_EQ((*listed)[0].failure, "");
  EXPECT_EQ((*listed)[0].copy_key, "") << "schemes with code bits store no copy key";
  EXPECT_EQ((*listed)[1].status, CopyStatus::kFailed);
  EXPECT_EQ((*listed)[1].failure, "out of memory");

  ASSERT_TRUE(store->SetReleaseStatus(*id, ReleaseStatus::kFailed, "copy bob failed").ok());
  StatusOr<ReleaseRecord> got = store->GetRelease(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, ReleaseStatus::kFailed);
  EXPECT_EQ(got->failure, "copy bob failed");

  ASSERT_TRUE(store->SetReleaseStatus(*id, ReleaseStatus::kDone).ok());
  got = store->GetRelease(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, ReleaseStatus::kDone);
  EXPECT_EQ(got->failure, "");
}

TEST_F(KeyStoreTest, CopyKeysAreStoredByteExact) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<CopyRecord> copies;
  StatusOr<int64_t> id = CreateSample(store.get(), "1", {"alice"}, &copies);
  ASSERT_TRUE(id.ok()) << id.status().message();
  const std::string key("trig\0gers\xff\x01", 11);
  ASSERT_TRUE(store->CompleteCopy(copies[0].id, "/out/a.pt", "ab", 0.9, 1.0, key).ok());
  EXPECT_EQ(store->ListCopies(*id)->at(0).copy_key, key);
}

TEST_F(KeyStoreTest, ReopenKeepsData) {
  std::vector<CopyRecord> copies;
  int64_t id = 0;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    StatusOr<int64_t> created = CreateSample(store.get(), "7", {"alice"}, &copies);
    ASSERT_TRUE(created.ok()) << created.status().message();
    id = *created;
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  StatusOr<ReleaseRecord> got = store->GetRelease(id);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ExpectSameRelease(SampleRelease("7"), *got);
  StatusOr<std::vector<CopyRecord>> listed = store->ListCopies(id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  ExpectSameCopy(copies[0], (*listed)[0]);
  StatusOr<std::string> key = store->GetSchemeKey(id);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "key-7");
}

TEST_F(KeyStoreTest, GarbageFileIsCorruptionAndUntouched) {
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is a text file, not a database\n";
  WriteBytes(path_, garbage);
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);

  StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_EQ(store.status().message(),
            "not a Tracemark key store: " + path_ + ": file is not a database");
  EXPECT_TRUE(ReadBytes(path_) == garbage);
  EXPECT_EQ(FileMode(path_), 0644);
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(KeyStoreTest, ShortGarbageFileIsCorruption) {
  WriteBytes(path_, "hello\n");
  EXPECT_EQ(KeyStore::Open(path_).status().code(), Code::kCorruption);
  EXPECT_EQ(ReadBytes(path_), "hello\n");
}

TEST_F(KeyStoreTest, ForeignDatabaseIsCorruptionAndUntouched) {
  {
    RawDb raw(path_);
    raw.Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');");
  }
  const std::string before = ReadBytes(path_);
  StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Open(path_);
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_NE(store.status().message().find("another application"), std::string::npos)
      << store.status().message();
  EXPECT_TRUE(ReadBytes(path_) == before);
}

TEST_F(KeyStoreTest, NewerSchemaIsCorruption) {
  ASSERT_NE(OpenStore(), nullptr);
  const int newer = KeyStore::SchemaVersion() + 1;
  RawDb(path_).Exec("PRAGMA user_version = " + std::to_string(newer));

  StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Open(path_);
  EXPECT_EQ(store.status().code(), Code::kCorruption);
  EXPECT_NE(store.status().message().find("schema version " + std::to_string(newer) +
                                          " is newer than this build (" +
                                          std::to_string(KeyStore::SchemaVersion()) + ")"),
            std::string::npos)
      << store.status().message();
  EXPECT_EQ(RawDb(path_).Int("PRAGMA user_version"), newer);
}

TEST_F(KeyStoreTest, MissingDirectoryIsIoError) {
  EXPECT_EQ(KeyStore::Open(dir_ + "/absent/keys.db").status().code(), Code::kIoError);
}

}  // namespace
}  // namespace tracemark
