"""`tailor tokenize`: ids per line match HF tokenizers, --pieces prints vocabulary spellings, --stats
counts, special-token text stays text unless --special, and bad input exits 2 with a clear message."""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import harness  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402

QWEN = harness.SHARED_DIR / "tokenizers" / "qwen3"


def main():
    hf = Tokenizer.from_file(str(QWEN / "tokenizer.json"))
    hf.encode_special_tokens = True
    text = "Hello, world!\n  <|im_end|> 123\n\nÉcole 😀\n"
    lines = text.split("\n")[:-1]
    for model in (QWEN, QWEN / "tokenizer.json"):
        out = harness.tailor("tokenize", "--model", model, "--ids", input=text).stdout.split("\n")[:-1]
        harness.expect(out == [" ".join(map(str, hf.encode(l, add_special_tokens=False).ids)) for l in lines],
                       f"--ids with --model {model}: {out}")
    pieces = harness.tailor("tokenize", "--model", QWEN, "--pieces", input="Hello world\n").stdout
    harness.expect(pieces == "Hello Ġworld\n", f"--pieces: {pieces!r}")
    special = harness.tailor("tokenize", "--model", QWEN, "--special", input="<|im_end|>\n").stdout
    harness.expect(special.strip() == str(hf.token_to_id("<|im_end|>")), f"--special: {special!r}")
    stats = harness.tailor("tokenize", "--model", QWEN, "--stats", input="two words\n").stdout
    n = len(hf.encode("two words\n", add_special_tokens=False).ids)
    harness.expect(f"tokens          {n}\n" in stats and "bytes           10\n" in stats and "characters      10\n" in stats,
                   f"--stats: {stats}")
    harness.expect(f"tokens/word     {n / 2:.3f}" in stats, f"--stats tokens/word: {stats}")
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "tokenizer.json"
        bad.write_text('{"model": {"type": "WordPiece"}}')
        proc = harness.tailor("tokenize", "--model", bad, input="x\n", check=False)
        harness.expect(proc.returncode == 2 and "WordPiece" in proc.stderr, f"bad tokenizer: {proc.returncode} {proc.stderr}")
    proc = harness.tailor("tokenize", "--model", "/nonexistent", input="x\n", check=False)
    harness.expect(proc.returncode == 2 and "/nonexistent" in proc.stderr, f"missing model: {proc.stderr}")
    print("tailor tokenize: --ids/--pieces/--stats/--special and error exits OK")


if __name__ == "__main__":
    main()
