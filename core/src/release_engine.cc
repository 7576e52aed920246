#include "tracemark/release_engine.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "tracemark/codes.h"
#include "tracemark/dataset.h"
#include "tracemark/file_util.h"
#include "tracemark/model.h"
#include "tracemark/scheme_params.h"
#include "tracemark/stats.h"
#include "tracemark/training.h"

namespace tracemark {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seeds for the codebook, the key and each copy, derived from one secret.
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
  double accuracy_budget = 0;  // fraction
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
  SchemeParams core_given, scheme_given, core;
  for (const auto& [key, value] : request.settings) {
    bool is_core = false;
    for (const auto& spec : CoreSettingSpecs()) is_core |= spec.name == key;
    (is_core ? core_given : scheme_given)[key] = value;
  }
  TM_RETURN_IF_ERROR(FillDefaults(CoreSettingSpecs(), core_given, &core));
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
  TM_ASSIGN_OR_RETURN(prep.master_seed, MasterSeed(core["seed"]));
  prep.code_spec.users = static_cast<int>(request.licensees.size());
  prep.code_spec.min_bits = static_cast<int>(bits);
  prep.code_spec.max_colluders = static_cast<int>(colluders);
  prep.code_spec.seed = DeriveSeed(prep.master_seed, 1);
  prep.accuracy_budget = budget / 100.0;

  TM_ASSIGN_OR_RETURN(prep.base, LoadModel(request.model_path));
  TM_ASSIGN_OR_RETURN(prep.data, LoadDataset(request.data_spec));
  TM_RETURN_IF_ERROR(RunForward(prep.base, prep.data.test.images.slice(0, 0, 2))
                         .status()
                         .WithContext("model does not fit dataset " + request.data_spec));
  prep.file_name = fs::path(request.model_path).filename().string();
  TM_RETURN_IF_ERROR(MakeDirs(request.out_dir));
  return prep;
}

}  // namespace

const std::vector<ParamSpec>& CoreSettingSpecs() {
  static const std::vector<ParamSpec> specs = {
      {"bits", "256", "fingerprint bits per copy (bibd codes round up to whole repeats)"},
      {"code", "auto", "code family: random, bibd, or auto (the scheme's default)"},
      {"max_colluders", "3", "bibd: averaging colluders the code must identify"},
      {"accuracy_budget", "0.5", "max test-accuracy drop of a copy, in points"},
      {"seed", "random", "secret master seed (an integer to make a release reproducible)"},
  };
  return specs;
}

StatusOr<ReleaseResult> ReleaseEngine::Release(const ReleaseRequest& request,
                                               const CopyCallback& on_copy) {
  auto start = Clock::now();
  TM_ASSIGN_OR_RETURN(PreparedRelease prep, Prepare(request, *plugins_));
  TM_ASSIGN_OR_RETURN(Codebook codebook, MakeCodebook(prep.code_spec));
  const int users = prep.code_spec.users;
  if (codebook.family == CodeFamily::kRandom &&
      codebook.bits - codebook.min_distance >= MinMatchesForAccusation(codebook.bits, users)) {
    return Status::InvalidArgument(std::to_string(codebook.bits) + " bits are too few for " +
                                   std::to_string(users) +
                                   " licensees to be told apart at p <= 1e-6; raise bits");
  }
  std::string key;
  TM_RETURN_IF_ERROR(prep.scheme->Keygen(prep.base, prep.scheme_params, codebook.bits,
                                         DeriveSeed(prep.master_seed, 2), &key));

  ReleaseResult result;
  result.scheme = request.scheme;
  result.code_family = CodeFamilyName(codebook.family);
  result.bits = codebook.bits;
  result.base_accuracy = Accuracy(prep.base, prep.data.test);

  ReleaseRecord record;
  record.model = request.model_name;
  record.version = request.version;
  record.scheme = request.scheme;
  record.params_json = nlohmann::json(prep.scheme_params).dump();
  record.code_family = result.code_family;
  record.code_bits = prep.code_spec.min_bits;
  record.code_max_colluders = prep.code_spec.max_colluders;
  record.code_seed = prep.code_spec.seed;
  record.architecture = ArchitectureSignature(prep.base);
  TM_ASSIGN_OR_RETURN(record.base_sha256, Sha256File(request.model_path));
  record.base_accuracy = result.base_accuracy;
  record.status = "embedding";
  std::vector<CopyRecord> copies(users);
  for (int i = 0; i < users; ++i) {
    copies[i].licensee = request.licensees[i];
    copies[i].slot = i;
    copies[i].code = codebook.codes[i];
  }
  TM_ASSIGN_OR_RETURN(result.release_id, store_->CreateRelease(record, &copies, key));

  EmbedContext ctx;
  ctx.train = &prep.data.train;
  ctx.validation = &prep.data.test;
  ctx.base_accuracy = result.base_accuracy;
  ctx.max_accuracy_drop = prep.accuracy_budget;
  for (int i = 0; i < users; ++i) {
    auto copy_start = Clock::now();
    CopyResult copy;
    copy.licensee = request.licensees[i];
    copy.path = fs::absolute(fs::path(request.out_dir) / copy.licensee / prep.file_name)
                    .lexically_normal()
                    .string();
    ctx.seed = DeriveSeed(prep.master_seed, 100 + i);
    torch::jit::Module model = CloneModel(prep.base);
    EmbedReport report;
    Status st = prep.scheme->Embed(model, key, codebook.codes[i], ctx, &report);
    if (st.ok()) st = MakeDirs(fs::path(copy.path).parent_path().string());
    if (st.ok()) st = SaveModel(model, copy.path);
    StatusOr<std::string> sha = st.ok() ? Sha256File(copy.path) : StatusOr<std::string>(st);
    if (!sha.ok()) {
      Status failure = sha.status().WithContext("licensee " + copy.licensee);
      store_->FailCopy(copies[i].id, failure.message());
      store_->SetReleaseStatus(result.release_id, "failed", failure.message());
      return failure;
    }
    copy.sha256 = *sha;
    copy.accuracy = report.validation_accuracy;
    copy.bits = report.bits;
    copy.bits_with_margin = report.bits_with_margin;
    copy.steps = report.steps;
    copy.seconds = SecondsSince(copy_start);
    TM_RETURN_IF_ERROR(
        store_->CompleteCopy(copies[i].id, copy.path, copy.sha256, copy.accuracy, copy.seconds));
    if (on_copy) on_copy(copy);
    result.copies.push_back(std::move(copy));
  }
  TM_RETURN_IF_ERROR(store_->SetReleaseStatus(result.release_id, "done"));
  result.seconds = SecondsSince(start);
  return result;
}

}  // namespace tracemark
