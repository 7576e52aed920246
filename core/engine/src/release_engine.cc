#include "tracemark/engine/release_engine.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tracemark/base/file_util.h"
#include "tracemark/decide/codes.h"
#include "tracemark/decide/stats.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/image_task.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/model_kind.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"

namespace tracemark {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seeds for the codebook and the key, derived from the master secret, and for
// each copy, derived from the stored code seed (so Run can resume).
uint64_t DeriveSeed(uint64_t master, uint64_t purpose) {
  return SecretRng(master ^ (0x9e3779b97f4a7c15ULL * (purpose + 1))).Next();
}

StatusOr<uint64_t> MasterSeed(const std::string& setting) {
  if (setting != "random") {
    SchemeParams p{{"seed", setting}};
    TM_ASSIGN_OR_RETURN(int64_t seed, GetInt(p, "seed", 0, INT64_MAX));
    return static_cast<uint64_t>(seed);
  }
  uint64_t seed = 0;
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(&seed), sizeof seed)) {
    return Status::IoError("cannot read /dev/urandom");
  }
  return seed;
}

// Everything a release needs, checked before anything is written.
struct PreparedRelease {
  const Scheme* scheme = nullptr;
  SchemeParams scheme_params;
  CodebookSpec code_spec;
  double accuracy_budget = 0;  // fraction (classifier) or dB (image-to-image)
  std::string model_kind;
  double noise = 0;  // image-to-image: the inputs' noise sigma
  std::string input_shape;
  uint64_t master_seed = 0;
  torch::jit::Module base;
  DataSplits data;
  std::string file_name;
};

StatusOr<PreparedRelease> Prepare(const ReleaseRequest& request, const PluginHost& plugins) {
  PreparedRelease prep;
  for (const auto& [what, name] :
       {std::pair{"model name", request.model_name}, std::pair{"version", request.version}}) {
    TM_RETURN_IF_ERROR(KeyStore::ValidateName(what, name));
  }
  if (request.licensees.empty()) return Status::InvalidArgument("no licensees given");
  std::set<std::string> unique;
  for (const auto& name : request.licensees) {
    TM_RETURN_IF_ERROR(KeyStore::ValidateName("licensee name", name));
    if (!unique.insert(name).second) {
      return Status::InvalidArgument("licensee " + name + " is listed twice");
    }
  }
  TM_ASSIGN_OR_RETURN(prep.scheme, plugins.Find(request.scheme));

  // Split the settings: the core's own, then the scheme's.
  // A setting both declare (`noise`) is the core's and is handed to the
  // scheme too, so both use one value.
  SchemeParams core_given, scheme_given, core;
  auto scheme_declares = [&](const std::string& name) {
    for (const auto& spec : prep.scheme->Info().params) {
      if (spec.name == name) return true;
    }
    return false;
  };
  for (const auto& [key, value] : request.settings) {
    bool is_core = false;
    for (const auto& spec : CoreSettingSpecs()) is_core |= spec.name == key;
    (is_core ? core_given : scheme_given)[key] = value;
  }
  TM_RETURN_IF_ERROR(FillDefaults(CoreSettingSpecs(), core_given, &core));
  for (const auto& spec : CoreSettingSpecs()) {
    if (scheme_declares(spec.name)) scheme_given[spec.name] = core[spec.name];
  }
  Status scheme_st = prep.scheme->ResolveParams(scheme_given, &prep.scheme_params);
  if (!scheme_st.ok()) {
    std::string core_names;
    for (const auto& spec : CoreSettingSpecs()) core_names += ", " + spec.name;
    return Status::InvalidArgument(scheme_st.message() + core_names);
  }
  std::string family =
      core["code"] == "auto" ? prep.scheme->Info().default_code_family : core["code"];
  TM_ASSIGN_OR_RETURN(prep.code_spec.family, ParseCodeFamily(family));
  TM_ASSIGN_OR_RETURN(int64_t bits, GetInt(core, "bits", 16, 4096));
  TM_ASSIGN_OR_RETURN(int64_t colluders, GetInt(core, "max_colluders", 1, 96));
  TM_ASSIGN_OR_RETURN(double budget, GetDouble(core, "accuracy_budget", 0.0, 100.0));
  TM_ASSIGN_OR_RETURN(prep.noise, GetDouble(core, "noise", 0.0, 1.0));
  if (core["kind"] != "auto") TM_RETURN_IF_ERROR(ValidateModelKind(core["kind"]));
  TM_ASSIGN_OR_RETURN(prep.master_seed, MasterSeed(core["seed"]));
  prep.code_spec.users = static_cast<int>(request.licensees.size());
  prep.code_spec.min_bits = static_cast<int>(bits);
  prep.code_spec.max_colluders = static_cast<int>(colluders);
  prep.code_spec.seed = DeriveSeed(prep.master_seed, 1);

  TM_ASSIGN_OR_RETURN(prep.base, LoadModel(request.model_path));
  TM_ASSIGN_OR_RETURN(prep.data, LoadDataset(request.data_spec));
  torch::Tensor sample = prep.data.test.images.slice(0, 0, 1);
  auto forward = RunForward(prep.base, sample);
  if (!forward.ok()) {
    return forward.status().WithContext("model does not fit dataset " + request.data_spec);
  }
  const torch::Tensor out = *forward;
  // The model's kind: learned from its output, unless the release says.
  if (core["kind"] == "auto") {
    auto kind = KindOfShapes(sample.sizes(), out.sizes());
    if (!kind.ok()) {
      return kind.status().WithContext(
          "cannot tell the model's kind (set kind=classifier or kind=image-to-image)");
    }
    prep.model_kind = *kind;
  } else {
    prep.model_kind = core["kind"];
  }
  TM_RETURN_IF_ERROR(CheckSchemeFitsKind(prep.scheme->Info(), prep.model_kind,
                                         "model " + request.model_name, ShapeText(out.sizes())));
  prep.input_shape = ShapeText(sample.sizes().slice(1));
  // Classifiers: accuracy points -> fraction; image-to-image: PSNR dB as given.
  prep.accuracy_budget = prep.model_kind == kClassifierKind ? budget / 100.0 : budget;
  prep.file_name = fs::path(request.model_path).filename().string();
  TM_RETURN_IF_ERROR(MakeDirs(request.out_dir));
  return prep;
}

