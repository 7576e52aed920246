#include "daemon/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cmath>

namespace tracemark::daemon {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Histogram;

constexpr const char* kStatuses[] = {"ok", "failed"};
constexpr char kOther[] = "other";

// Embedding one copy: from half a second (a small model) to ten minutes.
const std::vector<double> kEmbeddingBuckets = {0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
// Extracting from and attributing one suspect model.
const std::vector<double> kInvestigationBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,
                                                   10,  30,   60,  120, 300, 600};
// One poll of the model registry or one listing of the leak inbox.
const std::vector<double> kScanBuckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60};

// Registers the family `name` made by `builder` (prometheus::BuildCounter()
// and its siblings) in `registry`.
template <typename Builder>
auto& AddFamily(Builder builder, prometheus::Registry& registry, const char* name,
                const char* help) {
  return builder.Name(name).Help(help).Register(registry);
}

// `value` if it is one of `allowed`, else "other".
template <std::size_t N>
std::string OneOf(const std::string& value, const char* const (&allowed)[N]) {
  for (const char* a : allowed) {
    if (value == a) return value;
  }
  return kOther;
}

std::string HttpCode(int code) {
  return code >= 100 && code <= 599 ? std::to_string(code) : kOther;
}

const char* StatusOf(bool ok) { return ok ? "ok" : "failed"; }

double Seconds(double s) { return std::isfinite(s) && s > 0 ? s : 0; }

// Counts one outcome of `scheme` in `totals` and, if it failed, in `failures`.
void CountOutcome(Family<Counter>& totals, Family<Counter>& failures, const std::string& scheme,
                  bool ok) {
  totals.Add({{"scheme", scheme}, {"status", StatusOf(ok)}}).Increment();
  if (!ok) failures.Add({{"scheme", scheme}}).Increment();
}

}  // namespace

Histogram& Metrics::Histograms::Series(const std::map<std::string, std::string>& labels) const {
  return family.Add(labels, buckets);
}

Metrics::Metrics(const std::vector<std::string>& schemes, const std::string& version,
                 const std::string& torch_version)
    : registry_(std::make_unique<prometheus::Registry>()),
      releases_(AddFamily(prometheus::BuildCounter(), *registry_, "tracemark_releases_total",
                          "Releases processed, by scheme and status (ok or failed).")),
      release_failures_(AddFamily(prometheus::BuildCounter(), *registry_,
                                  "tracemark_release_failures_total",
                                  "Releases that failed, by scheme.")),
      copies_(AddFamily(prometheus::BuildCounter(), *registry_, "tracemark_copies_total",
                        "Per-licensee copies produced, by scheme and status (ok or failed).")),
      copy_failures_(AddFamily(prometheus::BuildCounter(), *registry_,
                               "tracemark_copy_failures_total",
                               "Per-licensee copies that failed, by scheme.")),
      embedding_duration_{AddFamily(prometheus::BuildHistogram(), *registry_,
                                    "tracemark_embedding_duration_seconds",
                                    "Time spent embedding one licensee's fingerprint, by scheme."),
                          kEmbeddingBuckets},
      investigations_(AddFamily(prometheus::BuildCounter(), *registry_,
                                "tracemark_investigations_total",
                                "Investigations of suspect models, by verdict (attributed, "
                                "collusion, not-ours or failed).")),
      investigation_failures_(AddFamily(prometheus::BuildCounter(), *registry_,
                                        "tracemark_investigation_failures_total",
                                        "Investigations that failed.")
                                  .Add({})),
      investigation_duration_{AddFamily(prometheus::BuildHistogram(), *registry_,
                                        "tracemark_investigation_duration_seconds",
                                        "Time one investigation took, whatever its verdict."),
                              kInvestigationBuckets},
      scan_duration_{
          AddFamily(prometheus::BuildHistogram(), *registry_, "tracemark_scan_duration_seconds",
                    "Time one scan for new work took, by source (registry or inbox)."),
          kScanBuckets},
      queue_depth_(AddFamily(prometheus::BuildGauge(), *registry_, "tracemark_queue_depth",
                             "Jobs waiting, by queue (release or investigation).")),
      inbox_backlog_(AddFamily(prometheus::BuildGauge(), *registry_,
                               "tracemark_inbox_backlog_files",
                               "Files in the leak inbox not yet investigated.")
                         .Add({})),
      http_requests_(AddFamily(prometheus::BuildCounter(), *registry_,
                               "tracemark_http_requests_total",
                               "REST requests answered, by method and status code.")) {
  AddFamily(prometheus::BuildGauge(), *registry_, "tracemark_build_info",
            "Always 1; the labels give the tracemarkd and LibTorch versions.")
      .Add({{"version", version}, {"torch_version", torch_version}})
      .Set(1);
  for (const std::string& scheme : schemes) AddScheme(scheme);
  for (const char* verdict : kVerdicts) investigations_.Add({{"verdict", verdict}});
  investigation_duration_.Series({});
  for (const char* source : kScanSources) scan_duration_.Series({{"source", source}});
  for (const char* queue : kQueues) queue_depth_.Add({{"queue", queue}});
  // Scrapes answer GET 200, so that series will exist; the family shows from the start.
  http_requests_.Add({{"method", "GET"}, {"code", "200"}});
}

Metrics::~Metrics() = default;

void Metrics::AddScheme(const std::string& scheme) {
  for (const char* status : kStatuses) {
    releases_.Add({{"scheme", scheme}, {"status", status}});
    copies_.Add({{"scheme", scheme}, {"status", status}});
  }
  release_failures_.Add({{"scheme", scheme}});
  copy_failures_.Add({{"scheme", scheme}});
  embedding_duration_.Series({{"scheme", scheme}});
}

void Metrics::ReleaseFinished(const std::string& scheme, bool ok) {
  AddScheme(scheme);
  CountOutcome(releases_, release_failures_, scheme, ok);
}

void Metrics::CopyFinished(const std::string& scheme, bool ok, double embed_seconds) {
  AddScheme(scheme);
  CountOutcome(copies_, copy_failures_, scheme, ok);
  embedding_duration_.Series({{"scheme", scheme}}).Observe(Seconds(embed_seconds));
}

void Metrics::InvestigationFinished(const std::string& verdict, double seconds) {
  const std::string label = OneOf(verdict, kVerdicts);
  investigations_.Add({{"verdict", label}}).Increment();
  if (label == "failed") investigation_failures_.Increment();
  investigation_duration_.Series({}).Observe(Seconds(seconds));
}

void Metrics::ScanFinished(const std::string& source, double seconds) {
  scan_duration_.Series({{"source", OneOf(source, kScanSources)}}).Observe(Seconds(seconds));
}

void Metrics::SetQueueDepth(const std::string& queue, std::size_t depth) {
  queue_depth_.Add({{"queue", OneOf(queue, kQueues)}}).Set(static_cast<double>(depth));
}

void Metrics::SetInboxBacklog(std::size_t files) { inbox_backlog_.Set(static_cast<double>(files)); }

void Metrics::HttpRequest(const std::string& method, int status_code) {
  http_requests_.Add({{"method", OneOf(method, kHttpMethods)}, {"code", HttpCode(status_code)}})
      .Increment();
}

std::string Metrics::Exposition() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace tracemark::daemon
