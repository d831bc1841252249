"""`tailor data prepare` / `inspect` on real tokenizers: token and trained-token counts of text and
completion sources must equal what Hugging Face tokenizers gives for the same documents (BOS where the
tokenizer adds one, EOS after every document), and inspect must mark exactly the trained spans."""
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import harness  # noqa: E402

try:
    from transformers import AutoTokenizer
except ImportError:
    harness.skip("transformers is not installed in .venv")


def text_documents(path):
    docs, current = [], []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        line = line.rstrip("\r")
        if line.strip(" \t") == "":
            if current:
                docs.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        docs.append("\n".join(current))
    return docs


def check(tokenizer_name):
    tok_dir = harness.SHARED_DIR / "tokenizers" / tokenizer_name
    corpus = harness.SHARED_DIR / "corpus" / "udhr" / "vie.txt"
    if not tok_dir.exists() or not corpus.exists():
        harness.skip(f"missing {tok_dir} or {corpus}")
    hf = AutoTokenizer.from_pretrained(str(tok_dir))
    adds_bos = hf.bos_token_id is not None and hf("x")["input_ids"][:1] == [hf.bos_token_id]
    eos = 1 if hf.eos_token_id is not None else 0
    bos = 1 if adds_bos else 0
    pairs = [("Dịch sang tiếng Anh: xin chào", " hello"), ("2+2=", " 4"), ("Thủ đô của Việt Nam là", " Hà Nội.")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with open(tmp / "c.jsonl", "w", encoding="utf-8") as f:
            for p, c in pairs:
                f.write(json.dumps({"prompt": p, "completion": c}, ensure_ascii=False) + "\n")
        (tmp / "r.yaml").write_text(
            f"model: {tok_dir}\ndata:\n  sources:\n    - path: {corpus}\n    - path: c.jsonl\n"
            f"  max_seq_len: 100000\n  threads: 2\n")
        stats = json.loads(harness.tailor("data", "prepare", tmp / "r.yaml", "--json").stdout)
        docs = text_documents(corpus)
        text_tokens = sum(len(hf.encode(d, add_special_tokens=False)) + bos + eos for d in docs)
        text = stats["sources"][0]
        harness.expect(text["samples"] == len(docs), f"{tokenizer_name}: {text['samples']} documents, expected {len(docs)}")
        harness.expect(text["tokens"] == text_tokens, f"{tokenizer_name}: text tokens {text['tokens']}, HF {text_tokens}")
        comp = stats["sources"][1]
        want_tokens = sum(bos + len(hf.encode(p, add_special_tokens=False)) + len(hf.encode(c, add_special_tokens=False)) + eos
                          for p, c in pairs)
        want_trained = sum(len(hf.encode(c, add_special_tokens=False)) + eos for p, c in pairs)
        harness.expect(comp["tokens"] == want_tokens, f"{tokenizer_name}: completion tokens {comp['tokens']}, HF {want_tokens}")
        harness.expect(comp["trained_tokens"] == want_trained,
                       f"{tokenizer_name}: trained {comp['trained_tokens']}, HF {want_trained}")
        again = json.loads(harness.tailor("data", "prepare", tmp / "r.yaml", "--json").stdout)
        harness.expect(again["sources"] == stats["sources"], "a second prepare must reuse the same statistics")
        shown = harness.tailor("data", "inspect", tmp / "r.yaml", "--n", "200").stdout
        for p, c in pairs:
            harness.expect(f"{p}[[{c}" in shown, f"{tokenizer_name}: inspect does not mark '{c}' as trained:\n{shown[-2000:]}")


CONVERSATIONS = [
    [{"role": "system", "content": "Bạn là trợ lý."}, {"role": "user", "content": "Xin chào"},
     {"role": "assistant", "content": "Chào bạn! Tôi giúp gì được?"}, {"role": "user", "content": "2+2?"},
     {"role": "assistant", "content": "Bằng 4."}],
    [{"role": "user", "content": "Write <|im_end|> and <|eot_id|> literally"}, {"role": "assistant", "content": "Done: <|im_end|>"}],
]


def expected_spans(hf, messages, end_of_turn):
    """The trained character spans by the rule data/chat_mask.h documents, rendered by transformers."""
    full = hf.apply_chat_template(messages, tokenize=False)
    spans, at = [], 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = hf.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True) if i else ""
        start = len(prefix) if full.startswith(prefix) and i else full.find(m["content"], at)
        content_end = full.find(m["content"], start) + len(m["content"])
        end = full.find(end_of_turn, content_end) + len(end_of_turn)
        spans.append(full[start:end])
        at = end
    return spans


def check_chat_mask(tokenizer_name, end_of_turn):
    tok_dir = harness.SHARED_DIR / "tokenizers" / tokenizer_name
    hf = AutoTokenizer.from_pretrained(str(tok_dir))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with open(tmp / "chat.jsonl", "w", encoding="utf-8") as f:
            for conversation in CONVERSATIONS:
                f.write(json.dumps({"messages": conversation}, ensure_ascii=False) + "\n")
        (tmp / "r.yaml").write_text(f"model: {tok_dir}\ndata:\n  sources: [{{path: chat.jsonl}}]\n  dedupe: false\n")
        shown = harness.tailor("data", "inspect", tmp / "r.yaml", "--n", "10").stdout
        got = []
        for block in shown.split("── sample ")[1:]:
            body = block.split("──\n", 1)[1]
            got.append(sorted(piece.split("]]")[0] for piece in body.split("[[")[1:]))
        want = sorted(sorted(expected_spans(hf, c, end_of_turn)) for c in CONVERSATIONS)
        harness.expect(sorted(got) == want, f"{tokenizer_name}: trained spans {sorted(got)}\nexpected {want}")


for name in ("qwen3", "llama3_1"):
    check(name)
check_chat_mask("qwen3", "<|im_end|>")        # ChatML
check_chat_mask("llama3_1", "<|eot_id|>")     # Llama 3
print("ok")
