// tracemarkd end to end: a real daemon process on temporary directories and
// a free port, a model version published into the registry, copies made,
// leaks traced from the inbox and through the REST API, authorisation and
// upload limits, Prometheus metrics checked by promtool, SIGTERM, and
// kill -9 during a release followed by a restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "daemon_process.h"
#include "test_support.h"
#include "tracemark/base/file_util.h"
#include "tracemark/lab/inference_server.h"
#include "tracemark/store/key_store.h"
#include "tracemark/store/states.h"

namespace tracemark::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr int64_t kMaxUpload = 4 << 20;

TEST(DaemonTest, FingerprintsReleasesTracesLeaksAndServesTheApi) {
  TempDir dir;
  DaemonProcess daemon(dir);
  const std::string admin = Token(dir, "admin"), viewer = Token(dir, "viewer"),
                    investigator = Token(dir, "investigator");
  daemon.Start();
  EXPECT_EQ(daemon.Client().Get("/healthz")->status, 200);
  EXPECT_TRUE(WaitFor([&] { return daemon.Client().Get("/readyz")->status == 200; },
                      std::chrono::seconds(30)));

  RegisterVersion(dir, "fashion-mlp", "1", {"acme", "globex", "initech"});
  Json release = WaitForRelease(daemon, viewer, 3);
  for (const auto& copy : release["copies"]) {
    std::string expected =
        fs::path(dir / "dist") / copy["licensee"].get<std::string>() / "fashion-mlp/1/model.pt";
    EXPECT_EQ(copy["path"], expected);
    EXPECT_EQ(copy["sha256"], Sha256File(expected).value());
    Json manifest = Json::parse(ReadBytes((fs::path(expected).parent_path() / "manifest.json")));
    EXPECT_EQ(manifest["sha256"], copy["sha256"]);
  }
  EXPECT_EQ(release.dump().find("code_seed"), std::string::npos);
  EXPECT_EQ(release.dump().find("\"key\""), std::string::npos);

  // A leak of globex's copy, fine-tuned by an attacker, dropped in the inbox.
  std::string leak =
      FineTuned(fs::path(dir / "dist") / "globex/fashion-mlp/1/model.pt", dir / "attacked.pt", 2);
  Publish(dir / "inbox/leak.pt", ReadBytes(leak));
  Json inbox_inv;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json list = GetJson(daemon, "/v1/investigations", viewer);
        if (!list.is_array() || list.empty()) return false;
        inbox_inv = WaitForInvestigation(daemon, viewer, list[0]["id"]);
        return true;
      },
      std::chrono::seconds(60)))
      << daemon.log();
  EXPECT_EQ(inbox_inv["source"], "inbox");
  EXPECT_EQ(inbox_inv["report"]["verdict"], "attributed") << inbox_inv.dump(2);
  EXPECT_EQ(inbox_inv["report"]["accused"], Json::array({"globex"}));
  EXPECT_FALSE(fs::exists(dir / "inbox/leak.pt"));
  int done_files = 0;
  for (const auto& e : fs::directory_iterator(dir / "inbox/done"))
    done_files += e.is_regular_file();
  EXPECT_EQ(done_files, 1) << "processed suspects are kept in done/";

  // The same through the API: upload initech's copy.
  std::string initech = ReadBytes(fs::path(dir / "dist") / "initech/fashion-mlp/1/model.pt");
  auto posted = daemon.Client().Post("/v1/investigations?name=initech.pt", Bearer(investigator),
                                     initech, "application/octet-stream");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  Json upload_inv = WaitForInvestigation(daemon, viewer, Json::parse(posted->body)["id"]);
  EXPECT_EQ(upload_inv["report"]["accused"], Json::array({"initech"})) << upload_inv.dump(2);

  // Names that are not UTF-8 (any bytes are a valid Linux file name) are
  // traced like any other and shown escaped, through the inbox and uploads.
  Publish(dir / "inbox/caf\xe9.pt", initech);
  Json odd_inbox;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json list = GetJson(daemon, "/v1/investigations", viewer);
        if (!list.is_array() || list.size() < 3) return false;
        odd_inbox = WaitForInvestigation(daemon, viewer, list[2]["id"]);
        return true;
      },
      std::chrono::seconds(60)))
      << daemon.log();
  EXPECT_EQ(odd_inbox["name"], "caf\\xe9.pt") << odd_inbox.dump(2);
  EXPECT_EQ(odd_inbox["status"], "done") << odd_inbox.dump(2);
  EXPECT_EQ(odd_inbox["report"]["accused"], Json::array({"initech"}));
  EXPECT_NE(odd_inbox["report"]["suspect"].get<std::string>().find("caf\\xe9.pt"),
            std::string::npos)
      << odd_inbox.dump(2);
  posted = daemon.Client().Post("/v1/investigations?name=caf%E9.pt", Bearer(investigator), initech,
                                "application/octet-stream");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  Json odd_upload = WaitForInvestigation(daemon, viewer, Json::parse(posted->body)["id"]);
  EXPECT_EQ(odd_upload["name"], "caf\\xe9.pt") << odd_upload.dump(2);
  EXPECT_EQ(odd_upload["report"]["accused"], Json::array({"initech"})) << odd_upload.dump(2);
  EXPECT_EQ(daemon.Client().Get("/healthz")->status, 200);

  // A deployed endpoint instead of a file. DeepMarks reads weights, so the
  // endpoint is not queried: the investigation finishes "not-ours" and says why.
  InferenceServerOptions serve;
  serve.model_path = fs::path(dir / "dist") / "initech/fashion-mlp/1/model.pt";
  auto server = InferenceServer::Start(serve);
  ASSERT_TRUE(server.ok()) << server.status().message();
  Json endpoint_body = {{"endpoint", (*server)->url()}, {"model", serve.model_name}};
  posted = daemon.Client().Post("/v1/investigations", Bearer(investigator), endpoint_body.dump(),
                                "application/json");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  Json endpoint_inv = WaitForInvestigation(daemon, viewer, Json::parse(posted->body)["id"]);
  EXPECT_EQ(endpoint_inv["source"], "endpoint") << endpoint_inv.dump(2);
  EXPECT_EQ(endpoint_inv["endpoint"]["url"], (*server)->url());
  EXPECT_EQ(endpoint_inv["verdict"], "not-ours");
  EXPECT_EQ(endpoint_inv["report"]["queries"], 0);
  EXPECT_EQ(endpoint_inv["report"]["notes"][0],
            "no release uses a scheme that can be traced from queries");
  EXPECT_EQ((*server)->requests(), 0);
  posted = daemon.Client().Post("/v1/investigations", Bearer(investigator),
                                R"({"endpoint": "https://x", "model": "m"})", "application/json");
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 400) << posted->body;

  // Authorisation and limits.
  EXPECT_EQ(daemon.Client().Get("/v1/releases")->status, 401);
  EXPECT_EQ(daemon.Client().Get("/v1/releases", Bearer("tm_not_a_token"))->status, 401);
  EXPECT_EQ(daemon.Client()
                .Post("/v1/investigations", Bearer(viewer), initech, "application/octet-stream")
                ->status,
            403);
  auto too_big =
      daemon.Client().Post("/v1/investigations", Bearer(admin), std::string(kMaxUpload + 1024, 'x'),
                           "application/octet-stream");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);
  EXPECT_EQ(daemon.Client().Get("/healthz")->status, 200) << "still serving after a 413";

  // Metrics: valid exposition that counts the release and both investigations.
  auto metrics = daemon.Client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("tracemark_releases_total{scheme=\"deepmarks\",status=\"ok\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("tracemark_investigations_total{verdict=\"attributed\"} 4"),
            std::string::npos)
      << metrics->body;
  WriteBytes(dir / "metrics.txt", metrics->body);
  CommandResult promtool =
      RunCommand({"/bin/sh", "-c", "promtool check metrics < '" + (dir / "metrics.txt") + "'"});
  EXPECT_EQ(promtool.exit_code, 0) << promtool.out << promtool.err;

  EXPECT_EQ(daemon.Kill(SIGTERM), 0) << daemon.log();
}

