#include "tracemark/lab/evaluation.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "tracemark/base/file_util.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/lab/attacks.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/lab/demo_training.h"
#include "tracemark/lab/tool_util.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"
#include "tracemark/store/key_store.h"

namespace tracemark::evaluation {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using lab::Split;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::jit::Module MakeArchitecture(const std::string& architecture, uint64_t seed) {
  return architecture == "cnn" ? MakeDemoCnn(seed) : MakeDemoMlp(seed);
}

// A model of `architecture` trained from `seed`, cached at `path`.
StatusOr<std::string> TrainedModel(const std::string& architecture, uint64_t seed,
                                   const Dataset& data, int epochs, const std::string& path) {
  if (fs::exists(path)) return path;
  torch::jit::Module model = MakeArchitecture(architecture, seed);
  TrainOptions options;
  options.epochs = epochs;
  options.seed = seed;
  TM_RETURN_IF_ERROR(TrainClassifier(model, data, options));
  TM_RETURN_IF_ERROR(SaveModel(model, path));
  return path;
}

// One scheme run: a name and its settings (core settings and scheme
// parameters mixed, as a release takes them).
struct RunSpec {
  std::string label;  // as given, e.g. "deepsigns+mode=black"
  std::string scheme;
  SchemeParams settings;
};

StatusOr<RunSpec> ParseRun(const std::string& text) {
  std::vector<std::string> parts = Split(text, '+');
  if (parts.empty()) return Status::InvalidArgument("empty run");
  RunSpec run{text, parts[0], {}};
  for (size_t i = 1; i < parts.size(); ++i) {
    TM_RETURN_IF_ERROR(ParseSetting(parts[i], &run.settings));
  }
  return run;
}

// The scheme parameters among a run's settings (the core's own removed).
SchemeParams SchemeOnly(const SchemeParams& settings) {
  SchemeParams params = settings;
  for (const ParamSpec& spec : CoreSettingSpecs()) params.erase(spec.name);
  return params;
}

// Everything one evaluation shares.
class Evaluator {
 public:
  Evaluator(const Config& config, const Log& log) : config_(config), log_(log) {}

  Status Load() {
    TM_RETURN_IF_ERROR(plugins_.LoadDirectory(config_.plugins));
    TM_ASSIGN_OR_RETURN(DataSplits owner, LoadDataset(OwnerSpec()));
    owner_ = owner.train;
    test_ = owner.test;
    TM_ASSIGN_OR_RETURN(DataSplits attacker,
                        LoadDataset(config_.data + "[" + config_.attacker_rows + "]"));
    // The attacker keeps a tenth of their data to check their own accuracy.
    const int64_t n = attacker.train.size();
    attacker_ = attacker.train.Slice(0, n - n / 10);
    attacker_validation_ = attacker.train.Slice(n - n / 10, n);
    TM_ASSIGN_OR_RETURN(DataSplits null_data,
                        LoadDataset(config_.data + "[" + config_.null_rows + "]"));
    null_data_ = null_data.train;
    for (const std::string& a : config_.attacks) {
      const auto& names = AttackNames();
      if (std::find(names.begin(), names.end(), a) == names.end()) {
        return Status::InvalidArgument("unknown attack " + a);
      }
    }
    for (const std::string& a : config_.architectures) {
      if (a != "cnn" && a != "mlp") {
        return Status::InvalidArgument("unknown architecture " + a + " (cnn or mlp)");
      }
    }
    std::vector<std::string> runs = config_.runs;
    if (runs.empty()) {
      for (const Scheme* scheme : plugins_.schemes()) {
        const auto& kinds = scheme->Info().model_kinds;
        if (std::find(kinds.begin(), kinds.end(), "classifier") != kinds.end()) {
          runs.push_back(scheme->Info().name);
        }
      }
      if (plugins_.Find("deepsigns").ok()) runs.push_back("deepsigns+mode=black");
    }
    for (const std::string& text : runs) {
      TM_ASSIGN_OR_RETURN(RunSpec run, ParseRun(text));
      TM_RETURN_IF_ERROR(plugins_.Find(run.scheme).status());
      runs_.push_back(run);
    }
    return Status::Ok();
  }

  json Evaluate() {
    json doc;
    doc["config"] = ConfigJson();
    doc["machine"] = {{"cores", std::thread::hardware_concurrency()},
                      {"torch_threads", at::get_num_threads()}};
    doc["architectures"] = json::object();
    doc["runs"] = json::array();
    for (size_t a = 0; a < config_.architectures.size(); ++a) {
      const std::string& architecture = config_.architectures[a];
      json arch = EvaluateArchitecture(architecture);
      if (arch.contains("error")) {
        doc["architectures"][architecture] = arch;
        continue;
      }
      for (const RunSpec& run : runs_) {
        doc["runs"].push_back(EvaluateRun(architecture, run, /*measure_scaling=*/a == 0));
      }
      doc["architectures"][architecture] = arch;
    }
    return doc;
  }

