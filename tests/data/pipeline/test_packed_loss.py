"""Packing boundaries through the model: `tailor data prepare` packs documents into rows; run as the trainer
batches them (document boundaries, the pipeline's position ids), every token's loss must equal the loss of
the same document run alone, in transformers (the reference) and in tailor, fp32, within 1e-5.

A tiny random Llama (transformers, saved as an HF folder with the real Llama 2 tokenizer) and text
documents of varied lengths packed into rows of 64 tokens. The test also checks that it can see a leak:
the same rows run as one causal sequence (no boundaries) must differ from the reference.
argv[1]: packed_loss_probe."""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import harness  # noqa: E402

try:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
except ImportError as e:
    harness.skip(f"torch/transformers not available: {e}")

PROBE = sys.argv[1]
TOKENIZER = harness.SHARED_DIR / "tokenizers" / "llama2"
TOLERANCE = 1e-5
WORDS = ("the model reads each document on its own and never sees its neighbours in the packed row "
         "Việt Nam có nhiều tỉnh thành 2024 🤖 tokens").split()

tmp = tempfile.TemporaryDirectory()
root = Path(tmp.name)
torch.manual_seed(0)
config = LlamaConfig(vocab_size=32000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                     bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
reference = LlamaForCausalLM(config).eval()
with torch.no_grad():  # larger weights than the default init, so attention patterns (and leaks) matter
    for p in reference.parameters():
        if p.dim() == 2:
            p.normal_(0, 0.2)
reference.config._attn_implementation = "eager"
reference.save_pretrained(root / "model", safe_serialization=True)
for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
    if (TOKENIZER / name).exists():
        shutil.copy(TOKENIZER / name, root / "model" / name)

with open(root / "docs.jsonl", "w", encoding="utf-8") as f:
    for i in range(24):
        n = 1 + (i * 7) % 23  # 1..23 words: documents from 3 to ~60 tokens
        f.write(json.dumps({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n))}, ensure_ascii=False) + "\n")
(root / "r.yaml").write_text(f"model: {root / 'model'}\ndata:\n  sources:\n    - path: docs.jsonl\n"
                             f"  max_seq_len: 64\n  packing: true\n  val_ratio: 0\n  cache_dir: {root / 'cache'}\n")
stats = json.loads(harness.tailor("data", "prepare", root / "r.yaml", "--json").stdout)
caches = list((root / "cache").glob("prepared-*.h5"))
harness.expect(len(caches) == 1, f"expected one cache file, found {caches}")

proc = subprocess.run([PROBE, str(root / "model"), str(caches[0])], capture_output=True, text=True, timeout=600)
harness.expect(proc.returncode == 0, f"packed_loss_probe failed: {proc.stderr}")
rows = json.loads(proc.stdout)["rows"]

worst_ref = worst_alone = 0.0
leak = 0.0
tokens = documents = multi_doc_rows = 0
with torch.no_grad():
    for r, row in enumerate(rows):
        cu, ids = row["cu_seqlens"], row["ids"]
        multi_doc_rows += len(cu) > 2
        for k in range(len(cu) - 1):
            a, b = cu[k], cu[k + 1]
            documents += 1
            harness.expect(row["position_ids"][a:b] == list(range(b - a)), f"row {r} doc {k}: positions do not restart")
            harness.expect(row["labels"][a] == -100, f"row {r} doc {k}: the first token must not be a target")
            if b - a < 2:
                continue
            logits = reference(torch.tensor([ids[a:b]])).logits[0].float()
            want = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(ids[a + 1:b]), reduction="none").tolist()
            got, alone, unmasked = row["nll"][a:b - 1], row["nll_alone"][a:b - 1], row["nll_unmasked"][a:b - 1]
            worst_ref = max(worst_ref, max(abs(x - y) for x, y in zip(got, want)))
            worst_alone = max(worst_alone, max(abs(x - y) for x, y in zip(got, alone)))
            if k > 0:
                leak = max(leak, max(abs(x - y) for x, y in zip(unmasked, want)))
            tokens += len(want)

print(f"{len(rows)} packed rows ({multi_doc_rows} with several documents), {documents} documents, {tokens} token losses; "
      f"efficiency {stats['train_efficiency']:.3f}")
print(f"max |packed - transformers alone| = {worst_ref:.3g}; max |packed - tailor alone| = {worst_alone:.3g}; "
      f"without boundaries the loss moves by up to {leak:.3g}")
harness.expect(multi_doc_rows >= 3, "the rows are not packed: nothing is tested")
harness.expect(worst_ref <= TOLERANCE, f"packed per-token loss differs from transformers by {worst_ref}")
harness.expect(worst_alone <= TOLERANCE, f"packed per-token loss differs from the document alone by {worst_alone}")
harness.expect(leak > 1e-3, f"attention across documents would go unnoticed (leak {leak})")
print("ok")
