"""`tailor eval --json` against transformers' cross-entropy on the same text and model.

A tiny random Llama with the real Llama 2 tokenizer (SentencePiece-style, BOS added) is saved with
transformers; the reference loss is computed by transformers with the HF tokenizer's ids:
  1. one window: model(ids, labels=ids).loss (transformers' mean cross-entropy);
  2. a long file with --context 128 --stride 64: transformers' strided-perplexity loop.
Checked: loss within 1e-4 relative, tokens scored, bytes, perplexity = exp(loss),
bits_per_byte = total NLL / (ln 2 x UTF-8 bytes).
"""
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402

TOKENIZER = harness.SHARED_DIR / "tokenizers" / "llama2"
TEXT = harness.SHARED_DIR / "corpus" / "udhr" / "eng.txt"
REL_TOL = 1e-4


def strided_nll(model, ids, context, stride):
    """transformers' documented strided perplexity: each token scored once with <= context history."""
    total, count, prev_end = 0.0, 0, 0
    n = ids.size(1)
    for begin in range(0, n, stride):
        end = min(begin + context, n)
        target_len = end - prev_end
        window = ids[:, begin:end]
        labels = window.clone()
        labels[:, :-target_len] = -100
        with torch.no_grad():
            loss = model(window, labels=labels).loss
        scored = int((labels[:, 1:] != -100).sum())
        total += float(loss) * scored
        count += scored
        prev_end = end
        if end == n:
            break
    return total, count


def run_eval(folder, text_file, *extra):
    out = harness.tailor("eval", "--model", folder, "--text", text_file, "--json", *extra)
    return json.loads(out.stdout)


def check(got, ref_nll, ref_tokens, text_bytes, label):
    ref_loss = ref_nll / ref_tokens
    print(f"{label}: tailor loss {got['loss']:.6f}, transformers {ref_loss:.6f}, tokens {got['tokens']}/{ref_tokens}")
    harness.expect(got["tokens"] == ref_tokens, f"{label}: scored {got['tokens']} tokens, transformers {ref_tokens}")
    harness.expect(got["bytes"] == text_bytes, f"{label}: bytes {got['bytes']}, expected {text_bytes}")
    harness.expect(abs(got["loss"] - ref_loss) <= REL_TOL * abs(ref_loss),
                   f"{label}: loss {got['loss']} vs transformers {ref_loss}")
    harness.expect(abs(got["perplexity"] - math.exp(got["loss"])) <= 1e-6 * got["perplexity"], "perplexity != exp(loss)")
    bpb = ref_nll / (math.log(2) * text_bytes)
    harness.expect(abs(got["bits_per_byte"] - bpb) <= REL_TOL * bpb, f"{label}: bits/byte {got['bits_per_byte']} vs {bpb}")


def main():
    if not TOKENIZER.exists():
        harness.skip(f"{TOKENIZER} not found")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(TOKENIZER))
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=1024, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        model.save_pretrained(folder)
        for f in TOKENIZER.iterdir():
            shutil.copy(f, folder / f.name)

        full_text = TEXT.read_text(encoding="utf-8")
        short = Path(tmp) / "short.txt"
        short.write_text(full_text[:1500], encoding="utf-8")
        short_text = short.read_text(encoding="utf-8")
        ids = tokenizer(short_text, return_tensors="pt").input_ids
        with torch.no_grad():
            loss = float(model(ids, labels=ids).loss)
        n = ids.size(1) - 1
        check(run_eval(folder, short), loss * n, n, len(short_text.encode("utf-8")), "one window")

        ids = tokenizer(full_text, return_tensors="pt").input_ids
        nll, count = strided_nll(model, ids, 128, 64)
        check(run_eval(folder, TEXT, "--context", 128, "--stride", 64), nll, count,
              len(full_text.encode("utf-8")), "sliding window")

        bad = harness.tailor("eval", "--model", Path(tmp) / "nope", "--text", TEXT, check=False)
        harness.expect(bad.returncode == 2 and "no such file" in bad.stderr, f"missing model: {bad.stderr}")
    print("eval parity OK")


if __name__ == "__main__":
    main()