 private:
  bool Wanted(const std::string& attack) const {
    return config_.attacks.empty() || std::find(config_.attacks.begin(), config_.attacks.end(),
                                                attack) != config_.attacks.end();
  }

  std::string OwnerSpec() const { return config_.data + "[" + config_.owner_rows + "]"; }
  std::string Dir(const std::string& architecture) const {
    return config_.work + "/" + architecture;
  }

  json ConfigJson() const {
    return {{"data", config_.data},
            {"owner_rows", config_.owner_rows},
            {"null_rows", config_.null_rows},
            {"attacker_rows", config_.attacker_rows},
            {"architectures", config_.architectures},
            {"licensees", config_.licensees},
            {"base_epochs", config_.base_epochs},
            {"null_models", config_.null_models},
            {"null_epochs", config_.null_epochs},
            {"fine_tune_epochs", config_.fine_tune_epochs},
            {"fine_tune_lr", config_.fine_tune_lr},
            {"prune_fractions", config_.prune_fractions},
            {"colluders", config_.colluders},
            {"distill_epochs", config_.distill_epochs},
            {"scaling_licensees", config_.scaling_licensees},
            {"seed", config_.seed}};
  }

  // Base model, its cost units and the null models of one architecture.
  json EvaluateArchitecture(const std::string& architecture) {
    json arch;
    if (Status st = MakeDirs(Dir(architecture)); !st.ok()) return {{"error", st.message()}};
    log_(architecture + ": training the base model and " + std::to_string(config_.null_models) +
         " null models");
    auto base =
        TrainedModel(architecture, 0, owner_, config_.base_epochs, Dir(architecture) + "/base.pt");
    if (!base.ok()) return {{"error", base.status().message()}};
    base_path_[architecture] = *base;
    torch::jit::Module base_model = LoadModel(*base).value();
    auto base_accuracy = Accuracy(base_model, test_);
    if (!base_accuracy.ok()) return {{"error", base_accuracy.status().message()}};
    arch["base_accuracy"] = *base_accuracy;
    auto epoch = PlainEpochSeconds(base_model, owner_);
    if (!epoch.ok()) return {{"error", epoch.status().message()}};
    epoch_seconds_[architecture] = *epoch;
    arch["plain_epoch_seconds"] = *epoch;
    arch["owner_images"] = owner_.size();
    std::vector<std::string>& nulls = null_paths_[architecture];
    json accuracies = json::array();
    for (int i = 0; i < config_.null_models; ++i) {
      // Seeds and data both independent of the owner's.
      auto path = TrainedModel(architecture, 1000 + i, null_data_, config_.null_epochs,
                               Dir(architecture) + "/null-" + std::to_string(i) + ".pt");
      if (!path.ok()) return {{"error", path.status().message()}};
      nulls.push_back(*path);
      torch::jit::Module model = LoadModel(*path).value();
      accuracies.push_back(Accuracy(model, test_).value());
    }
    arch["null_accuracies"] = accuracies;
    return arch;
  }

  // The licensees of the copies a row's attacked model came from.
  using Truth = std::set<std::string>;

  // Tests the model at `path` and traces it; one row of the results.
  json Judge(KeyStore* store, const std::string& path, const Truth& truth) {
    json row;
    auto model = LoadModel(path);
    if (!model.ok()) return {{"error", model.status().message()}};
    row["accuracy"] = Accuracy(*model, test_).value();
    auto report = TraceEngine(store, &plugins_).TraceOwnModel(path);
    if (!report.ok()) return {{"error", report.status().message()}};
    row["verdict"] = VerdictName(report->verdict);
    row["accused"] = report->accused;
    json innocent = json::array();
    int truth_accused = 0;
    for (const std::string& name : report->accused) {
      if (truth.count(name)) {
        ++truth_accused;
      } else {
        innocent.push_back(name);
      }
    }
    row["innocent_accused"] = innocent;
    row["true_accused"] = truth_accused;
    row["traced"] = truth_accused == static_cast<int>(truth.size());
    double best_p = 1.0;
    for (const TraceCandidate& c : report->candidates) {
      if (!truth.count(c.licensee)) continue;
      if (!row.contains("bit_accuracy") && c.bits > 0) {
        row["bit_accuracy"] = static_cast<double>(c.matches) / c.bits;
        row["matches"] = c.matches;
        row["bits"] = c.bits;
        row["evidence"] = c.evidence;
      }
      best_p = std::min(best_p, c.p_value);
    }
    row["p_value"] = best_p;
    row["trace_seconds"] = report->seconds;
    row["load_seconds"] = report->load_seconds;
    row["queries"] = report->queries;
    return row;
  }