// Refuses codebooks whose verdicts could not stand: random codes where two
// licensees' codes agree as often as an accusation needs, or codes too short
// for even a perfect match to reach p <= 1e-6 over the hypotheses tested.
Status CheckReachable(const Codebook& codebook, int users) {
  const int needed = MinMatchesForAccusation(codebook.bits, HypothesesFor(codebook, users));
  bool separable =
      codebook.family == CodeFamily::kBibd || codebook.bits - codebook.min_distance < needed;
  if (needed <= codebook.bits && separable) return Status::Ok();
  return Status::InvalidArgument(std::to_string(codebook.bits) + " bits are too few for " +
                                 std::to_string(users) +
                                 " licensees to be told apart at p <= 1e-6; raise bits");
}

// A licensee's copy is theirs and the operator's: owner read-write, group
// read (the group the operator shares copies with), nobody else.
constexpr int kCopyMode = 0640;

// Saves the copy atomically with manifest.json beside it; returns its hash.
Status PublishCopy(const torch::jit::Module& model, const ReleaseRecord& release,
                   const CopyRecord& copy, std::string* sha256) {
  fs::path path(copy.artifact_path);
  TM_RETURN_IF_ERROR(MakeDirs(path.parent_path().string()));
  TM_RETURN_IF_ERROR(SaveModel(model, path.string(), kCopyMode));
  TM_ASSIGN_OR_RETURN(*sha256, Sha256File(path.string()));
  nlohmann::json manifest = {{"release_id", release.id},   {"model", release.model},
                             {"version", release.version}, {"scheme", release.scheme},
                             {"licensee", copy.licensee},  {"file", path.filename().string()},
                             {"sha256", *sha256}};
  return WriteFileAtomically((path.parent_path() / "manifest.json").string(),
                             manifest.dump(2) + "\n", kCopyMode);
}

}  // namespace

