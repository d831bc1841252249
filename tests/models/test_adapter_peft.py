"""`--adapter` on eval, generate and chat against transformers + PEFT.

A tiny random Llama (transformers, Llama 2 tokenizer, a plain chat template added) gets PEFT adapters
made by PEFT itself with random non-zero A and B (and DoRA magnitudes, and a trained lm_head copy):
plain LoRA on every linear (saved as a `tailor run` folder, adapter/ inside), DoRA with
modules_to_save, and rsLoRA on all-linear (PEFT folders). For each, with the adapter applied by tailor:
  eval:     `tailor eval --json --adapter` loss == PeftModel's mean cross-entropy (<= 1e-4 relative),
            and the adapter moves the loss (so a silently ignored adapter fails);
  generate: `tailor generate --adapter` greedy ids == PeftModel.generate greedy ids, 24 tokens;
  chat:     one turn of `tailor chat --adapter` == PeftModel greedy reply on the rendered template.
A mismatched base (other hidden size) is exit 2 naming both the adapter's base and the base given.
"""
import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

import torch  # noqa: E402
import transformers  # noqa: E402

TOKENIZER = harness.SHARED_DIR / "tokenizers" / "llama2"
TEXT = harness.SHARED_DIR / "corpus" / "udhr" / "eng.txt"
PROMPT = "All human beings are born free and equal"
NEW_TOKENS = 24
REL_TOL = 1e-4
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CASES = {
    "lora_run_folder": dict(r=8, lora_alpha=16, target_modules=ALL_LINEAR),
    "dora_modules_to_save": dict(r=4, lora_alpha=8, use_dora=True, target_modules=["q_proj", "v_proj", "down_proj"],
                                 modules_to_save=["lm_head"]),
    "rslora_all_linear": dict(r=4, lora_alpha=8, use_rslora=True, target_modules="all-linear"),
}


def make_base(folder, tokenizer, hidden=64):
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=128,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=512, tie_word_embeddings=False,
                                      bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.save_pretrained(folder)
    for f in TOKENIZER.iterdir():
        shutil.copy(f, folder / f.name)
    tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    tokenizer_config["chat_template"] = CHAT_TEMPLATE
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def make_adapter(base_model, config, seed):
    """A PEFT adapter with every trainable tensor random (B included), as training would leave it."""
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(copy.deepcopy(base_model), LoraConfig(task_type="CAUSAL_LM", init_lora_weights=False,
                                                                  **config))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            noise = torch.randn(p.shape, generator=gen)
            if "lora_A" in name or "lora_B" in name:
                p.copy_(noise / p.shape[-1] ** 0.5)
            else:  # DoRA magnitudes and the lm_head copy: perturb the trained starting point
                p.add_(noise * 0.1 * p.abs().mean())
    return model.eval()


def tailor_eval(base, adapter, text_file):
    args = ["eval", "--model", base, "--text", text_file, "--json"] + (["--adapter", adapter] if adapter else [])
    return json.loads(harness.tailor(*args).stdout)


def tailor_greedy(base, adapter):
    out = harness.tailor("generate", "--model", base, "--adapter", adapter, "--prompt", PROMPT, "--max-new-tokens",
                         NEW_TOKENS, "--temperature", 0, "--ids", "--no-stop").stdout
    return [int(x) for x in out.split()]


def reference_greedy(model, ids, eos=None):
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS, do_sample=False,
                             min_new_tokens=None if eos is not None else NEW_TOKENS)
    return out[0, ids.size(1):].tolist()


