"""LoraLinear against PEFT's lora.Linear: forward, backward, merge and unmerge, for plain LoRA, rsLoRA and
DoRA (with and without bias), reading the adapter PEFT saved. Also: PiSSA init against PEFT's, and an
adapter tailor saved loads back into PEFT. Usage: test_lora_layer_parity.py LORA_DRIVER"""
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import harness  # noqa: E402

import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

DRIVER = sys.argv[1]
IN, OUT, R = 24, 20, 4


class Holder(torch.nn.Module):
    def __init__(self, bias):
        super().__init__()
        self.lin = torch.nn.Linear(IN, OUT, bias=bias)

    def forward(self, x):
        return self.lin(x)


def close(name, got, want, tol):
    err = (got - want).abs().max().item()
    scale = max(want.abs().max().item(), 1.0)
    harness.expect(err <= tol * scale, f"{name}: max error {err:.3g} > {tol:g} x {scale:.3g}")
    return err


def layer_case(tmp: Path, name: str, bias: bool, **lora_kwargs):
    torch.manual_seed(hash(name) % 1000)
    model = get_peft_model(Holder(bias), LoraConfig(r=R, lora_alpha=12, target_modules=["lin"], **lora_kwargs))
    layer = model.base_model.model.lin
    with torch.no_grad():  # a non-zero B (and for DoRA, m away from ‖W‖) so every term matters
        layer.lora_B["default"].weight.normal_(0, 0.3)
        if lora_kwargs.get("use_dora"):
            layer.lora_magnitude_vector["default"].weight.mul_(torch.rand(OUT) + 0.5)
    adapter_dir = tmp / f"{name}_adapter"
    model.save_pretrained(adapter_dir)

    x = torch.randn(3, 5, IN, requires_grad=True)
    grad_out = torch.randn(3, 5, OUT)
    model.train()
    y = model(x)
    y.backward(grad_out)
    base = layer.base_layer
    case = {"weight": base.weight.detach().clone(), "x": x.detach(), "grad_out": grad_out}
    if bias:
        case["bias"] = base.bias.detach().clone()
    save_file(case, tmp / f"{name}_case.safetensors")
    out_file = tmp / f"{name}_out.safetensors"
    subprocess.run([DRIVER, "layer", tmp / f"{name}_case.safetensors", adapter_dir, out_file], check=True)
    got = load_file(out_file)

    errs = [
        close(f"{name} forward", got["y"], y.detach(), 1e-6),
        close(f"{name} grad x", got["grad_x"], x.grad, 1e-6),
        close(f"{name} grad A", got["grad_A"], layer.lora_A["default"].weight.grad, 1e-6),
        close(f"{name} grad B", got["grad_B"], layer.lora_B["default"].weight.grad, 1e-6),
    ]
    if lora_kwargs.get("use_dora"):
        errs.append(close(f"{name} grad m", got["grad_m"], layer.lora_magnitude_vector["default"].weight.grad, 1e-6))
    with torch.no_grad():
        y_plain = model(x)
        merged = model.merge_and_unload()
        errs.append(close(f"{name} merged weight", got["merged_weight"], merged.lin.weight, 1e-6))
        errs.append(close(f"{name} merged forward", got["y_merged"], merged(x), 1e-5))
        errs.append(close(f"{name} merged == base + adapter", got["y_merged"], y_plain, 1e-5))
    errs.append(close(f"{name} unmerge restores base", got["unmerged_weight"], case["weight"], 1e-6))
    print(f"{name:12s} max abs error {max(errs):.2e}")


def pissa_case(tmp: Path):
    torch.manual_seed(7)
    original = Holder(False)
    save_file({"weight": original.lin.weight.detach().clone()}, tmp / "pissa_case.safetensors")
    model = get_peft_model(original, LoraConfig(r=R, lora_alpha=8, target_modules=["lin"], init_lora_weights="pissa"))
    subprocess.run([DRIVER, "pissa", tmp / "pissa_case.safetensors", str(R), "8", tmp / "pissa_out.safetensors"], check=True)
    got = load_file(tmp / "pissa_out.safetensors")
    layer = model.base_model.model.lin
    # SVD signs are fixed by LAPACK, which tailor and PyTorch share.
    close("pissa A", got["A"], layer.lora_A["default"].weight, 1e-5)
    close("pissa B", got["B"], layer.lora_B["default"].weight, 1e-5)
    close("pissa residual", got["residual"], layer.base_layer.weight, 1e-5)
    print("pissa        matches PEFT")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        layer_case(tmp, "lora", bias=True)
        layer_case(tmp, "rslora", bias=False, use_rslora=True)
        layer_case(tmp, "dora", bias=False, use_dora=True)
        layer_case(tmp, "dora_bias", bias=True, use_dora=True)
        pissa_case(tmp)


if __name__ == "__main__":
    main()
