"""SentencePiece-style (Llama 2) tokenizer exported from an HF folder into GGUF: llama.cpp tokenizes like HF.

A tiny random Llama with the Llama 2 tokenizer (tokenizer.json: BPE with byte fallback, 32,000 pieces) is
exported with `tailor export --to gguf:F32`. Checked: the metadata llama.cpp's "llama" (SPM) tokenizer
reads (tokenizer.ggml.model, scores, token types: NORMAL / BYTE / CONTROL / UNKNOWN, add_space_prefix,
bos/eos/unk ids), and llama.cpp's llama_tokenize (xllamacpp) on the exported file equals HF tokenizers on
the same tokenizer.json, for every line of several UDHR translations (Latin, Cyrillic, CJK, Devanagari,
Arabic, Thai scripts: byte fallback included), BOS added as the tokenizer's post-processor does.
Usage: test_spm_gguf.py
"""
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import llama_cpp  # noqa: E402

TOKENIZER = harness.SHARED_DIR / "tokenizers" / "llama2"
LANGUAGES = ["eng", "deu", "fra", "rus", "cmn_hans", "hin", "arb", "tha", "vie"]


def main():
    try:
        import gguf
        import torch
        import transformers
        from tokenizers import Tokenizer
        lib = llama_cpp.library()
    except Exception as e:  # noqa: BLE001
        harness.skip(f"gguf-py / transformers / xllamacpp unavailable: {e}")
    if not TOKENIZER.exists():
        harness.skip(f"{TOKENIZER} not found")
    hf = Tokenizer.from_file(str(TOKENIZER / "tokenizer.json"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        torch.manual_seed(0)
        config = transformers.LlamaConfig(vocab_size=hf.get_vocab_size(), hidden_size=64, intermediate_size=128,
                                          num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                                          bos_token_id=1, eos_token_id=2)
        transformers.LlamaForCausalLM(config).save_pretrained(base)
        for f in TOKENIZER.iterdir():
            shutil.copy(f, base / f.name)
        harness.tailor("export", "--model", base, "--to", "gguf:F32", "--out", tmp / "gguf")
        path = next((tmp / "gguf").glob("*.gguf"))

        reader = gguf.GGUFReader(path)
        def field(key):
            f = reader.fields[key]
            return [f.parts[i].tolist() if f.types[-1] != gguf.GGUFValueType.STRING else bytes(f.parts[i]).decode()
                    for i in f.data]
        harness.expect(field("tokenizer.ggml.model") == ["llama"], f"tokenizer.ggml.model {field('tokenizer.ggml.model')}")
        types = [t[0] for t in field("tokenizer.ggml.token_type")]
        scores = [s[0] for s in field("tokenizer.ggml.scores")]
        tokens = field("tokenizer.ggml.tokens")
        harness.expect(types[0] == 2 and types[1] == 3 and types[2] == 3, f"<unk>/<s>/</s> types {types[:3]}")
        harness.expect(all(types[i] == 6 for i in range(3, 259)) and tokens[3] == "<0x00>", "byte pieces are not BYTE")
        harness.expect(field("tokenizer.ggml.add_space_prefix") == [[True]], "add_space_prefix missing")
        harness.expect(scores[tokens.index("▁t")] > scores[tokens.index("▁the")], "merge order not kept in the scores")
        print(f"metadata: {len(tokens)} pieces, types {dict((t, types.count(t)) for t in sorted(set(types)))}")

        problems = []
        total_lines = total_tokens = 0
        for lang in LANGUAGES:
            lines = [line for line in (harness.SHARED_DIR / "corpus" / "udhr" / f"{lang}.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
            theirs = llama_cpp.tokenize(lib, path, lines)
            differ = 0
            for line, mine in zip(lines, theirs):
                ref = hf.encode(line).ids
                if ref != mine:
                    differ += 1
                    if len(problems) < 5:
                        problems.append(f"{lang}: {line[:50]!r}: HF {ref[:12]}... llama.cpp {mine[:12]}...")
            total_lines += len(lines)
            total_tokens += sum(map(len, theirs))
            print(f"{lang}: {len(lines)} lines, {sum(map(len, theirs))} tokens, {differ} lines differ")
        print(f"total: {total_lines} lines, {total_tokens} tokens")
    harness.expect(not problems, "llama.cpp tokenizes the exported GGUF unlike HF:\n" + "\n".join(problems))
    print("llama.cpp tokenizes the exported SentencePiece vocabulary like HF tokenizers")


if __name__ == "__main__":
    main()
