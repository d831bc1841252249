"""GGUF metadata completeness: tailor's logits from a GGUF equal transformers' on the same weights.

For each case transformers builds a tiny random model offline; the test writes a GGUF from it with
gguf-py the way llama.cpp's convert_hf_to_gguf.py does (tensor names from gguf-py's tensor map, the
keys that converter class writes, llama's Q/K row permutation, Gemma's norms stored as 1 + w, Phi-3's
rope_factors_long/short tensors), and tailor (models_probe) loads the .gguf. Checked: fp32 logits
max |Δ| <= 1e-4 against transformers on a right-padded batch and one long row. Cases:
  llama    llama3 rope, stored as rope_freqs.weight divisors
  mistral  sliding window 8 over 40 tokens: the converter writes `llama`; the window is
           llama.attention.sliding_window (what gguf-py's add_sliding_window and tailor's exporter write)
  gemma2   softcapping and sliding window from GGUF; query_pre_attn_scalar is not stored: llama.cpp uses
           head_dim, and hidden/heads for the 46-layer model (gemma-2-27b): one case of each
  gemma3   6 layers (every 6th full), linear rope on full layers, local layers at rope.freq_base_swa
           without the scaling (llama.cpp's *_swa rope)
  phi3     longrope: short factors (<= original context) and long factors (a 160-token row), with the
           attention factor the converter computes; sliding window 0 (none) and 16
Usage: test_gguf_parity.py MODELS_PROBE
"""
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from test_parity_transformers import probe, randomize  # noqa: E402

import gguf  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

TOL = 1e-4
COMMON = dict(hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=512, vocab_size=211)


def llama_permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, arch, model, config, extra_keys, extra_tensors=()):
    """The converter's common keys plus `extra_keys(writer)`, tensors renamed by gguf-py's map."""
    arch_id = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch)
    names = gguf.get_tensor_name_map(arch_id, config.num_hidden_layers)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    extra_keys(w)
    for name, tensor in model.state_dict().items():
        data = tensor.detach().float()
        if arch == "llama" and name.endswith("q_proj.weight"):
            data = llama_permute(data, config.num_attention_heads)
        if arch == "llama" and name.endswith("k_proj.weight"):
            data = llama_permute(data, config.num_key_value_heads)
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            data = data + 1
        if arch.startswith("gemma") and name == "lm_head.weight":
            continue  # tied; the converter skips it
        new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise AssertionError(f"gguf-py has no name for {name}")
        w.add_tensor(new_name, data.numpy().astype(np.float32))
    for name, values in extra_tensors:
        w.add_tensor(name, np.asarray(values, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_case():
    config = transformers.LlamaConfig(**COMMON, num_hidden_layers=2, rope_theta=500000.0, tie_word_embeddings=False,
                                      rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0, original_max_position_embeddings=32))
    head_dim = config.hidden_size // config.num_attention_heads

    def rope_freqs():  # convert_hf_to_gguf.py LlamaModel.generate_extra_tensors
        base, factor, old = 500000.0, 8.0, 32
        freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        out = []
        for f in freqs:
            wavelen = 2 * math.pi / f
            if wavelen < old / 4.0:
                out.append(1)
            elif wavelen > old / 1.0:
                out.append(factor)
            else:
                smooth = (old / wavelen - 1.0) / (4.0 - 1.0)
                out.append(1 / ((1 - smooth) / factor + smooth))
        return out

    def keys(w):
        w.add_rope_freq_base(500000.0)
        w.add_rope_dimension_count(head_dim)
    return "llama", transformers.LlamaForCausalLM, config, keys, [("rope_freqs.weight", rope_freqs())], 40


def mistral_case():
    config = transformers.MistralConfig(**COMMON, num_hidden_layers=2, sliding_window=8, tie_word_embeddings=False)

    def keys(w):
        w.add_rope_freq_base(config.rope_parameters["rope_theta"])
        w.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
        w.add_sliding_window(8)
    return "llama", transformers.MistralForCausalLM, config, keys, [], 40


def gemma2_case(layers, scalar_from_hidden):
    head_dim = 32
    scalar = COMMON["hidden_size"] // COMMON["num_attention_heads"] if scalar_from_hidden else head_dim
    config = transformers.Gemma2Config(**COMMON, num_hidden_layers=layers, head_dim=head_dim, sliding_window=8,
                                       query_pre_attn_scalar=scalar, attn_logit_softcapping=5.0,
                                       final_logit_softcapping=20.0)

    def keys(w):  # convert_hf_to_gguf.py Gemma2Model.set_gguf_parameters
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
        w.add_attn_logit_softcapping(5.0)
        w.add_final_logit_softcapping(20.0)
        w.add_sliding_window(8)
    return "gemma2", transformers.Gemma2ForCausalLM, config, keys, [], 40


def gemma3_case():
    config = transformers.Gemma3TextConfig(**COMMON, num_hidden_layers=6, head_dim=32, sliding_window=8,
                                           query_pre_attn_scalar=32, final_logit_softcapping=20.0,
                                           rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0,
                                                                               "rope_theta": 1000000.0},
                                                            "sliding_attention": {"rope_type": "default",
                                                                                  "rope_theta": 10000.0}})

    def keys(w):  # TextModel.set_gguf_parameters + Gemma3Model.set_gguf_parameters
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(2.0)
        w.add_rope_freq_base(1000000.0)
        w.add_rope_freq_base_swa(10000.0)
        w.add_key_length(32)
        w.add_value_length(32)
        w.add_final_logit_softcapping(20.0)
        w.add_sliding_window(8)
    return "gemma3", transformers.Gemma3ForCausalLM, config, keys, [], 40


