#include "test_support.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tracemark/base/file_util.h"
#include "tracemark/lab/attacks.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/lab/demo_training.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/image_task.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/training.h"

extern char** environ;

namespace tracemark::testing {
namespace fs = std::filesystem;
namespace {

template <typename T>
T Check(StatusOr<T> value, const std::string& what) {
  if (!value.ok()) throw std::runtime_error(what + ": " + value.status().message());
  return std::move(value).value();
}

void Check(const Status& status, const std::string& what) {
  if (!status.ok()) throw std::runtime_error(what + ": " + status.message());
}

std::string SafeName(std::string text) {
  for (char& c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return text;
}

const DataSplits& LoadCached(const std::string& spec) {
  static std::map<std::string, DataSplits> cache;
  auto it = cache.find(spec);
  if (it == cache.end()) it = cache.emplace(spec, Check(LoadDataset(spec), spec)).first;
  return it->second;
}

}  // namespace

std::string FashionMnist() { return "/usr/share/datasets/fashion-mnist"; }
std::string OwnerData() { return FashionMnist() + "[0:20000]"; }
std::string IndependentData() { return FashionMnist() + "[20000:40000]"; }
std::string AttackerData() { return FashionMnist() + "[40000:50000]"; }

std::string PluginDir() { return TRACEMARK_PLUGIN_DIR; }
std::string CliPath() { return std::string(TRACEMARK_BUILD_DIR) + "/bin/tracemark"; }
std::string LabPath() { return std::string(TRACEMARK_BUILD_DIR) + "/bin/tracemark-lab"; }
std::string SourceDir() { return TRACEMARK_SOURCE_DIR; }
std::string CacheDir() {
  std::string dir = std::string(TRACEMARK_BUILD_DIR) + "/test-cache";
  Check(MakeDirs(dir), "cache dir");
  return dir;
}

std::string CachedDemoCnn(uint64_t seed, const std::string& data, int epochs) {
  std::string path = CacheDir() + "/demo-cnn-seed" + std::to_string(seed) + "-" +
                     SafeName(fs::path(data).filename().string()) + "-" + std::to_string(epochs) +
                     "ep.pt";
  if (fs::exists(path)) return path;
  torch::jit::Module model = MakeDemoCnn(seed);
  TrainOptions options;
  options.epochs = epochs;
  options.seed = seed;
  Check(TrainClassifier(model, LoadCached(data).train, options), "training");
  Check(SaveModel(model, path), "saving");
  return path;
}

std::string CachedDemoDenoiser(uint64_t seed, const std::string& data, int epochs, int64_t channels,
                               int layers) {
  std::string path = CacheDir() + "/demo-denoiser-seed" + std::to_string(seed) + "-c" +
                     std::to_string(channels) + "x" + std::to_string(layers) + "-" +
                     SafeName(fs::path(data).filename().string()) + "-" + std::to_string(epochs) +
                     "ep.pt";
  if (fs::exists(path)) return path;
  torch::jit::Module model = MakeDemoDenoiser(seed, channels, layers);
  DenoiserTrainOptions options;
  options.epochs = epochs;
  options.seed = seed;
  Check(TrainDenoiser(model, LoadCached(data).train, options), "training");
  Check(SaveModel(model, path), "saving");
  return path;
}

std::string CachedPythonMlp(uint64_t seed, const std::string& rows, int epochs) {
  std::string path = CacheDir() + "/python-mlp-seed" + std::to_string(seed) + "-" + SafeName(rows) +
                     "-" + std::to_string(epochs) + "ep.pt";
  if (fs::exists(path)) return path;
  CommandResult r =
      RunCommand({"/usr/bin/python3", SourceDir() + "/tests/python/make_mlp.py", "--data",
                  FashionMnist(), "--rows", rows, "--seed", std::to_string(seed), "--epochs",
                  std::to_string(epochs), "--out", path});
  if (r.exit_code != 0) throw std::runtime_error("make_mlp.py failed: " + r.err);
  return path;
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  TempDir dir;
  std::string out_path = dir / "out", err_path = dir / "err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT, 0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path).value();
  result.err = ReadFile(err_path).value();
  return result;
}

std::string FineTuned(const std::string& model, const std::string& out, int epochs) {
  torch::jit::Module m = Check(LoadModel(model), model);
  Check(FineTuneAttack(m, LoadCached(AttackerData()).train, epochs, 1e-3, 7), "fine-tuning");
  Check(SaveModel(m, out), out);
  return out;
}

std::string Pruned(const std::string& model, const std::string& out, double fraction) {
  torch::jit::Module m = Check(LoadModel(model), model);
  Check(PruneByMagnitude(m, fraction), "pruning");
  Check(SaveModel(m, out), out);
  return out;
}

std::string Quantized(const std::string& model, const std::string& out) {
  torch::jit::Module m = Check(LoadModel(model), model);
  Check(QuantizeInt8(m), "quantizing");
  Check(SaveModel(m, out), out);
  return out;
}

std::string Averaged(const std::vector<std::string>& models, const std::string& out) {
  std::vector<torch::jit::Module> loaded;
  for (const auto& path : models) loaded.push_back(Check(LoadModel(path), path));
  Check(SaveModel(Check(AverageModels(loaded), "averaging"), out), out);
  return out;
}

double TestAccuracy(const std::string& model_path) {
  torch::jit::Module m = Check(LoadModel(model_path), model_path);
  return Accuracy(m, LoadCached(FashionMnist()).test).value();
}

}  // namespace tracemark::testing
