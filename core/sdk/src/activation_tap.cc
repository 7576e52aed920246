#include "tracemark/sdk/activation_tap.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "tracemark/base/guarded_call.h"

namespace tracemark {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
using ModulePath = std::vector<std::string>;

std::string Join(const ModulePath& path) {
  std::string out;
  for (const auto& name : path) out += (out.empty() ? "" : ".") + name;
  return out;
}

ModulePath Split(const std::string& dotted) {
  ModulePath path;
  std::stringstream in(dotted);
  for (std::string name; std::getline(in, name, '.');) path.push_back(name);
  return path;
}

// The dotted path of the submodule `module` holds, when it is reached from
// the graph's `self` through attribute reads only (self.features.3).
std::optional<ModulePath> SubmodulePathOf(Value* module, Value* self) {
  ModulePath path;
  while (module != self) {
    Node* node = module->node();
    if (node->kind() != c10::prim::GetAttr) return std::nullopt;
    path.insert(path.begin(), node->s(c10::attr::name));
    module = node->input(0);
  }
  return path;
}

bool IsStrictPrefix(const ModulePath& prefix, const ModulePath& path) {
  return prefix.size() < path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

void ForEachNode(Block* block, const std::function<void(Node*)>& visit) {
  for (Node* node : block->nodes()) {
    visit(node);
    for (Block* sub : node->blocks()) ForEachNode(sub, visit);
  }
}

// A method call in an (un-inlined) TorchScript graph: the submodule whose
// method it calls and the method's name.
struct MethodCall {
  Node* node = nullptr;
  ModulePath module;
  std::string method;
};

std::vector<MethodCall> MethodCalls(Graph& graph) {
  std::vector<MethodCall> calls;
  ForEachNode(graph.block(), [&](Node* node) {
    if (node->kind() != c10::prim::CallMethod) return;
    auto module = SubmodulePathOf(node->input(0), graph.inputs()[0]);
    if (module) calls.push_back({node, *module, node->s(c10::attr::name)});
  });
  return calls;
}

// Replaces a method call by the called method's body; returns the values
// that replace the call's outputs.
std::vector<Value*> InlineCall(Node* call) {
  auto type = call->input(0)->type()->expect<c10::ClassType>();
  torch::jit::GraphFunction& callee =
      torch::jit::toGraphFunction(type->getMethod(call->s(c10::attr::name)));
  return torch::jit::inlineCallTo(call, &callee, callee.graph().get());
}

// Inlines every method call on `module`'s ancestors (the model itself
// included), so that the calls made to `module` appear in `graph`.
void InlineAncestorCalls(Graph& graph, const ModulePath& module) {
  for (bool inlined = true; inlined;) {
    inlined = false;
    for (const MethodCall& call : MethodCalls(graph)) {
      if (!IsStrictPrefix(call.module, module)) continue;
      InlineCall(call.node);
      inlined = true;
    }
  }
}

bool IsTensor(const Value* value) { return value->type()->isSubtypeOf(*c10::TensorType::get()); }

// The call of the submodule's forward whose output is tapped.
StatusOr<Node*> TappedCall(Graph& graph, const std::string& path) {
  ModulePath module = Split(path);
  InlineAncestorCalls(graph, module);
  std::vector<Node*> calls;
  for (const MethodCall& call : MethodCalls(graph)) {
    if (call.module == module && call.method == "forward") calls.push_back(call.node);
  }
  if (calls.size() != 1) {
    return Status::InvalidArgument(
        "submodule " + path +
        (calls.empty() ? " is never called by forward" : " is called more than once by forward") +
        "; choose another layer");
  }
  Node* call = calls[0];
  if (call->owningBlock() != graph.block()) {
    return Status::InvalidArgument("submodule " + path +
                                   " runs inside control flow of forward; choose another layer");
  }
  if (call->outputs().size() != 1 || !IsTensor(call->output())) {
    return Status::InvalidArgument("submodule " + path +
                                   " does not return one tensor; choose another layer");
  }
  return call;
}

// Follows `value` back through operations taking one computed tensor
// (torch.relu, torch.flatten, F.relu, ...) to the output of a submodule
// call; nullptr when an operation takes several tensors (for example a
// parameter) or a graph input is reached.
Node* BackToCall(Value* value) {
  for (;;) {
    Node* node = value->node();
    if (node->kind() == c10::prim::CallMethod) return node;
    if (node->kind() == c10::prim::Param) return nullptr;
    std::vector<Value*> tensors;
    for (Value* input : node->inputs()) {
      if (IsTensor(input) && input->node()->kind() != c10::prim::Constant) {
        tensors.push_back(input);
      }
    }
    if (tensors.size() != 1) return nullptr;
    value = tensors[0];
  }
}

// The innermost submodule whose forward produces `value`, and the tensor
// inputs of its call. From `value`, follows one-tensor operations of
// forward itself back to a submodule call (see BackToCall), then descends:
// inlines the call and repeats while the body's result is directly the
// output of a deeper submodule's call. Calls of a module's own methods
// (e.g. self._forward_impl, Conv2d's _conv_forward) are inlined on the way.
struct Producer {
  ModulePath module;
  std::vector<Value*> inputs;
};
std::optional<Producer> InnermostProducer(Graph& graph, Value* value) {
  std::optional<Producer> found;
  Node* call = BackToCall(value);
  while (call && call->kind() == c10::prim::CallMethod) {
    auto module = SubmodulePathOf(call->input(0), graph.inputs()[0]);
    if (!module) break;
    if (call->s(c10::attr::name) == "forward" && !module->empty()) {
      found = Producer{*module, {}};
      for (Value* input : call->inputs()) {
        if (IsTensor(input)) found->inputs.push_back(input);
      }
    }
    value = InlineCall(call)[0];
    call = found ? value->node() : BackToCall(value);
  }
  return found;
}

void CollectPaths(const torch::jit::Module& module, const std::string& prefix,
                  std::vector<std::string>* out) {
  for (const auto& child : module.named_children()) {
    std::string path = prefix.empty() ? child.name : prefix + "." + child.name;
    out->push_back(path);
    CollectPaths(child.value, path, out);
  }
}

}  // namespace

std::vector<std::string> SubmodulePaths(const torch::jit::Module& model) {
  std::vector<std::string> paths;
  CollectPaths(model, "", &paths);
  return paths;
}

StatusOr<ActivationTap> ActivationTap::Create(const torch::jit::Module& model,
                                              const std::string& path) {
  std::vector<std::string> valid = SubmodulePaths(model);
  if (std::find(valid.begin(), valid.end(), path) == valid.end()) {
    std::string names;
    for (const auto& p : valid) names += (names.empty() ? "" : ", ") + p;
    return Status::InvalidArgument("model has no submodule '" + path +
                                   "' (submodules: " + (names.empty() ? "none" : names) + ")");
  }
  if (!model.find_method("forward")) return Status::InvalidArgument("model has no forward method");
  try {
    const torch::jit::Method forward = model.get_method("forward");
    std::shared_ptr<Graph> graph = forward.graph()->copy();
    TM_ASSIGN_OR_RETURN(Node * call, TappedCall(*graph, path));
    // The copy returns (forward's output, the submodule's output).
    torch::jit::WithInsertPoint guard(graph->return_node());
    Node* pair = graph->insertNode(graph->createTuple({graph->outputs()[0], call->output()}));
    graph->return_node()->replaceInput(0, pair->output());
    auto function = std::make_shared<torch::jit::GraphFunction>(
        c10::QualifiedName("__tracemark__.tap." + path), graph, nullptr);
    function->setSchema(forward.function().getSchema().cloneWithReturns(
        {c10::Argument("", pair->output()->type())}));
    return ActivationTap(model, path, std::move(function));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("cannot tap submodule " + path + ": " + ExceptionLine(e));
  }
}

StatusOr<TapOutput> ActivationTap::Forward(const torch::Tensor& input) const {
  c10::IValue result;
  try {
    result = (*function_)({model_._ivalue(), input});
  } catch (const std::exception& e) {
    return Status::InvalidArgument("model rejected input of shape " + c10::str(input.sizes()) +
                                   ": " + ExceptionLine(e));
  }
  const auto& pair = result.toTupleRef().elements();
  if (!pair[0].isTensor()) {
    return Status::InvalidArgument("model returned " + pair[0].tagKind() + ", expected one tensor");
  }
  return TapOutput{pair[0].toTensor(), pair[1].toTensor()};
}

StatusOr<std::string> DefaultTapLayer(const torch::jit::Module& model) {
  if (!model.find_method("forward")) return Status::InvalidArgument("model has no forward method");
  auto no_default = [](const std::string& why) {
    return Status::InvalidArgument("no default layer to tap: " + why + "; name a layer");
  };
  try {
    std::shared_ptr<Graph> graph = model.get_method("forward").graph()->copy();
    if (graph->outputs().size() != 1 || !IsTensor(graph->outputs()[0])) {
      return no_default("forward does not return one tensor");
    }
    std::optional<Producer> head = InnermostProducer(*graph, graph->outputs()[0]);
    if (!head) return no_default("forward's output is not computed by a submodule");
    if (head->inputs.size() != 1) {
      return no_default("the head " + Join(head->module) + " takes " +
                        std::to_string(head->inputs.size()) + " tensors");
    }
    std::optional<Producer> features = InnermostProducer(*graph, head->inputs[0]);
    if (!features) {
      return no_default("the input of the head " + Join(head->module) +
                        " is not computed by a submodule");
    }
    return Join(features->module);
  } catch (const std::exception& e) {
    return no_default(ExceptionLine(e));
  }
}

}  // namespace tracemark
