"""Ten training steps of a tiny causal LM, PEFT + torch.optim.AdamW + transformers' cosine warmup schedule
+ clip_grad_norm_ against tailor's LoraLinear + AdamW + LrSchedule + clip_grad_norm, from the same initial
adapter (saved by PEFT, loaded by tailor) on the same batches: per-step loss within 1e-5 relative and
final adapter tensors within 1e-4, for plain LoRA, rsLoRA, DoRA, modules_to_save and trainable token
rows. The final adapter tailor writes must load in PEFT and give PEFT's outputs.
Usage: test_lora_train_parity.py LORA_DRIVER"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import get_cosine_schedule_with_warmup  # noqa: E402

DRIVER = sys.argv[1]
V, C, FF, B, T, STEPS = 48, 16, 40, 4, 12, 10
HP = {"lr": 5e-3, "weight_decay": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "schedule": "cosine",
      "warmup": 2, "steps": STEPS, "max_grad_norm": 0.5}


class Tiny(torch.nn.Module):
    """embed → x + fc2(silu(fc1(x))) → lm_head; tailor's driver builds the same."""

    def __init__(self):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(V, C)
        self.fc1 = torch.nn.Linear(C, FF)
        self.fc2 = torch.nn.Linear(FF, C)
        self.lm_head = torch.nn.Linear(C, V, bias=False)

    def forward(self, ids):
        h = self.embed_tokens(ids)
        h = h + self.fc2(F.silu(self.fc1(h)))
        logits = self.lm_head(h)
        return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def run(tmp: Path, name: str, **lora_kwargs):
    torch.manual_seed(11)
    base = Tiny()
    base_state = {k: v.detach().clone() for k, v in base.state_dict().items()}
    # Learnable sequences (each token is the previous + 5 mod V) from random starts, so the loss must fall.
    batches = (torch.randint(0, V, (STEPS, B, 1)) + 5 * torch.arange(T)) % V
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["fc1", "fc2"], **lora_kwargs))
    with torch.no_grad():  # B away from zero so A receives gradient from the first step
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.1)
    init_dir = tmp / f"{name}_init"
    model.save_pretrained(init_dir)
    save_file({**base_state, "batches": batches}, tmp / f"{name}_case.safetensors")
    (tmp / "hp.json").write_text(json.dumps(HP))

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=HP["lr"], betas=(HP["beta1"], HP["beta2"]), eps=HP["eps"],
                            weight_decay=HP["weight_decay"])
    sched = get_cosine_schedule_with_warmup(opt, HP["warmup"], STEPS)
    model.train()
    want = []
    for step in range(STEPS):
        loss = model(batches[step])
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, HP["max_grad_norm"])
        opt.step()
        sched.step()
        opt.zero_grad()
        want.append((loss.item(), norm.item()))
    final_dir = tmp / f"{name}_final"
    model.save_pretrained(final_dir)

    out_dir = tmp / f"{name}_tailor"
    out_dir.mkdir()
    subprocess.run([DRIVER, "train", tmp / f"{name}_case.safetensors", init_dir, tmp / "hp.json", out_dir], check=True)
    got = [tuple(map(float, line.split())) for line in (out_dir / "losses.txt").read_text().split("\n") if line]
    harness.expect(len(got) == STEPS, f"{name}: {len(got)} steps")
    worst_loss = max(abs(g[0] - w[0]) / abs(w[0]) for g, w in zip(got, want))
    harness.expect(worst_loss <= 1e-5, f"{name}: loss differs by {worst_loss:.3g} relative\n{got}\n{want}")
    harness.expect(got[-1][0] < got[0][0], f"{name}: the loss did not go down: {got}")

    ours = load_file(out_dir / "adapter" / "adapter_model.safetensors")
    theirs = load_file(final_dir / "adapter_model.safetensors")
    harness.expect(sorted(ours) == sorted(theirs), f"{name}: tensor names differ:\n{sorted(ours)}\n{sorted(theirs)}")
    worst_weight = max((ours[k] - theirs[k]).abs().max().item() for k in theirs)
    harness.expect(worst_weight <= 1e-4, f"{name}: final adapter differs by {worst_weight:.3g}")
    moved = max((ours[k] - load_file(init_dir / "adapter_model.safetensors")[k]).abs().max().item() for k in ours)
    harness.expect(moved > 1e-3, f"{name}: the adapter barely moved ({moved:.3g}); the test would not see a bug")

    # tailor's folder is a PEFT adapter: PEFT loads it and reproduces the trained model's loss.
    torch.manual_seed(11)
    fresh = Tiny()
    fresh.load_state_dict(base_state)
    reloaded = PeftModel.from_pretrained(fresh, out_dir / "adapter")
    reloaded.eval()
    model.eval()
    with torch.no_grad():
        a, b = reloaded(batches[0]).item(), model(batches[0]).item()
    harness.expect(abs(a - b) <= 1e-5 * abs(b), f"{name}: PEFT-loaded tailor adapter gives loss {a}, expected {b}")
    print(f"{name:16s} loss rel err {worst_loss:.1e}  weight abs err {worst_weight:.1e}  "
          f"loss {want[0][0]:.4f} -> {want[-1][0]:.4f}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run(tmp, "lora")
        run(tmp, "rslora", use_rslora=True)
        run(tmp, "dora", use_dora=True)
        run(tmp, "modules_to_save", modules_to_save=["lm_head"])
        run(tmp, "trainable_tokens", trainable_token_indices={"embed_tokens": [1, 7, 30]})


if __name__ == "__main__":
    main()
