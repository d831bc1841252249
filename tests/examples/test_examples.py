"""The example datasets in examples/ are well-formed: every line is a JSON object of its format with the
required fields, roles alternate, text is non-empty NFC UTF-8, counts and sizes match what the README
promises, the two corpus forms hold the same documents, and the support set only names facts FACTS.md lists."""
import json
import re
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import SOURCE_DIR, expect  # noqa: E402

EXAMPLES = SOURCE_DIR / "examples"
# Letters only Vietnamese uses (beyond plain ASCII): a conversation without any is not Vietnamese.
VIETNAMESE = re.compile(r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]", re.I)


def read_text(path: Path) -> str:
    data = path.read_bytes()
    expect(data, f"{path}: empty file")
    expect(not data.startswith(b"\xef\xbb\xbf"), f"{path}: starts with a byte-order mark")
    expect(b"\r" not in data, f"{path}: has CR line endings")
    expect(data.endswith(b"\n"), f"{path}: does not end with a newline")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError(f"{path}: invalid UTF-8 at byte {e.start}") from None


def check_text(value, where: str):
    expect(isinstance(value, str), f"{where}: expected a string, got {type(value).__name__}")
    expect(value.strip(), f"{where}: empty text")
    expect(value == value.strip(), f"{where}: leading or trailing whitespace")
    expect(unicodedata.is_normalized("NFC", value), f"{where}: text is not NFC")
    bad = [c for c in value if unicodedata.category(c) == "Cc" and c != "\n"]
    expect(not bad, f"{where}: control characters {bad!r}")


def read_jsonl(path: Path, keys: set, required: set):
    rows = []
    for number, line in enumerate(read_text(path).split("\n")[:-1], 1):
        where = f"{path.relative_to(SOURCE_DIR)}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise AssertionError(f"{where}: not JSON ({e})") from None
        expect(isinstance(row, dict), f"{where}: not a JSON object")
        expect(set(row) <= keys, f"{where}: unexpected keys {sorted(set(row) - keys)}")
        expect(required <= set(row), f"{where}: missing keys {sorted(required - set(row))}")
        rows.append((where, row))
    return rows


def check_turns(where: str, turns: list, system: str, user: str, assistant: str, key_role: str, key_text: str):
    """System (optional) first, then user/assistant alternating, starting with user, ending with assistant."""
    expect(isinstance(turns, list) and turns, f"{where}: turns must be a non-empty list")
    roles = []
    for i, turn in enumerate(turns):
        expect(isinstance(turn, dict) and set(turn) == {key_role, key_text},
               f"{where}: turn {i} must be {{{key_role}, {key_text}}}, got {turn!r:.80}")
        check_text(turn[key_text], f"{where}: turn {i}")
        roles.append(turn[key_role])
    if roles[0] == system:
        roles = roles[1:]
    expect(roles and len(roles) % 2 == 0, f"{where}: needs user/assistant pairs, got roles {roles}")
    for i, role in enumerate(roles):
        expected = user if i % 2 == 0 else assistant
        expect(role == expected, f"{where}: turn {i} is {role!r}, expected {expected!r} (roles {roles})")
    return len(roles) // 2


def check_vi_instruct():
    first_prompts = {}
    for split, minimum in [("train", 220), ("val", 20)]:
        path = EXAMPLES / "vi_instruct" / f"{split}.jsonl"
        rows = read_jsonl(path, {"messages"}, {"messages"})
        expect(len(rows) >= minimum, f"{path}: {len(rows)} conversations, expected at least {minimum}")
        multi = with_system = 0
        for where, row in rows:
            pairs = check_turns(where, row["messages"], "system", "user", "assistant", "role", "content")
            expect(pairs <= 3, f"{where}: {pairs} user turns, at most 3 expected")
            multi += pairs > 1
            with_system += row["messages"][0]["role"] == "system"
            text = " ".join(m["content"] for m in row["messages"])
            expect(VIETNAMESE.search(text), f"{where}: no Vietnamese letters")
            for m in row["messages"]:
                if m["role"] == "assistant":
                    expect(len(m["content"]) <= 900, f"{where}: an answer of {len(m['content'])} characters")
            prompt = next(m["content"] for m in row["messages"] if m["role"] == "user")
            expect(prompt not in first_prompts, f"{where}: same first question as {first_prompts.get(prompt)}")
            first_prompts[prompt] = where
        if split == "train":
            share = multi / len(rows)
            expect(0.10 <= share <= 0.25, f"{path}: {share:.0%} multi-turn conversations, expected about 15%")
            expect(with_system >= 10, f"{path}: only {with_system} conversations with a system message")
            expect(path.stat().st_size < 400_000, f"{path}: {path.stat().st_size} bytes, expected under 400 KB")


