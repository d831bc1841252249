"""Benchmark (not a test): LoRA training throughput and peak memory, tailor beside transformers + PEFT.

LoRA r=16 (alpha 32, no dropout) on every linear layer of SmolLM2-135M-Instruct, dequantized from the
shipped Q4_1 GGUF into one dense fp32 HF folder (`tailor export --to hf`) that both sides load. Sequence
512, batch 4 (2,048 tokens a step, every token trained), AdamW (lr 1e-4, no weight decay) with global
grad-norm clipping at 1.0, the same thread count. Each configuration runs in its own process; peak RSS
is that process's ru_maxrss, tokens/s is measured over the steps after the first (warm-up) step.

Best settings each side:
  tailor   `tailor run` on a generated recipe (train.kernels fused: fused LoRA linear, linear+cross-entropy,
           blocked causal attention, float32 products through oneDNN; one document piece per row);
           bf16 = bf16 frozen base, fp32 LoRA parameters and AdamW states (the LoRA products in bf16, as
           autocast), loss in fp32.
  PEFT     transformers' SDPA attention, get_peft_model (fp32 adapters, autocast_adapter_dtype), torch AdamW
           (foreach); bf16 = the model loaded in bf16 (the adapters stay fp32, as PEFT does by default).

    .venv/bin/python bench/train_vs_peft.py [--tailor build/cli/tailor] [--steps 6] [--threads 2]
        [--dtypes float32 bfloat16] [--checkpointing]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GGUF = ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
CORPUS = ROOT.parent / "shared" / "corpus" / "udhr"
SEQ, BATCH, RANK, ALPHA, LR = 512, 4, 16, 32, 1e-4
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def dense_model(tailor, cache):
    """The GGUF dequantized once into a dense fp32 HF folder both sides load."""
    out = cache / "SmolLM2-135M-Instruct-f32-hf"
    if not (out / "config.json").exists():
        subprocess.run([tailor, "export", "--model", GGUF, "--to", "hf:fp32", "--out", out, "--force"], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def corpus_text():
    return "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt")))


def child_rss(argv, stdout, stderr):
    """Runs argv with output to the given files; returns (exit code, peak RSS bytes of that child alone)."""
    with open(stdout, "w") as out, open(stderr, "w") as err:
        proc = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024


def run_tailor(tailor, model, work, steps, threads, dtype, checkpointing, kernels):
    data = work / "corpus.jsonl"  # one document per language, cut into 512-token rows (as the PEFT side)
    if not data.exists():
        data.write_text("".join(json.dumps({"text": p.read_text(encoding="utf-8")}, ensure_ascii=False) + "\n"
                                for p in sorted(CORPUS.glob("*.txt"))), encoding="utf-8")
    run_dir = work / f"tailor-{dtype}-{int(checkpointing)}"
    recipe = work / "bench.yaml"
    recipe.write_text(f"""description: bench
model: {model}
output_dir: {run_dir}
seed: 1
max_steps: {steps}
lora: {{r: {RANK}, alpha: {ALPHA}, dropout: 0.0, targets: all-linear}}
optim: {{lr: {LR}, weight_decay: 0.0, schedule: constant, warmup_steps: 0, grad_clip: 1.0}}
train: {{batch_size: {BATCH}, grad_accum: 1, threads: {threads}, resume: never, eval_every: 0, checkpoint_every: 0}}
data:
  sources: [{{path: {data}, format: text}}]
  max_seq_len: {SEQ}
  packing: false        # one 512-token piece per row (the last piece of a document padded), as the PEFT side
  length_policy: split
  mask: all
  cache_dir: {work / 'cache'}
