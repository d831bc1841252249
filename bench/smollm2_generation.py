"""Benchmark (not a test): SmolLM2-135M-Instruct Q4_1 GGUF, tailor beside llama.cpp (xllamacpp) on CPU.

Prints load time, prompt processing and generation speed side by side, with tailor/llama.cpp ratios.
tailor dequantizes the GGUF to float32 at load and runs LibTorch matmuls; llama.cpp runs the Q4_1
blocks directly, so expect it to be faster at generation.

    .venv/bin/python bench/smollm2_generation.py [--tailor build/cli/tailor] [--tokens 64] [--repeats 3] [--threads N]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = "Write a short story about a robot who learns to paint. Once upon a time,"


def run_tailor(binary, tokens, dtype, threads):
    out = subprocess.run([binary, "generate", "--model", MODEL, "--prompt", PROMPT, "--max-new-tokens", str(tokens),
                          "--no-stop", "--stats", "--dtype", dtype, "--threads", str(threads)],
                         capture_output=True, text=True, check=True)
    m = re.search(r"load ([\d.]+) s, prompt (\d+) tokens in ([\d.]+) s, generated (\d+) tokens, ([\d.]+) tokens/s",
                  out.stderr)
    if not m:
        raise SystemExit(f"unexpected tailor output: {out.stderr}")
    return {"load_s": float(m[1]), "prompt_tok_s": int(m[2]) / max(float(m[3]), 1e-9), "gen_tok_s": float(m[5])}


def run_llamacpp(tokens, threads):
    import xllamacpp
    params = xllamacpp.CommonParams()
    params.model.path = str(MODEL)
    params.n_ctx = 1024
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    start = time.perf_counter()
    server = xllamacpp.Server(params)
    load = time.perf_counter() - start
    r = server.handle_completions({"prompt": PROMPT, "n_predict": tokens, "temperature": 0, "ignore_eos": True,
                                   "cache_prompt": False})
    t = r["timings"]
    del server
    return {"load_s": load, "prompt_tok_s": t["prompt_per_second"], "gen_tok_s": t["predicted_per_second"]}


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tailor", default=str(ROOT / "build" / "cli" / "tailor"))
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="float32", help="tailor's compute dtype (float32 or bfloat16)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for both")
    args = ap.parse_args()
    if not MODEL.exists():
        sys.exit(f"{MODEL} not found: run scripts/setup")
    ours = [run_tailor(args.tailor, args.tokens, args.dtype, args.threads) for _ in range(args.repeats)]
    theirs = [run_llamacpp(args.tokens, args.threads) for _ in range(args.repeats)]
    print(f"SmolLM2-135M-Instruct Q4_1, CPU ({args.threads} threads), {args.tokens} generated tokens, "
          f"median of {args.repeats}; tailor dtype {args.dtype}")
    print(f"{'metric':28s} {'tailor':>12s} {'llama.cpp':>12s} {'tailor/llama.cpp':>18s}")
    for key, label in [("load_s", "load time (s)"), ("prompt_tok_s", "prompt tokens/s"),
                       ("gen_tok_s", "generation tokens/s")]:
        a, b = median(ours, key), median(theirs, key)
        print(f"{label:28s} {a:12.3f} {b:12.3f} {a / b:18.2f}")


if __name__ == "__main__":
    main()
