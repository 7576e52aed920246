// tracemark-lab: the demonstration's and the evaluation's own tools, kept
// out of the product CLI: training the demo CNN and playing the attacker.
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "commands_model.h"
#include "context.h"
#include "tracemark/base/guarded_call.h"

namespace {

constexpr const char* kHelp = R"(usage: tracemark-lab COMMAND [ARGS]

The lab: makes models and attacks them, for the demonstration and tests.

commands:
  train --data DATASET --out MODEL.pt [--epochs N] [--seed S] [--lr LR]
                                    train the demo Fashion-MNIST CNN
  attack finetune|prune|quantize|average ...
                                    play the attacker (see docs/cli.md)
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace tracemark::cli;
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kHelp;
    return args.empty() ? kExitUsage : kExitOk;
  }
  Context ctx("", "");  // the lab commands use neither the state nor plugins
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] != "train" && args[0] != "attack") {
    return Usage("unknown command '" + args[0] + "'");
  }
  int exit_code = kExitError;
  tracemark::Status st = tracemark::GuardedCall("tracemark-lab", [&] {
    exit_code = args[0] == "train" ? TrainCommand(ctx, rest) : AttackCommand(ctx, rest);
    return tracemark::Status::Ok();
  });
  return st.ok() ? exit_code : Fail(st);
}
