"""GGUF reader parity against gguf-py (label parity): files written by gguf.GGUFWriter (every metadata
value type, arrays of every element type, tensors of every dequantizable type, quantized with
gguf.quants.quantize where gguf-py can, random blocks otherwise), the same file patched to version 2,
and the shipped SmolLM2 Q4_1 GGUF. Every metadata key/value, tensor info and dequantized float must
equal what gguf-py reads (gguf.quants.dequantize), bit for bit."""
import shutil
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

from formats_parity import harness, run_tool

rng = np.random.default_rng(1234)
QUANTIZABLE = [Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1]
BLOCK_TYPES = [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# Byte offsets of the f16 scale fields in each block: random bytes there could spell inf/nan.
HALF_FIELDS = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q2_K: [80, 82],
               Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def random_blocks(qtype, n_blocks):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for at in HALF_FIELDS[qtype]:
        scales = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
        blocks[:, at:at + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return blocks


def write_synthetic(path: Path):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -32000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("t.f32", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.string", "héllo <|im_end|>\n")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 1 / 3)
    w.add_key_value("t.arr.u8", [0, 255, 7], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("t.arr.i8", [-128, 127], V.ARRAY, sub_type=V.INT8)
    w.add_key_value("t.arr.u16", [1, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("t.arr.i16", [-5, 5], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("t.arr.u32", [1, 2**32 - 1], V.ARRAY, sub_type=V.UINT32)
    w.add_key_value("t.arr.i32", list(range(-3, 40)), V.ARRAY, sub_type=V.INT32)
    w.add_key_value("t.arr.f32", [0.1, -2.5, 1e-30], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("t.arr.bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("t.arr.u64", [2**64 - 1, 0], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("t.arr.i64", [-(2**63), 2**63 - 1], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("t.arr.f64", [1e300, -0.0], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "Ġhello", "▁wörld", "<|im_end|>", ""])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.5, -2.25, 0.0, 0.0])
    w.add_array("tokenizer.ggml.token_type", [3, 1, 1, 3, 5])

    values = rng.standard_normal((6, 256)).astype(np.float32)
    w.add_tensor("dense.f32", values)
    w.add_tensor("dense.f16", values.astype(np.float16))
    w.add_tensor("dense.3d", rng.standard_normal((2, 3, 32)).astype(np.float32))
    for qtype in QUANTIZABLE:
        w.add_tensor(f"quantized.{qtype.name}", gguf.quants.quantize(values, qtype), raw_dtype=qtype)
    for qtype in BLOCK_TYPES:
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        rows, row_length = 5, 2 * 256
        blocks = random_blocks(qtype, rows * row_length // block_size).reshape(rows, -1)
        w.add_tensor(f"random.{qtype.name}", blocks, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def field_value(field):
    """(type name, element type name or None, value) from a gguf-py ReaderField; strings as hex bytes."""
    kind = V(field.types[0])
    if kind == V.STRING:
        return kind.name, None, bytes(field.parts[field.data[0]]).hex()
    if kind == V.ARRAY:
        element = V(field.types[1])
        if element == V.STRING:
            items = [bytes(field.parts[i]).hex() for i in field.data]
        else:
            items = [field.parts[i][0].item() for i in field.data]
        return kind.name, element.name, items
    return kind.name, None, field.parts[field.data[0]][0].item()


def same_number(ours, theirs, type_name):
    if type_name in ("FLOAT32",):
        return np.float32(ours) == np.float32(theirs)
    if type_name == "BOOL":
        return bool(ours) == bool(theirs)
    return ours == theirs


def compare(path: Path, rows_per_call: int):
    """Compares tailor's reading of `path` with gguf-py's; returns (keys, tensors, max |diff|)."""
    reader = gguf.GGUFReader(str(path))
    with tempfile.TemporaryDirectory() as out:
        _, ours, _ = run_tool("gguf-read", path, out, rows_per_call)
        theirs = [(k, f) for k, f in reader.fields.items() if not k.startswith("GGUF.")]
        harness.expect([m["key"] for m in ours["metadata"]] == [k for k, _ in theirs], f"{path.name}: key order differs")
        for mine, (key, field) in zip(ours["metadata"], theirs):
            kind, element, value = field_value(field)
            harness.expect(mine["type"] == kind and mine.get("element_type") == element,
                           f"{key}: type {mine['type']}/{mine.get('element_type')} vs gguf-py {kind}/{element}")
            numeric_type = element or kind
            if isinstance(value, list):
                ok = len(value) == len(mine["value"]) and all(
                    same_number(a, b, numeric_type) for a, b in zip(mine["value"], value))
            else:
                ok = same_number(mine["value"], value, numeric_type)
            harness.expect(ok, f"{path.name}: {key}: tailor {mine['value']!r:.200} vs gguf-py {value!r:.200}")
        harness.expect(len(ours["tensors"]) == len(reader.tensors), "tensor count differs")
        worst = 0.0
        for mine, t in zip(ours["tensors"], reader.tensors):
            where = f"{path.name}: tensor {t.name}"
            harness.expect(mine["name"] == t.name, f"{where}: name {mine['name']}")
            harness.expect(mine["type"] == t.tensor_type.name, f"{where}: type {mine['type']} vs {t.tensor_type.name}")
            harness.expect(mine["ne"] == [int(d) for d in t.shape], f"{where}: ne {mine['ne']} vs {list(t.shape)}")
            harness.expect(mine["shape"] == [int(d) for d in reversed(t.shape)], f"{where}: HF shape")
            harness.expect(ours["data_offset"] + mine["offset"] == t.data_offset, f"{where}: data offset")
            harness.expect(mine["nbytes"] == t.n_bytes, f"{where}: nbytes {mine['nbytes']} vs {t.n_bytes}")
            expected = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            got = np.fromfile(Path(out) / mine["file"], dtype=np.float32)
            harness.expect(got.shape == expected.shape, f"{where}: {got.shape} values vs {expected.shape}")
            same = (got.view(np.uint32) == expected.view(np.uint32)) | (np.isnan(got) & np.isnan(expected))
            if not same.all():
                bad = int(np.argmax(~same))
                raise AssertionError(f"{where}: {int((~same).sum())} of {got.size} floats differ, first at {bad}: "
                                     f"tailor {got[bad]!r} vs gguf-py {expected[bad]!r}")
            worst = max(worst, float(np.max(np.abs(got - expected), initial=0.0)))
    return len(theirs), len(reader.tensors), worst


def main():
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = Path(tmp) / "synthetic.gguf"
        write_synthetic(synthetic)
        keys, tensors, worst = compare(synthetic, rows_per_call=2)
        print(f"gguf-py synthetic v3: {keys} keys, {tensors} tensors identical (max |diff| {worst})")
        v2 = Path(tmp) / "synthetic_v2.gguf"
        shutil.copy(synthetic, v2)
        with open(v2, "r+b") as f:
            f.seek(4)
            f.write((2).to_bytes(4, "little"))
        keys, tensors, _ = compare(v2, rows_per_call=3)
        print(f"gguf-py synthetic patched to v2: {keys} keys, {tensors} tensors identical")

    if not harness.DEFAULT_MODEL.exists():
        harness.skip(f"shipped model {harness.DEFAULT_MODEL} is missing")
    keys, tensors, worst = compare(harness.DEFAULT_MODEL, rows_per_call=7)
    print(f"{harness.DEFAULT_MODEL.name}: {keys} keys, {tensors} tensors identical (max |diff| {worst})")


if __name__ == "__main__":
    main()
