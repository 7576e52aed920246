// release and trace: the two halves of the product on the command line.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "context.h"
#include "tracemark/base/numbers.h"
#include "tracemark/base/text.h"
#include "tracemark/engine/release_engine.h"
#include "tracemark/engine/trace_engine.h"
#include "tracemark/sdk/scheme_params.h"

namespace tracemark::cli {
namespace {

nlohmann::json CopyJson(const CopyResult& c) {
  return {{"licensee", c.licensee}, {"path", c.path},      {"sha256", c.sha256},
          {"accuracy", c.accuracy}, {"bits", c.bits},      {"bits_with_margin", c.bits_with_margin},
          {"steps", c.steps},       {"seconds", c.seconds}};
}

// Quality: accuracy in % for classifiers, task PSNR in dB for image-to-image.
std::string Quality(double value, bool psnr) {
  char text[32];
  std::snprintf(text, sizeof text, psnr ? "%6.2fdB" : "%6.2f%%", psnr ? value : 100 * value);
  return text;
}

void PrintCopy(const CopyResult& c) {
  const bool psnr = c.model_kind == "image-to-image";
  std::printf("  %-16s %s %s  bits %4d/%-4d  %5.1fs  %s\n    sha256 %s\n", c.licensee.c_str(),
              psnr ? "psnr" : "acc", Quality(c.accuracy, psnr).c_str(), c.bits_with_margin, c.bits,
              c.seconds, c.path.c_str(), c.sha256.c_str());
  std::fflush(stdout);
}

int PrintReleaseResult(const ReleaseResult& result, bool json) {
  if (json) {
    nlohmann::json copies = nlohmann::json::array();
    for (const auto& c : result.copies) copies.push_back(CopyJson(c));
    std::cout << JsonText(nlohmann::json{{"release_id", result.release_id},
                                         {"scheme", result.scheme},
                                         {"code", result.code_family},
                                         {"bits", result.bits},
                                         {"model_kind", result.model_kind},
                                         {"base_accuracy", result.base_accuracy},
                                         {"seconds", result.seconds},
                                         {"copies", copies}},
                          2)
              << "\n";
  } else {
    const bool psnr = result.model_kind == "image-to-image";
    std::printf("release %lld done: %s code, %d bits, base %s %s, %.1fs\n",
                static_cast<long long>(result.release_id), result.code_family.c_str(), result.bits,
                psnr ? "task PSNR" : "accuracy", Quality(result.base_accuracy, psnr).c_str(),
                result.seconds);
  }
  return kExitOk;
}

}  // namespace

int ReleaseCommand(Context& ctx, const std::vector<std::string>& argv) {
  auto args =
      Args::Parse(argv, {"name", "version", "scheme", "licensees", "data", "out", "set"}, {"json"});
  if (!args.ok()) return Usage(args.status().message());
  if (args->positional().size() != 1) return Usage("release takes one MODEL.pt");
  ReleaseRequest request;
  request.model_path = args->positional()[0];
  for (auto [flag, field] :
       {std::pair{"name", &request.model_name}, std::pair{"version", &request.version},
        std::pair{"scheme", &request.scheme}, std::pair{"data", &request.data_spec},
        std::pair{"out", &request.out_dir}}) {
    auto value = args->Required(flag);
    if (!value.ok()) return Usage(value.status().message());
    *field = *value;
  }
  auto licensees = args->Required("licensees");
  if (!licensees.ok()) return Usage(licensees.status().message());
  request.licensees = SplitList(*licensees);
  for (const auto& setting : args->All("set")) {
    Status st = ParseSetting(setting, &request.settings);
    if (!st.ok()) return Fail(st);
  }
  auto store = ctx.Store();
  if (!store.ok()) return Fail(store.status());
  auto plugins = ctx.Plugins();
  if (!plugins.ok()) return Fail(plugins.status());

  bool json = args->Has("json");
  if (!json) {
    std::printf("releasing %s %s with %s to %zu licensee(s)\n", request.model_name.c_str(),
                request.version.c_str(), request.scheme.c_str(), request.licensees.size());
    std::fflush(stdout);
  }
  ReleaseEngine engine(*store, *plugins);
  auto result = engine.Release(request, json ? ReleaseEngine::CopyCallback() : PrintCopy);
  if (!result.ok()) return Fail(result.status());
  return PrintReleaseResult(*result, json);
}

int ResumeCommand(Context& ctx, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {}, {"json"});
  if (!args.ok()) return Usage(args.status().message());
  if (args->positional().size() != 1) return Usage("resume takes one RELEASE_ID");
  SchemeParams id_param{{"release", args->positional()[0]}};
  auto release_id = GetInt(id_param, "release", 1, INT64_MAX);
  if (!release_id.ok()) return Fail(release_id.status());
  auto store = ctx.Store();
  if (!store.ok()) return Fail(store.status());
  auto plugins = ctx.Plugins();
  if (!plugins.ok()) return Fail(plugins.status());
  bool json = args->Has("json");
  ReleaseEngine engine(*store, *plugins);
  auto result = engine.Run(*release_id, json ? ReleaseEngine::CopyCallback() : PrintCopy);
  if (!result.ok()) return Fail(result.status());
  return PrintReleaseResult(*result, json);
}