  // Runs `attack` on a copy loaded from `source`, saves the result to
  // `out` and judges it; errors become the row's "error" cell.
  json Attack(KeyStore* store, const std::string& source, const std::string& out,
              const Truth& truth, const std::function<Status(torch::jit::Module&)>& attack) {
    auto start = Clock::now();
    auto model = LoadModel(source);
    if (!model.ok()) return {{"error", model.status().message()}};
    Status st = GuardedCall("attack", [&] { return attack(*model); });
    json row = json::object();
    if (!st.ok()) {
      // Overwriting may leave a changed model when the attacker's loop did
      // not converge; it is still judged, with the reason kept.
      if (st.code() != Status::Code::kFailedPrecondition) return {{"error", st.message()}};
      row["attack_note"] = st.message();
    }
    const double attack_seconds = SecondsSince(start);
    if (Status saved = SaveModel(*model, out); !saved.ok()) return {{"error", saved.message()}};
    json judged = Judge(store, out, truth);
    judged.update(row);
    judged["attack_seconds"] = attack_seconds;
    return judged;
  }

  json EvaluateRun(const std::string& architecture, const RunSpec& spec, bool measure_scaling) {
    const std::string dir = Dir(architecture) + "/" + spec.label;
    json run = {{"architecture", architecture}, {"run", spec.label}, {"scheme", spec.scheme}};
    auto fail = [&](const Status& st) {
      run["error"] = st.message();
      log_(architecture + " " + spec.label + ": " + st.message());
      return run;
    };
    fs::remove_all(dir);
    if (Status st = MakeDirs(dir + "/attacked"); !st.ok()) return fail(st);
    auto store = KeyStore::Open(dir + "/keystore.db");
    if (!store.ok()) return fail(store.status());
    ReleaseRequest request;
    request.model_path = base_path_[architecture];
    request.model_name = architecture;
    request.version = "1";
    request.scheme = spec.scheme;
    request.data_spec = OwnerSpec();
    request.out_dir = dir + "/dist";
    for (int i = 0; i < config_.licensees; ++i)
      request.licensees.push_back("l" + std::to_string(i));
    request.settings = spec.settings;
    if (!request.settings.count("seed")) request.settings["seed"] = std::to_string(config_.seed);
    log_(architecture + " " + spec.label + ": releasing to " + std::to_string(config_.licensees) +
         " licensees");
    auto released = ReleaseEngine(store->get(), &plugins_).Release(request);
    if (!released.ok()) return fail(released.status());
    const ReleaseResult& result = *released;
    run["bits"] = result.bits;
    run["code_family"] = result.code_family;
    run["base_accuracy"] = result.base_accuracy;
    double embed = 0;
    json copies = json::array();
    for (const CopyResult& copy : result.copies) {
      embed += copy.seconds / result.copies.size();
      json row = Judge(store->get(), copy.path, {copy.licensee});
      row["licensee"] = copy.licensee;
      row["embed_seconds"] = copy.seconds;
      row["steps"] = copy.steps;
      copies.push_back(row);
    }
    run["copies"] = copies;
    run["embed_seconds"] = embed;
    run["embed_epochs"] = embed / epoch_seconds_[architecture];
    const json& first = copies.at(0);
    if (first.contains("trace_seconds")) {
      run["trace_seconds"] = first["trace_seconds"];
      run["trace_load_ratio"] =
          first["trace_seconds"].get<double>() / first["load_seconds"].get<double>();
      run["queries"] = first["queries"];
    }
    run["attacks"] = RunAttacks(store->get(), architecture, spec, result, dir + "/attacked");
    run["null"] = NullModels(store->get(), architecture, spec.label);
    if (measure_scaling) run["scaling"] = Scaling(store->get(), result.release_id, request, dir);
    return run;
  }

