// bench_schemes: the cost of each scheme on the demo CNN (or a given
// TorchScript classifier, e.g. one scripted in Python) and Fashion-MNIST.
//
// For every run — each loaded scheme with its defaults, plus
// deepsigns+mode=black — it prints
//   * per-licensee embedding seconds, and their ratio to one plain
//     fine-tuning epoch on the same owner data, measured just before the
//     run (target: <= 2 epochs);
//   * trace seconds for one copy, and their ratio to loading the model;
//   * the model queries (input rows) the trace made (Suspect::queries():
//     black-box trigger keys of every copy; 0 for white-box extraction);
//   * for schemes that extract from queries, a second row "RUN@endpoint":
//     the same copy traced through an Open Inference Protocol v2 endpoint
//     (tests/inference_server.h) — seconds, queries and verdict.
//
// usage: bench_schemes [--licensees N] [--data SPEC] [--plugins DIR] [--work DIR]
//                      [--model FILE] [--runs SCHEME[+KEY=VALUE...],...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "tracemark/base/file_util.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/lab/demo_training.h"
#include "tracemark/lab/inference_server.h"
#include "tracemark/lab/tool_util.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"
#include "tracemark/store/key_store.h"

namespace tmk = tracemark;
using tmk::lab::Check;
using tmk::lab::OrDie;
using tmk::lab::ParseFlags;
using tmk::lab::Split;
namespace fs = std::filesystem;

namespace {

// Trains the demo CNN once and keeps it under the work directory.
std::string BaseModel(const std::string& work, const tmk::DataSplits& data) {
  std::string path = work + "/base-cnn.pt";
  if (fs::exists(path)) return path;
  torch::jit::Module model = tmk::MakeDemoCnn(0);
  tmk::TrainOptions options;
  options.epochs = 2;
  Check(tmk::TrainClassifier(model, data.train, options));
  Check(tmk::SaveModel(model, path));
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"licensees", "3"},
      {"data", "/usr/share/datasets/fashion-mnist[0:30000]"},
      {"plugins", tmk::DefaultPluginDirectory()},
      {"work", "bench-work"},
      {"model", ""},
      {"runs", ""}};
  ParseFlags(argc, argv, &flags);
  const int licensees = std::stoi(flags["licensees"]);
  std::string work = fs::absolute(flags["work"]).string();
  fs::remove_all(work + "/runs");
  Check(tmk::MakeDirs(work + "/runs"));

  tmk::DataSplits data = OrDie(tmk::LoadDataset(flags["data"]));
  std::string base_path =
      flags["model"].empty() ? BaseModel(work, data) : fs::absolute(flags["model"]).string();
  torch::jit::Module base = OrDie(tmk::LoadModel(base_path));
  std::printf("%s, %lld owner images\n\n", flags["model"].empty() ? "demo CNN" : base_path.c_str(),
              static_cast<long long>(data.train.size()));
  std::printf("%-22s %9s %12s %9s %14s %10s %10s %12s %8s %s\n", "run", "licensees", "embed s/copy",
              "epoch s", "embed/epoch", "trace s", "load s", "trace/load", "queries", "verdict");

  tmk::PluginHost plugins;
  Check(plugins.LoadDirectory(flags["plugins"]));
  std::vector<std::string> runs = Split(flags["runs"]);
  if (runs.empty()) {
    // Schemes for classifiers only (image-to-image schemes: bench_barrier).
    for (const tmk::Scheme* scheme : plugins.schemes()) {
      const auto& kinds = scheme->Info().model_kinds;
      if (std::find(kinds.begin(), kinds.end(), "classifier") != kinds.end()) {
        runs.push_back(scheme->Info().name);
      }
    }
    if (plugins.Find("deepsigns").ok()) runs.push_back("deepsigns+mode=black");
  }
  for (const std::string& run_spec : runs) {
    // SCHEME[+KEY=VALUE...]: a scheme and the settings of this run.
    std::vector<std::string> parts = Split(run_spec, '+');
    const std::string name = parts.at(0);
    tmk::SchemeParams settings = {{"seed", "1"}};
    for (size_t i = 1; i < parts.size(); ++i) {
      Check(tmk::ParseSetting(parts[i], &settings));
    }
    std::string run = work + "/runs/" + run_spec;
    Check(tmk::MakeDirs(run));
    auto store = OrDie(tmk::KeyStore::Open(run + "/keystore.db"));
    tmk::ReleaseRequest request;
    request.model_path = base_path;
    request.model_name = "bench";
    request.version = "1";
    request.scheme = name;
    request.data_spec = flags["data"];
    request.out_dir = run + "/dist";
    for (int i = 0; i < licensees; ++i) request.licensees.push_back("l" + std::to_string(i));
    request.settings = settings;
    const double epoch = OrDie(tmk::PlainEpochSeconds(base, data.train));
    tmk::ReleaseResult result = OrDie(tmk::ReleaseEngine(store.get(), &plugins).Release(request));
    double embed = 0;
    for (const auto& copy : result.copies) embed += copy.seconds / result.copies.size();
    tmk::TraceReport report =
        OrDie(tmk::TraceEngine(store.get(), &plugins).Trace(result.copies.front().path));
    std::printf("%-22s %9d %12.2f %9.2f %14.2f %10.3f %10.3f %12.2f %8lld %s\n", run_spec.c_str(),
                licensees, embed, epoch, embed / epoch, report.seconds, report.load_seconds,
                report.seconds / report.load_seconds, static_cast<long long>(report.queries),
                VerdictName(report.verdict));
    if (OrDie(plugins.Find(name))->Info().black_box) {
      tmk::testing::InferenceServerOptions serve;
      serve.model_path = result.copies.front().path;
      auto server = OrDie(tmk::testing::InferenceServer::Start(serve));
      tmk::EndpointOptions endpoint;
      endpoint.url = server->url();
      endpoint.model = serve.model_name;
      tmk::TraceReport remote =
          OrDie(tmk::TraceEngine(store.get(), &plugins).TraceEndpoint(endpoint));
      std::printf("%-22s %9s %12s %9s %14s %10.3f %10s %12s %8lld %s\n",
                  (run_spec + "@endpoint").c_str(), "", "", "", "", remote.seconds, "", "",
                  static_cast<long long>(remote.queries), VerdictName(remote.verdict));
    }
  }
  return 0;
}
