// KeyBlob: the serialised form of a scheme's secret key — named tensors,
// strings and integers in one LibTorch pickle. Schemes build one in Keygen
// and read it back in Embed/Extract; the host stores the bytes as they are.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>

#include "tracemark/base/status.h"

namespace tracemark {

class KeyBlob {
 public:
  void SetTensor(const std::string& name, const torch::Tensor& value) { tensors_[name] = value; }
  void SetString(const std::string& name, const std::string& value) { strings_[name] = value; }
  void SetInt(const std::string& name, int64_t value) { ints_[name] = value; }

  std::string Serialize() const;
  // Corruption when `bytes` is not a KeyBlob.
  static StatusOr<KeyBlob> Parse(const std::string& bytes);

  // Corruption when absent (a key missing a field is damaged).
  StatusOr<torch::Tensor> Tensor(const std::string& name) const;
  StatusOr<std::string> String(const std::string& name) const;
  StatusOr<int64_t> Int(const std::string& name) const;

 private:
  std::map<std::string, torch::Tensor> tensors_;
  std::map<std::string, std::string> strings_;
  std::map<std::string, int64_t> ints_;
};

}  // namespace tracemark