  json RunAttacks(KeyStore* store, const std::string& architecture, const RunSpec& spec,
                  const ReleaseResult& result, const std::string& out) {
    json rows = json::array();
    const std::string victim = result.copies.at(0).path;
    const Truth truth = {result.copies.at(0).licensee};
    auto add = [&](const std::string& attack, const std::string& parameter, double x, json row) {
      row["attack"] = attack;
      row["parameter"] = parameter;
      row["x"] = x;
      log_("  " + architecture + " " + spec.label + " " + attack + " " + parameter + ": " +
           (row.contains("error") ? "error " + row["error"].get<std::string>()
                                  : (row["traced"].get<bool>() ? "traced" : "NOT traced")));
      rows.push_back(row);
    };
    const uint64_t seed = config_.seed * 7919;
    if (Wanted("fine-tune")) {
      // One model fine-tuned epoch after epoch, judged after each.
      std::string current = victim;
      for (int e = 1; e <= config_.fine_tune_epochs; ++e) {
        std::string path = out + "/fine-tune-" + std::to_string(e) + ".pt";
        add("fine-tune", std::to_string(e) + " epoch" + (e > 1 ? "s" : ""), e,
            Attack(store, current, path, truth, [&](torch::jit::Module& m) {
              return FineTuneAttack(m, attacker_, 1, config_.fine_tune_lr, seed + e);
            }));
        current = path;
      }
    }
    if (Wanted("retrain-last-layer")) {
      add("retrain-last-layer", "2 epochs", 2,
          Attack(store, victim, out + "/retrain-last-layer.pt", truth, [&](torch::jit::Module& m) {
            return RetrainLastLayer(m, attacker_, 2, 1e-3, seed);
          }));
    }
    if (Wanted("prune")) {
      for (double fraction : config_.prune_fractions) {
        std::string pct = std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "%";
        add("prune", pct, fraction,
            Attack(store, victim, out + "/prune-" + pct + ".pt", truth,
                   [&](torch::jit::Module& m) { return PruneByMagnitude(m, fraction); }));
      }
    }
    if (Wanted("int8")) {
      add("int8", "per-tensor", 8,
          Attack(store, victim, out + "/int8.pt", truth,
                 [&](torch::jit::Module& m) { return QuantizeInt8(m); }));
    }
    if (Wanted("weight-shift")) {
      WeightShiftOptions options;
      options.seed = seed;
      add("weight-shift", "1.5 x filter mean, 1 epoch", options.shift,
          Attack(store, victim, out + "/weight-shift.pt", truth,
                 [&](torch::jit::Module& m) { return ShiftWeights(m, attacker_, options); }));
    }
    if (Wanted("overwrite")) {
      const Scheme* scheme = plugins_.Find(spec.scheme).value();
      OverwriteOptions options;
      options.params = SchemeOnly(spec.settings);
      options.bits = std::max(result.bits, 64);
      options.seed = seed + 99;
      add("overwrite", "same scheme, fresh key", 1,
          Attack(store, victim, out + "/overwrite.pt", truth, [&](torch::jit::Module& m) {
            return OverwriteMark(m, *scheme, attacker_, attacker_validation_, options);
          }));
    }
    if (Wanted("average")) {
      for (int k : config_.colluders) {
        std::string parameter = std::to_string(k) + " copies";
        if (k > static_cast<int>(result.copies.size())) {
          add("average", parameter, k,
              {{"error", "only " + std::to_string(result.copies.size()) + " licensees"}});
          continue;
        }
        Truth colluders;
        std::vector<torch::jit::Module> models;
        for (int i = 0; i < k; ++i) {
          colluders.insert(result.copies[i].licensee);
          models.push_back(LoadModel(result.copies[i].path).value());
        }
        std::string path = out + "/average-" + std::to_string(k) + ".pt";
        add("average", parameter, k,
            Attack(store, victim, path, colluders, [&](torch::jit::Module& m) -> Status {
              auto average = AverageModels(models);
              if (!average.ok()) return average.status();
              m = *average;
              return Status::Ok();
            }));
      }
    }
    if (Wanted("distill")) {
      add("distill", std::to_string(config_.distill_epochs) + " epochs, T=4, fresh " + architecture,
          4,
          Attack(store, victim, out + "/distill.pt", truth, [&](torch::jit::Module& m) -> Status {
            torch::jit::Module student = MakeArchitecture(architecture, seed + 4242);
            TM_RETURN_IF_ERROR(
                DistillInto(m, student, attacker_, config_.distill_epochs, 4.0, 1e-3, seed));
            m = student;
            return Status::Ok();
          }));
    }
    return rows;
  }

