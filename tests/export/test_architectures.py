"""Every architecture of the Models issue exports to HF and GGUF and round-trips.

For llama, mistral, qwen2, qwen3, gemma2, gemma3 and phi3, transformers builds a tiny random model offline
(vocabulary sized to a real tokenizer, whose files go in the folder so the GGUF gets a tokenizer), and
tailor's attach_lora makes a random all-linear LoRA adapter for it. tailor's logits (base + adapter,
unmerged) are the reference for:
  --to hf:fp32    transformers loads the merged folder: logits max |diff| <= 1e-4.
  --to gguf:F32   tailor loads the GGUF back: logits max |diff| <= 1e-4;
                  llama.cpp (F32 KV cache, no flash attention) loads it: logits max |diff| <= 1e-3 (1e-2
                  for Gemma: ggml's CPU GELU reads a float16 table) and top-1 identical at every position.
Configurations stay inside what llama.cpp reads from GGUF metadata: Gemma's query scale is 1/sqrt(head_dim)
and its sliding-window layer pattern is the default (llama.cpp fixes both per architecture); Mistral is
written as `llama`, which has no sliding window in llama.cpp, so the window exceeds the text.
Usage: test_architectures.py EXPORT_PROBE
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import llama_cpp  # noqa: E402

PROBE = sys.argv[1]
TOL_TAILOR = 1e-4
TOL_LLAMA_CPP = {"gemma2": 1e-2, "gemma3": 1e-2}  # others: 1e-3
ADAPTER = {"r": 4, "lora_alpha": 8, "target_modules": "all-linear"}
COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=512)
TEXT = "All human beings are born free and equal in dignity and rights. They are endowed with reason."


def cases():
    import transformers as t
    return {
        "llama": ("llama3_1", t.LlamaConfig, t.LlamaForCausalLM, dict(
            COMMON, tie_word_embeddings=False, rope_theta=500000.0,
            rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                              original_max_position_embeddings=32))),
        "mistral": ("llama3_1", t.MistralConfig, t.MistralForCausalLM, dict(COMMON, sliding_window=4096)),
        "qwen2": ("qwen3", t.Qwen2Config, t.Qwen2ForCausalLM, dict(COMMON, tie_word_embeddings=True)),
        "qwen3": ("qwen3", t.Qwen3Config, t.Qwen3ForCausalLM, dict(COMMON, head_dim=32, num_hidden_layers=3)),
        "gemma2": ("llama3_1", t.Gemma2Config, t.Gemma2ForCausalLM, dict(
            COMMON, head_dim=16, query_pre_attn_scalar=16, sliding_window=8, num_hidden_layers=3,
            attn_logit_softcapping=50.0, final_logit_softcapping=30.0)),
        "gemma3": ("llama3_1", t.Gemma3TextConfig, t.Gemma3ForCausalLM, dict(
            COMMON, head_dim=32, query_pre_attn_scalar=32, sliding_window=8, num_hidden_layers=6)),
        "phi3": ("llama3_1", t.Phi3Config, t.Phi3ForCausalLM, dict(
            COMMON, num_key_value_heads=4, partial_rotary_factor=0.5, pad_token_id=None)),
    }


def randomize(model, gemma):
    """Weights large enough that every op matters (transformers' init leaves logits near zero)."""
    import torch
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name:
                p.copy_(0.2 * noise if gemma else 1.0 + 0.2 * noise)
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(noise / p.shape[-1] ** 0.5 * (0.3 if name.endswith("bias") else 1.0))


def make_base(folder, tokenizer_name, config_cls, model_cls, kwargs):
    import torch
    from tokenizers import Tokenizer
    tokenizer_dir = harness.SHARED_DIR / "tokenizers" / tokenizer_name
    vocab = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
    torch.manual_seed(0)
    config = config_cls(vocab_size=vocab, **kwargs)
    model = model_cls(config).eval()
    randomize(model, gemma=config_cls.__name__.startswith("Gemma"))
    model.save_pretrained(folder)
    for f in tokenizer_dir.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    ids = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).encode(TEXT).ids
    return ids


