// tracemark-lab train and attack: making the demo model and playing the attacker.
#include "commands_model.h"

#include <chrono>
#include <cstdio>

#include "args.h"
#include "context.h"
#include "tracemark/lab/attacks.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/lab/demo_training.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"

namespace tracemark::cli {
namespace {

// Typed read of an optional numeric flag through the shared parameter checks.
StatusOr<double> NumberFlag(const Args& args, const std::string& flag, const std::string& fallback,
                            double min, double max) {
  return GetDouble({{flag, args.Get(flag, fallback)}}, flag, min, max);
}

int SaveAndReport(const torch::jit::Module& model, const std::string& out,
                  const std::string& data_spec) {
  Status st = SaveModel(model, out);
  if (!st.ok()) return Fail(st);
  if (!data_spec.empty()) {
    auto data = LoadDataset(data_spec);
    if (!data.ok()) return Fail(data.status());
    torch::jit::Module copy = model;
    auto accuracy = Accuracy(copy, data->test);
    if (!accuracy.ok()) return Fail(accuracy.status());
    std::printf("wrote %s (test accuracy %.2f%%)\n", out.c_str(), 100 * *accuracy);
  } else {
    std::printf("wrote %s\n", out.c_str());
  }
  return kExitOk;
}

int FineTune(const Args& args) {
  if (args.positional().size() != 1) return Usage("attack finetune takes one MODEL.pt");
  auto data_spec = args.Required("data");
  auto out = args.Required("out");
  if (!data_spec.ok() || !out.ok()) return Usage("attack finetune needs --data and --out");
  auto epochs = NumberFlag(args, "epochs", "2", 1, 1000);
  auto lr = NumberFlag(args, "lr", "0.001", 1e-8, 1);
  if (!epochs.ok()) return Fail(epochs.status());
  if (!lr.ok()) return Fail(lr.status());
  auto model = LoadModel(args.positional()[0]);
  if (!model.ok()) return Fail(model.status());
  auto data = LoadDataset(*data_spec);
  if (!data.ok()) return Fail(data.status());
  Status st = FineTuneAttack(*model, data->train, static_cast<int>(*epochs), *lr, 7);
  if (!st.ok()) return Fail(st);
  return SaveAndReport(*model, *out, *data_spec);
}

int Prune(const Args& args) {
  if (args.positional().size() != 1) return Usage("attack prune takes one MODEL.pt");
  auto out = args.Required("out");
  if (!out.ok()) return Usage(out.status().message());
  auto fraction = NumberFlag(args, "fraction", "0.5", 0, 1);
  if (!fraction.ok()) return Fail(fraction.status());
  auto model = LoadModel(args.positional()[0]);
  if (!model.ok()) return Fail(model.status());
  Status st = PruneByMagnitude(*model, *fraction);
  if (!st.ok()) return Fail(st);
  return SaveAndReport(*model, *out, args.Get("data"));
}

int Quantize(const Args& args) {
  if (args.positional().size() != 1) return Usage("attack quantize takes one MODEL.pt");
  auto out = args.Required("out");
  if (!out.ok()) return Usage(out.status().message());
  auto model = LoadModel(args.positional()[0]);
  if (!model.ok()) return Fail(model.status());
  Status st = QuantizeInt8(*model);
  if (!st.ok()) return Fail(st);
  return SaveAndReport(*model, *out, args.Get("data"));
}

int Average(const Args& args) {
  if (args.positional().size() < 2) return Usage("attack average takes two or more MODEL.pt");
  auto out = args.Required("out");
  if (!out.ok()) return Usage(out.status().message());
  std::vector<torch::jit::Module> models;
  for (const auto& path : args.positional()) {
    auto model = LoadModel(path);
    if (!model.ok()) return Fail(model.status());
    models.push_back(*model);
  }
  auto average = AverageModels(models);
  if (!average.ok()) return Fail(average.status());
  return SaveAndReport(*average, *out, args.Get("data"));
}

}  // namespace

int TrainCommand(Context&, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {"data", "out", "epochs", "seed", "lr"}, {});
  if (!args.ok()) return Usage(args.status().message());
  auto data_spec = args->Required("data");
  auto out = args->Required("out");
  if (!data_spec.ok() || !out.ok()) return Usage("train needs --data and --out");
  auto epochs = NumberFlag(*args, "epochs", "2", 1, 1000);
  auto seed = NumberFlag(*args, "seed", "0", 0, 1e15);
  auto lr = NumberFlag(*args, "lr", "0.001", 1e-8, 1);
  for (const auto* v : {&epochs, &seed, &lr}) {
    if (!v->ok()) return Fail(v->status());
  }
  auto data = LoadDataset(*data_spec);
  if (!data.ok()) return Fail(data.status());
  auto start = std::chrono::steady_clock::now();
  torch::jit::Module model = MakeDemoCnn(static_cast<uint64_t>(*seed));
  TrainOptions options;
  options.epochs = static_cast<int>(*epochs);
  options.learning_rate = *lr;
  options.seed = static_cast<uint64_t>(*seed);
  Status st = TrainClassifier(model, data->train, options);
  if (!st.ok()) return Fail(st);
  std::printf("trained the demo CNN on %lld images in %.1fs\n",
              static_cast<long long>(data->train.size()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return SaveAndReport(model, *out, *data_spec);
}

int AttackCommand(Context&, const std::vector<std::string>& argv) {
  if (argv.empty()) return Usage("attack needs finetune, prune, quantize or average");
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  auto args = Args::Parse(rest, {"data", "out", "epochs", "lr", "fraction"}, {});
  if (!args.ok()) return Usage(args.status().message());
  if (argv[0] == "finetune") return FineTune(*args);
  if (argv[0] == "prune") return Prune(*args);
  if (argv[0] == "average") return Average(*args);
  if (argv[0] == "quantize") return Quantize(*args);
  return Usage("unknown attack '" + argv[0] + "'");
}

}  // namespace tracemark::cli
