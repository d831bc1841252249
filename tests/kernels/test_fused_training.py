"""`kernels: fused` trains like `kernels: reference`, step for step, on CPU: the same 4-step LoRA run on the
shipped SmolLM2-135M (all-linear LoRA, so every fused op is on the path: RMSNorm, RoPE, SwiGLU, LoRA
linear, chunked linear + cross-entropy) run once per mode; per-step training losses and the final adapter
must agree within a tolerance derived from the op tests' bound.

Tolerance. Each fused op is tested to differ from float64 by at most twice the reference's own float32
error plus 2^-22 relative (tests/kernels/op_check.h), so a fused op's output differs from the reference
op's by at most ~2^-22 of its size beyond the reference's own error. One forward pass applies
N = layers x (2 RMSNorm + 2 RoPE + 1 SwiGLU + 7 LoRA linears) + final norm + loss such ops; with no
amplification (each block's residual sum and RMSNorm keep relative errors from growing), the loss
differs by at most N x 2^-22 relative at step 1. Each later step adds the same again through the
slightly different update, so step s is allowed s x N x 2^-22. The adapter's lora_B (zero at
initialization, so all of it is training's doing) may differ by the step-4 bound relative to its norm,
and lora_A (random init + updates) by the same bound relative to its norm."""
import json
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import DEFAULT_MODEL, expect, skip, tailor  # noqa: E402

if not DEFAULT_MODEL.exists():
    skip(f"the shipped model is missing ({DEFAULT_MODEL}); run scripts/setup")

STEPS = 4
LAYERS = 30  # SmolLM2-135M
OPS_PER_FORWARD = LAYERS * (2 + 2 + 1 + 7) + 2
UNIT = 2.0 ** -22
OVERRIDES = [f"max_steps={STEPS}", "data.max_seq_len=64", "train.batch_size=2", "train.eval_every=0",
             "train.checkpoint_every=0", "lora.r=8", "samples=[]", "export=[]"]


def run(out, kernels):
    tailor("run", "smollm2-135m-lora-sft", f"output_dir={out}", f"train.kernels={kernels}", *OVERRIDES)
    losses = {}
    for line in (Path(out) / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") == "train":
            losses[r["step"]] = r["loss"]
    return [losses[s] for s in sorted(losses)], read_safetensors(Path(out) / "adapter" / "adapter_model.safetensors")


def read_safetensors(path):
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        expect(info["dtype"] == "F32", f"{name}: adapter dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[8 + size + begin:8 + size + end], dtype="<f4").astype(np.float64)
    return tensors


with tempfile.TemporaryDirectory() as tmp:
    fused_losses, fused_adapter = run(Path(tmp) / "fused", "fused")
    ref_losses, ref_adapter = run(Path(tmp) / "reference", "reference")

expect(len(fused_losses) == STEPS and len(ref_losses) == STEPS, f"steps logged: {fused_losses} / {ref_losses}")
worst_loss = 0.0
for step, (f, r) in enumerate(zip(fused_losses, ref_losses), start=1):
    rel = abs(f - r) / abs(r)
    bound = step * OPS_PER_FORWARD * UNIT
    worst_loss = max(worst_loss, rel / bound)
    print(f"step {step}: fused {f:.9f} reference {r:.9f} relative difference {rel:.2e} (bound {bound:.2e})")
    expect(rel <= bound, f"step {step}: loss {f} vs {r} differs by {rel:.2e} > {bound:.2e}")
expect(fused_losses != ref_losses[:1] * STEPS, "losses did not change during training")

expect(fused_adapter.keys() == ref_adapter.keys(), "adapters hold different tensors")
bound = STEPS * OPS_PER_FORWARD * UNIT
worst = {"lora_A": 0.0, "lora_B": 0.0}
for name, ref in ref_adapter.items():
    kind = "lora_B" if "lora_B" in name else "lora_A"
    rel = np.linalg.norm(fused_adapter[name] - ref) / max(np.linalg.norm(ref), 1e-30)
    worst[kind] = max(worst[kind], rel)
    expect(rel <= bound, f"{name}: relative difference {rel:.2e} > {bound:.2e}")
expect(all(np.linalg.norm(t) > 0 for n, t in ref_adapter.items() if "lora_B" in n), "a lora_B stayed zero")
print(f"ok: {STEPS} steps, {len(ref_adapter)} adapter tensors; worst loss difference {worst_loss:.2f} of its bound; "
      f"adapter relative differences lora_A {worst['lora_A']:.2e}, lora_B {worst['lora_B']:.2e} (bound {bound:.2e})")
