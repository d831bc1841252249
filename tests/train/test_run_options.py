"""`tailor run` options on the shipped SmolLM2-135M with short rows:

  bf16       train.dtype=bfloat16 (bf16 frozen base, fp32 LoRA weights and AdamW states, fp32 loss):
             the first-step loss (the base model's loss, B = 0) is within 1% of the fp32 run's, the loss
             goes down, and the saved adapter is float32.
  checkpointing  train.activation_checkpointing=true with LoRA dropout 0.1: the per-step losses equal the
             plain run's (the recomputation replays the dropout masks) within 1e-6 relative.
  export     the recipe's `export: [peft, gguf:Q8_0]` list runs after training: the PEFT folder and a
             GGUF that gguf-py reads with Q8_0 projection weights are left in RUN/export/.
"""
import json
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import DEFAULT_MODEL, expect, skip, tailor  # noqa: E402

if not DEFAULT_MODEL.exists():
    skip(f"the shipped model is missing ({DEFAULT_MODEL}); run scripts/setup")

STEPS = 6
BASE = [f"max_steps={STEPS}", "data.max_seq_len=64", "train.batch_size=2", "train.checkpoint_every=0",
        "train.threads=2", "train.eval_every=0", "lora.r=8", "lora.dropout=0.1", "optim.lr=2e-3",
        "optim.warmup_steps=0", "samples=[]", "train.resume=never"]


def run(out, *overrides):
    tailor("run", "smollm2-135m-lora-sft", f"output_dir={out}", *BASE, *overrides)
    records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r.get("kind") == "train"]


def safetensors_dtypes(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {v["dtype"] for k, v in header.items() if k != "__metadata__"}


with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    fp32 = run(tmp / "fp32", "export=[peft, gguf:Q8_0]")
    bf16 = run(tmp / "bf16", "train.dtype=bfloat16", "export=[]")
    ckpt = run(tmp / "ckpt", "train.activation_checkpointing=true", "export=[]")
    print("fp32 ", " ".join(f"{x:.5f}" for x in fp32))
    print("bf16 ", " ".join(f"{x:.5f}" for x in bf16))
    print("ckpt ", " ".join(f"{x:.5f}" for x in ckpt))

    # bf16
    expect(len(bf16) == STEPS, f"bf16 run logged {len(bf16)} steps")
    rel = abs(bf16[0] - fp32[0]) / fp32[0]
    expect(rel < 0.01, f"bf16 first-step loss {bf16[0]} vs fp32 {fp32[0]}: {100 * rel:.2f}% apart (> 1%)")
    expect(min(bf16[-2:]) < bf16[0] * 0.95, f"bf16 loss did not go down: {bf16}")
    dtypes = safetensors_dtypes(tmp / "bf16" / "adapter" / "adapter_model.safetensors")
    expect(dtypes == {"F32"}, f"bf16 run saved adapter tensors as {dtypes}, expected F32 (fp32 LoRA weights)")
    print(f"bf16 first-step loss within {100 * rel:.3f}% of fp32; loss {bf16[0]:.4f} -> {bf16[-1]:.4f}")

    # activation checkpointing
    for step, (a, b) in enumerate(zip(fp32, ckpt), 1):
        expect(abs(a - b) <= 1e-6 * abs(a), f"step {step}: checkpointed loss {b} != plain {a}")
    expect(len(ckpt) == STEPS, f"checkpointed run logged {len(ckpt)} steps")

    # export list
    peft = tmp / "fp32" / "export" / "peft"
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        expect((peft / name).is_file(), f"export: {peft / name} missing")
    ggufs = sorted((tmp / "fp32" / "export" / "gguf-Q8_0").glob("*.gguf"))
    expect(ggufs, "export: no .gguf in export/gguf-Q8_0")
    import gguf  # the reference reader

    model_file = next((g for g in ggufs if "adapter" not in g.name), ggufs[0])
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(str(model_file)).tensors}
    expect(types.get("blk.0.attn_q.weight") == "Q8_0", f"{model_file.name}: blk.0.attn_q.weight is "
           f"{types.get('blk.0.attn_q.weight')}, expected Q8_0")
    print(f"export: {sorted(p.name for p in peft.iterdir())}, {[g.name for g in ggufs]}")