def check_case(name, config, seed, base, base_model, tokenizer, text_file, tmp):
    peft_model = make_adapter(base_model, config, seed)
    adapter = tmp / name
    saved = adapter / "adapter" if "run_folder" in name else adapter
    peft_model.save_pretrained(saved)
    problems = []

    text = text_file.read_text(encoding="utf-8")
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        ref_loss = float(peft_model(ids, labels=ids).loss)
        base_loss = float(base_model(ids, labels=ids).loss)
    got = tailor_eval(base, adapter, text_file)
    rel = abs(got["loss"] - ref_loss) / abs(ref_loss)
    print(f"{name}: eval loss tailor {got['loss']:.6f}  PEFT {ref_loss:.6f}  (rel {rel:.1e}; base {base_loss:.6f})")
    if not rel <= REL_TOL:
        problems.append(f"{name}: eval loss {got['loss']} vs PEFT {ref_loss}")
    if not abs(ref_loss - base_loss) > 1e-3:
        problems.append(f"{name}: the adapter does not move the loss ({base_loss} -> {ref_loss})")

    prompt = tokenizer(PROMPT, return_tensors="pt").input_ids
    ref_ids = reference_greedy(peft_model, prompt)
    got_ids = tailor_greedy(base, adapter)
    same = got_ids == ref_ids
    print(f"{name}: greedy {NEW_TOKENS} tokens {'identical' if same else 'DIFFERENT'} to PeftModel.generate")
    if not same:
        problems.append(f"{name}: greedy differs\n  tailor {got_ids}\n  peft   {ref_ids}")

    turn = "What do you know about freedom?"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": turn}], add_generation_prompt=True,
                                             tokenize=False, chat_template=CHAT_TEMPLATE)
    chat_ids = tokenizer(rendered, add_special_tokens=False, return_tensors="pt").input_ids
    reply = tokenizer.decode(reference_greedy(peft_model, chat_ids, eos=tokenizer.eos_token_id),
                             skip_special_tokens=True)
    chat = harness.tailor("chat", "--model", base, "--adapter", adapter, "--temperature", 0, "--max-new-tokens",
                          NEW_TOKENS, input=f"{turn}\n/exit\n").stdout
    print(f"{name}: chat reply {'identical' if chat.strip() == reply.strip() else 'DIFFERENT'} ({reply.strip()[:40]!r})")
    if chat.strip() != reply.strip():
        problems.append(f"{name}: chat reply differs\n  tailor {chat.strip()!r}\n  peft   {reply.strip()!r}")
    return problems


def main():
    try:
        import peft  # noqa: F401
    except ImportError as e:
        harness.skip(f"peft missing: {e}")
    if not TOKENIZER.exists() or not TEXT.exists():
        harness.skip(f"{TOKENIZER} or {TEXT} not found")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(TOKENIZER))
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        base_model = make_base(base, tokenizer)
        text_file = tmp / "text.txt"
        text_file.write_text(TEXT.read_text(encoding="utf-8")[:1200], encoding="utf-8")
        for seed, (name, config) in enumerate(CASES.items()):
            problems += check_case(name, config, seed + 1, base, base_model, tokenizer, text_file, tmp)

        # The adapter's recorded base exists and differs: both are named.
        other = tmp / "other"
        make_base(other, tokenizer, hidden=96)
        r = harness.tailor("eval", "--model", other, "--adapter", tmp / "lora_run_folder", "--text", text_file,
                           check=False)
        print(f"mismatched base: exit {r.returncode}: {r.stderr.strip()[:300]}")
        harness.expect(r.returncode == 2 and str(other) in r.stderr and str(base) in r.stderr
                       and "hidden 64" in r.stderr and "hidden 96" in r.stderr,
                       f"mismatched base not refused naming both: {r.stderr}")
        # The recorded base is gone (adapter moved to another machine): the shape mismatch names both.
        moved = tmp / "moved"
        shutil.copytree(tmp / "rslora_all_linear", moved)
        config = json.loads((moved / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = "someone/elsewhere"
        (moved / "adapter_config.json").write_text(json.dumps(config))
        r = harness.tailor("generate", "--model", other, "--adapter", moved, "--prompt", "x", check=False)
        print(f"mismatched shapes: exit {r.returncode}: {r.stderr.strip()[:300]}")
        harness.expect(r.returncode == 2 and str(other) in r.stderr and str(moved) in r.stderr and "shape" in r.stderr,
                       f"shape mismatch not refused naming both: {r.stderr}")
        missing = harness.tailor("eval", "--model", base, "--adapter", tmp / "nothing", "--text", text_file,
                                 check=False)
        harness.expect(missing.returncode == 2 and "adapter_config.json" in missing.stderr,
                       f"missing adapter: {missing.stderr}")
    harness.expect(not problems, "\n".join(problems))
    print("adapter parity OK")


if __name__ == "__main__":
    main()
