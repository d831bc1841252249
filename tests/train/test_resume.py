"""`tailor run` survives interruption: a run SIGKILLed mid-training and started again with the same command
resumes from its newest valid checkpoint and produces the identical per-step losses and a byte-identical
adapter; SIGTERM stops after the current step with a checkpoint and exit code 0; the same command on a
finished run says it is complete, trains and samples nothing again and redoes its export. Uses the shipped
SmolLM2-135M with a tiny configuration so three runs take well under a minute each."""
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import DEFAULT_MODEL, TAILOR, expect, skip  # noqa: E402

if not DEFAULT_MODEL.exists():
    skip(f"the shipped model is missing ({DEFAULT_MODEL}); run scripts/setup")

STEPS = 6
OVERRIDES = [f"max_steps={STEPS}", "data.max_seq_len=64", "train.batch_size=2", "train.checkpoint_every=1",
             "train.keep_checkpoints=2", "train.threads=1", "train.eval_every=0", "lora.r=4",
             "lora.targets=[q_proj,v_proj]", "samples=[]", "export=[]"]


def command(out):
    return [TAILOR, "run", "smollm2-135m-lora-sft", f"output_dir={out}", *OVERRIDES]


def train_losses(out):
    losses = {}
    for line in (Path(out) / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") == "train":
            losses[r["step"]] = r["loss"]
    return [losses[s] for s in sorted(losses)]


def wait_for_step(out, proc, step, timeout=300):
    metrics = Path(out) / "metrics.jsonl"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run ended before step {step}: {proc.stderr.read()}")
        if metrics.exists() and any(json.loads(l).get("kind") == "train" and json.loads(l)["step"] >= step
                                    for l in metrics.read_text().splitlines() if l.strip()):
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} not reached in {timeout} s")


with tempfile.TemporaryDirectory() as tmp:
    straight, killed, stopped = (str(Path(tmp) / n) for n in ("straight", "killed", "stopped"))
    subprocess.run(command(straight), check=True, capture_output=True, text=True)
    want = train_losses(straight)
    expect(len(want) == STEPS, f"uninterrupted run logged {len(want)} steps")

    proc = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_step(killed, proc, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(command(killed), check=True, capture_output=True, text=True)
    expect("resumed from" in resumed.stdout, f"second run did not resume:\n{resumed.stdout}")
    got = train_losses(killed)
    expect(got == want, f"losses differ after SIGKILL + resume:\n  straight {want}\n  resumed  {got}")
    a = (Path(straight) / "adapter" / "adapter_model.safetensors").read_bytes()
    b = (Path(killed) / "adapter" / "adapter_model.safetensors").read_bytes()
    expect(a == b, "final adapter differs from the uninterrupted run's")

    proc = subprocess.Popen(command(stopped), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(stopped, proc, 2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    expect(proc.returncode == 0, f"SIGTERM: exit {proc.returncode}\n{err}")
    expect("Resume" in out, f"SIGTERM message does not say how to resume:\n{out}")
    checkpoints = sorted((Path(stopped) / "checkpoints").glob("checkpoint-*"))
    expect(checkpoints and (checkpoints[-1] / "manifest.json").exists(), "no checkpoint after SIGTERM")

    # Finished runs: rerunning the command (as `make demo` twice does) must not train, sample or crash.
    done = str(Path(tmp) / "done")
    finish = [TAILOR, "run", "smollm2-135m-lora-sft", f"output_dir={done}",
              *[o for o in OVERRIDES if not o.startswith(("max_steps=", "samples=", "export="))],
              "max_steps=2", "samples=[Xin chào]", "sample_tokens=4", "export=[peft]"]
    subprocess.run(finish, check=True, capture_output=True, text=True)
    again = subprocess.run(finish, capture_output=True, text=True)
    expect(again.returncode == 0, f"rerun of a finished run: exit {again.returncode}\n{again.stderr[-2000:]}")
    expect("already complete" in again.stdout, f"rerun does not say the run is complete:\n{again.stdout}")
    records = [json.loads(l) for l in (Path(done) / "metrics.jsonl").read_text().splitlines()]
    after = [r for r in records if r.get("kind") == "sample" and r.get("stage") == "after"]
    expect(len(after) == 1, f"{len(after)} 'after' samples in the log after the rerun (want 1)")
    losses = train_losses(done)
    expect(f"loss {losses[0]:g} -> {losses[-1]:g}" in again.stdout,
           f"rerun's loss line does not show the logged curve {losses}:\n{again.stdout}")
    expect((Path(done) / "export" / "peft" / "adapter_config.json").exists(), "export missing after the rerun")
    print(f"ok: {STEPS} steps, killed at step >= 3, losses identical: {got}; finished run rerun: complete, "
          f"{len(after)} after-sample, export redone")
