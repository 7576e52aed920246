// A small command-line parser: `--flag value`, `--flag=value`, boolean
// `--flag`, repeatable flags and positional arguments, with one-line errors.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark::cli {

class Args {
 public:
  // `valued` flags take a value, `booleans` do not; names without dashes.
  static StatusOr<Args> Parse(const std::vector<std::string>& argv,
                              const std::set<std::string>& valued,
                              const std::set<std::string>& booleans);

  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  // The last value given for `flag`, or `fallback`.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // Every value given for a repeatable flag, in order.
  std::vector<std::string> All(const std::string& flag) const;
  // InvalidArgument naming the flag when it is absent.
  StatusOr<std::string> Required(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Splits "a,b,c" into its non-empty items.
std::vector<std::string> SplitList(const std::string& text);

}  // namespace tracemark::cli
