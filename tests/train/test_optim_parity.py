"""tailor's AdamW, clip_grad_norm and LR schedules against torch.optim.AdamW, torch.nn.utils.clip_grad_norm_
and transformers' get_{constant,linear,cosine}_schedule_with_warmup. AdamW and clipping are compared step
by step inside the training parity test; here: the schedules at every step, including past the end.
Usage: test_optim_parity.py LORA_DRIVER"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

import torch  # noqa: E402
from transformers import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,  # noqa: E402
                          get_linear_schedule_with_warmup)

DRIVER = sys.argv[1]


def reference(kind, base_lr, warmup, total):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    if kind == "constant":
        sched = get_constant_schedule_with_warmup(opt, warmup)
    elif kind == "linear":
        sched = get_linear_schedule_with_warmup(opt, warmup, total)
    else:
        sched = get_cosine_schedule_with_warmup(opt, warmup, total)
    lrs = []
    for _ in range(total + 1):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return lrs


def main():
    checked = 0
    for kind in ("constant", "linear", "cosine"):
        for warmup, total in ((0, 10), (3, 10), (5, 37), (10, 10)):
            out = subprocess.run([DRIVER, "schedule", kind, "0.0002", str(warmup), str(total)], check=True,
                                 capture_output=True, text=True).stdout.split()
            got = [float(v) for v in out]
            want = reference(kind, 2e-4, warmup, total)
            harness.expect(len(got) == len(want), f"{kind} {warmup}/{total}: {len(got)} values, expected {len(want)}")
            for step, (g, w) in enumerate(zip(got, want)):
                harness.expect(abs(g - w) <= 1e-15 + 1e-12 * abs(w), f"{kind} warmup={warmup} total={total} step {step}: {g} != {w}")
            checked += len(got)
    print(f"{checked} learning rates match transformers")


if __name__ == "__main__":
    main()
