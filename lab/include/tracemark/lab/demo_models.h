// Architectures the project builds itself as TorchScript (no Python): the
// demo CNN and MLP for Fashion-MNIST. Parameters are initialised like PyTorch's
// defaults (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) from `seed`.
#pragma once

#include <torch/script.h>

#include <cstdint>

namespace tracemark {

// conv1(1->16, 3x3) relu maxpool2, conv2(16->32, 3x3) relu maxpool2,
// fc1(1568->128) relu, fc2(128->10). Input [N, 1, 28, 28].
torch::jit::Module MakeDemoCnn(uint64_t seed);

// The MLP of tests/python/make_mlp.py built in C++: flatten,
// fc1(784->256) relu, fc2(256->128) relu, head(128->10).
torch::jit::Module MakeDemoMlp(uint64_t seed);

// The demo denoiser (tracemark/image_task.h): `layers` 3x3 convolutions
// (1->c, c->c, ..., c->1, relu between) predicting the noise, which is
// subtracted from the input: forward(x) = x - net(x). Input and output
// [N, 1, H, W]. Defaults: 4 layers, 16 channels (7k parameters).
torch::jit::Module MakeDemoDenoiser(uint64_t seed, int64_t channels = 16, int layers = 4);

// An attacker's image-to-image surrogate, unlike the demo denoiser (3x3
// stack, residual) and the barrier's stage-2 surrogates: conv 5x5 (1->32),
// a dilated 3x3 (dilation 2), conv 3x3, then a 1x1 to the image, no
// residual. Initialised from LibTorch's global generator seeded with `seed`.
torch::jit::Module MakeAttackerSurrogate(uint64_t seed);

}  // namespace tracemark
