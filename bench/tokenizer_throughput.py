#!/usr/bin/env python3
"""Tokenizer encode throughput, tailor vs Hugging Face `tokenizers`, on the UDHR corpus (all files, line
by line, special-token text kept as text on both sides). Prints MB/s single-threaded per tokenizer with
the ratio, then batch encoding scaling over threads.

usage: bench/tokenizer_throughput.py [PROBE] [--threads N]
PROBE defaults to build/tests/data/tokenizers/tokenizer_probe (built with the tests). --threads: the
largest thread count for batch encoding (default: all CPUs); the ratio column is its MB/s over 1 thread's."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MODELS = {
    "qwen3": SHARED / "tokenizers" / "qwen3",
    "llama3_1": SHARED / "tokenizers" / "llama3_1",
    "llama2": SHARED / "tokenizers" / "llama2",
    "smollm2-gguf": ROOT / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf",
}

HF_BENCH = r"""
import json, sys, time
from tokenizers import Tokenizer
path, corpus = sys.argv[1], sys.argv[2]
if path.endswith(".gguf"):
    from pathlib import Path
    from transformers import AutoTokenizer
    p = Path(path)
    tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name).backend_tokenizer
else:
    tok = Tokenizer.from_file(path + "/tokenizer.json")
tok.encode_special_tokens = True
text = open(corpus, encoding="utf-8", newline="").read()
lines = text.split("\n")
size = len(text.encode("utf-8"))
tok.encode_batch(lines, add_special_tokens=False)  # warm the cache, as tailor's first pass does
rounds, t0 = 0, time.perf_counter()
while True:
    tok.encode_batch(lines, add_special_tokens=False)
    rounds += 1
    if time.perf_counter() - t0 > 1.0:
        break
print(json.dumps({"mb_s": size * rounds / (time.perf_counter() - t0) / 1e6}))
"""


def hf_mb_s(model, corpus, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", HF_BENCH, str(model), str(corpus)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["mb_s"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("probe", nargs="?", default=str(ROOT / "build" / "tests" / "data" / "tokenizers" / "tokenizer_probe"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "udhr.txt"
        corpus.write_bytes(b"\n".join(p.read_bytes().rstrip(b"\n") for p in sorted((SHARED / "corpus" / "udhr").glob("*.txt"))))
        print(f"corpus: {corpus.stat().st_size / 1e6:.2f} MB (UDHR, 20 languages), {os.cpu_count()} CPUs")
        print(f"{'tokenizer':14} {'tailor MB/s':>12} {'HF MB/s':>10} {'ratio':>7}   {'HF all thr':>10}")
        scaling = []
        for name, model in MODELS.items():
            if not model.exists():
                print(f"{name:14} (missing {model})")
                continue
            load = os.getloadavg()[0]
            got = json.loads(subprocess.run([args.probe, str(model), str(corpus), "--bench", str(args.threads)],
                                            capture_output=True, text=True, check=True).stdout)
            hf1 = hf_mb_s(model, corpus, 1)
            hfn = hf_mb_s(model, corpus, args.threads)
            print(f"{name:14} {got['single_mb_s']:12.2f} {hf1:10.2f} {got['single_mb_s'] / hf1:6.2f}x   {hfn:10.2f}")
            scaling.append((name, load, os.getloadavg()[0], got["batch"]))
        # Batch encoding over threads. The machine may be shared: the load average (before/after) and the
        # cores the process actually got (CPU s / wall s) say whether a ratio below the thread count is ours.
        print(f"\nbatch encode_batch MB/s by threads (best of 3 alternating rounds); load average 1 min before/after")
        counts = sorted({int(t) for _, _, _, b in scaling for t in b})
        print(f"{'tokenizer':14} {'load':>11} " + " ".join(f"{str(t) + ' thr':>9} {'cores':>5}" for t in counts) + f" {'ratio':>7}")
        for name, before, after, batch in scaling:
            cells = " ".join(f"{batch[str(t)]['mb_s']:9.2f} {batch[str(t)]['cores_used']:5.2f}" for t in counts)
            ratio = batch[str(counts[-1])]["mb_s"] / batch["1"]["mb_s"]
            print(f"{name:14} {before:5.2f}/{after:5.2f} {cells} {ratio:6.2f}x")


if __name__ == "__main__":
    main()
