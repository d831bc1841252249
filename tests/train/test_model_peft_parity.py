"""Whole-model training parity with transformers + PEFT (fp32, CPU), issue 6's first acceptance point.

transformers builds tiny random models offline (Llama with GQA, an odd vocabulary and an untied lm_head;
Qwen3 with tied embeddings) and saves them as HF folders. PEFT puts LoRA on every linear layer and saves
the initial adapter. tailor (peft_model_driver) loads the folder with its model loader, attaches LoRA with
attach_lora, loads PEFT's initial adapter, and trains 10 steps (AdamW, clip_grad_norm, cosine schedule with
warmup) on the same batches (right-padded rows, -100 labels on padding and on a prompt) that PEFT +
torch.optim.AdamW train on. Checked for plain LoRA, rsLoRA, DoRA and modules_to_save (lm_head on Llama;
embed_tokens on tied Qwen3, where PEFT's ensure_weight_tying makes the lm_head use the trained copy too):
  per-step loss within 1e-5 relative, final adapter tensors within 1e-4 absolute, with kernels: reference
  and with kernels: fused (the same bounds hold; the measured deviations are printed);
  PEFT loads tailor's final adapter and gives the PEFT-trained model's loss.
lora_dropout is 0: dropout masks come from each library's own RNG stream, so with dropout the two runs
would train on different masks and could not be compared step by step.
Usage: test_model_peft_parity.py PEFT_MODEL_DRIVER"""
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

import torch  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

import peft_jobs  # noqa: E402

DRIVER = sys.argv[1]
LOSS_RTOL, WEIGHT_ATOL = 1e-5, 1e-4
CASES = [
    ("llama", "lora", {}),
    ("llama", "rslora", {"use_rslora": True}),
    ("llama", "dora", {"use_dora": True}),
    ("llama", "modules_to_save", {"modules_to_save": ["lm_head"]}),
    ("qwen3", "lora", {}),
    ("qwen3", "rslora", {"use_rslora": True}),
    ("qwen3", "dora", {"use_dora": True}),
    ("qwen3", "modules_to_save_tied", {"modules_to_save": ["embed_tokens"], "ensure_weight_tying": True}),
]


def compare(what, got_losses, got_adapter, want_losses, want_adapter, init_adapter):
    harness.expect(len(got_losses) == len(want_losses), f"{what}: {len(got_losses)} steps")
    loss_dev = max(abs(g - w) / abs(w) for g, w in zip(got_losses, want_losses))
    harness.expect(loss_dev <= LOSS_RTOL, f"{what}: loss differs by {loss_dev:.3g} relative\n{got_losses}\n{want_losses}")
    harness.expect(sorted(got_adapter) == sorted(want_adapter),
                   f"{what}: tensor names differ:\n{sorted(got_adapter)}\n{sorted(want_adapter)}")
    weight_dev = max((got_adapter[k] - want_adapter[k]).abs().max().item() for k in want_adapter)
    harness.expect(weight_dev <= WEIGHT_ATOL, f"{what}: final adapter differs by {weight_dev:.3g}")
    moved = max((want_adapter[k] - init_adapter[k]).abs().max().item() for k in want_adapter)
    harness.expect(moved > 100 * WEIGHT_ATOL, f"{what}: the adapter barely moved ({moved:.3g}); a bug would go unseen")
    return loss_dev, weight_dev


def run_case(tmp: Path, arch: str, name: str, lora_kwargs: dict, batches, model_dir: Path):
    tag = f"{arch}_{name}"
    model = peft_jobs.peft_model(peft_jobs.reload_model(arch, model_dir), lora_kwargs)
    init_dir, final_dir = tmp / f"{tag}_init", tmp / f"{tag}_final"
    model.save_pretrained(init_dir)
    want_losses, _ = peft_jobs.peft_train(model, batches)
    model.save_pretrained(final_dir)
    want_adapter, init_adapter = (load_file(d / "adapter_model.safetensors") for d in (final_dir, init_dir))
    harness.expect(want_losses[-1] < want_losses[0], f"{tag}: PEFT's loss did not go down: {want_losses}")

    row = [tag]
    for kernels in ("reference", "fused"):
        out = tmp / f"{tag}_{kernels}"
        got_losses, _, got_adapter = peft_jobs.run_driver(DRIVER, model_dir, init_dir, batches, out, kernels)
        row += compare(f"{tag} ({kernels})", got_losses, got_adapter, want_losses, want_adapter, init_adapter)

    # tailor's final adapter is a PEFT adapter: PEFT loads it and reproduces the PEFT-trained model's loss.
    reloaded = PeftModel.from_pretrained(peft_jobs.reload_model(arch, model_dir), tmp / f"{tag}_reference" / "adapter")
    batch = {k: torch.tensor(v) for k, v in batches[0].items()}
    with torch.no_grad():
        a, b = reloaded.eval()(**batch).loss.item(), model.eval()(**batch).loss.item()
    harness.expect(abs(a - b) <= LOSS_RTOL * abs(b), f"{tag}: PEFT-loaded tailor adapter gives loss {a}, expected {b}")
    print(f"{tag:22s} reference: loss rel {row[1]:.1e} weight abs {row[2]:.1e} | fused: loss rel {row[3]:.1e} "
          f"weight abs {row[4]:.1e} | loss {want_losses[0]:.4f} -> {want_losses[-1]:.4f}")
    return row


def main():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # PEFT's notes on tied embeddings and all-linear are expected here
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for arch in peft_jobs.MODELS:
            model_dir = tmp / arch
            vocab = peft_jobs.build_model(arch, model_dir).config.vocab_size
            batches = peft_jobs.make_batches(vocab)
            for case_arch, name, kwargs in CASES:
                if case_arch == arch:
                    rows.append(run_case(tmp, arch, name, kwargs, batches, model_dir))
    worst = [max(r[i] for r in rows) for i in range(1, 5)]
    print(f"max deviation over {len(rows)} cases: reference loss rel {worst[0]:.2e}, weight abs {worst[1]:.2e}; "
          f"fused loss rel {worst[2]:.2e}, weight abs {worst[3]:.2e}")


if __name__ == "__main__":
    main()
