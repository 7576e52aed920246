// Shared helpers of the end-to-end tests: where the build put things, the
// Fashion-MNIST splits the tests use, temporary directories, a cache of
// trained models (so each is trained once per build tree), and running
// commands without a shell.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_files.h"
#include "tracemark/decide/trace_report.h"

namespace tracemark::testing {

// The Debian package's Fashion-MNIST and the disjoint training slices:
// the owner embeds with OwnerData(), the attacker fine-tunes on
// AttackerData(), independent "null" models train on IndependentData().
std::string FashionMnist();
std::string OwnerData();        // [0:20000]
std::string IndependentData();  // [20000:40000]
std::string AttackerData();     // [40000:50000]

std::string PluginDir();  // the real scheme plugins of this build
std::string CliPath();    // bin/tracemark
std::string LabPath();    // bin/tracemark-lab
std::string SourceDir();
std::string CacheDir();  // BUILD/test-cache, created on demand

// The demo CNN trained for `epochs` on `data` from `seed`, trained on first
// use and then read from CacheDir(). Returns the model's path.
std::string CachedDemoCnn(uint64_t seed, const std::string& data, int epochs);

// The demo denoiser (MakeDemoDenoiser(seed, channels, layers)) trained for
// `epochs` on `data` with TrainDenoiser (noise 0.3), cached like the CNN.
std::string CachedDemoDenoiser(uint64_t seed, const std::string& data, int epochs,
                               int64_t channels = 16, int layers = 4);

// The MLP of tests/python/make_mlp.py, trained and scripted by Python
// PyTorch (/usr/bin/python3) on training rows `rows` ("a:b"); cached.
std::string CachedPythonMlp(uint64_t seed, const std::string& rows, int epochs);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs argv[0] with arguments (no shell), capturing both streams.
CommandResult RunCommand(const std::vector<std::string>& argv);

// Apply an attack to the model at `model` and save the result to `out`.
std::string FineTuned(const std::string& model, const std::string& out, int epochs);
std::string Pruned(const std::string& model, const std::string& out, double fraction);
std::string Quantized(const std::string& model, const std::string& out);
std::string Averaged(const std::vector<std::string>& models, const std::string& out);

// Test accuracy of a saved model on the Fashion-MNIST test split.
double TestAccuracy(const std::string& model_path);

}  // namespace tracemark::testing
