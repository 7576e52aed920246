#include "daemon/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tracemark/decide/verdict.h"

namespace tracemark::daemon {
namespace {

// The value of the sample `series` (name and labels exactly as exposed) in
// the exposition `text`; NaN, and a test failure, when it is missing.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  ADD_FAILURE() << "no sample " << series << " in\n" << text;
  return std::numeric_limits<double>::quiet_NaN();
}

class MetricsTest : public ::testing::Test {
 protected:
  double Value(const std::string& series) const { return Sample(metrics_.Exposition(), series); }

  Metrics metrics_{{"uchida", "deepmarks"}, "0.1.0", "1.13.1"};
};

TEST_F(MetricsTest, KnownSeriesExportZeroAtStart) {
  for (const std::string scheme : {"uchida", "deepmarks"}) {
    for (const std::string status : {"ok", "failed"}) {
      const std::string labels = "{scheme=\"" + scheme + "\",status=\"" + status + "\"}";
      EXPECT_EQ(Value("tracemark_releases_total" + labels), 0);
      EXPECT_EQ(Value("tracemark_copies_total" + labels), 0);
    }
    const std::string labels = "{scheme=\"" + scheme + "\"}";
    EXPECT_EQ(Value("tracemark_release_failures_total" + labels), 0);
    EXPECT_EQ(Value("tracemark_copy_failures_total" + labels), 0);
    EXPECT_EQ(Value("tracemark_embedding_duration_seconds_count" + labels), 0);
  }
  for (const std::string verdict : Metrics::kVerdicts) {
    EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"" + verdict + "\"}"), 0);
  }
  EXPECT_EQ(Value("tracemark_investigation_failures_total"), 0);
  EXPECT_EQ(Value("tracemark_investigation_duration_seconds_count"), 0);
  for (const std::string source : Metrics::kScanSources) {
    EXPECT_EQ(Value("tracemark_scan_duration_seconds_count{source=\"" + source + "\"}"), 0);
  }
  for (const std::string queue : Metrics::kQueues) {
    EXPECT_EQ(Value("tracemark_queue_depth{queue=\"" + queue + "\"}"), 0);
  }
  EXPECT_EQ(Value("tracemark_inbox_backlog_files"), 0);
  EXPECT_EQ(Value("tracemark_http_requests_total{code=\"200\",method=\"GET\"}"), 0);
  EXPECT_EQ(Value("tracemark_build_info{torch_version=\"1.13.1\",version=\"0.1.0\"}"), 1);
}

TEST_F(MetricsTest, EveryFamilyHasHelpAndType) {
  const std::string text = "\n" + metrics_.Exposition();  // so every line follows a \n
  const std::vector<std::pair<std::string, std::string>> families = {
      {"tracemark_releases_total", "counter"},
      {"tracemark_release_failures_total", "counter"},
      {"tracemark_copies_total", "counter"},
      {"tracemark_copy_failures_total", "counter"},
      {"tracemark_embedding_duration_seconds", "histogram"},
      {"tracemark_investigations_total", "counter"},
      {"tracemark_investigation_failures_total", "counter"},
      {"tracemark_investigation_duration_seconds", "histogram"},
      {"tracemark_scan_duration_seconds", "histogram"},
      {"tracemark_queue_depth", "gauge"},
      {"tracemark_inbox_backlog_files", "gauge"},
      {"tracemark_http_requests_total", "counter"},
      {"tracemark_build_info", "gauge"},
  };
  for (const auto& [name, type] : families) {
    EXPECT_NE(text.find("\n# HELP " + name + " "), std::string::npos) << name;
    EXPECT_NE(text.find("\n# TYPE " + name + " " + type + "\n"), std::string::npos) << name;
  }
}

TEST_F(MetricsTest, ReleasesCountByStatusAndPairFailures) {
  metrics_.ReleaseFinished("uchida", true);
  metrics_.ReleaseFinished("uchida", true);
  metrics_.ReleaseFinished("uchida", false);
  EXPECT_EQ(Value("tracemark_releases_total{scheme=\"uchida\",status=\"ok\"}"), 2);
  EXPECT_EQ(Value("tracemark_releases_total{scheme=\"uchida\",status=\"failed\"}"), 1);
  EXPECT_EQ(Value("tracemark_release_failures_total{scheme=\"uchida\"}"), 1);
  EXPECT_EQ(Value("tracemark_releases_total{scheme=\"deepmarks\",status=\"ok\"}"), 0);
}

