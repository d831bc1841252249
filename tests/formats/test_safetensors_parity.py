"""safetensors parity against the reference `safetensors` package (label parity):
1. files written by safetensors.torch.save_file (every dtype torch has) read identically by tailor;
2. files written by tailor load identically with safetensors, and are byte-identical to what
   safetensors.torch.save produces for the same tensors (the reference layout, formats.md §1.4);
3. tailor's sharding equals huggingface_hub.split_torch_state_dict_into_shards, and the index loads;
4. corrupted files: tailor rejects every file the reference rejects (never crashing)."""
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import split_torch_state_dict_into_shards
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

from formats_parity import harness, run_tool

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "C64": torch.complex64, "U64": torch.uint64, "U32": torch.uint32, "U16": torch.uint16,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2, "F8_E4M3FNUZ": torch.float8_e4m3fnuz,
    "F8_E5M2FNUZ": torch.float8_e5m2fnuz, "F8_E8M0": torch.float8_e8m0fnu,
}
SHAPES = [(3, 5), (7,), (), (2, 0, 4), (2, 3, 4)]
rng = np.random.default_rng(7)


def raw_bytes(tensor):
    return tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""


def make_tensors():
    tensors = {}
    for i, (name, dtype) in enumerate(DTYPES.items()):
        shape = SHAPES[i % len(SHAPES)]
        size = int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size()
        data = rng.integers(0, 256, size=size, dtype=np.uint8)
        if dtype == torch.bool:
            data &= 1
        prefix = "émbed/\t\"odd\" name." if i == 3 else "model.layers."
        tensors[f"{prefix}{i}.{name.lower()}"] = torch.frombuffer(bytearray(data.tobytes()) or bytearray(1),
                                                                       dtype=torch.uint8)[:size].view(dtype).reshape(shape)
    return tensors


def read_with_tailor(path):
    with tempfile.TemporaryDirectory() as out:
        _, manifest, _ = run_tool("safetensors-read", path, out)
        return {t["name"]: (t["dtype"], tuple(t["shape"]), (Path(out) / t["file"]).read_bytes())
                for t in manifest["tensors"]}, manifest["metadata"]


def expect_same(ours, reference, where):
    harness.expect(sorted(ours) == sorted(reference), f"{where}: names {sorted(ours)} vs {sorted(reference)}")
    for name, tensor in reference.items():
        dtype, shape, data = ours[name]
        harness.expect(DTYPES[dtype] == tensor.dtype, f"{where}: {name}: dtype {dtype} vs {tensor.dtype}")
        harness.expect(shape == tuple(tensor.shape), f"{where}: {name}: shape {shape} vs {tuple(tensor.shape)}")
        harness.expect(data == raw_bytes(tensor), f"{where}: {name}: bytes differ")


def write_with_tailor(tensors, folder, target, *extra, metadata=None):
    entries = []
    for i, (name, tensor) in enumerate(tensors.items()):
        (folder / f"{i}.bin").write_bytes(raw_bytes(tensor))
        dtype = next(k for k, v in DTYPES.items() if v == tensor.dtype)
        entries.append({"name": name, "dtype": dtype, "shape": list(tensor.shape), "file": f"{i}.bin"})
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"tensors": entries, "metadata": metadata or {}}))
    return run_tool("safetensors-write", manifest, target, *extra)[1]


def main():
    tensors = make_tensors()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 1. reference writes, tailor reads.
        save_file(tensors, tmp / "reference.safetensors", metadata={"format": "pt", "note": "written by safetensors"})
        ours, metadata = read_with_tailor(tmp / "reference.safetensors")
        expect_same(ours, tensors, "reference file")
        harness.expect(metadata == {"format": "pt", "note": "written by safetensors"}, f"metadata {metadata}")
        print(f"read a safetensors-written file: {len(tensors)} tensors, {len(DTYPES)} dtypes identical")

        # 2. tailor writes, reference reads; byte-identical to the reference serializer.
        write_with_tailor(tensors, tmp, tmp / "tailor.safetensors", metadata={"format": "pt"})
        loaded = load_file(tmp / "tailor.safetensors")
        expect_same({k: (next(d for d, t in DTYPES.items() if t == v.dtype), tuple(v.shape), raw_bytes(v))
                     for k, v in loaded.items()}, tensors, "tailor file loaded by safetensors")
        with safe_open(tmp / "tailor.safetensors", framework="pt") as f:
            harness.expect(f.metadata() == {"format": "pt"}, f"metadata read back {f.metadata()}")
        reference_bytes = save(tensors, metadata={"format": "pt"})
        harness.expect((tmp / "tailor.safetensors").read_bytes() == reference_bytes,
                       "tailor's file is not byte-identical to safetensors.torch.save of the same tensors")
        print(f"wrote {len(tensors)} tensors: loaded by safetensors, byte-identical to its serializer")

        # 3. sharding like huggingface_hub, index loadable.
        big = {f"layer.{i}.weight": torch.randn(40 + 17 * i) for i in range(9)}
        big["huge"] = torch.randn(400)
        max_bytes = 700
        files = write_with_tailor(big, tmp, tmp / "ckpt", str(max_bytes), metadata={"format": "pt"})
        split = split_torch_state_dict_into_shards(big, max_shard_size=max_bytes)
        harness.expect(files[:-1] == list(split.filename_to_tensors), f"shards {files} vs {list(split.filename_to_tensors)}")
        index = json.loads((tmp / "ckpt" / "model.safetensors.index.json").read_text())
        harness.expect(index["weight_map"] == split.tensor_to_filename, "weight_map differs from huggingface_hub's")
        harness.expect(index["metadata"]["total_size"] == split.metadata["total_size"], "total_size differs")
        for filename, names in split.filename_to_tensors.items():
            shard = load_file(tmp / "ckpt" / filename)
            harness.expect(sorted(shard) == sorted(names), f"{filename} holds {sorted(shard)}")
            for name in names:
                harness.expect(torch.equal(shard[name], big[name]), f"{name} differs in {filename}")
        ours, _ = read_with_tailor(tmp / "ckpt")
        expect_same(ours, big, "sharded checkpoint read back by tailor")
        print(f"sharded {len(big)} tensors into {len(files) - 1} files exactly as huggingface_hub splits them")

        # 4. corrupted files: whatever the reference rejects, tailor rejects too.
        small = save({"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(2, dtype=torch.int16)},
                     metadata={"format": "pt"})
        variants = [small[:cut] for cut in range(len(small))]
        for at in range(len(small) - 30):
            for value in (0x00, 0x22, 0x31, 0x7B, 0xFF):
                bent = bytearray(small)
                bent[at] = value
                variants.append(bytes(bent))
        rejected_by_both, only_tailor = 0, []
        out = tmp / "out"
        out.mkdir()
        for i, data in enumerate(variants):
            path = tmp / "variant.safetensors"
            path.write_bytes(data)
            try:
                with safe_open(path, framework="pt") as f:
                    reference_ok = True
                    [f.get_tensor(k) for k in f.keys()]
            except Exception:
                reference_ok = False
            rc, _, _ = run_tool("safetensors-read", path, out, expect_ok=False)
            if not reference_ok:
                harness.expect(rc == 2, f"variant {i}: the reference rejects it, tailor accepted it")
                rejected_by_both += 1
            elif rc == 2:
                only_tailor.append(i)
        print(f"{len(variants)} corrupted variants: {rejected_by_both} rejected by the reference, all rejected by tailor; "
              f"{len(only_tailor)} accepted by the reference but rejected by tailor")


if __name__ == "__main__":
    main()
