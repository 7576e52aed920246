// Small TorchScript models for unit tests.
#pragma once

#include <torch/script.h>

namespace tracemark::testing {

// linear(4 -> 2) with weight ones and bias zeros: an architecture unlike the
// demo CNN.
inline torch::jit::Module MakeTinyLinear() {
  torch::jit::Module m("TinyLinear");
  m.register_parameter("weight", torch::ones({2, 4}), false);
  m.register_parameter("bias", torch::zeros({2}), false);
  m.define(
      "def forward(self, x):\n"
      "    return torch.linear(x, self.weight, self.bias)\n");
  return m;
}

}  // namespace tracemark::testing
