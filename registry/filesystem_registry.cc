#include "registry/filesystem_registry.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "tracemark/base/file_util.h"
#include "tracemark/base/text.h"
#include "tracemark/store/key_store.h"

namespace tracemark::registry {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Names of the subdirectories of `dir` not starting with '.', sorted.
StatusOr<std::vector<std::string>> ListDirs(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (name[0] != '.' && it->is_directory(type_ec)) names.push_back(std::move(name));
  }
  if (ec) return Status::IoError("cannot list " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

constexpr uintmax_t kMaxManifestBytes = 1 << 20;

// Reads the fields of one manifest into a RegisteredVersion.
class ManifestParser {
 public:
  explicit ManifestParser(RegisteredVersion* v) : v_(v) {}

  Status Parse(const std::string& text) {
    json root;
    try {
      root = json::parse(text);
    } catch (const json::exception& e) {
      return Status::InvalidArgument(v_->manifest_path + ": invalid JSON: " + e.what());
    }
    if (!root.is_object()) return Error("", "must be a JSON object, got " + ShownJson(root));
    for (const auto& item : root.items()) TM_RETURN_IF_ERROR(ReadKey(item.key(), item.value()));
    for (const char* key : {"scheme", "licensees", "data"}) {
      if (!root.contains(key)) return Error(key, "missing");
    }
    return Status::Ok();
  }

 private:
  // "<manifest>: <key>: <reason>", or "<manifest>: <reason>" without a key.
  Status Error(const std::string& key, const std::string& reason) const {
    return Status::InvalidArgument(v_->manifest_path + ": " + key + (key.empty() ? "" : ": ") +
                                   reason);
  }

  Status ReadKey(const std::string& key, const json& value) {
    if (key == "scheme") return ReadText(key, value, &v_->scheme);
    if (key == "data") return ReadText(key, value, &v_->data);
    if (key == "licensees") return ReadLicensees(value);
    if (key == "params") return ReadParams(value);
    return Error(key, "unknown key; valid keys are data, licensees, params, scheme");
  }

  Status ReadText(const std::string& key, const json& value, std::string* out) {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      return Error(key, "must be a non-empty string, got " + ShownJson(value));
    }
    *out = value.get<std::string>();
    return Status::Ok();
  }

  Status ReadLicensees(const json& value) {
    if (!value.is_array() || value.empty()) {
      return Error("licensees",
                   "must be a non-empty array of licensee names, got " + ShownJson(value));
    }
    std::set<std::string> seen;
    for (const json& item : value) {
      if (!item.is_string()) return Error("licensees", "must hold strings, got " + ShownJson(item));
      const auto& name = item.get_ref<const std::string&>();
      Status valid = KeyStore::ValidateName("licensee name", name);
      if (!valid.ok()) return Error("licensees", valid.message());
      if (!seen.insert(name).second) return Error("licensees", "'" + name + "' is listed twice");
      v_->licensees.push_back(name);
    }
    return Status::Ok();
  }

  // Strings as they are; numbers and booleans as their JSON text.
  Status ReadParams(const json& value) {
    if (!value.is_object()) return Error("params", "must be an object, got " + ShownJson(value));
    for (const auto& item : value.items()) {
      const json& v = item.value();
      if (!v.is_string() && !v.is_number() && !v.is_boolean()) {
        return Error("params." + item.key(),
                     "must be a string, number or boolean, got " + ShownJson(v));
      }
      v_->params[item.key()] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    return Status::Ok();
  }

  RegisteredVersion* v_;
};

// The version in `dir`, whose manifest exists. InvalidArgument, naming the
// manifest, when the version is invalid.
StatusOr<RegisteredVersion> LoadVersion(const fs::path& dir, const std::string& model,
                                        const std::string& version) {
  RegisteredVersion v;
  v.model = model;
  v.version = version;
  v.model_path = (dir / FilesystemRegistry::ModelName()).string();
  v.manifest_path = (dir / FilesystemRegistry::ManifestName()).string();
  Status valid = KeyStore::ValidateName("model name", model);
  if (valid.ok()) valid = KeyStore::ValidateName("version name", version);
  if (!valid.ok()) return valid.WithContext(v.manifest_path);
  std::error_code ec;
  if (!fs::is_regular_file(v.model_path, ec)) {
    return Status::InvalidArgument(v.manifest_path + ": " + FilesystemRegistry::ModelName() +
                                   " is missing (write it before the manifest)");
  }
  // Not a FIFO or a device (read forever), not a huge file.
  if (!fs::is_regular_file(v.manifest_path, ec) ||
      fs::file_size(v.manifest_path, ec) > kMaxManifestBytes) {
    return Status::InvalidArgument(v.manifest_path + " is not a regular file of at most " +
                                   std::to_string(kMaxManifestBytes >> 10) + " KiB");
  }
  TM_ASSIGN_OR_RETURN(std::string text, ReadFile(v.manifest_path));
  TM_RETURN_IF_ERROR(ParseReleaseManifest(text, &v));
  return v;
}

}  // namespace

Status ParseReleaseManifest(const std::string& text, RegisteredVersion* version) {
  return ManifestParser(version).Parse(text);
}

FilesystemRegistry::FilesystemRegistry(std::string root) : root_(std::move(root)) {}

std::string FilesystemRegistry::ManifestName() { return "release.json"; }
std::string FilesystemRegistry::ModelName() { return "model.pt"; }

std::string FilesystemRegistry::Describe() const { return "filesystem registry " + root_; }

StatusOr<std::vector<RegisteredVersion>> FilesystemRegistry::Scan(
    std::vector<std::string>* problems) {
  auto report = [problems](const Status& st) {
    if (problems != nullptr) problems->push_back(Printable(st.message()));
  };
  std::error_code ec;
  fs::file_status root_status = fs::status(root_, ec);
  if (root_status.type() == fs::file_type::not_found) {
    return Status::NotFound("registry directory " + root_ + " does not exist");
  }
  if (ec) return Status::IoError("cannot read registry directory " + root_ + ": " + ec.message());
  if (!fs::is_directory(root_status)) {
    return Status::InvalidArgument("registry " + root_ + " is not a directory");
  }
  TM_ASSIGN_OR_RETURN(std::vector<std::string> models, ListDirs(root_));
  // Both listings are sorted, so versions come out sorted by (model, version).
  std::vector<RegisteredVersion> found;
  for (const std::string& model : models) {
    StatusOr<std::vector<std::string>> versions = ListDirs(fs::path(root_) / model);
    if (!versions.ok()) {
      report(versions.status());
      continue;
    }
    for (const std::string& version : *versions) {
      fs::path dir = fs::path(root_) / model / version;
      if (!fs::exists(dir / ManifestName(), ec)) continue;  // not complete yet
      StatusOr<RegisteredVersion> v = LoadVersion(dir, model, version);
      if (v.ok()) {
        found.push_back(std::move(v).value());
      } else {
        report(v.status());
      }
    }
  }
  return found;
}

}  // namespace tracemark::registry
