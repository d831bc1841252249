// The LibTorch headers nearly every torch-using file needs; precompiled once and shared.
// Narrow on purpose: ATen and the nn module base, never <torch/torch.h>.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/csrc/autograd/custom_function.h>
