"""Ollama export: the Modelfile parses per Ollama's grammar and its TEMPLATE renders like the Jinja template.

No Ollama binary or Go toolchain here, so: the Modelfile is parsed per Ollama's documented grammar
(docs/modelfile.md: `INSTRUCTION arguments` lines, # comments, "quoted" and \"\"\"multi-line\"\"\" values;
FROM a file that exists, PARAMETER names from the documented list), and the TEMPLATE is executed by a
small evaluator of the Go text/template subset it uses (gotemplate.py) with the data Ollama gives it
(.System = the system messages joined by blank lines, .Messages = all messages; ollama template.go).
Each real or fixture chat template (SmolLM2, Qwen3, Llama 3.1 tokenizers; Qwen2.5, Gemma, Gemma 3,
Mistral v0.1/v0.3, Phi-3 fixtures of tests/data/chat) is put in a tiny model's tokenizer_config.json,
exported with `tailor export --to ollama:F32`, and for four conversations (with and without a system
message, multi-turn) the Go rendering must equal transformers-style Jinja rendering with
add_generation_prompt, less the leading BOS text (Ollama's tokenizer adds BOS itself). Conversations a
Jinja template refuses (a system message for Gemma 1/Mistral v0.1) are skipped. Every end-of-turn token
of the family and the tokenizer's EOS must be a PARAMETER stop.
Usage: test_ollama.py
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gotemplate  # noqa: E402
import harness  # noqa: E402

TOKENIZER = harness.SHARED_DIR / "tokenizers" / "llama2"
FIXTURES = harness.SOURCE_DIR / "tests" / "data" / "chat" / "templates"
VALID_PARAMETERS = {"mirostat", "mirostat_eta", "mirostat_tau", "num_ctx", "repeat_last_n", "repeat_penalty",
                    "temperature", "seed", "stop", "num_predict", "top_k", "top_p", "min_p"}
INSTRUCTIONS = {"FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES"}
STOPS = {"chatml": ["<|im_end|>"], "llama3": ["<|eot_id|>"], "gemma": ["<end_of_turn>"], "phi3": ["<|end|>"],
         "mistral": ["</s>"]}
CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}],
    [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me a joke."}],
]


def templates():
    import gguf
    out = {}
    reader = gguf.GGUFReader(harness.DEFAULT_MODEL)
    f = reader.fields["tokenizer.chat_template"]
    out["smollm2"] = bytes(f.parts[f.data[0]]).decode()
    for name in ["qwen3", "llama3_1"]:
        out[name] = json.loads((harness.SHARED_DIR / "tokenizers" / name / "tokenizer_config.json").read_text())["chat_template"]
    for name in ["chatml_qwen2_5", "gemma", "gemma3", "mistral_v0_1", "mistral_v0_3", "phi3"]:
        out[name] = (FIXTURES / f"{name}.jinja").read_text()
    return out


def parse_modelfile(text):
    """[(INSTRUCTION, value)] per Ollama's Modelfile grammar; raises on anything it would reject."""
    commands, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() not in INSTRUCTIONS:
            raise AssertionError(f"unknown Modelfile instruction {word!r}")
        rest = rest.strip()
        if rest.startswith('"""'):
            body = rest[3:]
            while '"""' not in body:
                if i >= len(lines):
                    raise AssertionError(f"unterminated \"\"\" in {word}")
                body += "\n" + lines[i]
                i += 1
            body, _, tail = body.partition('"""')
            if tail.strip():
                raise AssertionError(f"text after closing \"\"\": {tail!r}")
            rest = body
        elif rest.startswith('"'):
            if not rest.endswith('"') or len(rest) < 2:
                raise AssertionError(f"unterminated quote: {line}")
            rest = json.loads(rest)
        commands.append((word.upper(), rest))
    return commands


def jinja_render(template, messages):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, **kw: json.dumps(x, **kw)
    env.globals["raise_exception"] = raise_exception
    try:
        text = env.from_string(template).render(messages=messages, add_generation_prompt=True, bos_token="<s>",
                                                eos_token="</s>")
    except jinja2.exceptions.TemplateError:
        return None
    return text[len("<s>"):] if text.startswith("<s>") else text


def ollama_data(messages):
    system = [m["content"] for m in messages if m["role"] == "system"]
    return {"System": "\n\n".join(system), "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages]}


def main():
    try:
        import gguf  # noqa: F401
        import jinja2  # noqa: F401
        import torch
        import transformers
    except ImportError as e:
        harness.skip(f"gguf-py / jinja2 / transformers missing: {e}")
    if not TOKENIZER.exists() or not harness.DEFAULT_MODEL.exists():
        harness.skip("tokenizers or SmolLM2 model not found")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        torch.manual_seed(0)
        config = transformers.LlamaConfig(vocab_size=32000, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                          num_attention_heads=4, num_key_value_heads=2, bos_token_id=1, eos_token_id=2)
        transformers.LlamaForCausalLM(config).save_pretrained(base)
        shutil.copy(TOKENIZER / "tokenizer.json", base / "tokenizer.json")
        tokenizer_config = json.loads((TOKENIZER / "tokenizer_config.json").read_text())
        for name, jinja in templates().items():
            tokenizer_config["chat_template"] = jinja
            (base / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
            out = tmp / name
            harness.tailor("export", "--model", base, "--to", "ollama:F32", "--out", out)
            commands = parse_modelfile((out / "Modelfile").read_text())
            froms = [v for c, v in commands if c == "FROM"]
            harness.expect(len(froms) == 1 and (out / froms[0]).is_file(), f"{name}: FROM {froms} is not the GGUF beside it")
            for c, v in commands:
                if c == "PARAMETER":
                    key = v.split(None, 1)[0]
                    harness.expect(key in VALID_PARAMETERS, f"{name}: PARAMETER {key} is not one Ollama knows")
            stops = [json.loads(v.split(None, 1)[1]) if v.split(None, 1)[1].startswith('"') else v.split(None, 1)[1]
                     for c, v in commands if c == "PARAMETER" and v.startswith("stop ")]
            family = next(l for l in (out / "Modelfile").read_text().splitlines() if l.startswith("#")).split("(")[1].split()[0]
            for s in STOPS[family] + ["</s>"]:
                if s not in stops:
                    problems.append(f"{name}: stop {s!r} missing ({stops})")
            go = next(v for c, v in commands if c == "TEMPLATE")
            same = refused = 0
            for messages in CONVERSATIONS:
                expected = jinja_render(jinja, messages)
                if expected is None:
                    refused += 1
                    continue
                got = gotemplate.render(go, ollama_data(messages))
                if got == expected:
                    same += 1
                else:
                    problems.append(f"{name}: {len(messages)} messages:\n  jinja:  {expected!r}\n  ollama: {got!r}")
            print(f"{name} ({family}): {same} conversations render identically, {refused} refused by the Jinja template; stops {stops}")
    harness.expect(not problems, "\n".join(problems))
    print("Ollama Modelfiles parse and their templates render like the Jinja templates")


if __name__ == "__main__":
    main()
