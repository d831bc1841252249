"""HF folder and PEFT adapter exports, loaded by transformers and PEFT.

A tiny random Llama (transformers, built offline at test time, Llama 2 tokenizer files) gets adapters
made by tailor's attach_lora with random non-zero weights: LoRA, rsLoRA, DoRA, and LoRA with
modules_to_save (lm_head). For each:
  PEFT: PeftModel.from_pretrained(base, exported peft folder) logits == tailor's (base + adapter) <= 1e-4.
  HF:   AutoModelForCausalLM on the exported hf:fp32 folder (merged) logits == tailor's <= 1e-4;
        generation_config.json lists the eos ids; tokenizer files and chat template are there.
Also: an adapter for another base (other hidden size) is refused with the mismatch named.
Usage: test_hf_peft.py EXPORT_PROBE
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

PROBE = sys.argv[1]
TOKENIZER = harness.SHARED_DIR / "tokenizers" / "llama2"
IDS = [1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889, 13, 3575]
CASES = {
    "lora": {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]},
    "rslora": {"r": 4, "lora_alpha": 8, "use_rslora": True, "target_modules": "all-linear"},
    "dora": {"r": 4, "lora_alpha": 8, "use_dora": True, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
    "modules_to_save": {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "down_proj"], "modules_to_save": ["lm_head"]},
}


def make_base(folder, hidden=64):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32000, hidden_size=hidden, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder)
    for f in TOKENIZER.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)


def main():
    try:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        harness.skip(f"transformers/peft missing: {e}")
    if not TOKENIZER.exists():
        harness.skip(f"{TOKENIZER} not found")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        make_base(base)
        (tmp / "ids.json").write_text(json.dumps([IDS]))
        for name, config in CASES.items():
            case = tmp / name
            case.mkdir()
            (case / "config.json").write_text(json.dumps(config))
            adapter = case / "adapter"
            subprocess.run([PROBE, "make-adapter", str(base), str(case / "config.json"), str(adapter), "5"], check=True)
            subprocess.run([PROBE, "logits", str(base), str(adapter), str(tmp / "ids.json"), str(case / "ours.f32")],
                           check=True, capture_output=True)
            ours = np.fromfile(case / "ours.f32", dtype=np.float32).reshape(len(IDS), -1)
            ids = torch.tensor([IDS])

            harness.tailor("export", "--model", base, "--adapter", adapter, "--to", "peft", "--out", case / "peft")
            model = AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32)
            base_logits = model(ids).logits[0].detach().numpy()
            peft = PeftModel.from_pretrained(model, case / "peft").eval()
            with torch.no_grad():
                theirs = peft(ids).logits[0].numpy()
            diff = float(np.abs(theirs - ours).max())
            change = float(np.abs(base_logits - ours).max())
            print(f"{name}: PEFT vs tailor max |diff| {diff:.2e} (adapter changes logits by {change:.3f})")
            if diff > 1e-4 or change < 1e-3:
                problems.append(f"{name}: PEFT diff {diff} (adapter effect {change})")

            harness.tailor("export", "--model", base, "--adapter", adapter, "--to", "hf:fp32", "--out", case / "hf")
            merged = AutoModelForCausalLM.from_pretrained(case / "hf", torch_dtype=torch.float32).eval()
            with torch.no_grad():
                theirs = merged(ids).logits[0].numpy()
            diff = float(np.abs(theirs - ours).max())
            print(f"{name}: merged HF folder in transformers vs tailor max |diff| {diff:.2e}")
            if diff > 1e-4:
                problems.append(f"{name}: merged HF diff {diff}")
            gen = json.loads((case / "hf" / "generation_config.json").read_text())
            harness.expect(gen.get("eos_token_id") in (2, [2]), f"generation_config eos {gen}")
            for f in ["tokenizer.json", "tokenizer_config.json", "config.json"]:
                harness.expect((case / "hf" / f).exists(), f"{name}: exported HF folder lacks {f}")

        other = tmp / "other"
        make_base(other, hidden=96)
        r = harness.tailor("export", "--model", other, "--adapter", tmp / "lora" / "adapter", "--to", "hf",
                           "--out", tmp / "mismatch", check=False)
        print(f"mismatched base: exit {r.returncode}: {r.stderr.strip()[:200]}")
        harness.expect(r.returncode == 2 and ("hidden 64" in r.stderr or "shape" in r.stderr), "mismatched adapter not refused with the mismatch named")
        harness.expect(not (tmp / "mismatch").exists(), "a refused export left an output folder")
    harness.expect(not problems, "\n".join(problems))


if __name__ == "__main__":
    main()
