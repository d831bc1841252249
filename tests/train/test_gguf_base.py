"""`lora.quantize: gguf`: LoRA on the shipped SmolLM2-135M Q4_1 GGUF with its projection weights kept as the file's
blocks (mapped) and dequantized per use, against the same run on the dense base (the loader's dequantization):

  - the per-step losses and gradient norms are equal within 1e-6 relative (a few float32 ulps). Why so tight: both
    paths expand Q4_1 as d * q + m in float32 (the loader through formats/, the per-use path through kernels' GGUF
    dequantizer, -ffp-contract=off) and then run the same matmuls on the same values; fp32 throughout, no bf16.
    Measured: bit-identical. Wrong blocks or llama's Q/K rows left permuted would change the loss by far more;
  - the loss goes down (one packed row, seen every step);
  - the adapter is saved, with the LoRA tensors of all 210 projections;
  - the run record in metrics.jsonl says how the targeted bases are held: 210 Q4_1 layers holding exactly the
    bytes gguf-py reports for those tensors (dense run: float32, 4 bytes per weight), and the report shows it;
  - the dense copies are freed: the resident memory after a step is lower than the dense run's by at least
    80% of (float32 bytes - Q4_1 bytes) of the targeted weights (the mapped blocks count once touched);
  - an HF folder with lora.quantize=gguf exits 2 naming the key and the model;
  - tailor validate's memory estimate counts the targeted bases as their GGUF bytes.
Peak RSS of both runs is printed (wait4).
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import DEFAULT_MODEL, SOURCE_DIR, TAILOR, expect, skip, tailor  # noqa: E402

if not DEFAULT_MODEL.exists():
    skip(f"the shipped model is missing ({DEFAULT_MODEL}); run scripts/setup")

from gguf import GGUFReader  # noqa: E402

STEPS = 3
LOSS_RTOL = 1e-6
PROJECTIONS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")


def run(out: Path, data: Path, quantize: str):
    """tailor run on one short conversation; returns (train records, run record, peak RSS bytes from wait4)."""
    args = [TAILOR, "run", "smollm2-135m-lora-sft", f"output_dir={out}", f"max_steps={STEPS}",
            f"lora.quantize={quantize}", f"data.sources=[{{path: {data}}}]", "data.max_seq_len=96",
            "train.batch_size=1", "train.checkpoint_every=0", "train.eval_every=0", "train.threads=2",
            "optim.warmup_steps=0", "optim.lr=2e-3", "samples=[]", "export=[]", "train.resume=never"]
    log = out.parent / f"{quantize}.log"
    with open(log, "w") as sink:
        pid = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT).pid
        _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    expect(code == 0, f"tailor run lora.quantize={quantize} exited {code}:\n{log.read_text()}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    return train, next(r for r in records if r["kind"] == "run"), usage.ru_maxrss * 1024


def main():
    reader = GGUFReader(DEFAULT_MODEL)
    targeted = [t for t in reader.tensors if t.name.startswith("blk.") and t.name.split(".")[2] in PROJECTIONS]
    types = {t.tensor_type.name for t in targeted}
    q_bytes = sum(int(t.n_bytes) for t in targeted)
    dense_bytes = sum(4 * int(t.n_elements) for t in targeted)
    expect(types == {"Q4_1"} and len(targeted) == 210, f"unexpected shipped model: {len(targeted)} tensors {types}")

    estimate = tailor("validate", "smollm2-135m-lora-sft", "lora.quantize=gguf").stdout
    line = next((l for l in estimate.splitlines() if l.startswith("base weights (LoRA targets)")), "")
    expect(f"{q_bytes / 2**20:.1f} MiB" in line and "GGUF blocks" in line,
           f"tailor validate does not count the targets as their GGUF blocks ({q_bytes} bytes): {line!r}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "one.jsonl"
        first = (SOURCE_DIR / "examples" / "vi_instruct" / "train.jsonl").read_text().splitlines()[0]
        data.write_text(first + "\n")

        g_train, g_run, g_peak = run(tmp / "gguf", data, "gguf")
        d_train, d_run, d_peak = run(tmp / "none", data, "none")
        print(f"peak RSS: gguf {g_peak / 2**20:.0f} MiB, dense {d_peak / 2**20:.0f} MiB; "
              f"after step 1: gguf {g_train[0]['memory_bytes'] / 2**20:.0f} MiB, "
              f"dense {d_train[0]['memory_bytes'] / 2**20:.0f} MiB")
        print("losses gguf ", [r["loss"] for r in g_train])
        print("losses dense", [r["loss"] for r in d_train])

        expect(len(g_train) == STEPS and len(d_train) == STEPS, "missing train records")
        for g, d in zip(g_train, d_train):
            for key in ("loss", "grad_norm"):
                expect(abs(g[key] - d[key]) <= LOSS_RTOL * abs(d[key]),
                       f"step {g['step']} {key}: gguf {g[key]!r} vs dense {d[key]!r}")
        losses = [r["loss"] for r in g_train]
        expect(losses[-1] < losses[0], f"the loss does not go down: {losses}")

        adapter = tmp / "gguf" / "adapter"
        expect((adapter / "adapter_model.safetensors").exists(), "no adapter saved")
        from safetensors import safe_open
        with safe_open(adapter / "adapter_model.safetensors", "pt") as f:
            n_lora_a = sum(1 for k in f.keys() if "lora_A" in k)
        expect(n_lora_a == 210, f"adapter holds {n_lora_a} lora_A tensors, expected 210")

        expect(g_run.get("frozen_base") == {"Q4_1": {"layers": 210, "bytes": q_bytes}},
               f"gguf run record frozen_base {g_run.get('frozen_base')}, expected 210 Q4_1 layers, {q_bytes} bytes")
        expect(d_run.get("frozen_base") == {"float32": {"layers": 210, "bytes": dense_bytes}},
               f"dense run record frozen_base {d_run.get('frozen_base')}")
        expect(g_run["total_parameters"] == d_run["total_parameters"], "total parameters differ between the runs")
        report = (tmp / "gguf" / "report.html").read_text()
        expect("frozen base" in report and "Q4_1: 210 layers" in report, "the report does not show the frozen base")

        saved = d_train[0]["memory_bytes"] - g_train[0]["memory_bytes"]
        expect(saved >= 0.8 * (dense_bytes - q_bytes),
               f"resident memory only {saved / 2**20:.0f} MiB lower than the dense run's; the dense copies of "
               f"{(dense_bytes - q_bytes) / 2**20:.0f} MiB net were not freed")

        hf = tmp / "hf_model"
        hf.mkdir()
        (hf / "config.json").write_text("{}")
        proc = tailor("run", "smollm2-135m-lora-sft", f"model={hf}", f"output_dir={tmp / 'hf_run'}",
                      "lora.quantize=gguf", check=False)
        expect(proc.returncode == 2, f"HF folder + lora.quantize=gguf exited {proc.returncode}:\n{proc.stderr}")
        expect("lora.quantize: gguf" in proc.stderr and str(hf) in proc.stderr,
               f"the message names neither the key nor the model: {proc.stderr}")


main()
