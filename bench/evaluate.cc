// bench_evaluate: the robustness and cost evaluation of every scheme
// (bench/evaluation.h) written as one JSON document. scripts/evaluate.sh
// runs it with the defaults and renders docs/results.md from the JSON.
//
// usage: bench_evaluate [--out FILE] [--work DIR] [--plugins DIR] [--data DIR]
//          [--architectures cnn,mlp] [--runs SCHEME[+K=V...],...]
//          [--attacks NAME,...] [--licensees N] [--base-epochs N]
//          [--null-models N] [--null-epochs N] [--fine-tune-epochs N]
//          [--distill-epochs N] [--colluders 2,3,5] [--prune 0.2,0.5,...]
//          [--scaling 1,10,100,1000] [--owner-rows A:B] [--null-rows A:B]
//          [--attacker-rows A:B] [--seed N]
// Progress goes to stderr; exit 1 with one line for a bad flag or setup.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>

#include "tracemark/engine/plugin_host.h"
#include "tracemark/lab/evaluation.h"
#include "tracemark/lab/tool_util.h"

namespace ev = tracemark::evaluation;
using tracemark::lab::Split;

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bench_evaluate: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
std::vector<T> Numbers(const std::string& text) {
  std::vector<T> numbers;
  for (const std::string& item : Split(text)) {
    try {
      numbers.push_back(static_cast<T>(std::stod(item)));
    } catch (const std::exception&) {
      Die("not a number: " + item);
    }
  }
  return numbers;
}

int Int(const std::string& text) { return Numbers<int>(text).at(0); }

}  // namespace

int main(int argc, char** argv) {
  ev::Config config;
  config.plugins = tracemark::DefaultPluginDirectory();
  config.work = "evaluation-work";
  std::string out = "results.json";
  using Setter = void (*)(ev::Config&, const std::string&);
  const std::map<std::string, Setter> setters = {
      {"plugins", [](ev::Config& c, const std::string& v) { c.plugins = v; }},
      {"work", [](ev::Config& c, const std::string& v) { c.work = v; }},
      {"data", [](ev::Config& c, const std::string& v) { c.data = v; }},
      {"architectures", [](ev::Config& c, const std::string& v) { c.architectures = Split(v); }},
      {"runs", [](ev::Config& c, const std::string& v) { c.runs = Split(v); }},
      {"attacks", [](ev::Config& c, const std::string& v) { c.attacks = Split(v); }},
      {"licensees", [](ev::Config& c, const std::string& v) { c.licensees = Int(v); }},
      {"base-epochs", [](ev::Config& c, const std::string& v) { c.base_epochs = Int(v); }},
      {"null-models", [](ev::Config& c, const std::string& v) { c.null_models = Int(v); }},
      {"null-epochs", [](ev::Config& c, const std::string& v) { c.null_epochs = Int(v); }},
      {"fine-tune-epochs",
       [](ev::Config& c, const std::string& v) { c.fine_tune_epochs = Int(v); }},
      {"distill-epochs", [](ev::Config& c, const std::string& v) { c.distill_epochs = Int(v); }},
      {"colluders", [](ev::Config& c, const std::string& v) { c.colluders = Numbers<int>(v); }},
      {"prune",
       [](ev::Config& c, const std::string& v) { c.prune_fractions = Numbers<double>(v); }},
      {"scaling",
       [](ev::Config& c, const std::string& v) { c.scaling_licensees = Numbers<int>(v); }},
      {"owner-rows", [](ev::Config& c, const std::string& v) { c.owner_rows = v; }},
      {"null-rows", [](ev::Config& c, const std::string& v) { c.null_rows = v; }},
      {"attacker-rows", [](ev::Config& c, const std::string& v) { c.attacker_rows = v; }},
      {"seed", [](ev::Config& c, const std::string& v) { c.seed = Numbers<uint64_t>(v).at(0); }},
  };
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) Die("expected --FLAG VALUE at " + flag);
    flag = flag.substr(2);
    if (flag == "out") {
      out = argv[i + 1];
    } else if (auto it = setters.find(flag); it != setters.end()) {
      it->second(config, argv[i + 1]);
    } else {
      Die("unknown flag --" + flag);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto log = [&](const std::string& line) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "[%7.1fs] %s\n", s, line.c_str());
  };
  auto doc = ev::Run(config, log);
  if (!doc.ok()) Die(doc.status().message());
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  (*doc)["date"] = date;
  std::ofstream file(out);
  file << doc->dump(1) << "\n";
  if (!file) Die("cannot write " + out);
  log("wrote " + out);
  return 0;
}
