// Test driver for the parity scripts: loads a model with tailor, runs the batches described in a JSON
// request, writes each batch's logits as raw little-endian float32 ([B, T, V]) and prints a JSON
// summary (shapes, greedy generations). The scripts compare these against transformers / llama.cpp.
//
//   models_probe REQUEST.json OUT_DIR
//   models_probe --architectures      (the registry as JSON)
//   request: {"model": PATH, "dtype": "float32"|"bfloat16",
//             "batches": [{"name": "padded", "input_ids": [[..]], "attention_mask": [[..]]},
//                         {"name": "packed", "input_ids": [[..]], "cu_seqlens": [[0, 5, 12]]}],
//             "generate": [{"prompt": [..], "max_new_tokens": 32}]}
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/generator.h"
#include "models/model_loader.h"

using nlohmann::json;
using namespace tailor::models;

namespace {

at::Tensor matrix(const json& rows) {
  std::vector<int64_t> flat;
  for (const auto& row : rows)
    for (const auto& x : row) flat.push_back(x.get<int64_t>());
  const int64_t b = int64_t(rows.size());
  return at::tensor(flat, at::kLong).view({b, b ? int64_t(flat.size()) / b : 0});
}

int run(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--architectures") {  // the registry, for tests that iterate it
    json names = json::array();
    for (const ArchSpec* spec : all_architectures()) names.push_back({{"name", spec->name}, {"hf", spec->hf_architectures}});
    std::cout << names.dump() << "\n";
    return 0;
  }
  if (argc != 3) {
    std::cerr << "usage: models_probe REQUEST.json OUT_DIR\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  json request = json::parse(in);
  const std::string out_dir = argv[2];
  LoadOptions options;
  options.dtype = request.value("dtype", "float32") == "bfloat16" ? at::kBFloat16 : at::kFloat;
  CausalLM model = load_causal_lm(request.at("model").get<std::string>(), options);
  torch::NoGradGuard no_grad;

  json summary = {{"batches", json::object()}, {"generations", json::array()}};
  for (const auto& batch : request.value("batches", json::array())) {
    at::Tensor ids = matrix(batch.at("input_ids"));
    SequenceLayout layout;
    if (batch.contains("attention_mask")) layout.attention_mask = matrix(batch.at("attention_mask"));
    if (batch.contains("cu_seqlens"))
      layout = packed_layout(batch.at("cu_seqlens").get<std::vector<std::vector<int64_t>>>(), ids.size(1));
    at::Tensor logits = model->forward(ids, layout).to(at::kFloat).contiguous();
    const std::string name = batch.at("name").get<std::string>();
    std::ofstream out(out_dir + "/" + name + ".f32", std::ios::binary);
    out.write(reinterpret_cast<const char*>(logits.data_ptr<float>()), std::streamsize(logits.numel() * 4));
    summary["batches"][name] = logits.sizes().vec();
  }
  for (const auto& g : request.value("generate", json::array())) {
    SamplingOptions sampling;
    sampling.max_new_tokens = g.value("max_new_tokens", 32);
    GenerationResult result = generate(*model, g.at("prompt").get<std::vector<int64_t>>(), sampling);
    summary["generations"].push_back(result.tokens);
  }
  std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const tailor::InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 1;
  }
}