TEST_F(MetricsTest, CopiesCountAndObserveEmbeddingDuration) {
  metrics_.CopyFinished("deepmarks", true, 3.0);
  metrics_.CopyFinished("deepmarks", false, 0.25);
  EXPECT_EQ(Value("tracemark_copies_total{scheme=\"deepmarks\",status=\"ok\"}"), 1);
  EXPECT_EQ(Value("tracemark_copies_total{scheme=\"deepmarks\",status=\"failed\"}"), 1);
  EXPECT_EQ(Value("tracemark_copy_failures_total{scheme=\"deepmarks\"}"), 1);
  const std::string histogram = "tracemark_embedding_duration_seconds";
  EXPECT_EQ(Value(histogram + "_count{scheme=\"deepmarks\"}"), 2);
  EXPECT_DOUBLE_EQ(Value(histogram + "_sum{scheme=\"deepmarks\"}"), 3.25);
  EXPECT_EQ(Value(histogram + "_bucket{scheme=\"deepmarks\",le=\"0.5\"}"), 1);
  EXPECT_EQ(Value(histogram + "_bucket{scheme=\"deepmarks\",le=\"2.5\"}"), 1);
  EXPECT_EQ(Value(histogram + "_bucket{scheme=\"deepmarks\",le=\"5\"}"), 2);
  EXPECT_EQ(Value(histogram + "_bucket{scheme=\"deepmarks\",le=\"600\"}"), 2);
  EXPECT_EQ(Value(histogram + "_bucket{scheme=\"deepmarks\",le=\"+Inf\"}"), 2);
  EXPECT_EQ(Value(histogram + "_count{scheme=\"uchida\"}"), 0);
}

TEST_F(MetricsTest, InvestigationsCountByVerdictAndPairFailures) {
  metrics_.InvestigationFinished("attributed", 1.5);
  metrics_.InvestigationFinished("collusion", 2.0);
  metrics_.InvestigationFinished("not-ours", 0.5);
  metrics_.InvestigationFinished("failed", 0.05);
  metrics_.InvestigationFinished("attributed", 1.0);
  metrics_.InvestigationFinished("inconclusive", 2.0);
  EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"attributed\"}"), 2);
  EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"collusion\"}"), 1);
  EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"not-ours\"}"), 1);
  EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"failed\"}"), 1);
  EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"inconclusive\"}"), 1);
  EXPECT_EQ(metrics_.Exposition().find("verdict=\"other\""), std::string::npos);
  EXPECT_EQ(Value("tracemark_investigation_failures_total"), 1);
  EXPECT_EQ(Value("tracemark_investigation_duration_seconds_count"), 6);
  EXPECT_DOUBLE_EQ(Value("tracemark_investigation_duration_seconds_sum"), 7.05);
  EXPECT_EQ(Value("tracemark_investigation_duration_seconds_bucket{le=\"0.1\"}"), 1);
  EXPECT_EQ(Value("tracemark_investigation_duration_seconds_bucket{le=\"1\"}"), 3);
}

TEST_F(MetricsTest, ScansObservePerSource) {
  metrics_.ScanFinished("registry", 0.02);
  metrics_.ScanFinished("inbox", 0.003);
  metrics_.ScanFinished("inbox", 0.004);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_count{source=\"registry\"}"), 1);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_count{source=\"inbox\"}"), 2);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_bucket{source=\"inbox\",le=\"0.005\"}"), 2);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_bucket{source=\"registry\",le=\"0.01\"}"), 0);
}

TEST_F(MetricsTest, GaugesHoldTheLastValue) {
  metrics_.SetQueueDepth("release", 7);
  metrics_.SetQueueDepth("release", 3);
  metrics_.SetQueueDepth("investigation", 12);
  metrics_.SetInboxBacklog(40);
  metrics_.SetInboxBacklog(41);
  EXPECT_EQ(Value("tracemark_queue_depth{queue=\"release\"}"), 3);
  EXPECT_EQ(Value("tracemark_queue_depth{queue=\"investigation\"}"), 12);
  EXPECT_EQ(Value("tracemark_inbox_backlog_files"), 41);
}

TEST_F(MetricsTest, HttpRequestsCountByMethodAndCode) {
  metrics_.HttpRequest("GET", 200);
  metrics_.HttpRequest("POST", 413);
  metrics_.HttpRequest("POST", 413);
  EXPECT_EQ(Value("tracemark_http_requests_total{code=\"200\",method=\"GET\"}"), 1);
  EXPECT_EQ(Value("tracemark_http_requests_total{code=\"413\",method=\"POST\"}"), 2);
}

TEST_F(MetricsTest, UnknownSchemeIsCreatedOnDemandWithItsZeroes) {
  EXPECT_EQ(metrics_.Exposition().find("scheme=\"bitmark\""), std::string::npos);
  metrics_.CopyFinished("bitmark", true, 1.0);
  EXPECT_EQ(Value("tracemark_copies_total{scheme=\"bitmark\",status=\"ok\"}"), 1);
  EXPECT_EQ(Value("tracemark_copies_total{scheme=\"bitmark\",status=\"failed\"}"), 0);
  EXPECT_EQ(Value("tracemark_copy_failures_total{scheme=\"bitmark\"}"), 0);
  EXPECT_EQ(Value("tracemark_releases_total{scheme=\"bitmark\",status=\"ok\"}"), 0);
  EXPECT_EQ(Value("tracemark_release_failures_total{scheme=\"bitmark\"}"), 0);
  EXPECT_EQ(Value("tracemark_embedding_duration_seconds_count{scheme=\"bitmark\"}"), 1);
  metrics_.ReleaseFinished("bitmark", false);
  EXPECT_EQ(Value("tracemark_releases_total{scheme=\"bitmark\",status=\"failed\"}"), 1);
  EXPECT_EQ(Value("tracemark_release_failures_total{scheme=\"bitmark\"}"), 1);
}