// The release of `model`/`version`, once it is done (null after `limit`).
Json WaitForReleaseOf(const DaemonProcess& d, const std::string& token, const std::string& model,
                      const std::string& version, std::chrono::seconds limit) {
  Json found;
  WaitFor(
      [&] {
        for (const auto& r : GetJson(d, "/v1/releases", token)) {
          if (r["model"] == model && r["version"] == version && r["status"] == "done") found = r;
        }
        return !found.is_null();
      },
      limit);
  return found;
}

TEST(DaemonTest, ARejectedManifestFixedInPlaceIsReleasedOnTheNextScan) {
  TempDir dir;
  DaemonProcess daemon(dir);
  const std::string viewer = Token(dir, "viewer");
  daemon.Start();
  RegisterVersion(dir, "fashion-mlp", "3", {"acme"}, "no-such-scheme");
  const std::string manifest = fs::path(dir / "registry") / "fashion-mlp/3/release.json";
  Json bad = Json::parse(ReadBytes(manifest));
  ASSERT_TRUE(WaitFor([&] { return daemon.log().find("release rejected") != std::string::npos; },
                      std::chrono::seconds(60)))
      << daemon.log();
  // Rescans leave the rejected manifest alone while it is unchanged.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const std::string log = daemon.log();
  size_t rejections = 0;
  for (size_t at = log.find("release rejected"); at != std::string::npos;
       at = log.find("release rejected", at + 1)) {
    ++rejections;
  }
  EXPECT_EQ(rejections, 1u) << log;

  // Fixed in place (the same path, written directly): released.
  Json fixed = bad;
  fixed["scheme"] = "deepmarks";
  ASSERT_TRUE(WriteBytes(manifest, fixed.dump()));
  Json release = WaitForReleaseOf(daemon, viewer, "fashion-mlp", "3", std::chrono::seconds(180));
  EXPECT_FALSE(release.is_null()) << daemon.log();
  EXPECT_EQ(release["scheme"], "deepmarks");
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
}

