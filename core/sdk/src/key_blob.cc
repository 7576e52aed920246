#include "tracemark/sdk/key_blob.h"

#include <torch/serialize.h>

namespace tracemark {
namespace {

constexpr const char* kFormat = "tracemark-key-v1";

template <typename V>
StatusOr<V> Lookup(const std::map<std::string, V>& map, const std::string& name) {
  auto it = map.find(name);
  if (it == map.end()) return Status::Corruption("scheme key lacks field '" + name + "'");
  return it->second;
}

}  // namespace

std::string KeyBlob::Serialize() const {
  c10::Dict<std::string, torch::Tensor> tensors;
  c10::Dict<std::string, std::string> strings;
  c10::Dict<std::string, int64_t> ints;
  for (const auto& [k, v] : tensors_) tensors.insert(k, v.contiguous());
  for (const auto& [k, v] : strings_) strings.insert(k, v);
  for (const auto& [k, v] : ints_) ints.insert(k, v);
  auto tuple = c10::ivalue::Tuple::create({std::string(kFormat), tensors, strings, ints});
  std::vector<char> bytes = torch::pickle_save(c10::IValue(tuple));
  return std::string(bytes.begin(), bytes.end());
}

StatusOr<KeyBlob> KeyBlob::Parse(const std::string& bytes) {
  KeyBlob blob;
  try {
    c10::IValue value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    const auto& items = value.toTupleRef().elements();
    if (items.size() != 4 || items[0].toStringRef() != kFormat) {
      return Status::Corruption("scheme key has an unknown format");
    }
    for (const auto& e : items[1].toGenericDict()) {
      blob.tensors_[e.key().toStringRef()] = e.value().toTensor();
    }
    for (const auto& e : items[2].toGenericDict()) {
      blob.strings_[e.key().toStringRef()] = e.value().toStringRef();
    }
    for (const auto& e : items[3].toGenericDict())
      blob.ints_[e.key().toStringRef()] = e.value().toInt();
  } catch (const std::exception& e) {
    return Status::Corruption("scheme key is unreadable");
  }
  return blob;
}

StatusOr<torch::Tensor> KeyBlob::Tensor(const std::string& name) const {
  return Lookup(tensors_, name);
}
StatusOr<std::string> KeyBlob::String(const std::string& name) const {
  return Lookup(strings_, name);
}
StatusOr<int64_t> KeyBlob::Int(const std::string& name) const { return Lookup(ints_, name); }

}  // namespace tracemark