TEST_F(MetricsTest, EveryVerdictIsCountedUnderItsOwnName) {
  for (Verdict verdict : kAllVerdicts) metrics_.InvestigationFinished(VerdictName(verdict), 1.0);
  for (Verdict verdict : kAllVerdicts) {
    EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"" +
                    std::string(VerdictName(verdict)) + "\"}"),
              1)
        << VerdictName(verdict);
  }
  EXPECT_EQ(metrics_.Exposition().find("verdict=\"other\""), std::string::npos);
}

TEST_F(MetricsTest, ClosedLabelSetsTakeOtherValuesAsOther) {
  metrics_.InvestigationFinished("guilty", 1.0);
  metrics_.ScanFinished("s3", 1.0);
  metrics_.SetQueueDepth("export", 5);
  metrics_.HttpRequest("BREW", 418);
  metrics_.HttpRequest("get", -1);
  EXPECT_EQ(Value("tracemark_investigations_total{verdict=\"other\"}"), 1);
  EXPECT_EQ(Value("tracemark_investigation_failures_total"), 0);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_count{source=\"other\"}"), 1);
  EXPECT_EQ(Value("tracemark_queue_depth{queue=\"other\"}"), 5);
  EXPECT_EQ(Value("tracemark_http_requests_total{code=\"418\",method=\"other\"}"), 1);
  EXPECT_EQ(Value("tracemark_http_requests_total{code=\"other\",method=\"other\"}"), 1);
}

TEST_F(MetricsTest, BadDurationsCountAsZero) {
  metrics_.ScanFinished("inbox", -2.0);
  metrics_.ScanFinished("inbox", std::numeric_limits<double>::quiet_NaN());
  metrics_.ScanFinished("inbox", std::numeric_limits<double>::infinity());
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_count{source=\"inbox\"}"), 3);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_sum{source=\"inbox\"}"), 0);
  EXPECT_EQ(Value("tracemark_scan_duration_seconds_bucket{source=\"inbox\",le=\"0.001\"}"), 3);
}

TEST_F(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      const std::string scheme = "scheme" + std::to_string(t % 2);
      for (int i = 0; i < kPerThread; ++i) {
        metrics_.CopyFinished(scheme, i % 5 != 0, 1.0);
        metrics_.HttpRequest("GET", 200);
        if (i % 100 == 0) metrics_.Exposition();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string scheme : {"scheme0", "scheme1"}) {
    EXPECT_EQ(Value("tracemark_copies_total{scheme=\"" + scheme + "\",status=\"ok\"}"), 800);
    EXPECT_EQ(Value("tracemark_copy_failures_total{scheme=\"" + scheme + "\"}"), 200);
  }
  EXPECT_EQ(Value("tracemark_http_requests_total{code=\"200\",method=\"GET\"}"),
            kThreads * kPerThread);
}

// Feeds `text` to `promtool check metrics`; returns its exit code and output.
std::pair<int, std::string> PromtoolCheckMetrics(const std::string& text) {
  const std::string out_path =
      ::testing::TempDir() + "metrics_test_promtool_" + std::to_string(getpid()) + ".txt";
  FILE* pipe = popen(("promtool check metrics > '" + out_path + "' 2>&1").c_str(), "w");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::fwrite(text.data(), 1, text.size(), pipe);
  const int status = pclose(pipe);
  std::ifstream in(out_path);
  std::stringstream output;
  output << in.rdbuf();
  std::remove(out_path.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output.str()};
}

// promtool comes from the Debian package `prometheus`, which the install
// script installs; without it this test fails rather than skips, so a
// missing lint never passes silently.
TEST(PromtoolTest, CheckMetricsAcceptsTheExposition) {
  ASSERT_EQ(std::system("command -v promtool > /dev/null 2>&1"), 0)
      << "promtool not on PATH; install the Debian package prometheus";
  Metrics metrics({"uchida", "deepmarks"}, "0.1.0", "1.13.1");
  metrics.ReleaseFinished("uchida", true);
  metrics.CopyFinished("uchida", false, 12.0);
  metrics.CopyFinished("odd \"scheme\"\\name", true, 1.0);  // label value escaping
  metrics.InvestigationFinished("collusion", 3.0);
  metrics.ScanFinished("registry", 0.2);
  metrics.SetQueueDepth("investigation", 2);
  metrics.SetInboxBacklog(9);
  metrics.HttpRequest("DELETE", 404);
  const std::string text = metrics.Exposition();
  const auto [code, output] = PromtoolCheckMetrics(text);
  EXPECT_EQ(code, 0) << output << "\nfor\n" << text;
  EXPECT_EQ(output, "") << "promtool reported problems for\n" << text;
}

}  // namespace
}  // namespace tracemark::daemon
