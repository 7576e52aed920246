// The robustness and cost evaluation (docs/results.md): every scheme run
// on every architecture is released to licensees through the real release
// engine and key store, attacked with the attacks library
// (tracemark/attacks.h), traced with the real trace engine, and checked
// against independently trained null models. Used by bench/evaluate.cc (the
// full run) and tests/evaluation_test.cc (a reduced configuration).
//
// Data (all Fashion-MNIST rows disjoint): the owner trains and embeds on
// owner_rows, the attacker fine-tunes, re-trains, overwrites and distils
// on attacker_rows (data the owner never used), null models train on
// null_rows, and every accuracy is measured on the t10k test split.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark::evaluation {

struct Config {
  std::string data = "/usr/share/datasets/fashion-mnist";  // an IDX directory
  std::string owner_rows = "0:20000";
  std::string null_rows = "20000:40000";
  std::string attacker_rows = "40000:50000";
  std::string plugins;  // scheme plugin directory
  std::string work;     // scratch directory (models, key stores); reused for cached models
  std::vector<std::string> architectures = {"cnn", "mlp"};
  // SCHEME[+KEY=VALUE...]; empty: every loaded scheme that marks classifiers, with its defaults
  // plus deepsigns+mode=black when deepsigns is loaded.
  std::vector<std::string> runs;
  // Attack names (see AttackNames()); empty: all.
  std::vector<std::string> attacks;
  int licensees = 5;
  int base_epochs = 2;
  int null_models = 50;
  int null_epochs = 1;
  int fine_tune_epochs = 5;  // fine-tuning is traced after each epoch up to this
  double fine_tune_lr = 1e-3;
  std::vector<double> prune_fractions = {0.2, 0.5, 0.7, 0.9};
  std::vector<int> colluders = {2, 3, 5};
  int distill_epochs = 3;
  std::vector<int> scaling_licensees = {1, 10, 100, 1000};
  uint64_t seed = 1;
};

// "fine-tune", "retrain-last-layer", "prune", "int8", "weight-shift",
// "overwrite", "average", "distill".
const std::vector<std::string>& AttackNames();

// Writes progress lines (one per step) to `log`.
using Log = std::function<void(const std::string&)>;

// Runs the whole evaluation; the result is the JSON document that
// bench/report_results.py turns into docs/results.md (schema in that
// file's docstring). InvalidArgument for a bad configuration (unknown
// architecture, scheme or attack); anything an attack or a release cannot
// do is recorded in the document as an "error" cell, not returned.
StatusOr<nlohmann::json> Run(const Config& config, const Log& log);

}  // namespace tracemark::evaluation
