#include "train/memory_estimate.h"

#include <algorithm>
#include <iomanip>
#include <memory>
#include <sstream>

#include "formats/gguf.h"
#include "models/gguf_linear.h"
#include "models/model_loader.h"
#include "models/tensor_inventory.h"
#include "train/attach_lora.h"

namespace tailor::train {
namespace {

// NF4 as bitsandbytes stores it: 4 bits a weight, one uint8 absmax per block of 64, one fp32 absmax per
// 256 blocks.
double nf4_bytes(int64_t n) { return n / 2.0 + n / 64.0 + 4.0 * n / (64.0 * 256.0); }

std::string count_text(int64_t n) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << n / 1e6 << "M";
  return out.str();
}

}  // namespace

int64_t MemoryEstimate::total_bytes() const {
  int64_t total = 0;
  for (const auto& c : components) total += c.bytes;
  return total;
}

MemoryEstimate estimate_memory(const Recipe& recipe, const models::ModelConfig& config, int64_t tokens_per_row) {
  const bool bf16 = recipe.train.dtype == "bfloat16";
  const int64_t dtype_bytes = bf16 ? 2 : 4;
  const int64_t r = recipe.lora.r;
  const int64_t C = config.hidden_size, F = config.intermediate_size, L = config.num_layers;
  const int64_t HD = config.num_heads * config.head_dim, KVD = config.num_kv_heads * config.head_dim;

  const auto linears = models::linear_layers(config);
  std::vector<std::string> paths;
  for (const auto& info : linears) paths.push_back(info.module);
  const auto targets = lora::select_lora_targets(adapter_config_for(recipe), paths);
  // lora.quantize: gguf keeps the file's own blocks: their sizes come from its tensor table.
  std::unique_ptr<formats::GgufFile> gguf;
  if (recipe.lora.quantize == "gguf" && models::is_gguf_path(recipe.model))
    gguf = std::make_unique<formats::GgufFile>(recipe.model);
  int64_t target_weights = 0, target_count = 0, lora_params = 0, dense_params = 0, gguf_bytes = 0;
  for (const auto& info : linears) {
    const int64_t n = info.in_features * info.out_features;
    if (recipe.lora.full_finetune || std::find(targets.begin(), targets.end(), info.module) == targets.end()) continue;
    if (gguf) gguf_bytes += int64_t(models::gguf_linear_weight(config, *gguf, info.module).tensor->nbytes);
    target_weights += n;
    ++target_count;
    lora_params += r * (info.in_features + info.out_features) + (recipe.lora.dora ? info.out_features : 0);
  }
  for (const auto& t : models::model_tensors(config)) {
    int64_t n = 1;
    for (auto d : t.shape) n *= d;
    dense_params += n;
  }
  dense_params -= target_weights;
  int64_t copies = 0;
  for (const auto& name : recipe.lora.modules_to_save)
    if (name.find("embed_tokens") != std::string::npos || name.find("lm_head") != std::string::npos)
      copies += config.vocab_size * C;

  MemoryEstimate e;
  const bool nf4 = recipe.lora.quantize == "nf4";
  if (recipe.lora.full_finetune) {
    e.trainable_parameters = dense_params;
    e.components.push_back({"weights (all trainable)", dense_params * dtype_bytes, count_text(dense_params) + " " + recipe.train.dtype});
  } else {
    e.trainable_parameters = lora_params + copies;
    e.components.push_back({"base weights (LoRA targets)",
                            gguf  ? gguf_bytes
                            : nf4 ? int64_t(nf4_bytes(target_weights))
                                  : target_weights * dtype_bytes,
                            std::to_string(target_count) + " linear weights, " + count_text(target_weights) + ", " +
                                (gguf  ? std::string("GGUF blocks as stored (mapped)")
                                 : nf4 ? std::string("nf4 (4.13 bits)")
                                       : recipe.train.dtype)});
    e.components.push_back({"base weights (other)", dense_params * dtype_bytes,
                            count_text(dense_params) + " (embeddings, norms, untargeted) " + recipe.train.dtype});
    e.components.push_back({"adapter", lora_params * 4 + copies * dtype_bytes,
                            count_text(lora_params) + " LoRA r=" + std::to_string(r) + " float32" +
                                (copies ? " + " + count_text(copies) + " module copies" : "")});
  }
  const int64_t trainable_bytes = e.components.back().bytes;
  e.components.push_back({"gradients", trainable_bytes, "one per trainable parameter"});
  e.components.push_back({"optimizer", 2 * e.trainable_parameters * 4, "AdamW exp_avg + exp_avg_sq, float32"});

  // Saved for backward, per token and layer: norm inputs (2C), the normed inputs the projections share
  // (2C), q k v after RoPE and the attention output (2 HD + 2 KVD), the MLP's gate and up (2F; the
  // activation is recomputed), in the compute dtype; plus 7 rank-r products (float32).
  const int64_t N = int64_t(recipe.train.batch_size) * tokens_per_row;
  const int64_t per_layer = N * ((4 * C + 2 * HD + 2 * KVD + 2 * F) * dtype_bytes + 7 * r * 4);
  const int64_t layers = recipe.train.activation_checkpointing ? N * C * dtype_bytes * L + per_layer : per_layer * L;
  e.components.push_back({"activations", layers,
                          std::to_string(recipe.train.batch_size) + " x " + std::to_string(tokens_per_row) + " tokens, " +
                              (recipe.train.activation_checkpointing ? "checkpointed: layer inputs + one layer"
                                                                     : "every layer")});
  // Fused linear + cross-entropy: one chunk of about 2^26 float32 logits, and its gradient in backward.
  const int64_t logits = std::min<int64_t>(N * config.vocab_size, int64_t(1) << 26);
  e.components.push_back({"loss (logit chunk)", 2 * logits * 4, "fused lm_head + cross-entropy, float32"});
  return e;
}

}  // namespace tailor::train
