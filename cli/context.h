// What every command shares: where the state and the plugins are, opened
// on first use so commands that need neither start instantly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/store/daemon_store.h"
#include "tracemark/store/key_store.h"

namespace tracemark::cli {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNobodyAccused = 3;
inline constexpr int kExitInconclusive = 4;  // an endpoint failed and nobody was accused

class Context {
 public:
  Context(std::string state_dir, std::string plugins_dir)
      : state_dir_(std::move(state_dir)), plugins_dir_(std::move(plugins_dir)) {}

  // The key store at STATE/keystore.db; creates STATE (mode 0700) if needed.
  StatusOr<KeyStore*> Store();
  // The daemon's records (tokens) in the same STATE/keystore.db.
  StatusOr<DaemonStore*> Daemon();
  // Every plugin in the plugins directory; refusals are printed to stderr.
  StatusOr<const PluginHost*> Plugins();

 private:
  std::string state_dir_;
  std::string plugins_dir_;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<DaemonStore> daemon_;
  std::unique_ptr<PluginHost> plugins_;
};

// Prints "tracemark: error: MESSAGE" to stderr and returns kExitError
// (kExitUsage for InvalidArgument from argument parsing, see Usage).
int Fail(const Status& status);
int Usage(const std::string& message);

// A command: its arguments after the command words.
using Command = int (*)(Context& ctx, const std::vector<std::string>& argv);

int LicenseeAdd(Context& ctx, const std::vector<std::string>& argv);
int LicenseeList(Context& ctx, const std::vector<std::string>& argv);
int Schemes(Context& ctx, const std::vector<std::string>& argv);
int TokenCreate(Context& ctx, const std::vector<std::string>& argv);
int ReleaseCommand(Context& ctx, const std::vector<std::string>& argv);
int ResumeCommand(Context& ctx, const std::vector<std::string>& argv);
int TraceCommand(Context& ctx, const std::vector<std::string>& argv);

}  // namespace tracemark::cli
