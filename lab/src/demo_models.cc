#include "tracemark/lab/demo_models.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace tracemark {
namespace {

torch::Tensor Uniform(std::vector<int64_t> shape, double bound, torch::Generator& gen) {
  return torch::rand(shape, gen).mul_(2 * bound).sub_(bound);
}

torch::jit::Module MakeLayer(const std::string& class_name, std::vector<int64_t> weight_shape,
                             const std::string& forward, torch::Generator& gen) {
  torch::jit::Module layer(class_name);
  int64_t fan_in = 1;
  for (size_t i = 1; i < weight_shape.size(); ++i) fan_in *= weight_shape[i];
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  layer.register_parameter("weight", Uniform(weight_shape, bound, gen), false);
  layer.register_parameter("bias", Uniform({weight_shape[0]}, bound, gen), false);
  layer.define(forward);
  return layer;
}

torch::jit::Module Conv3x3(const std::string& name, int64_t in, int64_t out,
                           torch::Generator& gen) {
  return MakeLayer(name, {out, in, 3, 3},
                   "def forward(self, x):\n"
                   "    return torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1])\n",
                   gen);
}

torch::jit::Module Linear(const std::string& name, int64_t in, int64_t out, torch::Generator& gen) {
  return MakeLayer(name, {out, in},
                   "def forward(self, x):\n"
                   "    return torch.linear(x, self.weight, self.bias)\n",
                   gen);
}

}  // namespace

torch::jit::Module MakeDemoCnn(uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  torch::jit::Module net("DemoCnn");
  net.register_module("conv1", Conv3x3("Conv1", 1, 16, gen));
  net.register_module("conv2", Conv3x3("Conv2", 16, 32, gen));
  net.register_module("fc1", Linear("Fc1", 32 * 7 * 7, 128, gen));
  net.register_module("fc2", Linear("Fc2", 128, 10, gen));
  net.define(
      "def forward(self, x):\n"
      "    x = torch.max_pool2d(torch.relu(self.conv1.forward(x)), [2, 2])\n"
      "    x = torch.max_pool2d(torch.relu(self.conv2.forward(x)), [2, 2])\n"
      "    x = torch.relu(self.fc1.forward(torch.flatten(x, 1)))\n"
      "    return self.fc2.forward(x)\n");
  net.eval();
  return net;
}

torch::jit::Module MakeDemoMlp(uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  torch::jit::Module net("DemoMlp");
  net.register_module("fc1", Linear("Fc1", 28 * 28, 256, gen));
  net.register_module("fc2", Linear("Fc2", 256, 128, gen));
  net.register_module("head", Linear("Head", 128, 10, gen));
  net.define(
      "def forward(self, x):\n"
      "    x = torch.relu(self.fc1.forward(torch.flatten(x, 1)))\n"
      "    x = torch.relu(self.fc2.forward(x))\n"
      "    return self.head.forward(x)\n");
  net.eval();
  return net;
}

torch::jit::Module MakeDemoDenoiser(uint64_t seed, int64_t channels, int layers) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  torch::jit::Module net("DemoDenoiser");
  layers = std::max(layers, 2);
  std::string body = "def forward(self, x):\n    h = x\n";
  for (int i = 0; i < layers; ++i) {
    const int64_t in = i == 0 ? 1 : channels, out = i == layers - 1 ? 1 : channels;
    const std::string name = "conv" + std::to_string(i + 1);
    net.register_module(name, Conv3x3("Conv" + std::to_string(i + 1), in, out, gen));
    body += "    h = self." + name + ".forward(h)\n";
    if (i < layers - 1) body += "    h = torch.relu(h)\n";
  }
  body += "    return x - h\n";
  net.define(body);
  net.eval();
  return net;
}

torch::jit::Module MakeAttackerSurrogate(uint64_t seed) {
  torch::manual_seed(seed);
  torch::jit::Module m("AttackerSurrogate");
  auto conv = [&](const std::string& name, int64_t in, int64_t out, int64_t k) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in * k * k));
    m.register_parameter(name + "_w", (torch::rand({out, in, k, k}) * 2 - 1) * bound, false);
    m.register_parameter(name + "_b", (torch::rand({out}) * 2 - 1) * bound, false);
  };
  conv("a", 1, 32, 5);
  conv("b", 32, 32, 3);
  conv("c", 32, 32, 3);
  conv("d", 32, 1, 1);
  m.define(
      "def forward(self, x):\n"
      "    h = torch.relu(torch.conv2d(x, self.a_w, self.a_b, [1, 1], [2, 2]))\n"
      "    h = torch.relu(torch.conv2d(h, self.b_w, self.b_b, [1, 1], [2, 2], [2, 2]))\n"
      "    h = torch.relu(torch.conv2d(h, self.c_w, self.c_b, [1, 1], [1, 1]))\n"
      "    return torch.conv2d(h, self.d_w, self.d_b, [1, 1], [0, 0])\n");
  return m;
}

}  // namespace tracemark
