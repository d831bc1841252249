"""The shipped SmolLM2-135M-Instruct Q4_1 GGUF: tailor against llama.cpp (xllamacpp) on the same file.

  loss: `tailor eval --json` on a text vs llama.cpp's mean NLL over the same token ids (each next token
        forced with a logit bias; llama.cpp reports its log-probability under the raw logits). Within 1%.
        The per-token log-probability differences are reported: llama.cpp multiplies Q4_1 weights with
        8-bit-quantized activations and keeps K/V in float16, tailor dequantizes to float32.
  greedy: 32 tokens from 5 prompts (same prompt ids, end-of-sequence ignored on both sides). Identical,
        or the divergence is explained: the two tokens are llama.cpp's top two at that step and its margin
        is below the largest per-token log-probability difference measured on the loss text.
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

import numpy as np  # noqa: E402

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


def llama_logprobs(server, ids):
    """log p(ids[i] | ids[:i]) for i >= 1, one forced token per request (the prefix is cached)."""
    logprobs = []
    for i in range(1, len(ids)):
        r = server.handle_completions({"prompt": ids[:i], "n_predict": 1, "temperature": 0, "n_probs": 1,
                                       "logit_bias": [[ids[i], 1000.0]], "cache_prompt": True})
        step = r["choices"][0]["logprobs"]["content"][0]
        if step["id"] != ids[i]:
            raise AssertionError(f"llama.cpp did not take the forced token {ids[i]} at {i}: {step['id']}")
        logprobs.append(step["logprob"])
    return logprobs


def llama_greedy(server, ids, n):
    r = server.handle_completions({"prompt": ids, "n_predict": n, "temperature": 0, "n_probs": 2,
                                   "ignore_eos": True, "cache_prompt": False})
    steps = r["choices"][0]["logprobs"]["content"]
    margins = [s["top_logprobs"][0]["logprob"] - s["top_logprobs"][1]["logprob"] for s in steps]
    top2 = [[t["id"] for t in s["top_logprobs"][:2]] for s in steps]
    return [s["id"] for s in steps], top2, margins


def probe_logprobs(rows, tmp):
    """tailor's log-softmax over each row's positions, from models_probe (float32 logits)."""
    out = Path(tmp) / f"probe{len(list(Path(tmp).glob('probe*')))}"
    out.mkdir()
    batches = [{"name": f"r{i}", "input_ids": [row]} for i, row in enumerate(rows)]
    (out / "request.json").write_text(json.dumps({"model": str(MODEL), "batches": batches}))
    proc = subprocess.run([PROBE, str(out / "request.json"), str(out)], capture_output=True, text=True, check=True)
    shapes = json.loads(proc.stdout)["batches"]
    result = []
    for i in range(len(rows)):
        logits = np.fromfile(out / f"r{i}.f32", dtype=np.float32).reshape(shapes[f"r{i}"])[0].astype(np.float64)
        top = logits.max(-1, keepdims=True)
        result.append(logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True)))
    return result


def main():
    if not MODEL.exists():
        harness.skip(f"{MODEL} not found (run scripts/setup)")
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        harness.skip("xllamacpp is not installed in .venv")
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "eng.txt"
        text.write_text(TEXT.read_text(encoding="utf-8")[:600], encoding="utf-8")
        got = json.loads(harness.tailor("eval", "--model", MODEL, "--text", text, "--json").stdout)
        ids = text_ids(text)
        harness.expect(got["tokens"] == len(ids) - 1, f"tailor scored {got['tokens']} tokens, expected {len(ids) - 1}")
        ours = probe_logprobs([ids], tmp)[0]
        ours = np.array([ours[i - 1, ids[i]] for i in range(1, len(ids))])
        harness.expect(abs(-ours.mean() - got["loss"]) <= 1e-4 * got["loss"], "eval and the probe disagree")

        server = llama_server()
        theirs = np.array(llama_logprobs(server, ids))
        ref = -theirs.mean()
        rel = abs(got["loss"] - ref) / ref
        worst = float(np.abs(ours - theirs).max())
        print(f"loss: tailor {got['loss']:.5f}, llama.cpp {ref:.5f} over {len(ids) - 1} tokens ({100 * rel:.3f}%); "
              f"per-token |Δ log p| mean {np.abs(ours - theirs).mean():.4f}, max {worst:.4f}")
        harness.expect(rel <= 0.01, f"loss differs by {100 * rel:.2f}% (> 1%)")

        prompts = []
        for i, p in enumerate(PROMPTS):
            f = Path(tmp) / f"prompt{i}.txt"
            f.write_text(p, encoding="utf-8")
            prompts.append(text_ids(f))
        out = Path(tmp) / "generate"
        out.mkdir()
        request = {"model": str(MODEL), "generate": [{"prompt": p, "max_new_tokens": 32} for p in prompts]}
        (out / "request.json").write_text(json.dumps(request))
        probe = subprocess.run([PROBE, str(out / "request.json"), str(out)], capture_output=True, text=True, check=True)
        mine_all = json.loads(probe.stdout)["generations"]
        problems, identical = [], 0
        for prompt, ids, mine in zip(PROMPTS, prompts, mine_all):
            theirs, top2, margins = llama_greedy(server, ids, 32)
            if mine == theirs:
                identical += 1
                print(f"greedy identical: {prompt!r}")
                continue
            step = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
            lp = probe_logprobs([ids + mine[:step]], tmp)[0][-1]
            our_margin = lp[mine[step]] - lp[theirs[step]]
            print(f"greedy diverges at step {step} for {prompt!r}: tailor {mine[step]} (by {our_margin:.4f} nats), "
                  f"llama.cpp {theirs[step]} (by {margins[step]:.4f} nats)")
            if set(top2[step]) != {mine[step], theirs[step]} or margins[step] > worst:
                problems.append(f"{prompt!r}: unexplained divergence at step {step} (llama.cpp top-2 {top2[step]}, "
                                f"margin {margins[step]:.4f} > measured per-token difference {worst:.4f})")
        print(f"{identical}/{len(PROMPTS)} greedy continuations identical")
        harness.expect(not problems, "\n".join(problems))
    print("SmolLM2 GGUF agrees with llama.cpp")


if __name__ == "__main__":
    main()