const std::vector<ParamSpec>& CoreSettingSpecs() {
  static const std::vector<ParamSpec> specs = {
      {"bits", "256", "fingerprint bits per copy (bibd codes round up to whole repeats)"},
      {"code", "auto", "code family: random, bibd, or auto (the scheme's default)"},
      {"max_colluders", "3", "bibd: averaging colluders the code must identify"},
      {"accuracy_budget", "0.5",
       "max quality drop of a copy: test-accuracy points (classifier), task PSNR dB "
       "(image-to-image)"},
      {"kind", "auto",
       "model kind: classifier, image-to-image, or auto (learned from the model's output)"},
      {"noise", "0.3",
       "image-to-image: sigma of the Gaussian noise on the inputs (clean images come from --data)"},
      {"seed", "random", "secret master seed (an integer to make a release reproducible)"},
  };
  return specs;
}

StatusOr<int64_t> ReleaseEngine::Plan(const ReleaseRequest& request) {
  return GuardedCall("release planning", [&]() -> StatusOr<int64_t> {
    TM_ASSIGN_OR_RETURN(PreparedRelease prep, Prepare(request, *plugins_));
    TM_ASSIGN_OR_RETURN(Codebook codebook, MakeCodebook(prep.code_spec));
    const int users = prep.code_spec.users;
    TM_RETURN_IF_ERROR(CheckReachable(codebook, users));
    std::string key;
    TM_RETURN_IF_ERROR(prep.scheme->Keygen(prep.base, prep.scheme_params, codebook.bits,
                                           DeriveSeed(prep.master_seed, 2), prep.data.train, &key));
    ReleaseRecord record;
    record.model = request.model_name;
    record.version = request.version;
    record.scheme = request.scheme;
    record.params_json = nlohmann::json(prep.scheme_params).dump();
    record.code_family = CodeFamilyName(codebook.family);
    record.code_bits = prep.code_spec.min_bits;
    record.code_max_colluders = prep.code_spec.max_colluders;
    record.code_seed = prep.code_spec.seed;
    record.architecture = ArchitectureSignature(prep.base);
    record.source_path = fs::absolute(request.model_path).lexically_normal().string();
    TM_ASSIGN_OR_RETURN(record.base_sha256, Sha256File(record.source_path));
    if (prep.model_kind == kImageToImageKind) {
      TM_ASSIGN_OR_RETURN(record.base_accuracy,
                          TaskPsnr(prep.base, prep.data.test.images, prep.noise));
    } else {
      TM_ASSIGN_OR_RETURN(record.base_accuracy, Accuracy(prep.base, prep.data.test));
    }
    record.model_kind = prep.model_kind;
    record.input_shape = prep.input_shape;
    record.data_spec = request.data_spec;
    record.accuracy_budget = prep.accuracy_budget;
    record.status = ReleaseStatus::kEmbedding;
    std::vector<CopyRecord> copies(users);
    for (int i = 0; i < users; ++i) {
      copies[i].licensee = request.licensees[i];
      copies[i].slot = i;
      copies[i].code = codebook.codes[i];
      copies[i].artifact_path = (fs::absolute(request.out_dir) / copies[i].licensee /
                                 request.copy_subdir / prep.file_name)
                                    .lexically_normal()
                                    .string();
    }
    return store_->CreateRelease(record, &copies, key);
  });
}

