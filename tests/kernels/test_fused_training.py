"""`kernels: fused` trains like `kernels: reference`, step for step, on CPU: the same 4-step `tailor run`
(the smollm2-135m-lora-sft recipe: all-linear LoRA, packed Vietnamese chat rows, AdamW, cosine warm-up,
grad clip) on tiny random models built by transformers — Qwen3 (q/k RMSNorm before RoPE, GQA) and Phi3
(fused qkv and gate_up projections, partial rotary: RoPE on half of each head) — with the Qwen3 tokenizer,
once per mode. Every fused op is on the path: RMSNorm, RoPE, SwiGLU, LoRA linear, chunked linear +
cross-entropy. Per-step losses and the final adapter must agree within a tolerance derived from the op
tests' bound.

Tolerance. Each fused op is tested to differ from float64 by at most twice the reference's own float32
error plus 2^-22 relative (tests/kernels/op_check.h), so a fused op's output differs from the reference
op's by at most ~2^-22 of its size beyond the reference's own error. One forward pass applies
N = layers x (2 RMSNorm [+ 2 q/k RMSNorm] + 2 RoPE + 1 SwiGLU + LoRA linears) + final norm + loss such
ops; with no amplification (each block's residual sum and RMSNorm keep relative errors from growing) the
step-1 loss differs by at most N x 2^-22 relative. Each later step adds the same again through the
slightly different update, so step s is allowed s x N x 2^-22. The final adapter (each tensor relative to
its norm; lora_B starts at zero, so all of it is training's doing) is allowed 10x the step-4 bound: AdamW
divides each element's step by that element's own gradient RMS, so a tensor's relative difference is the
norm-weighted mean of its elements' relative gradient differences, and elements whose gradient is near zero
(few, but with full-size steps) carry relative differences well above the loss-level bound."""
import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import SHARED_DIR, expect, skip, tailor  # noqa: E402

TOKENIZER = SHARED_DIR / "tokenizers" / "qwen3"
if not TOKENIZER.exists():
    skip(f"the Qwen3 tokenizer is missing ({TOKENIZER})")

STEPS, LAYERS, UNIT = 4, 2, 2.0 ** -22
COMMON = dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True)
# name: (config class, model class, config kwargs, LoRA linears per layer, RMSNorms per layer)
MODELS = {
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM, dict(COMMON, head_dim=32), 7, 4),
    "phi3": (transformers.Phi3Config, transformers.Phi3ForCausalLM,
             dict(COMMON, partial_rotary_factor=0.5, pad_token_id=0, bos_token_id=1, eos_token_id=2), 4, 2),
}
OVERRIDES = [f"max_steps={STEPS}", "data.max_seq_len=64", "train.batch_size=2", "train.eval_every=0",
             "train.checkpoint_every=0", "lora.r=8", "samples=[]", "export=[]"]


def build_model(name, folder):
    """Weights large enough that every op matters (norms away from 1, unit-variance projections, logits of
    a few units); checks that dropping RoPE moves the loss far more than the tolerance, so a broken
    rotation could not pass."""
    config_cls, model_cls, kwargs, _, _ = MODELS[name]
    torch.manual_seed(0)
    model = model_cls(config_cls(**kwargs)).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            noise = torch.randn(p.shape)
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * noise)
            elif "embed_tokens" in pname:
                p.copy_(0.15 * noise)
            else:
                p.copy_(noise / p.shape[-1] ** 0.5)
        ids = torch.randint(0, 151643, (1, 64))
        loss = model(ids, labels=ids).loss.item()
        unrotated = model(ids, labels=ids, position_ids=torch.zeros_like(ids)).loss.item()
    model.save_pretrained(folder)
    for f in TOKENIZER.iterdir():
        shutil.copy(f, folder / f.name)
    return abs(loss - unrotated) / loss


def read_safetensors(path):
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    tensors = {}
    for name, info in header.items():
        if name != "__metadata__":
            expect(info["dtype"] == "F32", f"{name}: adapter dtype {info['dtype']}")
            begin, end = info["data_offsets"]
            tensors[name] = np.frombuffer(data[8 + size + begin:8 + size + end], dtype="<f4").astype(np.float64)
    return tensors


def run(model_dir, out, kernels):
    tailor("run", "smollm2-135m-lora-sft", f"model={model_dir}", f"output_dir={out}", f"train.kernels={kernels}",
           *OVERRIDES)
    losses = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") == "train":
            losses[r["step"]] = r["loss"]
    return [losses[s] for s in sorted(losses)], read_safetensors(out / "adapter" / "adapter_model.safetensors")


def compare(name, tmp):
    _, _, _, linears, norms = MODELS[name]
    ops = LAYERS * (norms + 2 + 1 + linears) + 2
    model_dir = tmp / name
    rope_effect = build_model(name, model_dir)
    expect(rope_effect > 100 * STEPS * ops * UNIT, f"{name}: RoPE moves the loss by only {rope_effect:.2e}")
    fused_losses, fused_adapter = run(model_dir, tmp / f"{name}-fused", "fused")
    ref_losses, ref_adapter = run(model_dir, tmp / f"{name}-reference", "reference")
    expect(len(fused_losses) == STEPS and len(ref_losses) == STEPS, f"{name}: steps {fused_losses} / {ref_losses}")
    expect(len(set(ref_losses)) > 1, f"{name}: the loss never changed")
    worst = 0.0
    for step, (f, r) in enumerate(zip(fused_losses, ref_losses), start=1):
        rel, bound = abs(f - r) / abs(r), step * ops * UNIT
        worst = max(worst, rel)
        print(f"{name} step {step}: fused {f:.9f} reference {r:.9f} relative difference {rel:.2e} (bound {bound:.2e})")
        expect(rel <= bound, f"{name} step {step}: loss {f} vs {r} differs by {rel:.2e} > {bound:.2e}")
    expect(fused_adapter.keys() == ref_adapter.keys(), f"{name}: adapters hold different tensors")
    bound, worst_adapter = 10 * STEPS * ops * UNIT, 0.0
    for tensor, ref in ref_adapter.items():
        expect("lora_A" in tensor or np.linalg.norm(ref) > 0, f"{name}: {tensor} stayed zero")
        rel = np.linalg.norm(fused_adapter[tensor] - ref) / np.linalg.norm(ref)
        worst_adapter = max(worst_adapter, rel)
        expect(rel <= bound, f"{name}: {tensor} relative difference {rel:.2e} > {bound:.2e}")
    print(f"ok {name}: {STEPS} steps, worst loss difference {worst:.2e} (step-1 bound {ops * UNIT:.2e}; without "
          f"RoPE the loss moves {rope_effect:.2e}); "
          f"{len(ref_adapter)} adapter tensors, worst relative difference {worst_adapter:.2e} (bound {bound:.2e})")


with tempfile.TemporaryDirectory() as tmp:
    for model_name in MODELS:
        compare(model_name, Path(tmp))
