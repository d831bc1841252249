// One declarative table per architecture: every tensor's Hugging Face and GGUF name, which linear
// layers exist (and are LoRA targets), the norms and what they do, biases, rope and attention quirks.
// The config parser, the decoder, the weight loader, LoRA targeting and the exporters all read these
// tables; adding an architecture is one entry in architectures.cpp.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tailor::models {

// Sizes a tensor dimension can take, resolved against a ModelConfig (see linear_layers.h).
enum class Dim {
  Hidden,        // hidden_size
  QueryOut,      // heads * head_dim
  KeyValueOut,   // kv_heads * head_dim
  FusedQkvOut,   // (heads + 2 kv_heads) * head_dim (phi3 qkv_proj)
  Intermediate,  // intermediate_size
  FusedGateUpOut,  // 2 * intermediate_size (phi3 gate_up_proj)
  HeadDim,       // head_dim (q_norm / k_norm)
  Vocab,         // vocab_size
};

// Which config flag decides whether a linear layer has a bias.
enum class BiasRule { Never, Always, AttentionBias, MlpBias };

// What a linear layer computes inside the block; the decoder wires layers by role, never by name.
enum class LinearRole { Query, Key, Value, FusedQkv, Output, Gate, Up, FusedGateUp, Down };

struct LinearSpec {
  LinearRole role;
  std::string module;  // HF module path inside a layer: "self_attn.q_proj"
  std::string gguf;    // GGUF tensor stem inside a block: "attn_q" (blk.N.attn_q.weight)
  Dim in, out;
  BiasRule bias;
  bool lora_target;  // part of the default LoRA target set ("all linear" minus lm_head)
};

enum class NormRole {
  BeforeAttention,   // input_layernorm
  AfterAttention,    // applied to the attention output before the residual add (gemma2/3)
  BeforeMlp,         // llama's post_attention_layernorm, gemma's pre_feedforward_layernorm
  AfterMlp,          // applied to the MLP output before the residual add (gemma2/3)
  QueryHeads,        // per-head norm of Q before rope (qwen3, gemma3)
  KeyHeads,          // per-head norm of K before rope
};

struct NormSpec {
  NormRole role;
  std::string module;  // "input_layernorm", "self_attn.q_norm"
  std::string gguf;    // "attn_norm"
  Dim dim;
};

enum class NormKind { Weight, OnePlusWeight };  // y = w * x̂  or  y = (1 + w) * x̂ (Gemma)
enum class Activation { Silu, GeluTanh };       // gate activation of the gated MLP

// Which layers use sliding-window attention when the config has a window but no `layer_types`.
enum class SlidingLayers {
  None,            // the architecture has no sliding window
  All,             // every layer (mistral, phi3) when `sliding_window` is set
  Even,            // layers 0, 2, 4, ... (gemma2)
  AllButEveryNth,  // (i + 1) % sliding_window_pattern != 0 (gemma3, pattern 6)
  FromMaxWindowLayers,  // i >= max_window_layers when use_sliding_window (qwen2)
};

// How GGUF stores q/k rows for this architecture (formats.md §4.9).
enum class GgufRope { NeoX, LlamaPermuted };

struct ArchSpec {
  std::string name;                            // registry key: "llama"
  std::vector<std::string> hf_architectures;   // config.json "architectures": "LlamaForCausalLM"
  std::vector<std::string> model_types;        // config.json "model_type": "llama"
  std::vector<std::string> gguf_architectures;  // general.architecture values this table reads

  // Whole-model tensors (HF name, GGUF name).
  std::string embed_tokens = "model.embed_tokens.weight", gguf_embed_tokens = "token_embd.weight";
  std::string final_norm = "model.norm.weight", gguf_final_norm = "output_norm.weight";
  std::string lm_head = "lm_head.weight", gguf_lm_head = "output.weight";
  std::string layer_prefix = "model.layers.", gguf_layer_prefix = "blk.";

  std::vector<LinearSpec> linears;  // per layer, in HF state_dict order
  std::vector<NormSpec> norms;      // per layer

  NormKind norm_kind = NormKind::Weight;
  Activation activation = Activation::Silu;
  bool scale_embeddings = false;          // embeddings × sqrt(hidden), the scalar rounded to the activation dtype
  bool attention_scale_from_config = false;  // scale = query_pre_attn_scalar^-0.5 instead of head_dim^-0.5
  bool has_softcapping = false;           // reads attn_logit_softcapping / final_logit_softcapping
  bool separate_sliding_rope = false;     // sliding layers use their own rope (gemma3 rope_local_base_freq)
  SlidingLayers sliding_layers = SlidingLayers::None;
  GgufRope gguf_rope = GgufRope::NeoX;
  bool gguf_norms_store_one_plus = false;  // GGUF stores 1 + w for OnePlusWeight norms
  // The table a GGUF of this architecture means when it carries attention.sliding_window
  // (llama.cpp writes Mistral as `llama`).
  std::string gguf_sliding_variant;
  // GGUF has no query_pre_attn_scalar: llama.cpp uses head_dim, or hidden_size / heads for the
  // model with this many layers (Gemma 2/3 27B).
  std::optional<int64_t> gguf_scalar_from_hidden_layers;

  // Defaults applied when config.json leaves the key out (the transformers config class defaults).
  double default_rope_theta = 10000.0;
  double default_sliding_rope_theta = 10000.0;
  bool default_tie_embeddings = false;
  double default_rms_norm_eps = 1e-6;
  int default_sliding_window_pattern = 6;
  std::optional<int> default_head_dim;          // otherwise hidden_size / heads
  std::optional<int> default_sliding_window;    // when config.json has no `sliding_window` key
  std::optional<double> default_attn_softcap, default_final_softcap;
  double default_query_pre_attn_scalar = 256;

  const LinearSpec* find_linear(LinearRole role) const;
  const NormSpec* find_norm(NormRole role) const;
};

// Every registered architecture, in a stable order (tests iterate this).
std::span<const ArchSpec* const> all_architectures();

// "llama, mistral, ..." for error messages.
std::string supported_architectures();

// Lookup by registry name, HF class name ("Qwen2ForCausalLM"), model_type or GGUF architecture.
const ArchSpec* find_architecture(std::string_view name);

// As find_architecture, but throws InputError naming `what` and listing the supported architectures.
const ArchSpec& require_architecture(std::string_view name, std::string_view what);

}  // namespace tailor::models
