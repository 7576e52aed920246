// Commands over the key store and the plugins: licensee add|list, schemes.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "context.h"
#include "tracemark/base/file_util.h"
#include "tracemark/base/text.h"
#include "tracemark/engine/scheme_json.h"

namespace tracemark::cli {

int LicenseeAdd(Context& ctx, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {}, {});
  if (!args.ok()) return Usage(args.status().message());
  if (args->positional().size() != 1) return Usage("licensee add takes one NAME");
  auto store = ctx.Store();
  if (!store.ok()) return Fail(store.status());
  auto licensee = (*store)->AddLicensee(args->positional()[0]);
  if (!licensee.ok()) return Fail(licensee.status());
  std::cout << "added licensee " << licensee->name << " (id " << licensee->id << ")\n";
  return kExitOk;
}

int LicenseeList(Context& ctx, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {}, {"json"});
  if (!args.ok()) return Usage(args.status().message());
  auto store = ctx.Store();
  if (!store.ok()) return Fail(store.status());
  auto licensees = (*store)->ListLicensees();
  if (!licensees.ok()) return Fail(licensees.status());
  if (args->Has("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& l : *licensees) {
      out.push_back({{"id", l.id}, {"name", l.name}, {"created_at", l.created_at}});
    }
    std::cout << JsonText(out, 2) << "\n";
    return kExitOk;
  }
  for (const auto& l : *licensees) std::cout << l.name << "\t" << l.created_at << "\n";
  return kExitOk;
}

int TokenCreate(Context& ctx, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {"role", "name"}, {});
  if (!args.ok()) return Usage(args.status().message());
  auto role = args->Required("role");
  if (!role.ok()) return Usage(role.status().message());
  unsigned char secret[32];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(secret), sizeof secret)) {
    return Fail(Status::IoError("cannot read /dev/urandom"));
  }
  std::string token = "tm_";
  for (unsigned char b : secret)
    token += "0123456789abcdef"[b >> 4], token += "0123456789abcdef"[b & 15];
  auto store = ctx.Daemon();
  if (!store.ok()) return Fail(store.status());
  auto record = (*store)->AddToken(Sha256Hex(token), *role, args->Get("name"));
  if (!record.ok()) return Fail(record.status());
  std::cout << token << "\n";
  std::cerr << "tracemark: " << record->role << " token " << record->id
            << " created; it is shown only now (the store keeps its SHA-256)\n";
  return kExitOk;
}

int Schemes(Context& ctx, const std::vector<std::string>& argv) {
  auto args = Args::Parse(argv, {}, {"json"});
  if (!args.ok()) return Usage(args.status().message());
  auto plugins = ctx.Plugins();
  if (!plugins.ok()) return Fail(plugins.status());
  nlohmann::json out = nlohmann::json::array();
  for (const Scheme* scheme : (*plugins)->schemes()) out.push_back(SchemeInfoJson(scheme->Info()));
  if (args->Has("json")) {
    std::cout << JsonText(out, 2) << "\n";
    return kExitOk;
  }
  for (const auto& s : out) {
    std::cout << s["name"].get<std::string>() << ": " << s["title"].get<std::string>() << "\n"
              << "  access " << s["access"].get<std::string>()
              << (s["black_box"].get<bool>() ? " (black-box capable)" : " (white-box)")
              << ", models: " << s["model_kinds"].dump() << ", default code "
              << s["default_code"].get<std::string>() << "\n"
              << "  capacity: " << s["capacity"].get<std::string>() << "\n";
    for (const auto& p : s["params"]) {
      std::cout << "  --set " << p["name"].get<std::string>() << "="
                << p["default"].get<std::string>() << "  " << p["description"].get<std::string>()
                << "\n";
    }
  }
  return kExitOk;
}

}  // namespace tracemark::cli
