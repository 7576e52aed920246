// bench_barrier: the barrier scheme (deep watermarking of image-to-image
// models) on the project's demo denoiser and Fashion-MNIST.
//
// Prints
//   * the base denoiser's task PSNR (noisy test images vs clean, sigma 0.3)
//     and each copy's task PSNR and PSNR against the base's outputs;
//   * keygen seconds (Plan: base quality, H calibration, stage-2 surrogates
//     and R fine-tuning) and embedding seconds per licensee;
//   * trace seconds and queries from a copy's file and from an Open
//     Inference Protocol v2 endpoint serving it (tests/inference_server.h);
//   * an attacker's surrogate (another architecture, trained on one copy's
//     answers for rows 40000:50000 until its task PSNR is within 0.1 dB of
//     the copy's) traced with R after stage 2 and with R from stage 1 only
//     (same master seed: same H, codes and copies; only R differs);
//   * queries needed: the endpoint trace and the surrogate's trace with
//     keys of `probes` = 16 ... 256 (stage-1 R, so each key is quick).
//
// usage: bench_barrier [--licensees N] [--data SPEC] [--plugins DIR] [--work DIR]
//                      [--bits T] [--settings KEY=VALUE+KEY=VALUE...]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "tracemark/base/file_util.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/lab/attacks.h"
#include "tracemark/lab/demo_models.h"
#include "tracemark/lab/demo_training.h"
#include "tracemark/lab/inference_server.h"
#include "tracemark/lab/tool_util.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/image_task.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"
#include "tracemark/store/key_store.h"

namespace tmk = tracemark;
using tmk::lab::Check;
using tmk::lab::OrDie;
using tmk::lab::ParseFlags;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Traced {
  tmk::TraceReport report;
  std::string Summary() const {
    char text[200];
    const auto& best = report.candidates.front();
    std::snprintf(text, sizeof text, "%-11s best %-4s %2d/%d p=%-9.3g %4lld queries %6.3fs",
                  VerdictName(report.verdict), best.licensee.c_str(), best.matches, best.bits,
                  best.p_value, static_cast<long long>(report.queries), report.seconds);
    return text;
  }
};

