// Metrics: tracemarkd's Prometheus metrics (DESIGN.md §6) and their text
// exposition for `GET /metrics`.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace tracemark::daemon {

// Owns a registry holding every tracemark_* family:
//
//   tracemark_releases_total{scheme,status}          counter, status ok|failed
//   tracemark_release_failures_total{scheme}         counter
//   tracemark_copies_total{scheme,status}            counter, status ok|failed
//   tracemark_copy_failures_total{scheme}            counter
//   tracemark_embedding_duration_seconds{scheme}     histogram
//   tracemark_investigations_total{verdict}          counter
//   tracemark_investigation_failures_total           counter
//   tracemark_investigation_duration_seconds         histogram
//   tracemark_scan_duration_seconds{source}          histogram
//   tracemark_queue_depth{queue}                     gauge
//   tracemark_inbox_backlog_files                    gauge
//   tracemark_http_requests_total{method,code}       counter
//   tracemark_build_info{version,torch_version}      gauge, always 1
//
// Every series whose labels are known up front exists from construction on,
// so it exports 0 (for HTTP only GET 200, which scrapes produce). Labels from a closed set
// (verdict, source, queue, HTTP method) take any value outside that set as "other", which keeps a
// caller's bug from growing the series count. Schemes form an open set (one per installed plugin):
// an unknown scheme gets all its series on first use.
//
// Thread-safe: every method may run concurrently with every other (the
// prometheus-cpp metrics lock themselves; Metrics has no other mutable state).
// Durations are in seconds; a negative or non-finite duration counts as 0.
class Metrics {
 public:
  // The names of tracemark/decide/verdict.h, and "failed" for an
  // investigation that ended without a verdict.
  static constexpr const char* kVerdicts[] = {"attributed", "collusion", "not-ours", "inconclusive",
                                              "failed"};
  static constexpr const char* kScanSources[] = {"registry", "inbox"};
  static constexpr const char* kQueues[] = {"release", "investigation"};
  static constexpr const char* kHttpMethods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                                 "DELETE", "PATCH", "OPTIONS"};

  // `schemes`: the scheme names known at start (the loaded plugins).
  // `version`, `torch_version`: the labels of tracemark_build_info.
  Metrics(const std::vector<std::string>& schemes, const std::string& version,
          const std::string& torch_version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A release with `scheme` ended; a failure also counts in the failures.
  void ReleaseFinished(const std::string& scheme, bool ok);
  // One licensee's copy ended after `embed_seconds` of embedding (observed
  // whether or not it succeeded).
  void CopyFinished(const std::string& scheme, bool ok, double embed_seconds);
  // An investigation ended with `verdict` (one of kVerdicts; "failed" also
  // counts in the failures) after `seconds`.
  void InvestigationFinished(const std::string& verdict, double seconds);
  // One pass over `source` (one of kScanSources) took `seconds`.
  void ScanFinished(const std::string& source, double seconds);
  // `queue` (one of kQueues) now holds `depth` jobs.
  void SetQueueDepth(const std::string& queue, std::size_t depth);
  // The leak inbox now holds `files` files not yet investigated.
  void SetInboxBacklog(std::size_t files);
  // The REST server answered a `method` request with `status_code`; codes
  // outside 100..599 count as "other".
  void HttpRequest(const std::string& method, int status_code);

  // All families in the Prometheus text format (version 0.0.4).
  std::string Exposition() const;

 private:
  // A histogram family and the buckets its series are created with.
  struct Histograms {
    prometheus::Family<prometheus::Histogram>& family;
    std::vector<double> buckets;
    // The series with `labels`, created if new.
    prometheus::Histogram& Series(const std::map<std::string, std::string>& labels) const;
  };

  // Creates every series of `scheme` (idempotent).
  void AddScheme(const std::string& scheme);

  std::unique_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& releases_;
  prometheus::Family<prometheus::Counter>& release_failures_;
  prometheus::Family<prometheus::Counter>& copies_;
  prometheus::Family<prometheus::Counter>& copy_failures_;
  Histograms embedding_duration_;
  prometheus::Family<prometheus::Counter>& investigations_;
  prometheus::Counter& investigation_failures_;
  Histograms investigation_duration_;
  Histograms scan_duration_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Gauge& inbox_backlog_;
  prometheus::Family<prometheus::Counter>& http_requests_;
};

}  // namespace tracemark::daemon