samples: []
export: []
""", encoding="utf-8")
    # Prepare (tokenize, pack, cache) the data once outside the measured run.
    subprocess.run([tailor, "data", "prepare", recipe], check=True, stdout=subprocess.DEVNULL)
    log = work / f"tailor-{dtype}.log"
    argv = [tailor, "run", recipe, f"train.dtype={dtype}", f"train.kernels={kernels}",
            f"train.activation_checkpointing={'true' if checkpointing else 'false'}"]
    code, rss = child_rss(argv, log, log.with_suffix(".err"))
    if code != 0:
        raise SystemExit(f"tailor run failed ({code}):\n{log.with_suffix('.err').read_text()[-4000:]}")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("kind") == "train"]
    timed = train[1:]
    tokens = sum(r["tokens"] for r in timed)
    seconds = sum(r["tokens"] / r["tokens_per_s"] for r in timed)
    return {"tokens_per_s": tokens / seconds, "peak_rss": rss, "tokens_per_step": timed[-1]["tokens"],
            "losses": [r["loss"] for r in train]}


def peft_child(args):
    """The transformers + PEFT side, run in its own process: prints one JSON line."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, attn_implementation="sdpa")
    model.config.use_cache = False
    if args.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGETS,
                                             task_type="CAUSAL_LM"))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    ids = tokenizer(corpus_text(), return_tensors="pt").input_ids[0]
    rows = ids[: (ids.numel() // SEQ) * SEQ].view(-1, SEQ)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
    model.train()
    times, losses = [], []
    for step in range(args.steps):
        batch = rows[(step * BATCH) % (rows.size(0) - BATCH):][:BATCH]
        start = time.perf_counter()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        times.append(time.perf_counter() - start)
    timed = times[1:]
    print(json.dumps({"tokens_per_s": BATCH * SEQ * len(timed) / sum(timed), "tokens_per_step": BATCH * SEQ,
                      "losses": losses}))


def run_peft(model, work, steps, threads, dtype, checkpointing):
    out = work / f"peft-{dtype}.json"
    argv = [sys.executable, __file__, "--peft-child", "--model", model, "--steps", steps, "--threads", threads,
            "--dtype", dtype] + (["--checkpointing"] if checkpointing else [])
    code, rss = child_rss(argv, out, str(out) + ".err")
    if code != 0:
        raise SystemExit(f"PEFT side failed ({code}):\n{Path(str(out) + '.err').read_text()[-4000:]}")
    result = json.loads(out.read_text().strip().splitlines()[-1])
    result["peak_rss"] = rss
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tailor", default=str(ROOT / "build" / "cli" / "tailor"))
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    ap.add_argument("--checkpointing", action="store_true", help="activation checkpointing on both sides")
    ap.add_argument("--kernels", default="fused", choices=["fused", "reference"], help="tailor's train.kernels")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--peft-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--dtype", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if args.peft_child:
        return peft_child(args)

    cache = ROOT / ".cache" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    model = dense_model(args.tailor, cache)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="train_vs_peft-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"SmolLM2-135M (dense fp32 from {GGUF.name}), LoRA r={RANK} all linear, seq {SEQ} x batch {BATCH}, "
          f"AdamW, {args.threads} threads, {args.steps} steps (first excluded), activation checkpointing "
          f"{'on' if args.checkpointing else 'off'}, tailor kernels {args.kernels}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    rows = []
    for dtype in args.dtypes:
        t = run_tailor(args.tailor, model, work, args.steps, args.threads, dtype, args.checkpointing, args.kernels)
        p = run_peft(model, work, args.steps, args.threads, dtype, args.checkpointing)
        rows.append((dtype, t, p, os.getloadavg()[0]))
    mib = 1024 * 1024
    print(f"{'dtype':<9} {'tailor tok/s':>12} {'PEFT tok/s':>11} {'ratio':>6}   {'tailor RSS':>11} {'PEFT RSS':>10} "
          f"{'ratio':>6}   {'tok/step':>9}  {'load':>5}  first losses tailor / PEFT")
    for dtype, t, p, load in rows:
        print(f"{dtype:<9} {t['tokens_per_s']:>12.1f} {p['tokens_per_s']:>11.1f} "
              f"{t['tokens_per_s'] / p['tokens_per_s']:>5.2f}x   {t['peak_rss'] / mib:>7.0f} MiB {p['peak_rss'] / mib:>6.0f} MiB "
              f"{t['peak_rss'] / p['peak_rss']:>5.2f}x   {t['tokens_per_step']:>4}/{p['tokens_per_step']:<4}  {load:>5.2f}  "
              f"{t['losses'][0]:.3f} / {p['losses'][0]:.3f}")
    print("goal: tokens/s ratio >= 1.5x, RSS ratio <= 0.75x")


if __name__ == "__main__":
    main()