def check_support_en():
    folder = EXAMPLES / "support_en"
    facts = read_text(folder / "FACTS.md")
    texts = []
    alpaca = read_jsonl(folder / "train.jsonl", {"instruction", "input", "output", "system"}, {"instruction", "output"})
    expect(len(alpaca) >= 140, f"support_en/train.jsonl: {len(alpaca)} examples, expected about 150")
    for where, row in alpaca:
        for key in ("instruction", "output", "system"):
            if key in row:
                check_text(row[key], f"{where}: {key}")
        expect(isinstance(row.get("input", ""), str), f"{where}: input must be a string")
        if row.get("input"):
            check_text(row["input"], f"{where}: input")
        texts += [row["instruction"], row.get("input", ""), row["output"]]
    sharegpt = read_jsonl(folder / "sharegpt.jsonl", {"conversations"}, {"conversations"})
    expect(len(sharegpt) >= 35, f"support_en/sharegpt.jsonl: {len(sharegpt)} conversations, expected about 40")
    for where, row in sharegpt:
        check_turns(where, row["conversations"], "system", "human", "gpt", "from", "value")
        texts += [turn["value"] for turn in row["conversations"]]
    completions = read_jsonl(folder / "completions.jsonl", {"prompt", "completion"}, {"prompt", "completion"})
    expect(len(completions) >= 25, f"support_en/completions.jsonl: {len(completions)} pairs, expected about 30")
    for where, row in completions:
        check_text(row["prompt"], f"{where}: prompt")
        # One leading space: prompt and completion are tokenized apart and joined, so the word boundary
        # belongs to the completion.
        expect(row["completion"].startswith(" "), f"{where}: completion must start with one space")
        check_text(row["completion"][1:], f"{where}: completion")
        texts += [row["prompt"], row["completion"]]
    # The invented world stays consistent: every error code, model number and firmware version used is listed.
    corpus = "\n".join(texts)
    for pattern in (r"\bE\d{3}\b", r"\bL[A-Z]-\d{2,3}\b", r"\b\d+\.\d+\.\d+\b"):
        for token in sorted(set(re.findall(pattern, corpus))):
            expect(token in facts, f"support_en uses {token!r}, which FACTS.md does not list")


def check_vi_corpus():
    folder = EXAMPLES / "vi_corpus"
    text = read_text(folder / "corpus.txt")
    documents = text[:-1].split("\n\n---\n\n")
    expect(40 <= len(documents) <= 60, f"vi_corpus/corpus.txt: {len(documents)} documents, expected 40–60")
    for i, doc in enumerate(documents, 1):
        where = f"vi_corpus/corpus.txt: document {i}"
        check_text(doc, where)
        expect("\n\n" not in doc and "\n---\n" not in f"\n{doc}\n", f"{where}: holds a blank line or a separator line")
        words = len(doc.split())
        expect(150 <= words <= 400, f"{where}: {words} words, expected 150–400")
        expect(len(VIETNAMESE.findall(doc)) > words / 4, f"{where}: too few Vietnamese letters for Vietnamese text")
    expect(len(set(documents)) == len(documents), "vi_corpus/corpus.txt: duplicate documents")
    rows = read_jsonl(folder / "corpus.jsonl", {"text"}, {"text"})
    expect([row["text"] for _, row in rows] == documents, "vi_corpus/corpus.jsonl does not hold the documents of corpus.txt in order")
    size = (folder / "corpus.txt").stat().st_size + (folder / "corpus.jsonl").stat().st_size
    expect(150_000 <= size <= 300_000, f"vi_corpus: {size} bytes in its two forms, expected 150–300 KB")


check_vi_instruct()
check_support_en()
check_vi_corpus()
print("examples: all datasets valid")
