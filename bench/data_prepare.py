#!/usr/bin/env python3
"""Dataset prepare throughput: `tailor data prepare` beside a Hugging Face `datasets.map` + tokenizer
pipeline doing the same work (chat template, tokenization, assistant-only mask) on the same JSONL, both
with 2 workers. Prints MB of raw JSONL per second side by side and the ratio.

    .venv/bin/python bench/data_prepare.py [--mb 20] [--tokenizer ../shared/tokenizers/qwen3]

Not a test: numbers depend on the machine. The data is synthetic (seeded), generated into a temp folder."""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SOURCE_DIR / "tests" / "support"))
import harness  # noqa: E402

WORDS = ("the model learns what the assistant says while the user asks questions about tokens packing "
         "datasets templates masks training rows documents bảo hành sản phẩm tiếng Việt có dấu hỏi đáp "
         "support ticket warranty refund shipping order invoice account password reset").split()


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def make_jsonl(path, megabytes, seed=0):
    rng = random.Random(seed)
    target = megabytes * 1_000_000
    written = 0
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            turns = [{"role": "system", "content": sentence(rng, 8)}]
            for _ in range(rng.randint(1, 3)):
                turns.append({"role": "user", "content": sentence(rng, rng.randint(5, 40))})
                turns.append({"role": "assistant", "content": sentence(rng, rng.randint(10, 120))})
            line = json.dumps({"messages": turns}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode())
    return written


def run_tailor(data_file, tokenizer, workdir):
    recipe = Path(workdir) / "bench.yaml"
    recipe.write_text(f"data:\n  sources: [{{path: {data_file}}}]\n  tokenizer: {tokenizer}\n  max_seq_len: 2048\n"
                      f"  threads: 2\n  dedupe: false\n  cache_dir: {workdir}/cache\n")
    start = time.perf_counter()
    proc = harness.tailor("data", "prepare", recipe, "--force")
    return time.perf_counter() - start, proc.stdout


def hf_map(batch, tokenizer):
    ids_out, mask_out = [], []
    for messages in batch["messages"]:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        # Assistant spans: where each assistant message's content sits in the rendered text.
        spans, at = [], 0
        for m in messages:
            if m["role"] == "assistant":
                begin = text.find(m["content"], at)
                if begin >= 0:
                    spans.append((begin, begin + len(m["content"])))
                    at = begin + len(m["content"])
        mask = [int(any(b <= s < e for b, e in spans)) for s, _ in enc["offset_mapping"]]
        ids_out.append(enc["input_ids"])
        mask_out.append(mask)
    return {"input_ids": ids_out, "trained": mask_out}


def run_hf(data_file, tokenizer_dir, workdir):
    os.environ["HF_DATASETS_CACHE"] = str(Path(workdir) / "hf-cache")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from datasets import load_dataset, disable_caching, disable_progress_bars
    from transformers import AutoTokenizer
    disable_caching()
    disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    start = time.perf_counter()
    ds = load_dataset("json", data_files=str(data_file), split="train", cache_dir=str(Path(workdir) / "hf-cache"))
    ds = ds.map(hf_map, batched=True, batch_size=256, num_proc=2, fn_kwargs={"tokenizer": tokenizer},
                remove_columns=ds.column_names)
    tokens = sum(len(x) for x in ds["input_ids"])
    return time.perf_counter() - start, tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--tokenizer", default=str(harness.SHARED_DIR / "tokenizers" / "qwen3"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        data_file = Path(workdir) / "chat.jsonl"
        size = make_jsonl(data_file, args.mb)
        mb = size / 1e6
        tailor_s, report = run_tailor(data_file, args.tokenizer, workdir)
        hf_s, hf_tokens = run_hf(data_file, args.tokenizer, workdir)
        print(report)
        print(f"{mb:.1f} MB of OpenAI-messages JSONL, tokenizer {Path(args.tokenizer).name}, 2 workers each")
        print(f"{'pipeline':<44}{'seconds':>10}{'MB/s':>10}")
        print(f"{'tailor data prepare (incl. HDF5 cache)':<44}{tailor_s:>10.2f}{mb / tailor_s:>10.2f}")
        print(f"{'HF datasets.map + apply_chat_template':<44}{hf_s:>10.2f}{mb / hf_s:>10.2f}")
        print(f"ratio (tailor / HF throughput): {hf_s / tailor_s:.2f}x   (HF tokens: {hf_tokens})")


if __name__ == "__main__":
    main()
