"""`tailor validate RECIPE [overrides]`: prints the resolved recipe and a memory estimate per component.
The trainable parameter count and the weight bytes are checked against the model's tensor shapes as
gguf-py reads them from the shipped GGUF (LoRA r·(in+out) per targeted projection, as PEFT counts);
NF4 targets take 4.13 bits a weight (bitsandbytes' 4-bit codes plus double-quantized absmax);
checkpointing lowers the activation estimate. Bad recipes fail exactly as `tailor run` does (exit 2)."""
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import DEFAULT_MODEL, expect, skip, tailor  # noqa: E402

if not DEFAULT_MODEL.exists():
    skip(f"the shipped model is missing ({DEFAULT_MODEL}); run scripts/setup")
import gguf  # noqa: E402

MIB = 1024 * 1024
PROJECTIONS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def validate(*overrides):
    out = tailor("validate", "smollm2-135m-lora-sft", *overrides).stdout
    config_text, estimate = out.split("\n# memory estimate", 1)
    rows = {m[1].strip(): float(m[2]) for m in re.finditer(r"^(.{30}) *([\d.]+) MiB", estimate, re.M)}
    trainable = int(re.search(r"trainable parameters (\d+)", estimate)[1])
    return yaml.safe_load(config_text), rows, trainable


# Reference sizes from gguf-py: GGUF shapes are [in, out] for a linear weight.
tensors = gguf.GGUFReader(str(DEFAULT_MODEL)).tensors
targets = [[int(d) for d in t.shape] for t in tensors
           if t.name.startswith("blk.") and t.name.split(".")[2] in PROJECTIONS]
target_weights = sum(a * b for a, b in targets)
all_weights = sum(int(t.n_elements) for t in tensors)

config, rows, trainable = validate("lora.r=8")
expect(config["lora"]["r"] == 8 and config["max_steps"] == 60, f"resolved recipe not printed as run: {config}")
expect(trainable == sum(8 * (a + b) for a, b in targets), f"trainable parameters {trainable}, expected "
       f"{sum(8 * (a + b) for a, b in targets)} (r=8 on {len(targets)} projections)")
expect(abs(rows["adapter"] - trainable * 4 / MIB) < 0.06, f"adapter {rows['adapter']} MiB for {trainable} fp32 params")
expect(abs(rows["optimizer"] - 2 * trainable * 4 / MIB) < 0.06, f"optimizer {rows['optimizer']} MiB")
expect(abs(rows["base weights (LoRA targets)"] - target_weights * 4 / MIB) < 0.06, f"fp32 targets {rows}")
weights = rows["base weights (LoRA targets)"] + rows["base weights (other)"]
expect(abs(weights - all_weights * 4 / MIB) < 0.11, f"fp32 weights {weights} MiB, gguf-py: {all_weights * 4 / MIB:.1f}")

_, nf4, _ = validate("lora.quantize=nf4")
expected = (target_weights / 2 + target_weights / 64 + 4 * target_weights / (64 * 256)) / MIB
expect(abs(nf4["base weights (LoRA targets)"] - expected) < 0.06, f"nf4 targets {nf4} vs {expected:.1f} MiB")
_, bf16, _ = validate("train.dtype=bfloat16")
expect(abs(bf16["base weights (other)"] - rows["base weights (other)"] / 2) < 0.06, f"bf16 weights {bf16}")
_, ckpt, _ = validate("train.activation_checkpointing=true")
expect(ckpt["activations"] < rows["activations"] / 3, f"checkpointing: {ckpt['activations']} vs {rows['activations']}")
print(f"fp32 {rows}\nnf4 targets {nf4['base weights (LoRA targets)']} MiB; checkpointed activations "
      f"{ckpt['activations']} vs {rows['activations']} MiB")

# Errors: the same report as `tailor run`, exit 2, every problem at once.
bad = ["lora.rr=3", "optim.lr=-1"]
v = tailor("validate", "smollm2-135m-lora-sft", *bad, check=False)
r = tailor("run", "smollm2-135m-lora-sft", *bad, check=False)
expect(v.returncode == 2 and r.returncode == 2, f"exit codes validate {v.returncode}, run {r.returncode}")
expect(v.stderr == r.stderr, f"validate and run report differently:\n{v.stderr}\n---\n{r.stderr}")
expect("2 problems" in v.stderr and "lr" in v.stderr and "rr" in v.stderr, f"not every problem reported: {v.stderr}")