TEST(DaemonTest, ReleasesAskedThroughTheApiArePlannedInTheBackground) {
  TempDir dir;
  DaemonProcess daemon(dir);
  const std::string admin = Token(dir, "admin");
  // Published before the daemon starts and then released through the API;
  // a scan may notice it first, and either way it is released once.
  RegisterVersion(dir, "fashion-mlp", "4", {"acme"});
  daemon.Start();
  auto posted =
      daemon.Client().Post("/v1/releases", Bearer(admin),
                           R"({"model": "fashion-mlp", "version": "4"})", "application/json");
  ASSERT_TRUE(posted);
  if (posted->status == 202) {
    EXPECT_EQ(Json::parse(posted->body)["status"], "planning") << posted->body;
  } else {
    EXPECT_EQ(posted->status, 409) << posted->body;  // the scan got there first
  }
  auto missing =
      daemon.Client().Post("/v1/releases", Bearer(admin),
                           R"({"model": "fashion-mlp", "version": "99"})", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404) << missing->body;
  Json release = WaitForReleaseOf(daemon, admin, "fashion-mlp", "4", std::chrono::seconds(180));
  EXPECT_FALSE(release.is_null()) << daemon.log();
  EXPECT_EQ(GetJson(daemon, "/v1/releases", admin).size(), 1u);
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
}

TEST(DaemonTest, BadConfigIsRefusedAtStartWithOneLine) {
  TempDir dir;
  WriteBytes(dir / "bad.json", R"({"listen": "127.0.0.1:8080", "wokers": 2})");
  CommandResult r = RunCommand({DaemonPath(), "--config", dir / "bad.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("wokers"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("valid"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  WriteBytes(dir / "port.json", R"({"listen": "127.0.0.1:99999"})");
  r = RunCommand({DaemonPath(), "--config", dir / "port.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("listen"), std::string::npos) << r.err;
  r = RunCommand({DaemonPath(), "--config", dir / "absent.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such config file"), std::string::npos) << r.err;
}

TEST(DaemonTest, KilledDuringAReleaseResumesWithEveryLicenseeExactlyOnce) {
  TempDir dir;
  DaemonProcess daemon(dir);
  const std::string viewer = Token(dir, "viewer");
  daemon.Start();
  const std::vector<std::string> licensees = {"l0", "l1", "l2", "l3", "l4", "l5"};
  RegisterVersion(dir, "fashion-mlp", "7", licensees);
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir / "dist/l0/fashion-mlp/7/manifest.json"); },
                      std::chrono::seconds(120)))
      << daemon.log();
  EXPECT_EQ(daemon.Kill(SIGKILL), 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(dir / "dist/l5/fashion-mlp/7/manifest.json"))
      << "the release finished before the kill; nothing was tested";

  daemon.Start();
  Json release = WaitForRelease(daemon, viewer, licensees.size());
  EXPECT_NE(daemon.log().find("resuming release"), std::string::npos);
  auto store = KeyStore::Open(dir / "state/keystore.db");
  ASSERT_TRUE(store.ok());
  ASSERT_EQ((*store)->ListReleases()->size(), 1u);
  auto copies = (*store)->ListCopies(1).value();
  ASSERT_EQ(copies.size(), licensees.size());
  for (size_t i = 0; i < copies.size(); ++i) {
    EXPECT_EQ(copies[i].licensee, licensees[i]);
    EXPECT_EQ(copies[i].status, CopyStatus::kDone);
    EXPECT_EQ(Sha256File(copies[i].artifact_path).value(), copies[i].sha256);
  }
  for (const auto& e : fs::recursive_directory_iterator(dir / "dist")) {
    EXPECT_EQ(e.path().string().find(".partial"), std::string::npos) << e.path();
  }
  EXPECT_EQ(daemon.Kill(SIGTERM), 0);
}

}  // namespace
}  // namespace tracemark::testing
