#include "args.h"

namespace tracemark::cli {

StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                           const std::set<std::string>& valued,
                           const std::set<std::string>& booleans) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      args.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    size_t eq = name.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (booleans.count(name) && !inline_value) {
      args.values_[name].push_back("true");
    } else if (valued.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argv.size()) return Status::InvalidArgument("--" + name + " needs a value");
        value = argv[++i];
      }
      args.values_[name].push_back(value);
    } else {
      return Status::InvalidArgument("unknown option --" + name);
    }
  }
  return args;
}

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::All(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

StatusOr<std::string> Args::Required(const std::string& flag) const {
  if (!Has(flag)) return Status::InvalidArgument("--" + flag + " is required");
  return Get(flag);
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) items.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

}  // namespace tracemark::cli
