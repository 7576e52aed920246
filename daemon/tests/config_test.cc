#include "daemon/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "test_files.h"

namespace tracemark::daemon {
namespace {

using Code = Status::Code;

const char kOrigin[] = "/etc/tracemark/tracemarkd.json";

// Parses `text` as if read from kOrigin, expecting success.
DaemonConfig Parse(const std::string& text) {
  StatusOr<DaemonConfig> config = ParseConfig(text, kOrigin);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *config : DaemonConfig{};
}

// Expects `text` to be refused with a one-line message starting with
// "<kOrigin>: <key>" and containing `reason`.
void ExpectRejected(const std::string& text, const std::string& key, const std::string& reason) {
  SCOPED_TRACE(text);
  StatusOr<DaemonConfig> config = ParseConfig(text, kOrigin);
  ASSERT_FALSE(config.ok());
  const std::string& message = config.status().message();
  EXPECT_EQ(config.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(message.rfind(std::string(kOrigin) + ": " + key, 0), 0u) << message;
  EXPECT_NE(message.find(reason), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(ParseConfigTest, EmptyObjectGivesTheDocumentedDefaults) {
  DaemonConfig config = Parse("{}");
  EXPECT_EQ(config.registry_dir, "/var/lib/tracemark/registry");
  EXPECT_EQ(config.state_dir, "/var/lib/tracemark/state");
  EXPECT_EQ(config.dist_dir, "/var/lib/tracemark/dist");
  EXPECT_EQ(config.inbox_dir, "/var/lib/tracemark/inbox");
  EXPECT_EQ(config.plugins_dir, "");
  EXPECT_EQ(config.listen_host, "127.0.0.1");
  EXPECT_EQ(config.listen_port, 8080);
  EXPECT_EQ(config.scan_interval_seconds, 30);
  EXPECT_EQ(config.workers, 1);
  EXPECT_EQ(config.max_upload_bytes, int64_t{512} * 1024 * 1024);
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.endpoint_max_queries, 20000);
  EXPECT_EQ(config.endpoint_timeout_seconds, 300);
  EXPECT_EQ(config.endpoint_request_timeout_seconds, 10);
}

TEST(ParseConfigTest, EveryKeyIsRead) {
  DaemonConfig config = Parse(R"({
    "registry_dir": "/srv/registry", "state_dir": "/srv/state", "dist_dir": "/srv/dist",
    "inbox_dir": "/srv/inbox", "plugins_dir": "/opt/plugins", "listen": "0.0.0.0:9090",
    "scan_interval_seconds": 86400, "workers": 64, "max_upload_bytes": 68719476736,
    "log_level": "debug", "endpoint_max_queries": 10000000, "endpoint_timeout_seconds": 86400,
    "endpoint_request_timeout_seconds": 600})");
  EXPECT_EQ(config.registry_dir, "/srv/registry");
  EXPECT_EQ(config.state_dir, "/srv/state");
  EXPECT_EQ(config.dist_dir, "/srv/dist");
  EXPECT_EQ(config.inbox_dir, "/srv/inbox");
  EXPECT_EQ(config.plugins_dir, "/opt/plugins");
  EXPECT_EQ(config.listen_host, "0.0.0.0");
  EXPECT_EQ(config.listen_port, 9090);
  EXPECT_EQ(config.scan_interval_seconds, 86400);
  EXPECT_EQ(config.workers, 64);
  EXPECT_EQ(config.max_upload_bytes, int64_t{64} << 30);
  EXPECT_EQ(config.log_level, "debug");
  EXPECT_EQ(config.endpoint_max_queries, 10000000);
  EXPECT_EQ(config.endpoint_timeout_seconds, 86400);
  EXPECT_EQ(config.endpoint_request_timeout_seconds, 600);
}

TEST(ParseConfigTest, LowestValuesAreAccepted) {
  DaemonConfig config = Parse(
      R"({"listen": "localhost:0", "scan_interval_seconds": 1, "workers": 1,
          "max_upload_bytes": 1024, "log_level": "error"})");
  EXPECT_EQ(config.listen_host, "localhost");
  EXPECT_EQ(config.listen_port, 0);
  EXPECT_EQ(config.scan_interval_seconds, 1);
  EXPECT_EQ(config.max_upload_bytes, 1024);
  EXPECT_EQ(config.log_level, "error");
}

TEST(ParseConfigTest, BracketedIpv6ListenAddress) {
  DaemonConfig config = Parse(R"({"listen": "[::1]:65535"})");
  EXPECT_EQ(config.listen_host, "::1");
  EXPECT_EQ(config.listen_port, 65535);
}

TEST(ParseConfigTest, RelativeDirsAreResolvedAgainstTheConfigDirectory) {
  DaemonConfig config = Parse(R"({"registry_dir": "registry", "state_dir": "../state",
      "dist_dir": "./out/dist", "inbox_dir": "/abs/inbox", "plugins_dir": "plugins"})");
  EXPECT_EQ(config.registry_dir, "/etc/tracemark/registry");
  EXPECT_EQ(config.state_dir, "/etc/state");
  EXPECT_EQ(config.dist_dir, "/etc/tracemark/out/dist");
  EXPECT_EQ(config.inbox_dir, "/abs/inbox");
  EXPECT_EQ(config.plugins_dir, "/etc/tracemark/plugins");
}

TEST(ParseConfigTest, RelativeOriginIsTakenFromTheWorkingDirectory) {
  StatusOr<DaemonConfig> config = ParseConfig(R"({"state_dir": "state"})", "conf/d.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->state_dir, (std::filesystem::current_path() / "conf/state").string());
}

TEST(ParseConfigTest, EmptyPluginsDirMeansNextToTheBinary) {
  EXPECT_EQ(Parse(R"({"plugins_dir": ""})").plugins_dir, "");
}

TEST(ParseConfigTest, UnknownKeyListsTheValidKeys) {
  ExpectRejected(R"({"workers": 2, "registry": "/srv"})", "registry",
                 "unknown key; valid keys are dist_dir, endpoint_max_queries, "
                 "endpoint_request_timeout_seconds, endpoint_timeout_seconds, inbox_dir, "
                 "investigation_memory_bytes, investigation_timeout_seconds, keep_uploads, listen, "
                 "log_level, max_upload_bytes, plugins_dir, registry_dir, scan_interval_seconds, "
                 "state_dir, workers");
}

TEST(ParseConfigTest, EmptyDirsAreRejected) {
  for (const char* key : {"registry_dir", "state_dir", "dist_dir", "inbox_dir"}) {
    ExpectRejected(std::string(R"({")") + key + R"(": ""})", key, "must not be empty");
  }
}

TEST(ParseConfigTest, WrongJsonTypesAreRejected) {
  ExpectRejected(R"({"state_dir": 5})", "state_dir", "must be a string, got 5");
  ExpectRejected(R"({"plugins_dir": null})", "plugins_dir", "must be a string, got null");
  ExpectRejected(R"({"dist_dir": ["/a"]})", "dist_dir", "must be a string, got array");
  ExpectRejected(R"({"listen": 8080})", "listen", "must be a string, got 8080");
  ExpectRejected(R"({"log_level": true})", "log_level", "must be a string, got true");
  ExpectRejected(R"({"workers": "2"})", "workers", "must be an integer, got \"2\"");
  ExpectRejected(R"({"workers": 1.5})", "workers", "must be an integer, got 1.5");
  ExpectRejected(R"({"scan_interval_seconds": true})", "scan_interval_seconds",
                 "must be an integer, got true");
  ExpectRejected(R"({"max_upload_bytes": {}})", "max_upload_bytes",
                 "must be an integer, got object");
}

TEST(ParseConfigTest, MalformedListenIsRejected) {
  for (const char* listen : {"127.0.0.1", "127.0.0.1:", ":8080", "host:65536", "host:-1",
                             "host:80a", "host:123456", "::1:8080", "[]:80", "[::1:80"}) {
    ExpectRejected(
        std::string(R"({"listen": ")") + listen + R"("})", "listen",
        std::string("must be HOST:PORT with PORT 0..65535 (0 picks a free port), got '") + listen +
            "'");
  }
}

TEST(ParseConfigTest, OutOfRangeNumbersAreRejected) {
  ExpectRejected(R"({"scan_interval_seconds": 0})", "scan_interval_seconds",
                 "must be between 1 and 86400, got 0");
  ExpectRejected(R"({"scan_interval_seconds": 86401})", "scan_interval_seconds",
                 "must be between 1 and 86400, got 86401");
  ExpectRejected(R"({"workers": 0})", "workers", "must be between 1 and 64, got 0");
  ExpectRejected(R"({"endpoint_max_queries": 0})", "endpoint_max_queries",
                 "must be between 1 and 10000000, got 0");
  ExpectRejected(R"({"workers": 65})", "workers", "must be between 1 and 64, got 65");
  ExpectRejected(R"({"workers": -1})", "workers", "must be between 1 and 64, got -1");
  ExpectRejected(R"({"max_upload_bytes": 1023})", "max_upload_bytes",
                 "must be between 1024 and 68719476736, got 1023");
  ExpectRejected(R"({"max_upload_bytes": 68719476737})", "max_upload_bytes",
                 "must be between 1024 and 68719476736, got 68719476737");
  ExpectRejected(R"({"max_upload_bytes": 18446744073709551615})", "max_upload_bytes",
                 "got 18446744073709551615");
}

TEST(ParseConfigTest, UnknownLogLevelIsRejected) {
  ExpectRejected(R"({"log_level": "verbose"})", "log_level",
                 "must be one of debug, info, warn, error, got 'verbose'");
}

TEST(ParseConfigTest, NonObjectTopLevelIsRejected) {
  for (const char* text : {"[]", "42", "\"x\"", "null"}) {
    ExpectRejected(text, "the configuration must be a JSON object", "got ");
  }
}

TEST(ParseConfigTest, MalformedJsonReportsItsPositionOnOneLine) {
  ExpectRejected("{\n  \"workers\": 2,\n}\n", "invalid JSON", "line 3, column 1");
  ExpectRejected("", "invalid JSON", "line 1, column 1");
  ExpectRejected("{\"workers\": 2} trailing", "invalid JSON", "line 1, column 18");
}

TEST(ParseConfigTest, ControlCharactersInAKeyDoNotBreakTheLine) {
  ExpectRejected(R"({"bad\nkey": 1})", "bad?key", "unknown key");
}

TEST(LoadConfigTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  StatusOr<DaemonConfig> config = LoadConfig(dir / "absent.json");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kNotFound);
  EXPECT_EQ(config.status().message(), dir / "absent.json" + ": no such config file");
}

TEST(LoadConfigTest, ResolvesRelativeDirsAgainstTheFileDirectory) {
  testing::TempDir dir;
  std::filesystem::create_directory(dir / "etc");
  ASSERT_TRUE(testing::WriteBytes(dir / "etc/d.json", R"({"registry_dir": "../registry"})"));
  StatusOr<DaemonConfig> config = LoadConfig(dir / "etc/d.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->registry_dir, dir / "registry");
  EXPECT_EQ(config->state_dir, "/var/lib/tracemark/state");
}

TEST(LoadConfigTest, ErrorsNameTheFile) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteBytes(dir / "d.json", R"({"workers": 100})"));
  StatusOr<DaemonConfig> config = LoadConfig(dir / "d.json");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            dir / "d.json" + ": workers: must be between 1 and 64, got 100");
}

TEST(LoadConfigTest, ShippedExamplesAreValid) {
  const std::string configs = TRACEMARK_CONFIGS_DIR;
  StatusOr<DaemonConfig> production = LoadConfig(configs + "/tracemarkd.json");
  ASSERT_TRUE(production.ok()) << production.status().message();
  EXPECT_EQ(production->registry_dir, "/var/lib/tracemark/registry");
  EXPECT_EQ(production->state_dir, "/var/lib/tracemark/state");

  StatusOr<DaemonConfig> dev = LoadConfig(configs + "/tracemarkd.dev.json");
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  const std::string dev_root =
      (std::filesystem::absolute(configs) / "tracemarkd-dev").lexically_normal().string();
  EXPECT_EQ(dev->registry_dir, dev_root + "/registry");
  EXPECT_EQ(dev->state_dir, dev_root + "/state");
}

}  // namespace
}  // namespace tracemark::daemon
