#!/usr/bin/env python3
"""Tokenizer encode throughput, tailor vs Hugging Face `tokenizers`, on the UDHR corpus (all files, line
by line, special-token text kept as text on both sides). Prints MB/s single-threaded per tokenizer with
the ratio, then batch encoding scaling over threads.

usage: bench/tokenizer_throughput.py [PROBE] [--threads N]
PROBE defaults to build/tests/data/tokenizers/tokenizer_probe (built with the tests)."""
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
        print(f"{'tokenizer':14} {'tailor MB/s':>12} {'HF MB/s':>10} {'ratio':>7}   batch MB/s by threads (tailor) | HF all threads")
        for name, model in MODELS.items():
            if not model.exists():
                print(f"{name:14} (missing {model})")
                continue
            got = json.loads(subprocess.run([args.probe, str(model), str(corpus), "--bench", str(args.threads)],
                                            capture_output=True, text=True, check=True).stdout)
            hf1 = hf_mb_s(model, corpus, 1)
            hfn = hf_mb_s(model, corpus, args.threads)
            batch = "  ".join(f"{t}:{v:.1f}" for t, v in got["batch"].items())
            print(f"{name:14} {got['single_mb_s']:12.2f} {hf1:10.2f} {got['single_mb_s'] / hf1:6.2f}x   {batch} | {hfn:.1f}")


if __name__ == "__main__":
    main()
