// tracemark: the command-line front end over libtracemark.
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <map>

#include "args.h"
#include "context.h"
#include "tracemark/base/guarded_call.h"

namespace {

constexpr const char* kHelp = R"(usage: tracemark [--state DIR] [--plugins DIR] COMMAND [ARGS]

Fingerprint each licensee's copy of a model and trace leaked copies.

commands:
  licensee add NAME                 register a licensee
  licensee list [--json]            list licensees
  schemes [--json]                  list the loaded scheme plugins
  token create --role ROLE [--name NAME]
                                    create a tracemarkd API token (admin,
                                    investigator or viewer); printed once
  release MODEL.pt --name NAME --version V --scheme SCHEME --licensees a,b,c
          --data DATASET --out DIR [--set key=value]... [--json]
                                    write a fingerprinted copy per licensee
  resume RELEASE_ID [--json]        finish a release that was interrupted
  trace SUSPECT.pt [--time-limit S] [--memory-limit MIB] [--json]
                                    attribute a suspect model, run in a
                                    sandbox (exit 0: someone accused, 3:
                                    nobody, 1: error)
  trace --endpoint URL --model NAME [--max-queries N] [--timeout S]
        [--request-timeout S] [--json]
                                    query a deployed Open Inference Protocol
                                    v2 endpoint instead (exit 4: inconclusive)

options:
  --state DIR     state directory (default $TRACEMARK_STATE or ./tracemark-state)
  --plugins DIR   scheme plugins (default: lib/tracemark/plugins beside bin/)

DATASET is a Fashion-MNIST/MNIST IDX directory or a torch.save file, optionally
sliced: '/usr/share/datasets/fashion-mnist[0:30000]'.
)";

struct Route {
  std::vector<std::string> words;
  tracemark::cli::Command run;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace tracemark::cli;
  using tracemark::GuardedCall;
  using tracemark::Status;
  signal(SIGPIPE, SIG_IGN);
  const char* env_state = std::getenv("TRACEMARK_STATE");
  std::string state = env_state && *env_state ? env_state : "tracemark-state";
  std::string plugins = tracemark::DefaultPluginDirectory();

  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  for (; i < args.size() && args[i].rfind("--", 0) == 0; ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kHelp;
      return kExitOk;
    }
    bool has_value = i + 1 < args.size();
    if (args[i] == "--state" && has_value) {
      state = args[++i];
    } else if (args[i] == "--plugins" && has_value) {
      plugins = args[++i];
    } else {
      return Usage("unknown or incomplete global option " + args[i]);
    }
  }
  static const std::vector<Route> routes = {
      {{"licensee", "add"}, LicenseeAdd},
      {{"licensee", "list"}, LicenseeList},
      {{"schemes"}, Schemes},
      {{"token", "create"}, TokenCreate},
      {{"release"}, ReleaseCommand},
      {{"trace"}, TraceCommand},
      {{"resume"}, ResumeCommand},
  };
  int exit_code = kExitError;
  for (const auto& route : routes) {
    if (args.size() < i + route.words.size()) continue;
    if (!std::equal(route.words.begin(), route.words.end(), args.begin() + i)) continue;
    Context ctx(state, plugins);
    std::vector<std::string> rest(args.begin() + i + route.words.size(), args.end());
    // The last barrier (docs/errors.md): commands return their errors.
    Status st = GuardedCall("tracemark", [&] {
      exit_code = route.run(ctx, rest);
      return Status::Ok();
    });
    return st.ok() ? exit_code : Fail(st);
  }
  if (i >= args.size()) {
    std::cerr << kHelp;
    return kExitUsage;
  }
  return Usage("unknown command '" + args[i] + "'");
}