StatusOr<ReleaseResult> ReleaseEngine::Run(int64_t release_id, const CopyCallback& on_copy) {
  return GuardedCall("release", [&]() -> StatusOr<ReleaseResult> {
    auto start = Clock::now();
    TM_ASSIGN_OR_RETURN(ReleaseRecord release, store_->GetRelease(release_id));
    TM_ASSIGN_OR_RETURN(std::vector<CopyRecord> copies, store_->ListCopies(release_id));
    auto fail = [&](const Status& failure) {
      Status recorded =
          store_->SetReleaseStatus(release_id, ReleaseStatus::kFailed, failure.message());
      if (recorded.ok()) return failure;
      return failure.WithContext("release " + std::to_string(release_id) +
                                 " (its failure could not be recorded: " + recorded.message() +
                                 ")");
    };
    if (release.status != ReleaseStatus::kEmbedding) {
      return Status::FailedPrecondition("release " + std::to_string(release_id) + " is " +
                                        Name(release.status) + ", not waiting for embedding");
    }
    TM_ASSIGN_OR_RETURN(const Scheme* scheme, plugins_->Find(release.scheme));
    TM_ASSIGN_OR_RETURN(std::string key, store_->GetSchemeKey(release_id));
    auto sha = Sha256File(release.source_path);
    if (!sha.ok() || *sha != release.base_sha256) {
      return fail(
          Status::FailedPrecondition("base model " + release.source_path +
                                     " is missing or changed since the release was planned"));
    }
    TM_ASSIGN_OR_RETURN(torch::jit::Module base, LoadModel(release.source_path));
    auto data = LoadDataset(release.data_spec);
    if (!data.ok()) return fail(data.status());

    ReleaseResult result;
    result.release_id = release_id;
    result.scheme = release.scheme;
    result.code_family = release.code_family;
    result.base_accuracy = release.base_accuracy;
    result.model_kind = release.model_kind;
    EmbedContext ctx;
    ctx.train = &data->train;
    ctx.validation = &data->test;
    ctx.base_accuracy = release.base_accuracy;
    ctx.max_accuracy_drop = release.accuracy_budget;
    for (const CopyRecord& record : copies) {
      result.bits = static_cast<int>(record.code.size());
      CopyResult copy;
      copy.licensee = record.licensee;
      copy.path = record.artifact_path;
      copy.bits = result.bits;
      copy.model_kind = release.model_kind;
      if (record.status == CopyStatus::kDone) {  // published before an interruption
        copy.sha256 = record.sha256;
        copy.accuracy = record.accuracy;
        copy.bits_with_margin = copy.bits;
        copy.seconds = record.embed_seconds;
        result.copies.push_back(std::move(copy));
        continue;
      }
      if (stop_ && stop_->load()) {
        return Status::Cancelled("release " + std::to_string(release_id) +
                                 " stopped; it resumes where it stopped");
      }
      auto copy_start = Clock::now();
      ctx.seed = DeriveSeed(release.code_seed, 100 + record.slot);
      torch::jit::Module model = CloneModel(base);
      EmbedReport report;
      Status st = scheme->Embed(model, key, record.code, ctx, &report);
      if (st.ok()) st = PublishCopy(model, release, record, &copy.sha256);
      if (!st.ok()) {
        Status failure = st.WithContext("licensee " + copy.licensee);
        Status recorded = store_->FailCopy(record.id, failure.message());
        if (!recorded.ok()) {
          failure = Status::IoError(failure.message() +
                                    " (not recorded on the copy: " + recorded.message() + ")");
        }
        return fail(failure);
      }
      copy.accuracy = report.validation_accuracy;
      copy.bits_with_margin = report.bits_with_margin;
      if (report.bits > 0) copy.bits = report.bits;  // trigger keys for per-copy-key schemes
      copy.steps = report.steps;
      copy.seconds = SecondsSince(copy_start);
      TM_RETURN_IF_ERROR(store_->CompleteCopy(record.id, copy.path, copy.sha256, copy.accuracy,
                                              copy.seconds, report.copy_key));
      if (on_copy) on_copy(copy);
      result.copies.push_back(std::move(copy));
    }
    TM_RETURN_IF_ERROR(store_->SetReleaseStatus(release_id, ReleaseStatus::kDone));
    result.seconds = SecondsSince(start);
    return result;
  });
}

StatusOr<ReleaseResult> ReleaseEngine::Release(const ReleaseRequest& request,
                                               const CopyCallback& on_copy) {
  auto start = Clock::now();
  TM_ASSIGN_OR_RETURN(int64_t release_id, Plan(request));
  TM_ASSIGN_OR_RETURN(ReleaseResult result, Run(release_id, on_copy));
  result.seconds = SecondsSince(start);
  return result;
}

}  // namespace tracemark
