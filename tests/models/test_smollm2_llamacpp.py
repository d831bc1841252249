"""The shipped SmolLM2-135M-Instruct Q4_1 GGUF: tailor against llama.cpp (xllamacpp) on the same file.

  loss: `tailor eval --json` on a text vs llama.cpp's mean NLL over the same token ids (each next token
        forced with a logit bias; llama.cpp reports its log-probability under the raw logits). Within 1%.
  greedy: 32 tokens from 5 prompts (same prompt ids, end-of-sequence ignored on both sides) identical;
        a divergence passes only if llama.cpp's own top-2 margin at that step is tiny (< 0.05 nats),
        i.e. the two runtimes' quantized arithmetic may legitimately order the tokens differently.
Usage: test_smollm2_llamacpp.py MODELS_PROBE TEXT_PROBE
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

PROBE, TEXT_PROBE = sys.argv[1], sys.argv[2]
MODEL = harness.DEFAULT_MODEL
TEXT = harness.SHARED_DIR / "corpus" / "udhr" / "eng.txt"
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village,",
    "def fibonacci(n):",
    "The three primary colors are",
    "Water boils at a temperature of",
]
MARGIN = 0.05


def llama_server():
    import xllamacpp
    params = xllamacpp.CommonParams()
    params.model.path = str(MODEL)
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = os.cpu_count() or 2
    params.cpuparams_batch.n_threads = os.cpu_count() or 2
    return xllamacpp.Server(params)


def text_ids(path):
    out = subprocess.run([TEXT_PROBE, str(MODEL), str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["ids"]


def llama_nll(server, ids):
    """Sum of -log p(ids[i] | ids[:i]) for i >= 1, one forced token per request (the prefix is cached)."""
    total = 0.0
    for i in range(1, len(ids)):
        r = server.handle_completions({"prompt": ids[:i], "n_predict": 1, "temperature": 0, "n_probs": 1,
                                       "logit_bias": [[ids[i], 1000.0]], "cache_prompt": True})
        step = r["choices"][0]["logprobs"]["content"][0]
        if step["id"] != ids[i]:
            raise AssertionError(f"llama.cpp did not take the forced token {ids[i]} at {i}: {step['id']}")
        total -= step["logprob"]
    return total


def llama_greedy(server, ids, n):
    r = server.handle_completions({"prompt": ids, "n_predict": n, "temperature": 0, "n_probs": 2,
                                   "ignore_eos": True, "cache_prompt": False})
    steps = r["choices"][0]["logprobs"]["content"]
    margins = [s["top_logprobs"][0]["logprob"] - s["top_logprobs"][1]["logprob"] for s in steps]
    return [s["id"] for s in steps], margins


def main():
    if not MODEL.exists():
        harness.skip(f"{MODEL} not found (run scripts/setup)")
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        harness.skip("xllamacpp is not installed in .venv")
    with tempfile.TemporaryDirectory() as tmp:
        # Loss over the first ~1200 bytes: enough tokens for a stable mean, few enough requests.
        text = Path(tmp) / "eng.txt"
        text.write_text(TEXT.read_text(encoding="utf-8")[:1200], encoding="utf-8")
        got = json.loads(harness.tailor("eval", "--model", MODEL, "--text", text, "--json").stdout)
        ids = text_ids(text)
        server = llama_server()
        ref = llama_nll(server, ids) / (len(ids) - 1)
        rel = abs(got["loss"] - ref) / ref
        print(f"loss: tailor {got['loss']:.5f}, llama.cpp {ref:.5f} over {len(ids) - 1} tokens ({100 * rel:.3f}%)")
        harness.expect(got["tokens"] == len(ids) - 1, f"tailor scored {got['tokens']} tokens, expected {len(ids) - 1}")
        harness.expect(rel <= 0.01, f"loss differs by {100 * rel:.2f}% (> 1%)")

        prompts = []
        for i, p in enumerate(PROMPTS):
            f = Path(tmp) / f"prompt{i}.txt"
            f.write_text(p, encoding="utf-8")
            prompts.append(text_ids(f))
        out = Path(tmp) / "out"
        out.mkdir()
        request = {"model": str(MODEL), "dtype": "float32",
                   "generate": [{"prompt": ids, "max_new_tokens": 32} for ids in prompts]}
        (out / "request.json").write_text(json.dumps(request))
        probe = subprocess.run([PROBE, str(out / "request.json"), str(out)], capture_output=True, text=True, check=True)
        ours = json.loads(probe.stdout)["generations"]
        problems = []
        for prompt, ids, mine in zip(PROMPTS, prompts, ours):
            theirs, margins = llama_greedy(server, ids, 32)
            if mine == theirs:
                print(f"greedy identical: {prompt!r}")
                continue
            step = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
            print(f"greedy diverges at step {step} for {prompt!r}: tailor {mine[step]}, llama.cpp {theirs[step]}, "
                  f"llama.cpp top-2 margin {margins[step]:.4f} nats")
            if margins[step] >= MARGIN:
                problems.append(f"{prompt!r}: divergence at step {step} with margin {margins[step]:.4f}")
        harness.expect(not problems, "\n".join(problems))
    print("SmolLM2 GGUF agrees with llama.cpp")


if __name__ == "__main__":
    main()