def phi3_case(sliding_window):
    short = [1.0 + 0.1 * i for i in range(4)]
    long = [2.0 + 0.5 * i for i in range(4)]
    config = transformers.Phi3Config(**COMMON, num_hidden_layers=2, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                     partial_rotary_factor=0.5, original_max_position_embeddings=128,
                                     sliding_window=sliding_window,
                                     rope_scaling=dict(rope_type="longrope", short_factor=short, long_factor=long))
    n_embd, n_head, original = config.hidden_size, config.num_attention_heads, 128

    def keys(w):  # convert_hf_to_gguf.py Phi3MiniModel
        scale = config.max_position_embeddings / original
        w.add_rope_scaling_orig_ctx_len(original)
        w.add_rope_dimension_count(int(0.5 * n_embd) // n_head)
        w.add_rope_freq_base(10000.0)
        w.add_sliding_window(sliding_window or 0)
        w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(original)))
    return "phi3", transformers.Phi3ForCausalLM, config, keys, [("rope_factors_long.weight", long),
                                                                 ("rope_factors_short.weight", short)], 160


CASES = {
    "llama_llama3_rope": llama_case,
    "mistral_sliding_window": mistral_case,
    "gemma2_head_dim_scalar": lambda: gemma2_case(3, scalar_from_hidden=False),
    "gemma2_27b_layout_scalar": lambda: gemma2_case(46, scalar_from_hidden=True),
    "gemma3_local_rope_linear": gemma3_case,
    "phi3_longrope": lambda: phi3_case(None),
    "phi3_longrope_sliding_16": lambda: phi3_case(16),
}


def check(name, make, tmp):
    arch, cls, config, keys, extra_tensors, long_len = make()
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = cls(config).eval()
    randomize(model, gemma_norms=arch.startswith("gemma"))
    path = Path(tmp) / f"{name}.gguf"
    write_gguf(path, arch, model, config, keys, extra_tensors)

    gen = torch.Generator().manual_seed(3)
    lengths = [24, 13]
    ids = torch.zeros(2, 24, dtype=torch.long)
    mask = torch.zeros(2, 24, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, config.vocab_size, (n,), generator=gen)
        mask[b, :n] = 1
    long_row = torch.randint(3, config.vocab_size, (1, long_len), generator=gen)
    with torch.no_grad():
        ref_padded = model(input_ids=ids, attention_mask=mask).logits.numpy()
        ref_long = model(input_ids=long_row).logits.numpy()
    out = Path(tmp) / f"out_{name}"
    out.mkdir()
    got, _ = probe({"model": str(path), "dtype": "float32",
                    "batches": [{"name": "padded", "input_ids": ids.tolist(), "attention_mask": mask.tolist()},
                                {"name": "long", "input_ids": long_row.tolist()}]}, out)
    padded = max(float(np.abs(got["padded"][b, :n] - ref_padded[b, :n]).max()) for b, n in enumerate(lengths))
    long = float(np.abs(got["long"] - ref_long).max())
    print(f"{name:28s} GGUF vs transformers fp32 max|Δ| padded {padded:.2e}, {long_len}-token row {long:.2e}"
          f"  (|logits| max {np.abs(ref_long).max():.1f})")
    if not (padded <= TOL and long <= TOL):
        return [f"{name}: max |Δ| padded {padded:.3g}, long {long:.3g} > {TOL}"]
    return []


def main():
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in CASES.items():
            problems += check(name, make, tmp)
    harness.expect(not problems, "\n".join(problems))
    print(f"GGUF parity OK for {len(CASES)} cases")


if __name__ == "__main__":
    main()
