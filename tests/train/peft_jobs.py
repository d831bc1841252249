"""The training job the whole-model parity tests run twice, once in transformers + PEFT + torch.optim.AdamW
and once in tailor (peft_model_driver): tiny random HF models saved as folders, a PEFT initial adapter,
ten batches (right padding, ignore_index labels) and the optimizer settings."""
import copy
import json
import subprocess
from pathlib import Path

import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import get_cosine_schedule_with_warmup

STEPS, BATCH, SEQ = 10, 3, 16
ROW_LENGTHS = (16, 11, 7)  # rows 1 and 2 are right-padded
ALPHABET = 16              # token ids the rows cycle through
PROMPT_TOKENS = 4          # row 0's first labels are -100, as an SFT prompt's are
OPTIM = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01, "max_grad_norm": 1.0,
         "schedule": "cosine", "warmup": 2}
COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128)
# GQA (4 query heads on 2 kv heads) everywhere; odd vocabularies; Llama untied, Qwen3 tied (and q/k norms).
MODELS = {
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM,
              dict(COMMON, vocab_size=311, tie_word_embeddings=False, rope_theta=10000.0)),
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM,
              dict(COMMON, vocab_size=293, head_dim=32, tie_word_embeddings=True)),
}


def build_model(name: str, folder: Path):
    """A random model with weights large enough that every op matters, saved as an HF folder; returns it."""
    config_cls, model_cls, kwargs = MODELS[name]
    config = config_cls(**kwargs)
    config._attn_implementation = "eager"  # the reference math, which tailor's `reference` path mirrors
    torch.manual_seed(0)
    model = model_cls(config)
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * noise)
            elif "embed_tokens" in pname or "lm_head" in pname:  # logits of a few units, as trained models'
                p.copy_(0.15 * noise)
            else:
                p.copy_(noise / p.shape[-1] ** 0.5)
    model.save_pretrained(folder)
    return model


def reload_model(name: str, folder: Path):
    return MODELS[name][1].from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)


def make_batches(vocab: int, seed: int = 5):
    """Learnable rows from random starts: each token the previous + 5 in a cycle of ALPHABET ids above the 3
    special ids, so the loss falls quickly from about log(vocab) as the model learns which ids occur."""
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(STEPS):
        ids = torch.zeros(BATCH, SEQ, dtype=torch.long)
        mask = torch.zeros(BATCH, SEQ, dtype=torch.long)
        for b, n in enumerate(ROW_LENGTHS):
            start = torch.randint(0, ALPHABET, (1,), generator=gen)
            ids[b, :n] = 3 + (start + 5 * torch.arange(n)) % ALPHABET
            mask[b, :n] = 1
        labels = ids.masked_fill(mask == 0, -100)
        labels[0, :PROMPT_TOKENS] = -100
        batches.append({"input_ids": ids.tolist(), "labels": labels.tolist(), "attention_mask": mask.tolist()})
    return batches


def peft_model(base, lora_kwargs: dict, b_std: float = 0.05):
    """PEFT LoRA on every linear layer; B moved off zero so A trains (and DoRA's update matters) from step 0."""
    torch.manual_seed(42)  # A's Kaiming-uniform init: the same initial adapter whichever base (dense, NF4)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear",
                                            **copy.deepcopy(lora_kwargs)))  # PEFT edits the lists it is given
    gen = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.copy_(b_std * torch.randn(p.shape, generator=gen))
    return model


def peft_train(model, batches):
    """What tailor's loop does, in PyTorch: per step loss, backward, clip, AdamW step, cosine schedule."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=OPTIM["lr"], betas=(OPTIM["beta1"], OPTIM["beta2"]), eps=OPTIM["eps"],
                            weight_decay=OPTIM["weight_decay"])
    sched = get_cosine_schedule_with_warmup(opt, OPTIM["warmup"], len(batches))
    model.train()
    losses, norms = [], []
    for batch in batches:
        out = model(**{k: torch.tensor(v) for k, v in batch.items()})
        out.loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(params, OPTIM["max_grad_norm"]).item())
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(out.loss.item())
    return losses, norms


def run_driver(driver, model_dir: Path, adapter_dir: Path, batches, out_dir: Path, kernels="reference",
               quantize="none", lr=None):
    """tailor's run of the same job (at another learning rate when given); returns (losses, grad norms,
    final adapter tensors)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    job = out_dir / "job.json"
    job.write_text(json.dumps({"kernels": kernels, "quantize": quantize, "threads": 1,
                               "optim": dict(OPTIM, lr=OPTIM["lr"] if lr is None else lr),
                               "batches": batches}))
    proc = subprocess.run([str(driver), model_dir, adapter_dir, job, out_dir], capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"peft_model_driver failed ({proc.returncode}): {proc.stderr}")
    result = json.loads((out_dir / "losses.json").read_text())
    return result["loss"], result["grad_norm"], load_file(out_dir / "adapter" / "adapter_model.safetensors")