  // Every null model of the architecture traced against the run's store.
  json NullModels(KeyStore* store, const std::string& architecture, const std::string& label) {
    json null = {{"models", 0}, {"false_accusations", 0}, {"errors", 0}};
    double min_p = 1.0, max_bit_accuracy = 0;
    json min_p_values = json::array();
    for (const std::string& path : null_paths_[architecture]) {
      auto report = TraceEngine(store, &plugins_).TraceOwnModel(path);
      if (!report.ok()) {
        null["errors"] = null["errors"].get<int>() + 1;
        null["error"] = report.status().message();
        continue;
      }
      null["models"] = null["models"].get<int>() + 1;
      if (!report->accused.empty()) {
        null["false_accusations"] = null["false_accusations"].get<int>() + 1;
      }
      double p = 1.0;
      for (const TraceCandidate& c : report->candidates) {
        p = std::min(p, c.p_value);
        if (c.bits > 0) {
          max_bit_accuracy = std::max(max_bit_accuracy, static_cast<double>(c.matches) / c.bits);
        }
      }
      min_p_values.push_back(p);
      min_p = std::min(min_p, p);
    }
    null["min_p_value"] = min_p;
    null["max_bit_accuracy"] = max_bit_accuracy;
    null["min_p_values"] = min_p_values;
    log_("  " + architecture + " " + label +
         " null models: " + std::to_string(null["false_accusations"].get<int>()) + " of " +
         std::to_string(null["models"].get<int>()) + " accused someone");
    return null;
  }

  // Trace time of the first copy against a store holding one release of
  // N licensees. Licensees beyond the release's own are registered the way
  // a release registers them (codes drawn, key stored) but not embedded:
  // their copies point at the first copy's file and reuse its per-copy key,
  // so the trace does exactly the work N real copies would cost.
  json Scaling(KeyStore* real_store, int64_t real_release, const ReleaseRequest& real,
               const std::string& dir) {
    json rows = json::array();
    auto real_copies = real_store->ListCopies(real_release);
    if (!real_copies.ok() || real_copies->empty()) {
      return {{{"error", "no copies to scale from"}}};
    }
    const CopyRecord& model_copy = real_copies->front();
    for (int n : config_.scaling_licensees) {
      json row = {{"licensees", n}};
      std::string path = dir + "/scale-" + std::to_string(n) + ".db";
      fs::remove(path);
      auto store = KeyStore::Open(path);
      ReleaseRequest request = real;
      request.licensees.clear();
      for (int i = 0; i < n; ++i) request.licensees.push_back("s" + std::to_string(i));
      request.out_dir = dir + "/scale-dist";
      Status st = store.ok() ? Status::Ok() : store.status();
      StatusOr<int64_t> id = Status::Internal("not planned");
      if (st.ok()) {
        auto start = Clock::now();
        id = ReleaseEngine(store->get(), &plugins_).Plan(request);
        row["plan_seconds"] = SecondsSince(start);
        st = id.status();
      }
      if (st.ok()) {
        auto copies = (*store)->ListCopies(*id);
        st = copies.status();
        for (size_t i = 0; st.ok() && i < copies->size(); ++i) {
          st = (*store)->CompleteCopy((*copies)[i].id, model_copy.artifact_path, model_copy.sha256,
                                      model_copy.accuracy, 0, model_copy.copy_key);
        }
        if (st.ok()) st = (*store)->SetReleaseStatus(*id, ReleaseStatus::kDone);
      }
      if (st.ok()) {
        auto report = TraceEngine(store->get(), &plugins_).TraceOwnModel(model_copy.artifact_path);
        st = report.status();
        if (st.ok()) {
          row["trace_seconds"] = report->seconds;
          row["load_seconds"] = report->load_seconds;
          row["queries"] = report->queries;
          row["hypotheses"] = report->hypotheses;
        }
      }
      if (!st.ok()) row["error"] = st.message();
      rows.push_back(row);
    }
    return rows;
  }

  const Config& config_;
  const Log& log_;
  PluginHost plugins_;
  Dataset owner_, test_, attacker_, attacker_validation_, null_data_;
  std::vector<RunSpec> runs_;
  std::map<std::string, std::string> base_path_;
  std::map<std::string, double> epoch_seconds_;
  std::map<std::string, std::vector<std::string>> null_paths_;
};

}  // namespace

const std::vector<std::string>& AttackNames() {
  static const std::vector<std::string> names = {
      "fine-tune",    "retrain-last-layer", "prune",   "int8",
      "weight-shift", "overwrite",          "average", "distill"};
  return names;
}

StatusOr<json> Run(const Config& config, const Log& log) {
  if (config.licensees < 1) return Status::InvalidArgument("at least one licensee");
  TM_RETURN_IF_ERROR(MakeDirs(config.work));
  Evaluator evaluator(config, log);
  TM_RETURN_IF_ERROR(evaluator.Load());
  auto start = Clock::now();
  json doc = evaluator.Evaluate();
  doc["seconds"] = SecondsSince(start);
  return doc;
}

}  // namespace tracemark::evaluation
