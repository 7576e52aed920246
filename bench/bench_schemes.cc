// bench_schemes: the cost of each scheme on the demo CNN and Fashion-MNIST.
//
// For every loaded scheme it prints
//   * per-licensee embedding seconds, and their ratio to one plain
//     fine-tuning epoch on the same owner data (target: <= 2 epochs);
//   * trace seconds for one copy, and their ratio to loading the model.
//
// usage: bench_schemes [--licensees N] [--data SPEC] [--plugins DIR] [--work DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include "tracemark/dataset.h"
#include "tracemark/demo_models.h"
#include "tracemark/file_util.h"
#include "tracemark/key_store.h"
#include "tracemark/model.h"
#include "tracemark/plugin_host.h"
#include "tracemark/release_engine.h"
#include "tracemark/trace_engine.h"
#include "tracemark/training.h"

namespace tmk = tracemark;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void Die(const tmk::Status& status) {
  std::fprintf(stderr, "bench_schemes: %s\n", status.message().c_str());
  std::exit(1);
}

template <typename T>
T OrDie(tmk::StatusOr<T> value) {
  if (!value.ok()) Die(value.status());
  return std::move(value).value();
}

// Trains the demo CNN once and keeps it under the work directory.
std::string BaseModel(const std::string& work, const tmk::DataSplits& data) {
  std::string path = work + "/base-cnn.pt";
  if (fs::exists(path)) return path;
  torch::jit::Module model = tmk::MakeDemoCnn(0);
  tmk::TrainOptions options;
  options.epochs = 2;
  tmk::Status st = tmk::TrainClassifier(model, data.train, options);
  if (!st.ok()) Die(st);
  st = tmk::SaveModel(model, path);
  if (!st.ok()) Die(st);
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"licensees", "3"},
      {"data", "/usr/share/datasets/fashion-mnist[0:30000]"},
      {"plugins", tmk::DefaultPluginDirectory()},
      {"work", "bench-work"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = std::string(argv[i]).substr(2);
    if (!flags.count(flag)) Die(tmk::Status::InvalidArgument("unknown flag " + std::string(argv[i])));
    flags[flag] = argv[i + 1];
  }
  const int licensees = std::stoi(flags["licensees"]);
  std::string work = fs::absolute(flags["work"]).string();
  fs::remove_all(work + "/runs");
  if (tmk::Status st = tmk::MakeDirs(work + "/runs"); !st.ok()) Die(st);

  tmk::DataSplits data = OrDie(tmk::LoadDataset(flags["data"]));
  std::string base_path = BaseModel(work, data);
  torch::jit::Module base = OrDie(tmk::LoadModel(base_path));
  double epoch = OrDie(tmk::PlainEpochSeconds(base, data.train));
  std::printf("demo CNN, %lld owner images; one plain fine-tuning epoch: %.2fs\n\n",
              static_cast<long long>(data.train.size()), epoch);
  std::printf("%-10s %9s %12s %14s %10s %10s %12s\n", "scheme", "licensees", "embed s/copy",
              "embed/epoch", "trace s", "load s", "trace/load");

  tmk::PluginHost plugins;
  if (tmk::Status st = plugins.LoadDirectory(flags["plugins"]); !st.ok()) Die(st);
  for (const tmk::Scheme* scheme : plugins.schemes()) {
    const std::string name = scheme->Info().name;
    std::string run = work + "/runs/" + name;
    if (tmk::Status st = tmk::MakeDirs(run); !st.ok()) Die(st);
    auto store = OrDie(tmk::KeyStore::Open(run + "/keystore.db"));
    tmk::ReleaseRequest request;
    request.model_path = base_path;
    request.model_name = "bench";
    request.version = "1";
    request.scheme = name;
    request.data_spec = flags["data"];
    request.out_dir = run + "/dist";
    for (int i = 0; i < licensees; ++i) request.licensees.push_back("l" + std::to_string(i));
    request.settings = {{"seed", "1"}};
    tmk::ReleaseResult result = OrDie(tmk::ReleaseEngine(store.get(), &plugins).Release(request));
    double embed = 0;
    for (const auto& copy : result.copies) embed += copy.seconds / result.copies.size();
    tmk::TraceReport report =
        OrDie(tmk::TraceEngine(store.get(), &plugins).Trace(result.copies.front().path));
    std::printf("%-10s %9d %12.2f %14.2f %10.3f %10.3f %12.2f\n", name.c_str(), licensees, embed,
                embed / epoch, report.seconds, report.load_seconds,
                report.seconds / report.load_seconds);
  }
  return 0;
}
