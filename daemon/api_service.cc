#include "daemon/api_service.h"

#include <algorithm>

#include "daemon/inbox_files.h"
#include "daemon/job_runner.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "registry/filesystem_registry.h"
#include "tracemark/base/file_util.h"
#include "tracemark/base/text.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/scheme_json.h"
#include "tracemark/store/daemon_store.h"
#include "tracemark/store/key_store.h"

namespace tracemark::daemon {
namespace {

// The longest original file name an upload may carry (bytes): kept names
// add a prefix, and a file name must stay under the filesystem's 255.
constexpr size_t kMaxUploadName = 200;

nlohmann::json ReleaseJson(const ReleaseRecord& r, const std::vector<CopyRecord>& copies,
                           bool with_copies) {
  int done = 0;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : copies) {
    done += c.status == CopyStatus::kDone;
    list.push_back({{"licensee", c.licensee},
                    {"status", Name(c.status)},
                    {"path", c.artifact_path},
                    {"sha256", c.sha256},
                    {"accuracy", c.accuracy},
                    {"seconds", c.embed_seconds},
                    {"failure", c.failure}});
  }
  nlohmann::json out = {{"id", r.id},
                        {"model", r.model},
                        {"version", r.version},
                        {"scheme", r.scheme},
                        {"params", nlohmann::json::parse(r.params_json, nullptr, false)},
                        {"code", r.code_family},
                        {"base_accuracy", r.base_accuracy},
                        {"status", Name(r.status)},
                        {"failure", r.failure},
                        {"created_at", r.created_at},
                        {"copies_done", done},
                        {"copies_total", copies.size()}};
  if (with_copies) out["copies"] = list;
  return out;
}

nlohmann::json InvestigationJson(const InvestigationRecord& r, bool with_report) {
  nlohmann::json out = {{"id", r.id},
                        {"source", Name(r.source)},
                        {"name", ValidUtf8(r.original_name)},
                        {"status", Name(r.status)},
                        {"verdict", r.verdict},
                        {"failure", r.failure},
                        {"created_at", r.created_at},
                        {"finished_at", r.finished_at}};
  if (r.source == InvestigationSource::kEndpoint) {
    out["endpoint"] = {{"url", r.endpoint_url}, {"model", r.endpoint_model}};
  }
  if (with_report) {
    out["report"] = r.report_json.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json::parse(r.report_json, nullptr, false);
  }
  return out;
}

nlohmann::json LicenseeJson(const Licensee& l) {
  return {{"id", l.id}, {"name", l.name}, {"created_at", l.created_at}};
}

}  // namespace

ApiService::ApiService(const DaemonConfig& config, const PluginHost& plugins, Metrics& metrics,
                       JobRunner& runner, std::unique_ptr<KeyStore> keys,
                       std::unique_ptr<DaemonStore> jobs)
    : config_(config),
      plugins_(plugins),
      metrics_(metrics),
      runner_(runner),
      keys_(std::move(keys)),
      jobs_(std::move(jobs)) {}

ApiService::~ApiService() = default;

StatusOr<Role> ApiService::Authenticate(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(TokenRecord record, jobs_->FindToken(Sha256Hex(token)));
  return ParseRole(record.role);
}

bool ApiService::Ready() { return ready_; }

std::string ApiService::MetricsText() { return metrics_.Exposition(); }

StatusOr<nlohmann::json> ApiService::Schemes() {
  nlohmann::json out = nlohmann::json::array();
  for (const Scheme* s : plugins_.schemes()) out.push_back(SchemeInfoJson(s->Info()));
  return out;
}

StatusOr<nlohmann::json> ApiService::Licensees() {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(std::vector<Licensee> licensees, keys_->ListLicensees());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : licensees) out.push_back(LicenseeJson(l));
  return out;
}

StatusOr<nlohmann::json> ApiService::AddLicensee(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(Licensee l, keys_->AddLicensee(name));
  return LicenseeJson(l);
}

StatusOr<nlohmann::json> ApiService::Releases() {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, keys_->ListReleases());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : releases) {
    TM_ASSIGN_OR_RETURN(std::vector<CopyRecord> copies, keys_->ListCopies(r.id));
    out.push_back(ReleaseJson(r, copies, /*with_copies=*/false));
  }
  return out;
}

StatusOr<nlohmann::json> ApiService::Release(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(ReleaseRecord r, keys_->GetRelease(id));
  TM_ASSIGN_OR_RETURN(std::vector<CopyRecord> copies, keys_->ListCopies(id));
  return ReleaseJson(r, copies, /*with_copies=*/true);
}

