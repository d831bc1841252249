"""Parity of tailor's decoder with transformers, for every architecture in tailor's registry.

For each architecture, transformers builds tiny random models offline from configs (GQA, odd vocab
sizes, tied and untied embeddings, rope scaling where the architecture has it), saves them with
save_pretrained, and tailor (through models_probe) loads the saved folder. Checked:
  fp32: logits max |Δ| <= 1e-4 on a right-padded batch and on a packed row (the packed documents are
        compared to the same documents run separately by transformers); 32 greedy tokens identical.
  bf16: max |Δ| and top-1 agreement reported (and sanity-checked).
Usage: test_parity_transformers.py MODELS_PROBE
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

PROBE = sys.argv[1]
TOL_FP32 = 1e-4
COMMON = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=512)

# Each registry architecture needs at least one case here; a new architecture without one fails.
CASES = {
    "llama": [
        ("llama3_rope_untied", transformers.LlamaConfig, dict(
            COMMON, vocab_size=293, tie_word_embeddings=False, rope_theta=500000.0,
            rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                              original_max_position_embeddings=32))),
        ("smollm2_like_tied", transformers.LlamaConfig, dict(
            COMMON, vocab_size=301, num_hidden_layers=3, num_key_value_heads=1, tie_word_embeddings=True,
            rope_theta=100000.0, rms_norm_eps=1e-5)),
        ("linear_rope_bias_sharded", transformers.LlamaConfig, dict(
            COMMON, vocab_size=263, attention_bias=True, mlp_bias=True,
            rope_scaling=dict(rope_type="linear", factor=2.0))),
    ],
    "mistral": [("sliding_window", transformers.MistralConfig, dict(COMMON, vocab_size=311, sliding_window=8))],
    "qwen2": [("yarn_tied", transformers.Qwen2Config, dict(
        COMMON, vocab_size=307, tie_word_embeddings=True,
        rope_scaling=dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=128)))],
    "qwen3": [("head_dim_32_linear_rope", transformers.Qwen3Config, dict(
        COMMON, vocab_size=299, head_dim=32, num_hidden_layers=3,
        rope_scaling=dict(rope_type="linear", factor=2.0)))],
    "gemma2": [("softcap_sliding", transformers.Gemma2Config, dict(
        COMMON, vocab_size=317, head_dim=16, sliding_window=8, query_pre_attn_scalar=20,
        attn_logit_softcapping=5.0, final_logit_softcapping=20.0, num_hidden_layers=3))],
    "gemma3": [("sliding_pattern_local_rope", transformers.Gemma3TextConfig, dict(
        COMMON, vocab_size=283, head_dim=32, num_hidden_layers=4, sliding_window=8, query_pre_attn_scalar=24,
        layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}))],
    "phi3": [("partial_rotary_longrope", transformers.Phi3Config, dict(
        COMMON, vocab_size=321, pad_token_id=0, bos_token_id=1, eos_token_id=2, partial_rotary_factor=0.5,
        original_max_position_embeddings=128,
        rope_scaling=dict(rope_type="longrope", short_factor=[1.0 + 0.1 * i for i in range(4)],
                          long_factor=[2.0 + 0.5 * i for i in range(4)])))],
}

HF_CLASSES = {"llama": transformers.LlamaForCausalLM, "mistral": transformers.MistralForCausalLM,
              "qwen2": transformers.Qwen2ForCausalLM, "qwen3": transformers.Qwen3ForCausalLM,
              "gemma2": transformers.Gemma2ForCausalLM, "gemma3": transformers.Gemma3ForCausalLM,
              "phi3": transformers.Phi3ForCausalLM}


def randomize(model, gemma_norms):
    """Weights large enough that every op matters (transformers' init leaves logits near zero)."""
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name:
                p.copy_(0.2 * noise if gemma_norms else 1.0 + 0.2 * noise)
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(noise / p.shape[-1] ** 0.5 * (0.3 if name.endswith("bias") else 1.0))


def probe(request, out_dir):
    req_path = Path(out_dir) / "request.json"
    req_path.write_text(json.dumps(request))
    proc = subprocess.run([PROBE, str(req_path), str(out_dir)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"models_probe failed ({proc.returncode}): {proc.stderr}")
    summary = json.loads(proc.stdout)
    logits = {name: np.fromfile(Path(out_dir) / f"{name}.f32", dtype=np.float32).reshape(shape)
              for name, shape in summary["batches"].items()}
    return logits, summary["generations"]


def make_inputs(vocab, gen):
    lengths = [24, 17, 9]
    T = max(lengths)
    ids = torch.zeros(len(lengths), T, dtype=torch.long)
    mask = torch.zeros(len(lengths), T, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, vocab, (n,), generator=gen)
        mask[b, :n] = 1
    docs = [torch.randint(3, vocab, (n,), generator=gen) for n in (7, 11, 5)]
    packed = torch.zeros(1, sum(len(d) for d in docs) + 3, dtype=torch.long)
    packed[0, :sum(len(d) for d in docs)] = torch.cat(docs)
    cu = [0]
    for d in docs:
        cu.append(cu[-1] + len(d))
    return ids, mask, lengths, docs, packed, cu


def check_case(arch, case, config_cls, kwargs, tmp):
    gen = torch.Generator().manual_seed(7)
    config = config_cls(**kwargs)
    config._attn_implementation = "eager"  # the reference math (softcapping needs it in gemma2)
    torch.manual_seed(0)
    model = HF_CLASSES[arch](config).eval()
    randomize(model, gemma_norms=arch.startswith("gemma"))
    folder = Path(tmp) / f"{arch}_{case}"
    shard = "60KB" if "sharded" in case else "2GB"
    model.save_pretrained(folder, max_shard_size=shard)
    if "sharded" in case and not (folder / "model.safetensors.index.json").exists():
        raise AssertionError("the sharded case did not produce a sharded checkpoint")

    ids, mask, lengths, docs, packed, cu = make_inputs(config.vocab_size, gen)
    prompt = torch.randint(3, config.vocab_size, (6,), generator=gen)
    with torch.no_grad():
        ref_padded = model(input_ids=ids, attention_mask=mask).logits.float().numpy()
        ref_docs = [model(input_ids=d.view(1, -1)).logits[0].float().numpy() for d in docs]
        model.generation_config.eos_token_id = None
        model.generation_config.pad_token_id = 0
        ref_gen = model.generate(prompt.view(1, -1), max_new_tokens=32, do_sample=False, min_new_tokens=32,
                                 attention_mask=torch.ones(1, len(prompt), dtype=torch.long))[0, len(prompt):].tolist()

    out = Path(tmp) / f"out_{arch}_{case}"
    out.mkdir()
    request = {"model": str(folder), "dtype": "float32",
               "batches": [{"name": "padded", "input_ids": ids.tolist(), "attention_mask": mask.tolist()},
                           {"name": "packed", "input_ids": packed.tolist(), "cu_seqlens": [cu]}],
               "generate": [{"prompt": prompt.tolist(), "max_new_tokens": 32}]}
    got, generations = probe(request, out)

    padded_delta = max(float(np.abs(got["padded"][b, :n] - ref_padded[b, :n]).max()) for b, n in enumerate(lengths))
    packed_delta = max(float(np.abs(got["packed"][0, cu[i]:cu[i + 1]] - ref_docs[i]).max()) for i in range(len(docs)))
    scale = float(np.abs(ref_padded).max())
    gen_same = generations[0] == ref_gen

    # bf16: the same model in bfloat16 on both sides.
    bf16_model = model.to(torch.bfloat16)
    with torch.no_grad():
        ref_bf16 = bf16_model(input_ids=ids, attention_mask=mask).logits.float().numpy()
    out_bf16 = Path(tmp) / f"out_{arch}_{case}_bf16"
    out_bf16.mkdir()
    got_bf16, _ = probe({"model": str(folder), "dtype": "bfloat16",
                         "batches": [{"name": "padded", "input_ids": ids.tolist(), "attention_mask": mask.tolist()}]},
                        out_bf16)
    valid = [(b, t) for b, n in enumerate(lengths) for t in range(n)]
    bf16_delta = max(float(np.abs(got_bf16["padded"][b, t] - ref_bf16[b, t]).max()) for b, t in valid)
    top1 = np.mean([got_bf16["padded"][b, t].argmax() == ref_bf16[b, t].argmax() for b, t in valid])

    print(f"{arch:8s} {case:28s} |logits|max {scale:7.2f}  fp32 padded Δ {padded_delta:.2e}  packed Δ {packed_delta:.2e}"
          f"  greedy32 {'same' if gen_same else 'DIFFERENT'}  bf16 Δ {bf16_delta:.3f} top1 {top1:.3f}")
    problems = []
    if not padded_delta <= TOL_FP32:
        problems.append(f"padded batch max |Δ| {padded_delta:.3g} > {TOL_FP32}")
    if not packed_delta <= TOL_FP32:
        problems.append(f"packed row max |Δ| {packed_delta:.3g} > {TOL_FP32}")
    if not gen_same:
        problems.append(f"greedy generation differs:\n  tailor {generations[0]}\n  hf     {ref_gen}")
    if not (np.isfinite(bf16_delta) and top1 >= 0.8):
        problems.append(f"bf16 out of family: max |Δ| {bf16_delta}, top-1 agreement {top1}")
    return [f"{arch}/{case}: {p}" for p in problems]


def main():
    registry = json.loads(subprocess.run([PROBE, "--architectures"], capture_output=True, text=True,
                                         check=True).stdout)
    names = [a["name"] for a in registry]
    missing = [n for n in names if n not in CASES]
    harness.expect(not missing, f"architectures without a parity case: {missing}")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in names:
            for case, config_cls, kwargs in CASES[arch]:
                problems += check_case(arch, case, config_cls, kwargs, tmp)
    if problems:
        raise AssertionError("\n".join(problems))
    print(f"parity OK for {len(names)} architectures")


if __name__ == "__main__":
    main()
