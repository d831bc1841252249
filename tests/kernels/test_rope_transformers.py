"""RoPE frequency tables: tailor's inverse frequencies and attention factor vs transformers'
ROPE_INIT_FUNCTIONS (default, linear, llama3, yarn) on the configurations real models ship."""
import math
import os
import subprocess
import sys

try:
    import torch
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
except Exception as e:  # noqa: BLE001
    print(f"skipped: transformers unavailable ({e})")
    sys.exit(77)

PROBE = os.path.join(os.environ["TAILOR_BINARY_DIR"], "tests", "kernels", "tailor_kernels_rope_probe")

# (rope_type, theta, head_dim, parameters, max_position_embeddings)
CASES = [
    ("default", 1000000.0, 128, {}, 40960),  # Qwen3
    ("linear", 10000.0, 64, {"factor": 4.0}, 8192),
    ("llama3", 500000.0, 128, {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 8192}, 131072),  # Llama 3.1
    ("llama3", 500000.0, 64, {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8192}, 131072),  # Llama 3.2 1B
    ("yarn", 1000000.0, 128, {"factor": 4.0, "original_max_position_embeddings": 32768}, 131072),  # Qwen3 long
    ("yarn", 10000.0, 96, {"factor": 16.0, "original_max_position_embeddings": 4096, "beta_fast": 16.0,
                           "beta_slow": 2.0}, 65536),
]


def main():
    for rope_type, theta, head_dim, params, max_pos in CASES:
        config = LlamaConfig(hidden_size=head_dim * 4, num_attention_heads=4, max_position_embeddings=max_pos,
                             rope_parameters={"rope_type": rope_type, "rope_theta": theta, **params})
        if rope_type == "default":
            want = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
            want_attention = 1.0
        else:
            want, want_attention = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu")
        args = [PROBE, "none" if rope_type == "default" else rope_type, repr(theta), str(head_dim),
                repr(params.get("factor", 1.0)), repr(params.get("low_freq_factor", 1.0)),
                repr(params.get("high_freq_factor", 4.0)), str(params.get("original_max_position_embeddings", 8192)),
                repr(params.get("beta_fast", 32.0)), repr(params.get("beta_slow", 1.0))]
        lines = subprocess.run(args, check=True, capture_output=True, text=True).stdout.split()
        attention, got = float(lines[0]), torch.tensor([float(v) for v in lines[1:]], dtype=torch.float32)
        what = f"{rope_type} theta={theta} dim={head_dim} {params}"
        assert math.isclose(attention, want_attention, rel_tol=1e-12), f"{what}: attention {attention} vs {want_attention}"
        assert got.shape == want.shape, f"{what}: {got.shape} vs {want.shape}"
        # Same float32 arithmetic in the same order: equal up to one rounding.
        torch.testing.assert_close(got, want.float(), rtol=2.4e-7, atol=0, msg=lambda m: f"{what}: {m}")
        print(f"ok {what}")


if __name__ == "__main__":
    main()