StatusOr<nlohmann::json> ApiService::CreateRelease(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("model") || !body.contains("version") ||
      !body["model"].is_string() || !body["version"].is_string()) {
    return Status::InvalidArgument("body must be {\"model\": string, \"version\": string}");
  }
  const std::string model = body["model"], version = body["version"];
  const std::string key = model + "/" + version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, keys_->ListReleases());
    for (const auto& r : releases) {
      if (r.model == model && r.version == version) {
        return Status::AlreadyExists("release " + Printable(ValidUtf8(key)) + " exists (id " +
                                     std::to_string(r.id) + ")");
      }
    }
  }
  // Reading the manifests is quick; planning (model, data, keygen) is not
  // and runs on a worker.
  registry::FilesystemRegistry registry(config_.registry_dir);
  TM_ASSIGN_OR_RETURN(std::vector<registry::RegisteredVersion> versions, registry.Scan(nullptr));
  auto it = std::find_if(versions.begin(), versions.end(),
                         [&](const auto& v) { return v.model == model && v.version == version; });
  if (it == versions.end()) {
    return Status::NotFound("no registered version " + Printable(ValidUtf8(key)));
  }
  TM_RETURN_IF_ERROR(runner_.QueuePlan(*it, nullptr));
  return nlohmann::json{{"model", model}, {"version", version}, {"status", "planning"}};
}

StatusOr<nlohmann::json> ApiService::Investigations() {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(std::vector<InvestigationRecord> list, jobs_->ListInvestigations());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& inv : list) out.push_back(InvestigationJson(inv, /*with_report=*/false));
  return out;
}

StatusOr<nlohmann::json> ApiService::Investigation(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  TM_ASSIGN_OR_RETURN(InvestigationRecord inv, jobs_->GetInvestigation(id));
  return InvestigationJson(inv, /*with_report=*/true);
}

StatusOr<nlohmann::json> ApiService::CreateEndpointInvestigation(const nlohmann::json& body) {
  for (const auto& [key, value] : body.items()) {
    if ((key != "endpoint" && key != "model") || !value.is_string()) {
      return Status::InvalidArgument(
          "the body must be {\"endpoint\": \"http://HOST:PORT\", \"model\": NAME}");
    }
  }
  if (!body.contains("endpoint") || !body.contains("model")) {
    return Status::InvalidArgument("the body must name both \"endpoint\" and \"model\"");
  }
  const std::string url = body["endpoint"].get<std::string>();
  const std::string model = body["model"].get<std::string>();
  TM_RETURN_IF_ERROR(ValidateEndpointOptions(EndpointFor(config_, url, model)));
  StatusOr<int64_t> id = Status::Internal("unset");
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = jobs_->AddEndpointInvestigation(url, model);
  }
  TM_RETURN_IF_ERROR(id.status());
  Log(LogLevel::kInfo, "endpoint investigation received",
      {{"investigation", std::to_string(*id)}, {"endpoint", url}, {"model", model}});
  runner_.QueueInvestigation(*id);
  return nlohmann::json{{"id", *id}, {"status", Name(InvestigationStatus::kQueued)}};
}

StatusOr<nlohmann::json> ApiService::CreateInvestigation(const std::string& uploaded_path,
                                                         const std::string& original_name) {
  const std::string name = original_name.empty() ? "upload.pt" : original_name;
  if (name.size() > kMaxUploadName) {
    return Status::InvalidArgument("the file name is longer than " +
                                   std::to_string(kMaxUploadName) + " bytes");
  }
  const std::string kept = UploadsDir(config_) + "/" + KeptName(name);
  if (!MoveFile(uploaded_path, kept).ok()) {
    return Status::InvalidArgument("the file name cannot be stored; rename the file");
  }
  StatusOr<int64_t> id = Status::Internal("unset");
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = jobs_->AddInvestigation(InvestigationSource::kUpload, name, kept);
  }
  TM_RETURN_IF_ERROR(id.status());
  Log(LogLevel::kInfo, "suspect received",
      {{"investigation", std::to_string(*id)}, {"source", "upload"}, {"name", name}});
  runner_.QueueInvestigation(*id);
  return nlohmann::json{{"id", *id}, {"status", Name(InvestigationStatus::kQueued)}};
}

}  // namespace tracemark::daemon