Traced TraceEndpoint(tmk::KeyStore* store, const tmk::PluginHost& plugins,
                     const std::string& model) {
  tmk::testing::InferenceServerOptions serve;
  serve.model_path = model;
  auto server = OrDie(tmk::testing::InferenceServer::Start(serve));
  tmk::EndpointOptions endpoint;
  endpoint.url = server->url();
  endpoint.model = serve.model_name;
  return {OrDie(tmk::TraceEngine(store, &plugins).TraceEndpoint(endpoint))};
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"licensees", "3"},
      {"data", "/usr/share/datasets/fashion-mnist[0:20000]"},
      {"plugins", tmk::DefaultPluginDirectory()},
      {"work", "bench-barrier-work"},
      {"bits", "64"},
      {"settings", ""}};
  ParseFlags(argc, argv, &flags);
  const int licensees = std::stoi(flags["licensees"]);
  const std::string work = fs::absolute(flags["work"]).string();
  fs::remove_all(work + "/runs");
  Check(tmk::MakeDirs(work + "/runs"));
  tmk::PluginHost plugins;
  Check(plugins.LoadDirectory(flags["plugins"]));

  // The demo denoiser, trained once and kept in the work directory.
  tmk::DataSplits data = OrDie(tmk::LoadDataset(flags["data"]));
  const std::string base_path = work + "/base-denoiser.pt";
  if (!fs::exists(base_path)) {
    auto start = Clock::now();
    torch::jit::Module model = tmk::MakeDemoDenoiser(0);
    tmk::DenoiserTrainOptions options;
    Check(tmk::TrainDenoiser(model, data.train, options));
    Check(tmk::SaveModel(model, base_path));
    std::printf("trained the demo denoiser (%d epochs, %lld images) in %.1fs\n", options.epochs,
                static_cast<long long>(data.train.size()), SecondsSince(start));
  }
  torch::jit::Module base = OrDie(tmk::LoadModel(base_path));
  const torch::Tensor clean = data.test.images.slice(0, 0, 2000);
  const torch::Tensor noisy = tmk::AddNoise(clean, tmk::kDefaultNoise, tmk::kQualityNoiseSeed);
  const torch::Tensor base_out = OrDie(tmk::RunBatched(base, noisy));
  const double base_psnr = tmk::Psnr(base_out, clean);
  std::printf("demo denoiser: task PSNR %.2f dB (noisy inputs %.2f dB), 2000 test images\n\n",
              base_psnr, tmk::Psnr(noisy, clean));

  tmk::SchemeParams settings = {{"seed", "1"}, {"bits", flags["bits"]}};
  std::stringstream list(flags["settings"]);
  for (std::string item; std::getline(list, item, '+');) {
    if (!item.empty()) Check(tmk::ParseSetting(item, &settings));
  }
  auto release = [&](const std::string& name, const tmk::SchemeParams& extra,
                     std::unique_ptr<tmk::KeyStore>* store, double* plan_seconds) {
    const std::string run = work + "/runs/" + name;
    Check(tmk::MakeDirs(run));
    *store = OrDie(tmk::KeyStore::Open(run + "/keystore.db"));
    tmk::ReleaseRequest request;
    request.model_path = base_path;
    request.model_name = "bench-denoiser";
    request.version = "1";
    request.scheme = "barrier";
    request.data_spec = flags["data"];
    request.out_dir = run + "/dist";
    for (int i = 0; i < licensees; ++i) request.licensees.push_back("l" + std::to_string(i));
    request.settings = settings;
    for (const auto& [k, v] : extra) request.settings[k] = v;
    tmk::ReleaseEngine engine(store->get(), &plugins);
    auto start = Clock::now();
    int64_t id = OrDie(engine.Plan(request));
    *plan_seconds = SecondsSince(start);
    return OrDie(engine.Run(id));
  };

  // The release with both stages.
  std::unique_ptr<tmk::KeyStore> store;
  double keygen = 0;
  tmk::ReleaseResult result = release("stage2", {}, &store, &keygen);
  std::printf("barrier release, %d licensees, %d bits: keygen (Plan) %.1fs\n", licensees,
              result.bits, keygen);
  std::printf("%-8s %12s %14s %16s %8s\n", "copy", "embed s", "task PSNR dB", "vs base PSNR dB",
              "bits");
  for (const auto& c : result.copies) {
    torch::jit::Module copy = OrDie(tmk::LoadModel(c.path));
    const torch::Tensor out = OrDie(tmk::RunBatched(copy, noisy));
    std::printf("%-8s %12.2f %14.2f %16.2f %5d/%d\n", c.licensee.c_str(), c.seconds,
                tmk::Psnr(out, clean), tmk::Psnr(out, base_out), c.bits_with_margin, c.bits);
  }
  const std::string leaked = result.copies.front().path;
  Traced file{OrDie(tmk::TraceEngine(store.get(), &plugins).Trace(leaked))};
  Traced remote = TraceEndpoint(store.get(), plugins, leaked);
  std::printf("\ntrace l0 from its file:      %s\n", file.Summary().c_str());
  std::printf("trace l0 at an endpoint:     %s\n", remote.Summary().c_str());

  // The attacker: another architecture fitted to l0's answers.
  auto start = Clock::now();
  torch::jit::Module copy = OrDie(tmk::LoadModel(leaked));
  tmk::DataSplits attacker_data =
      OrDie(tmk::LoadDataset("/usr/share/datasets/fashion-mnist[40000:50000]"));
  const torch::Tensor inputs = tmk::AddNoise(attacker_data.train.images, tmk::kDefaultNoise, 4242);
  const double copy_psnr = OrDie(tmk::TaskPsnr(copy, clean, tmk::kDefaultNoise));
  torch::jit::Module attacker = tmk::MakeAttackerSurrogate(99);
  tmk::SurrogateOptions options;
  options.max_epochs = 10;
  options.seed = 99;
  double attacker_psnr = 0;
  const int epochs =
      OrDie(tmk::ExtractSurrogate(copy, attacker, inputs, options, [&](torch::jit::Module& m) {
        attacker_psnr = OrDie(tmk::TaskPsnr(m, clean, tmk::kDefaultNoise));
        return attacker_psnr >= copy_psnr - 0.1;
      }));
  const std::string attacker_path = work + "/runs/attacker.pt";
  Check(tmk::SaveModel(attacker, attacker_path));
  std::printf(
      "\nattacker surrogate of l0: %d epochs on %lld pairs, %.1fs, task PSNR %.2f dB "
      "(copy %.2f dB)\n",
      epochs, static_cast<long long>(inputs.size(0)), SecondsSince(start), attacker_psnr,
      copy_psnr);
  Traced stolen{OrDie(tmk::TraceEngine(store.get(), &plugins).Trace(attacker_path))};
  std::printf("trace attacker, R after stage 2:   %s\n", stolen.Summary().c_str());

  // Stage 1 only, and fewer probes: the same H, codes and copies.
  std::printf("\n%-26s %-60s %s\n", "key (stage-1 R)", "copy l0 at an endpoint",
              "attacker surrogate file");
  for (const char* probes : {"16", "32", "64", "128", "256"}) {
    std::unique_ptr<tmk::KeyStore> small;
    double seconds = 0;
    release(std::string("probes") + probes, {{"surrogates", "0"}, {"probes", probes}}, &small,
            &seconds);
    Traced endpoint = TraceEndpoint(small.get(), plugins, leaked);
    Traced attacked{OrDie(tmk::TraceEngine(small.get(), &plugins).Trace(attacker_path))};
    std::printf("probes=%-4s keygen %6.1fs  %s   %s\n", probes, seconds, endpoint.Summary().c_str(),
                attacked.Summary().c_str());
  }
  return 0;
}
