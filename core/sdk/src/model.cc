#include "tracemark/sdk/model.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "tracemark/base/file_util.h"
#include "tracemark/base/guarded_call.h"

namespace tracemark {
namespace {

// InvalidArgument when a parameter or buffer of `model` declares more
// elements than its storage holds (a crafted archive; reading such a tensor
// reads memory it does not own).
Status CheckStorages(const torch::jit::Module& model, const std::string& name) {
  auto check = [&](const std::string& what, const torch::Tensor& t) -> Status {
    if (!t.defined() || !t.has_storage() || t.numel() == 0) return Status::Ok();
    int64_t last = t.storage_offset();
    for (int64_t d = 0; d < t.dim(); ++d) {
      if (t.stride(d) < 0)
        return Status::InvalidArgument(name + ": " + what + " has a negative stride");
      last += (t.size(d) - 1) * t.stride(d);
    }
    const int64_t needed = (last + 1) * static_cast<int64_t>(t.element_size());
    if (needed > static_cast<int64_t>(t.storage().nbytes())) {
      return Status::InvalidArgument(name + ": " + what + " declares shape " + c10::str(t.sizes()) +
                                     ", beyond its storage of " +
                                     std::to_string(t.storage().nbytes()) + " bytes");
    }
    return Status::Ok();
  };
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    TM_RETURN_IF_ERROR(check("parameter " + p.name, p.value));
  }
  for (const auto& b : model.named_buffers(/*recurse=*/true)) {
    TM_RETURN_IF_ERROR(check("buffer " + b.name, b.value));
  }
  return Status::Ok();
}

// Runs `load` and checks the archive has a forward method and tensors that
// fit their storages; `name` is for messages.
template <typename Load>
StatusOr<torch::jit::Module> LoadChecked(const std::string& name, Load&& load) {
  try {
    torch::jit::Module model = load();
    if (!model.find_method("forward")) {
      return Status::InvalidArgument(name + " is a TorchScript archive without a forward method");
    }
    TM_RETURN_IF_ERROR(CheckStorages(model, name));
    model.eval();
    return model;
  } catch (const std::bad_alloc&) {
    return Status::Internal(name + ": out of memory while loading");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(name + " is not a readable TorchScript model (" +
                                   ExceptionLine(e) + ")");
  }
}

}  // namespace

StatusOr<torch::jit::Module> LoadModel(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no such model file: " + path);
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + " is a directory, not a TorchScript model");
  }
  return LoadChecked(path, [&] { return torch::jit::load(path, torch::kCPU); });
}

StatusOr<torch::jit::Module> LoadModelFromBytes(const std::string& bytes, const std::string& name) {
  return LoadChecked(name, [&] {
    std::istringstream in(bytes);
    return torch::jit::load(in, torch::kCPU);
  });
}

Status SaveModel(const torch::jit::Module& model, const std::string& path, int mode) {
  std::string tmp = path + ".partial." + std::to_string(::getpid());
  try {
    model.save(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return Status::IoError("cannot save model to " + path + ": " + ExceptionLine(e));
  }
  if (mode >= 0 && ::chmod(tmp.c_str(), static_cast<mode_t>(mode)) != 0) {
    std::remove(tmp.c_str());
    return Status::IoError("cannot chmod " + tmp + ": " + std::strerror(errno));
  }
  Status st = PublishFile(tmp, path);
  if (!st.ok()) std::remove(tmp.c_str());
  return st;
}

torch::jit::Module CloneModel(const torch::jit::Module& model) {
  // Cloned without autograd history, so the copy's parameters are leaves an
  // optimizer can own.
  torch::NoGradGuard no_grad;
  return model.clone();
}

std::vector<ParameterShape> ParameterShapes(const torch::jit::Module& model) {
  std::vector<ParameterShape> shapes;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    shapes.push_back({p.name, p.value.sizes().vec()});
  }
  return shapes;
}

std::string ArchitectureSignature(const torch::jit::Module& model) {
  std::ostringstream canonical;
  for (const auto& p : ParameterShapes(model)) {
    canonical << p.name << ':';
    for (int64_t d : p.shape) canonical << d << ',';
    canonical << ';';
  }
  return Sha256Hex(canonical.str());
}

StatusOr<torch::Tensor> FindParameter(const torch::jit::Module& model, const std::string& name) {
  std::string names;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) {
    if (p.name == name) return p.value;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  return Status::NotFound("model has no parameter '" + name + "' (parameters: " + names + ")");
}

StatusOr<torch::Tensor> RunForward(torch::jit::Module& model, const torch::Tensor& x) {
  c10::IValue out;
  try {
    out = model.forward({x});
  } catch (const std::exception& e) {
    return Status::InvalidArgument("model rejected input of shape " + c10::str(x.sizes()) + ": " +
                                   ExceptionLine(e));
  }
  if (!out.isTensor()) {
    return Status::InvalidArgument("model returned " + out.tagKind() + ", expected one tensor");
  }
  return out.toTensor();
}

StatusOr<torch::Tensor> RunBatched(torch::jit::Module& model, const torch::Tensor& inputs,
                                   int64_t batch) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < inputs.size(0); i += batch) {
    TM_ASSIGN_OR_RETURN(torch::Tensor out, RunForward(model, inputs.slice(0, i, i + batch)));
    parts.push_back(out);
  }
  if (parts.empty()) return Status::InvalidArgument("no inputs");
  return torch::cat(parts);
}

}  // namespace tracemark
