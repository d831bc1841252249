// One model configuration, whether it came from an HF config.json or from GGUF metadata.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/arch_spec.h"

namespace tailor::models {

inline constexpr int64_t kMaxLayers = 1024;

enum class RopeType { Default, Linear, Llama3, Yarn, LongRope };

// RoPE parameters (transformers' rope_parameters, formats.md §2.3).
struct RopeParams {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;           // llama3, yarn, longrope
  std::optional<double> attention_factor;                  // yarn, longrope
  double beta_fast = 32.0, beta_slow = 1.0;                // yarn
  std::optional<double> mscale, mscale_all_dim;            // yarn
  bool truncate = true;                                    // yarn
  std::vector<double> short_factor, long_factor;           // longrope
  // GGUF llama3 models carry precomputed divisors (rope_freqs.weight) instead of the parameters.
  std::vector<float> frequency_divisors;
};

struct ModelConfig {
  const ArchSpec* arch = nullptr;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;

  RopeParams rope;          // full-attention layers (all layers unless arch->separate_sliding_rope)
  RopeParams sliding_rope;  // sliding layers when arch->separate_sliding_rope

  std::optional<int64_t> sliding_window;  // tokens a query may look back, itself included
  std::vector<bool> layer_is_sliding;     // per layer
  std::optional<double> attn_logit_softcapping, final_logit_softcapping;
  double attention_scale = 0;  // multiplies q·k; head_dim^-0.5 unless the architecture says otherwise

  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;  // "bfloat16", "float32", ... ("" if unknown)

  int64_t rotary_dim() const;  // head_dim × partial_rotary_factor
  const RopeParams& rope_for_layer(int64_t layer) const;

  // Checks sizes are positive and consistent; throws InputError naming `source`.
  void validate(const std::string& source) const;
};

// hidden_size / num_heads, the head size when a config does not give one; InputError naming `source`
// when the heads do not divide the hidden size.
int64_t head_dim_from_hidden(int64_t hidden_size, int64_t num_heads, const std::string& source);

// Parses an HF config.json (legacy rope_theta/rope_scaling or transformers v5 rope_parameters).
// Throws InputError naming the file and key; an unknown architecture lists the supported ones.
ModelConfig load_hf_config(const std::filesystem::path& config_json);
ModelConfig parse_hf_config(const std::string& json_text, const std::string& source);

// Adds every id of generation_config.json's eos_token_id (if the file exists) to the stop ids.
void merge_generation_config(ModelConfig& config, const std::filesystem::path& generation_config_json);

}  // namespace tailor::models
