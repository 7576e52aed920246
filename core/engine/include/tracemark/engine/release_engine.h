// ReleaseEngine: turns one model version into per-licensee fingerprinted
// copies, recording every code and key before any copy is published.
//
// Order of work, and what a failure leaves behind:
//   Plan: validate everything (names, scheme, settings, model, dataset,
//      output directory) — a failure here writes nothing anywhere — then
//      draw the codebook and the scheme key and store the release
//      ("embedding") with all its copies "pending" in one transaction.
//   Run: per pending copy, embed, save atomically to
//      OUT/<licensee>/[<subdir>/]<file name> with manifest.json beside it,
//      and mark the copy "done"; then mark the release "done". A failure
//      marks the copy and the release "failed" with the reason; copies
//      already published stay valid and traceable.
// A process killed during Run loses nothing: calling Run again (for example
// after a restart) embeds the copies still pending, each from the same code
// and key, and replaces any unrecorded file atomically, so every licensee
// ends with exactly one code and one complete copy.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/sdk/scheme.h"
#include "tracemark/store/key_store.h"

namespace tracemark {

struct ReleaseRequest {
  std::string model_path;
  std::string model_name;
  std::string version;
  std::string scheme;
  std::string data_spec;  // see LoadDataset
  std::string out_dir;
  std::string copy_subdir;  // optional, between OUT/<licensee>/ and the file name
  std::vector<std::string> licensees;
  // Release settings (see CoreSettingSpecs) and scheme parameters, mixed.
  SchemeParams settings;
};

struct CopyResult {
  std::string licensee;
  std::string path;
  std::string sha256;
  double accuracy = 0;  // test accuracy in [0, 1]; task PSNR in dB for image-to-image
  int bits = 0;
  int bits_with_margin = 0;
  int steps = 0;
  double seconds = 0;
  std::string model_kind;  // the release's
};

struct ReleaseResult {
  int64_t release_id = 0;
  std::string scheme;
  std::string code_family;
  int bits = 0;
  double base_accuracy = 0;  // as CopyResult::accuracy
  std::string model_kind;    // "classifier" or "image-to-image"
  std::vector<CopyResult> copies;
  double seconds = 0;
};

// The release settings the core itself consumes (the rest go to the scheme):
// bits, code, max_colluders, accuracy_budget (points, or dB for
// image-to-image models), kind, noise, seed. The model's kind is learned
// from its output on one sample (tracemark/model_kind.h) unless `kind` says;
// Plan refuses a scheme whose Info().model_kinds lacks it. The quality of
// image-to-image models is task PSNR on noisy test images (noise sigma
// `noise`, tracemark/image_task.h) instead of accuracy. A core setting the
// scheme also declares (barrier's `noise`) is passed to the scheme as well.
const std::vector<ParamSpec>& CoreSettingSpecs();

class ReleaseEngine {
 public:
  // Neither pointer is owned; both must outlive the engine.
  ReleaseEngine(KeyStore* store, const PluginHost* plugins) : store_(store), plugins_(plugins) {}

  // When set and true, Run stops before the next copy and returns
  // Cancelled; the release stays "embedding" and a later Run resumes it.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }

  // Called after each published copy (for progress output).
  using CopyCallback = std::function<void(const CopyResult&)>;

  // Validates and records a release; returns its id. Embeds nothing.
  StatusOr<int64_t> Plan(const ReleaseRequest& request);

  // Embeds and publishes every pending copy of a planned release. The
  // result lists all its copies, including those published before.
  StatusOr<ReleaseResult> Run(int64_t release_id, const CopyCallback& on_copy = nullptr);

  // Plan, then Run.
  StatusOr<ReleaseResult> Release(const ReleaseRequest& request,
                                  const CopyCallback& on_copy = nullptr);

 private:
  KeyStore* store_;
  const PluginHost* plugins_;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace tracemark
