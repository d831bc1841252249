"""`tailor generate` and `tailor chat` on the shipped SmolLM2 GGUF: the verbs drive the same greedy
decoding as the models library (ids compared with models_probe), seeded sampling repeats, chat renders
the template and answers, and bad flags exit 2 with one line.
Usage: test_model_verbs.py MODELS_PROBE TEXT_PROBE
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

PROBE, TEXT_PROBE = sys.argv[1], sys.argv[2]
MODEL = harness.DEFAULT_MODEL
PROMPT = "The three primary colors are"


def main():
    if not MODEL.exists():
        harness.skip(f"{MODEL} not found (run scripts/setup)")
    with tempfile.TemporaryDirectory() as tmp:
        prompt_file = Path(tmp) / "prompt.txt"
        prompt_file.write_text(PROMPT, encoding="utf-8")
        ids = json.loads(subprocess.run([TEXT_PROBE, str(MODEL), str(prompt_file)], capture_output=True, text=True,
                                        check=True).stdout)["ids"]
        (Path(tmp) / "request.json").write_text(json.dumps(
            {"model": str(MODEL), "generate": [{"prompt": ids, "max_new_tokens": 12}]}))
        expected = json.loads(subprocess.run([PROBE, str(Path(tmp) / "request.json"), tmp], capture_output=True,
                                             text=True, check=True).stdout)["generations"][0]
    got = harness.tailor("generate", "--model", MODEL, "--prompt", PROMPT, "--max-new-tokens", 12, "--ids",
                         "--no-stop", "--threads", 1).stdout.split()
    harness.expect([int(x) for x in got] == expected, f"generate --ids {got} != library greedy {expected}")

    text = harness.tailor("generate", "--model", MODEL, "--prompt", PROMPT, "--max-new-tokens", 12, "--threads", 1).stdout
    harness.expect(len(text.strip()) > 0, "greedy text is empty")
    sampled = [harness.tailor("generate", "--model", MODEL, "--prompt", PROMPT, "--max-new-tokens", 12, "--temperature",
                              0.9, "--top-k", 40, "--top-p", 0.9, "--seed", 7, "--threads", 1).stdout for _ in range(2)]
    harness.expect(sampled[0] == sampled[1], f"same seed, different samples: {sampled}")

    chat = harness.tailor("chat", "--model", MODEL, "--max-new-tokens", 24, "--threads", 1,
                          input="What is the capital of France?\n/exit\n")
    harness.expect(len(chat.stdout.strip()) > 0, "chat printed no reply")
    harness.expect("<|im_end|>" not in chat.stdout and "<|im_start|>" not in chat.stdout,
                   f"chat printed special tokens: {chat.stdout!r}")

    bad = harness.tailor("generate", "--model", MODEL, "--prompt", "x", "--dtype", "float16", check=False)
    harness.expect(bad.returncode == 2 and "--dtype" in bad.stderr, f"bad dtype: {bad.returncode} {bad.stderr}")
    missing = harness.tailor("generate", "--model", Path(MODEL).with_name("absent.gguf"), "--prompt", "x", check=False)
    harness.expect(missing.returncode == 2 and "absent.gguf" in missing.stderr, f"missing model: {missing.stderr}")
    print(f"verbs OK; greedy: {text.strip()!r}; chat: {chat.stdout.strip()[:80]!r}")


if __name__ == "__main__":
    main()
