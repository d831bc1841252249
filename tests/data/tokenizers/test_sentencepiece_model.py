"""SentencePiece .model parity: trains a small BPE model with byte fallback (and a Unigram model) with
the sentencepiece Python trainer on a UDHR file, then compares `tailor tokenize --ids` line by line with
the sentencepiece Python package on several UDHR files."""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import harness  # noqa: E402

import sentencepiece as spm  # noqa: E402

UDHR = harness.SHARED_DIR / "corpus" / "udhr"


def compare(model_path, files):
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    lines = tokens = 0
    for file in files:
        text = file.read_bytes().decode("utf-8")
        ref_lines = text.split("\n")
        if ref_lines and ref_lines[-1] == "":
            ref_lines.pop()
        out = harness.tailor("tokenize", "--model", model_path, "--input", file, "--ids").stdout.split("\n")[:-1]
        harness.expect(len(out) == len(ref_lines), f"{file.name}: {len(out)} lines, expected {len(ref_lines)}")
        for i, (line, got) in enumerate(zip(ref_lines, out)):
            want = sp.encode(line)
            got_ids = [int(x) for x in got.split()]
            harness.expect(got_ids == want, f"{model_path.name} {file.name}:{i + 1}: tailor {got_ids} != sentencepiece {want}")
            lines += 1
            tokens += len(want)
    return lines, tokens


def main():
    files = [UDHR / name for name in ("eng.txt", "fra.txt", "rus.txt", "cmn_hans.txt", "vie.txt")]
    with tempfile.TemporaryDirectory() as tmp:
        for model_type, extra in (("bpe", {"byte_fallback": True}), ("unigram", {})):
            prefix = Path(tmp) / model_type
            spm.SentencePieceTrainer.train(input=str(UDHR / "eng.txt"), model_prefix=str(prefix), vocab_size=400,
                                           model_type=model_type, character_coverage=1.0, minloglevel=2, **extra)
            lines, tokens = compare(prefix.with_suffix(".model"), files)
            print(f"sentencepiece {model_type}: {len(files)} files, {lines} lines, {tokens} tokens identical")


if __name__ == "__main__":
    main()