// Reads the --endpoint options of `trace` (docs/endpoint.md).
StatusOr<EndpointOptions> ParseEndpointOptions(const Args& args) {
  EndpointOptions options;
  options.url = args.Get("endpoint");
  TM_ASSIGN_OR_RETURN(options.model, args.Required("model"));
  const char* token = std::getenv("TRACEMARK_ENDPOINT_TOKEN");
  if (token) options.bearer_token = token;
  bool numbers_ok =
      (!args.Has("max-queries") || ParseInt(args.Get("max-queries"), &options.max_queries)) &&
      (!args.Has("timeout") || ParseDouble(args.Get("timeout"), &options.deadline_seconds)) &&
      (!args.Has("request-timeout") ||
       ParseDouble(args.Get("request-timeout"), &options.request_timeout_seconds));
  if (!numbers_ok) {
    return Status::InvalidArgument("--max-queries, --timeout and --request-timeout take numbers");
  }
  TM_RETURN_IF_ERROR(ValidateEndpointOptions(options));
  return options;
}

// Reads --time-limit SECONDS and --memory-limit MIB, the bounds of the
// sandbox a suspect file runs in (docs/security.md).
StatusOr<sandbox::SandboxConfig> ParseSandboxOptions(const Args& args) {
  sandbox::SandboxConfig isolation;
  isolation.limits.wall_seconds = 120;
  isolation.limits.memory_bytes = int64_t{3} << 30;
  double seconds = 0;
  int64_t mib = 0;
  if (args.Has("time-limit")) {
    if (!ParseDouble(args.Get("time-limit"), &seconds) || seconds <= 0 || seconds > 86400) {
      return Status::InvalidArgument("--time-limit takes seconds in (0, 86400]");
    }
    isolation.limits.wall_seconds = seconds;
  }
  if (args.Has("memory-limit")) {
    if (!ParseInt(args.Get("memory-limit"), &mib) || mib < 256 || mib > (int64_t{1} << 20)) {
      return Status::InvalidArgument("--memory-limit takes MiB from 256 to 1048576");
    }
    isolation.limits.memory_bytes = mib << 20;
  }
  return isolation;
}

int TraceCommand(Context& ctx, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv,
                          {"endpoint", "model", "max-queries", "timeout", "request-timeout",
                           "time-limit", "memory-limit"},
                          {"json"});
  if (!args.ok()) return Usage(args.status().message());
  const bool remote = args->Has("endpoint");
  if (remote ? !args->positional().empty() : args->positional().size() != 1) {
    return Usage("trace takes one SUSPECT.pt, or --endpoint URL --model NAME");
  }
  StatusOr<EndpointOptions> endpoint = EndpointOptions{};
  if (remote) {
    endpoint = ParseEndpointOptions(*args);
    if (!endpoint.ok()) return Usage(endpoint.status().message());
  }
  auto isolation = ParseSandboxOptions(*args);
  if (!isolation.ok()) return Usage(isolation.status().message());
  auto store = ctx.Store();
  if (!store.ok()) return Fail(store.status());
  auto plugins = ctx.Plugins();
  if (!plugins.ok()) return Fail(plugins.status());
  TraceEngine engine(*store, *plugins, *isolation);
  auto report = remote ? engine.TraceEndpoint(*endpoint) : engine.Trace(args->positional()[0]);
  if (!report.ok()) return Fail(report.status());
  if (args->Has("json")) {
    std::cout << JsonText(ToJson(*report), 2) << "\n";
  } else {
    std::cout << ToText(*report);
  }
  if (!report->accused.empty()) return kExitOk;
  return report->verdict == Verdict::kInconclusive ? kExitInconclusive : kExitNobodyAccused;
}

}  // namespace tracemark::cli