def tailor_logits(model, adapter, ids_file, out):
    subprocess.run([PROBE, "logits", str(model), str(adapter), str(ids_file), str(out)], check=True, capture_output=True)
    return np.fromfile(out, dtype=np.float32).reshape(-1, np.fromfile(out, dtype=np.float32).size // len(json.loads(Path(ids_file).read_text())[0]))


def check(arch, spec, tmp, lib, problems):
    import torch
    from transformers import AutoModelForCausalLM
    tokenizer_name, config_cls, model_cls, kwargs = spec
    case = tmp / arch
    base = case / "base"
    ids = make_base(base, tokenizer_name, config_cls, model_cls, kwargs)
    (case / "ids.json").write_text(json.dumps([ids]))
    (case / "adapter.json").write_text(json.dumps(ADAPTER))
    adapter = case / "adapter"
    subprocess.run([PROBE, "make-adapter", str(base), str(case / "adapter.json"), str(adapter), "11"], check=True)
    ours = tailor_logits(base, adapter, case / "ids.json", case / "ours.f32")
    plain = tailor_logits(base, "-", case / "ids.json", case / "plain.f32")
    effect = float(np.abs(ours - plain).max())
    if effect < 1e-2:
        problems.append(f"{arch}: the adapter barely changes the logits ({effect}): the test would prove nothing")

    harness.tailor("export", "--model", base, "--adapter", adapter, "--to", "hf:fp32", "--out", case / "hf")
    merged = AutoModelForCausalLM.from_pretrained(case / "hf", dtype=torch.float32).eval()
    with torch.no_grad():
        hf = merged(torch.tensor([ids])).logits[0].numpy()
    d_hf = float(np.abs(hf - ours).max())

    harness.tailor("export", "--model", base, "--adapter", adapter, "--to", "gguf:F32", "--out", case / "gguf")
    gguf = next(p for p in (case / "gguf").glob("*.gguf") if p.name != "adapter.gguf")
    back = tailor_logits(gguf, "-", case / "ids.json", case / "back.f32")
    d_back = float(np.abs(back - ours).max())

    theirs = llama_cpp.logits(lib, gguf, ids, f32_attention=True)
    d_cpp = float(np.abs(theirs[:, :ours.shape[1]] - ours).max())
    top1 = float((theirs[:, :ours.shape[1]].argmax(1) == ours.argmax(1)).mean())
    print(f"{arch:8s} ({len(ids)} tokens, vocab {ours.shape[1]}, adapter effect {effect:.2f}): "
          f"transformers(hf) {d_hf:.2e}  tailor(gguf) {d_back:.2e}  llama.cpp(gguf) {d_cpp:.2e} top-1 {100 * top1:.1f}%")
    if d_hf > TOL_TAILOR:
        problems.append(f"{arch}: merged HF folder in transformers differs by {d_hf}")
    if d_back > TOL_TAILOR:
        problems.append(f"{arch}: GGUF loaded back by tailor differs by {d_back}")
    if d_cpp > TOL_LLAMA_CPP.get(arch, 1e-3) or top1 < 1.0:
        problems.append(f"{arch}: llama.cpp on the GGUF differs by {d_cpp}, top-1 {top1}")


def main():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        lib = llama_cpp.library()
    except Exception as e:  # noqa: BLE001
        harness.skip(f"transformers / xllamacpp unavailable: {e}")
    only = sys.argv[2:]  # optional architecture names, for a quick rerun
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, spec in cases().items():
            if not only or arch in only:
                check(arch, spec, Path(tmp), lib, problems)
    harness.expect(not problems, "\n".join(problems))
    print("every architecture round-trips through HF and GGUF")


if __name__ == "__main__":
    main()
