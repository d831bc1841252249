"""Q4_K_M / Q5_K_M exports: the per-tensor types are llama-quantize's, and each tensor quantizes like llama.cpp.

llama_model_quantize is not exported by xllamacpp (and llama-cpp-python would compile llama.cpp), so the
expected types come from `llama_quantize_types` below: a transcription of llama.cpp's
src/llama-quant.cpp (tensor_allows_quantization, llama_tensor_get_type_impl for the K_M mixes,
tensor_type_fallback, the weights_map order the layer counters run in), applied to the F32 export of the
same model. Models: SmolLM2-135M (tied embeddings, hidden 576 so most rows fall back to Q5_0/Q5_1/Q8_0,
30 layers) and a tiny untied Phi-3 (hidden 256: real K-quants, a fused attn_qkv) built by transformers.
For every tensor: our type == llama.cpp's; the RMSE of our blocks against the F32 values is within 1% of
the RMSE of llama.cpp's own quantizer (ggml_quantize_chunk, no importance matrix) on the same tensor.
Usage: test_kquant_mix.py
"""
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import llama_cpp  # noqa: E402

BLOCK = {"Q4_K": 256, "Q5_K": 256, "Q6_K": 256, "Q5_0": 32, "Q5_1": 32, "Q8_0": 32, "Q4_0": 32}
FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
UNQUANTIZED_PARTS = ["_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d", "time_mix_first.weight",
                     "attn_rel_b.weight", "position_embd", "token_types"]


def layer_of(name):
    m = re.match(r"blk\.(\d+)\.", name)
    return int(m.group(1)) if m else -1


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def llama_quantize_types(tensors, ftype, n_layer):
    """tensors: {name: (ne, source type name)} of the input file -> {name: type name} as llama-quantize picks."""
    default = {"Q4_K_M": "Q4_K", "Q5_K_M": "Q5_K"}[ftype]
    order = sorted(tensors, key=lambda n: (layer_of(n), n))  # llama_model_loader's weights_map order
    tied = "output.weight" not in tensors
    n_attn_v = sum(("attn_v.weight" in n or "attn_qkv.weight" in n or "attn_kv_b.weight" in n) for n in order)
    i_attn_v = i_ffn_down = 0
    out = {}
    for name in order:
        ne, source = tensors[name]
        allows = len(ne) >= 2 and name.endswith("weight") and not any(p in name for p in UNQUANTIZED_PARTS)
        if not allows:
            out[name] = source
            continue
        t = default
        if name == "output.weight" or (tied and name == "token_embd.weight"):
            t = "Q8_0" if ne[0] % BLOCK[default] else "Q6_K"
        elif name == "token_embd.weight":
            pass
        elif "attn_qkv.weight" in name or "attn_kv_b.weight" in name or "attn_v.weight" in name:
            if use_more_bits(i_attn_v, n_attn_v):
                t = "Q6_K"
            i_attn_v += 1
        elif "ffn_down" in name:
            if use_more_bits(i_ffn_down, n_layer):
                t = "Q6_K"
            i_ffn_down += 1
        if ne[0] % BLOCK[t]:
            t = FALLBACK[t]
            if ne[0] % BLOCK[t]:
                t = "F16"
        out[name] = t
    return out


def check_model(label, base, tmp, lib, problems):
    import gguf
    f32_dir = tmp / f"{label}-F32"
    harness.tailor("export", "--model", base, "--to", "gguf:F32", "--out", f32_dir)
    src = gguf.GGUFReader(next(f32_dir.glob("*.gguf")))
    arch = bytes(src.fields["general.architecture"].parts[-1]).decode()
    n_layer = int(src.fields[f"{arch}.block_count"].parts[-1][0])
    source = {t.name: (list(map(int, t.shape)), t.tensor_type.name) for t in src.tensors}
    values = {t.name: np.asarray(t.data, dtype=np.float32).reshape(-1, int(t.shape[0])) for t in src.tensors}
    for ftype in ["Q4_K_M", "Q5_K_M"]:
        out = tmp / f"{label}-{ftype}"
        harness.tailor("export", "--model", base, "--to", f"gguf:{ftype}", "--out", out)
        ours = gguf.GGUFReader(next(out.glob("*.gguf")))
        expected = llama_quantize_types(source, ftype, n_layer)
        counts, worst = {}, 0.0
        for t in ours.tensors:
            mine = t.tensor_type.name
            counts[mine] = counts.get(mine, 0) + 1
            if mine != expected[t.name]:
                problems.append(f"{label} {ftype} {t.name}: tailor {mine}, llama-quantize {expected[t.name]}")
                continue
            if mine not in BLOCK:
                continue
            x = values[t.name]
            theirs = np.frombuffer(llama_cpp.ggml_quantize(lib, mine, x), dtype=np.uint8).reshape(x.shape[0], -1)
            qtype = gguf.GGMLQuantizationType[mine]
            rmse_ours = np.sqrt(np.mean((gguf.quants.dequantize(np.asarray(t.data), qtype).reshape(x.shape) - x) ** 2))
            rmse_cpp = np.sqrt(np.mean((gguf.quants.dequantize(theirs, qtype).reshape(x.shape) - x) ** 2))
            rel = abs(rmse_ours - rmse_cpp) / max(rmse_cpp, 1e-30)
            worst = max(worst, rel)
            if rel > 0.01:
                problems.append(f"{label} {ftype} {t.name} ({mine}): RMSE {rmse_ours:.3e} vs llama.cpp {rmse_cpp:.3e}")
        print(f"{label} {ftype}: {len(ours.tensors)} tensors, types {dict(sorted(counts.items()))} "
              f"= llama-quantize's; worst per-tensor RMSE difference {100 * worst:.3f}%")


def make_phi3(folder):
    import shutil
    import torch
    import transformers
    torch.manual_seed(0)
    tok = harness.SHARED_DIR / "tokenizers" / "llama3_1"
    from tokenizers import Tokenizer
    vocab = Tokenizer.from_file(str(tok / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
    config = transformers.Phi3Config(vocab_size=vocab, hidden_size=256, intermediate_size=512, num_hidden_layers=8,
                                     num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False,
                                     pad_token_id=None)
    model = transformers.Phi3ForCausalLM(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    model.save_pretrained(folder)
    for f in tok.iterdir():
        shutil.copy(f, folder / f.name)


def main():
    try:
        import gguf  # noqa: F401
        lib = llama_cpp.library()
    except Exception as e:  # noqa: BLE001
        harness.skip(f"gguf-py / xllamacpp unavailable: {e}")
    if not harness.DEFAULT_MODEL.exists():
        harness.skip(f"{harness.DEFAULT_MODEL} not found (run scripts/setup)")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        check_model("smollm2", harness.DEFAULT_MODEL, tmp, lib, problems)
        make_phi3(tmp / "phi3")
        check_model("phi3", tmp / "phi3", tmp, lib, problems)
    harness.expect(not problems, "\n".join(problems[:40]))
    print("K-quant mixes match llama-quantize")


if __name__ == "__main__":
    main()
