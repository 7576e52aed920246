#include "tracemark/sdk/model.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tracemark/base/file_util.h"

namespace tracemark {
namespace {

// LibTorch error texts carry a backtrace after the first line.
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

StatusOr<torch::jit::Module> LoadModel(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no such model file: " + path);
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + " is a directory, not a TorchScript model");
  }
  try {
    torch::jit::Module model = torch::jit::load(path, torch::kCPU);
    if (!model.find_method("forward")) {
      return Status::InvalidArgument(path + " is a TorchScript archive without a forward method");
    }
    model.eval();
    return model;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + " is not a readable TorchScript model (" +
                                   FirstLine(e.what()) + ")");
  }
}

Status SaveModel(const torch::jit::Module& model, const std::string& path) {
  std::string tmp = path + ".partial." + std::to_string(::getpid());
  try {
    model.save(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    return Status::IoError("cannot save model to " + path + ": " + FirstLine(e.what()));
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
                                   FirstLine(e.what()));
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
