"""Token-id parity of tailor's tokenizers with Hugging Face `tokenizers` on the real tokenizers in
../shared/tokenizers and the SmolLM2 GGUF vocabulary, over every UDHR file plus hard_cases.txt:
ids per line and for whole files, special-token text kept as text by encode() (HF with
encode_special_tokens=True) and matched by encode_with_special() (HF's default), and decode round trips.
argv[1]: the tokenizer_probe executable."""
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
import harness  # noqa: E402

from tokenizers import Tokenizer  # noqa: E402

PROBE = sys.argv[1]
HERE = Path(__file__).resolve().parent
FILES = sorted((harness.SHARED_DIR / "corpus" / "udhr").glob("*.txt")) + [HERE / "hard_cases.txt"]


def hf_from_json(name):
    return Tokenizer.from_file(str(harness.SHARED_DIR / "tokenizers" / name / "tokenizer.json"))


def hf_from_gguf(path):
    """The GGUF vocabulary as a tokenizers.Tokenizer built with gguf-py: BPE over the stored tokens and
    merges, CONTROL tokens as special added tokens, and the pre-tokenizer llama.cpp uses for
    tokenizer.ggml.pre (for "smollm": digits split one by one, then the GPT-2 regex, which is also the
    original SmolLM2 tokenizer.json). transformers' own GGUF conversion drops the digit split, so it is
    only used as a cross-check on lines without digits."""
    from gguf import GGUFReader
    from tokenizers import AddedToken, decoders, models, pre_tokenizers
    fields = GGUFReader(str(path)).fields
    value = lambda key: fields[key].contents()
    harness.expect(value("tokenizer.ggml.model") == "gpt2", "expected a gpt2 (byte-level BPE) GGUF vocabulary")
    pre = value("tokenizer.ggml.pre")
    tokens, types = value("tokenizer.ggml.tokens"), value("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in value("tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    pres = {"smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level]),
            "gpt-2": byte_level}
    harness.expect(pre in pres, f"no reference pre-tokenizer for tokenizer.ggml.pre={pre!r}")
    tok.pre_tokenizer = pres[pre]
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    return tok


def transformers_gguf(path):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name).backend_tokenizer


def probe(model, file):
    proc = subprocess.run([PROBE, str(model), str(file)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"tokenizer_probe {model} {file} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def check(label, model_path, hf, cross_check=None):
    plain = Tokenizer.from_str(hf.to_str())  # a copy that keeps special-token text as text
    plain.encode_special_tokens = True
    lines = tokens = roundtrip_exact = normalized_lines = cross_checked = 0
    if cross_check is not None:
        cross_check.encode_special_tokens = True
    for file in FILES:
        text = file.read_bytes().decode("utf-8")  # no newline translation
        got = probe(model_path, file)
        ref_lines = text.split("\n")
        if ref_lines and ref_lines[-1] == "":
            ref_lines.pop()
        harness.expect(len(got["lines"]) == len(ref_lines), f"{label} {file.name}: {len(got['lines'])} lines, expected {len(ref_lines)}")
        for i, (line, ids) in enumerate(zip(ref_lines, got["lines"])):
            want = plain.encode(line, add_special_tokens=False).ids
            harness.expect(ids == want, f"{label} {file.name}:{i + 1}: ids differ\n  line {line!r}\n  tailor {ids}\n  hf     {want}")
            decoded = got["decoded_lines"][i]
            harness.expect(decoded == hf.decode(ids), f"{label} {file.name}:{i + 1}: decode differs from HF: {decoded!r}")
            if decoded == line:
                roundtrip_exact += 1
            else:
                # Only a normalizer (NFC) may change text, and then HF's own round trip changes it the same way.
                harness.expect(hf.normalizer is not None and hf.normalizer.normalize_str(line) != line,
                               f"{label} {file.name}:{i + 1}: decode(encode(x)) != x: {decoded!r}")
                normalized_lines += 1
            if cross_check is not None and not any(c.isnumeric() for c in line):
                other = cross_check.encode(line, add_special_tokens=False).ids
                harness.expect(ids == other, f"{label} {file.name}:{i + 1}: differs from transformers' GGUF conversion")
                cross_checked += 1
            lines += 1
            tokens += len(ids)
        want = plain.encode(text, add_special_tokens=False).ids
        harness.expect(got["whole"] == want, f"{label} {file.name}: whole-file ids differ")
        want_special = hf.encode(text, add_special_tokens=False).ids
        harness.expect(got["whole_special"] == want_special, f"{label} {file.name}: encode_with_special differs from HF's default")
        harness.expect(got["decoded_whole"] == text or hf.normalizer is not None, f"{label} {file.name}: whole-file round trip")
        tokens += len(want)
    print(f"{label}: {len(FILES)} files, {lines} lines, {tokens} tokens identical to HF tokenizers "
          f"(per line and whole files); decode(encode(x)) == x on {roundtrip_exact} lines, "
          f"{normalized_lines} lines changed only by the tokenizer's NFC normalizer (as in HF)"
          + (f"; {cross_checked} digit-free lines also identical to transformers' GGUF conversion" if cross_check else ""))


def main():
    for name in filter(None, os.environ.get("TOKENIZERS", "qwen3,llama3_1,llama2").split(",")):
        check(name, harness.SHARED_DIR / "tokenizers" / name, hf_from_json(name))
    if not harness.DEFAULT_MODEL.exists():
        harness.skip(f"{harness.DEFAULT_MODEL} is missing (run scripts/setup); JSON tokenizers passed")
    check("smollm2-gguf", harness.DEFAULT_MODEL, hf_from_gguf(harness.DEFAULT_MODEL), transformers_gguf(harness.DEFAULT_MODEL))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
