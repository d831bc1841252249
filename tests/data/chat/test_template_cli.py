"""`tailor template`: prints exactly what transformers' apply_chat_template renders for the model's own
template; --mask marks the trained tokens; bad input exits 2 with one line."""
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
from harness import SHARED_DIR, expect, skip, tailor  # noqa: E402

try:
    from transformers import AutoTokenizer
except ImportError as e:
    skip(f"transformers not available: {e}")

model = SHARED_DIR / "tokenizers" / "qwen3"
messages = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say <|im_end|> please"},
    {"role": "assistant", "content": "<|im_end|> said."},
]
tok = AutoTokenizer.from_pretrained(str(model))
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "messages.json"
    path.write_text(json.dumps(messages))
    for gen in (False, True):
        args = ["template", "--model", model, "--messages", path] + (["--add-generation-prompt"] if gen else [])
        out = tailor(*args).stdout
        expected = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
        expect(out == expected, f"gen={gen}: {out!r} != {expected!r}")

    (Path(tmp) / "vars.json").write_text(json.dumps({"messages": messages[:2], "enable_thinking": False}))
    out = tailor("template", "--model", model, "--messages", Path(tmp) / "vars.json", "--add-generation-prompt").stdout
    expected = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True, enable_thinking=False)
    expect(out == expected, f"template variables from the messages file: {out!r} != {expected!r}")

    masked = tailor("template", "--model", model, "--messages", path, "--mask").stdout
    expect("⟦<think>\n\n</think>\n\n<|im_end|> said.<|im_end|>⟧" in masked, f"--mask output:\n{masked}")
    expect(masked.count("⟦") == 1, f"only the assistant turn is trained:\n{masked}")

    bad = Path(tmp) / "bad.json"
    bad.write_text("{not json")
    proc = tailor("template", "--model", model, "--messages", bad, check=False)
    expect(proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "bad.json" in proc.stderr,
           f"bad JSON: exit {proc.returncode}, {proc.stderr!r}")
    jinja = Path(tmp) / "t.jinja"
    jinja.write_text("line one\n{% include 'x' %}")
    proc = tailor("template", "--model", model, "--messages", path, "--template", jinja, check=False)
    expect(proc.returncode == 2 and "line 2" in proc.stderr and "include" in proc.stderr, f"unsupported construct: {proc.stderr!r}")
print("ok")
