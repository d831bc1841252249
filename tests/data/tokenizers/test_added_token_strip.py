"""Added tokens with lstrip / rstrip (tokenizer.json "added_tokens"): the whitespace around them is absorbed
as HF tokenizers does, both when they are matched in text and in the piecewise encoding of chat masks.

The real tokenizers in ../shared have no such tokens, so they are added with tokenizers' own
AddedToken(lstrip=..., rstrip=...) to two real tokenizers: Llama 3.1 (byte-level BPE) and Llama 2
(SentencePiece-style BPE with byte fallback), and saved as tokenizer.json for tailor.
Expected values: HF tokenizers' encode (special tokens matched, and plain encode for a non-special token),
transformers' apply_chat_template ids and return_assistant_tokens_mask for a {% generation %} template
that writes the tokens next to spaces.
argv[1]: tokenizer_probe, argv[2]: render_cases."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from harness import SHARED_DIR, expect, skip  # noqa: E402

try:
    from tokenizers import AddedToken, Tokenizer
    from transformers import PreTrainedTokenizerFast
except ImportError as e:
    skip(f"tokenizers/transformers not available: {e}")

PROBE, RENDER = sys.argv[1], sys.argv[2]
ADDED = [
    AddedToken("<mask>", lstrip=True, special=True, normalized=False),
    AddedToken("<sep>", rstrip=True, special=True, normalized=False),
    AddedToken("<both>", lstrip=True, rstrip=True, special=True, normalized=False),
    AddedToken("[plain]", rstrip=True, special=False, normalized=False),  # non-special: matched by encode() too
]
LINES = [
    "a <mask> b",
    "a   <mask>   b",
    "x<sep>   y",
    " <both> ",
    "\t<both>\v<both>  z",
    "<mask><mask>  <sep> <sep> end",
    "\u3000<mask>\u00a0b\u2003<sep>\u2009c",
    "no tokens here, just  spaces ",
    "word[plain]   next [plain]\tlast",
    "Việt  <mask>  ngữ 🤖<sep>  日本",
    "   ",
    "<sep>",
]
# Line breaks are whitespace too: checked in the whole text (the probe encodes per line and whole).
BREAKS = "x <sep>\n\ny <mask>\r\n<both>\u2029z"
TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'assistant' %}{{ 'A:' }}{% generation %}{{ ' ' + m['content'] + "
            "'  <both>  ' }}{% endgeneration %}{% else %}{{ 'U:  <mask> ' + m['content'] + ' <sep>  ' }}{% endif %}"
            "{% endfor %}")
CONVERSATION = [
    {"role": "user", "content": "Hello  there"},
    {"role": "assistant", "content": "Hi, how  are you? "},
    {"role": "user", "content": " fine [plain]  thanks"},
    {"role": "assistant", "content": "Good.\n"},
]

tmp = tempfile.TemporaryDirectory()
corpus = Path(tmp.name) / "lines.txt"
corpus.write_text("\n".join(LINES + [BREAKS]), encoding="utf-8", newline="")
failures, compared = [], 0
for name in ["llama3_1", "llama2"]:
    hf = Tokenizer.from_file(str(SHARED_DIR / "tokenizers" / name / "tokenizer.json"))
    hf.add_special_tokens([t for t in ADDED if t.special])
    hf.add_tokens([t for t in ADDED if not t.special])
    folder = Path(tmp.name) / name
    folder.mkdir()
    hf.save(str(folder / "tokenizer.json"))
    stripping = [t for t in json.loads((folder / "tokenizer.json").read_text())["added_tokens"] if t["lstrip"] or t["rstrip"]]
    expect(len(stripping) == len(ADDED), f"{name}: saved tokenizer.json lost the lstrip/rstrip flags")

    # Text: encode_with_special (HF's default), and encode() keeping special text as text (HF with
    # encode_special_tokens=True) where only the non-special [plain] is matched.
    proc = subprocess.run([PROBE, str(folder), str(corpus)], capture_output=True, text=True, timeout=300)
    expect(proc.returncode == 0, f"tokenizer_probe failed: {proc.stderr}")
    got = json.loads(proc.stdout)
    whole = "\n".join(LINES + [BREAKS])
    want_special = hf.encode(whole, add_special_tokens=False).ids
    if got["whole_special"] != want_special:
        failures.append(f"{name}: encode_with_special differs\n {got['whole_special']}\n {want_special}")
    hf.encode_special_tokens = True
    for line, ids in zip(LINES, got["lines"]):
        want = hf.encode(line, add_special_tokens=False).ids
        if ids != want:
            failures.append(f"{name}: encode({line!r}) = {ids}, HF {want}")
    hf.encode_special_tokens = False
    compared += len(want_special) + sum(map(len, got["lines"]))

    # Chat masks: the template writes the tokens beside spaces; ids and mask as transformers makes them.
    fast = PreTrainedTokenizerFast(tokenizer_object=hf)
    ref = fast.apply_chat_template(CONVERSATION, chat_template=TEMPLATE, tokenize=True, return_dict=True,
                                   return_assistant_tokens_mask=True)
    expect(ref["input_ids"] == hf.encode(fast.apply_chat_template(CONVERSATION, chat_template=TEMPLATE, tokenize=False),
                                         add_special_tokens=False).ids, f"{name}: reference ids inconsistent")
    expect(any(i in ref["input_ids"] for i in [hf.token_to_id(t.content) for t in ADDED]), f"{name}: reference has no added token")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"tokenizer": str(folder), "template": TEMPLATE, "messages": CONVERSATION}], f)
    proc = subprocess.run([RENDER, f.name], capture_output=True, text=True, timeout=300)
    expect(proc.returncode == 0, f"render_cases failed: {proc.stderr}")
    masked = json.loads(proc.stdout)[0]
    if "error" in masked:
        failures.append(f"{name}: chat mask: {masked['error']}")
        continue
    if masked["ids"] != ref["input_ids"]:
        failures.append(f"{name}: chat ids differ from apply_chat_template\n {masked['ids']}\n {ref['input_ids']}")
    if masked["trained"] != ref["assistant_masks"]:
        failures.append(f"{name}: chat mask differs\n {masked['trained']}\n {ref['assistant_masks']}")
    compared += len(ref["input_ids"])

print(f"{len(LINES)} lines + 1 conversation on 2 tokenizers with lstrip/rstrip tokens: {compared} tokens compared")
expect(not failures, f"{len(failures)} failures:\n" + "\n".join(failures))
print("ok")
