"""Benchmark (not a test): time and peak memory to export SmolLM2-135M to GGUF Q8_0 and Q4_K_M with
`tailor export`, beside the Python peer on the same merged weights.

llama.cpp's convert_hf_to_gguf.py is not in .venv (gguf-py ships no converter script and neither does
xllamacpp, whose extension does not export llama_model_quantize either), so the peers start from the
merged F32 GGUF tailor wrote and write with gguf-py's GGUFWriter:
  Q8_0:   gguf.quants.quantize on every 2-D tensor (the converter's --outtype q8_0 path);
  Q4_K_M: llama.cpp's own quantizer, ggml_quantize_chunk from xllamacpp (what llama-quantize runs per
          tensor, here one call per tensor on one thread), with the per-tensor types of tailor's Q4_K_M
          file (equal to llama-quantize's choices, tests/export/test_kquant_mix.py).
Usage: .venv/bin/python bench/export_gguf.py [TAILOR_BIN]
"""
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
TAILOR = sys.argv[1] if len(sys.argv) > 1 else str(SOURCE / "build" / "cli" / "tailor")
MODEL = SOURCE / ".cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def timed(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return time.perf_counter() - t0, int(p.stderr.strip().splitlines()[-1]) / 1024


PEER = r'''
import sys, numpy as np, gguf
from gguf import quants
src, dst = sys.argv[1], sys.argv[2]
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(dst, "llama")
for t in r.tensors:
    data = np.asarray(t.data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
    if data.ndim == 2 and data.shape[-1] % 32 == 0:
        w.add_tensor(t.name, quants.quantize(data, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        w.add_tensor(t.name, data)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
'''

PEER_K = r'''
import sys, numpy as np, gguf
sys.path.insert(0, sys.argv[4])
import llama_cpp
lib = llama_cpp.library()
src, types_from, dst = sys.argv[1], sys.argv[2], sys.argv[3]
types = {t.name: t.tensor_type for t in gguf.GGUFReader(types_from).tensors}
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(dst, "llama")
for t in r.tensors:
    data = np.asarray(t.data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
    qtype = types[t.name]
    if qtype.name in llama_cpp.GGML_TYPES and qtype != gguf.GGMLQuantizationType.F32:
        rows = data.reshape(-1, data.shape[-1])
        raw = np.frombuffer(llama_cpp.ggml_quantize(lib, qtype.name, rows), dtype=np.uint8).reshape(rows.shape[0], -1)
        w.add_tensor(t.name, raw, raw_dtype=qtype)
    else:
        w.add_tensor(t.name, data)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
'''


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for qtype in ["F32", "Q8_0", "Q4_K_M"]:
            s, mb = timed([TAILOR, "export", "--model", str(MODEL), "--to", f"gguf:{qtype}", "--out", str(tmp / qtype)])
            rows.append((f"tailor export gguf:{qtype}", s, mb))
        f32 = next((tmp / "F32").glob("*.gguf"))
        (tmp / "peer.py").write_text(PEER)
        s, mb = timed([sys.executable, str(tmp / "peer.py"), str(f32), str(tmp / "peer-q8.gguf")])
        rows.append(("gguf-py quantize+write Q8_0 (from F32 GGUF)", s, mb))
        (tmp / "peer_k.py").write_text(PEER_K)
        s, mb = timed([sys.executable, str(tmp / "peer_k.py"), str(f32), str(next((tmp / "Q4_K_M").glob("*.gguf"))),
                       str(tmp / "peer-q4km.gguf"), str(SOURCE / "tests" / "export")])
        rows.append(("llama.cpp quantizer Q4_K_M (from F32 GGUF)", s, mb))
    print(f"{'run':48s} {'seconds':>8s} {'peak MB':>8s}")
    for name, s, mb in rows:
        print(f"{name:48s} {s:8.2f} {mb:8.0f}")
    t = dict((n, (s, m)) for n, s, m in rows)
    q8, peer = t["tailor export gguf:Q8_0"], t["gguf-py quantize+write Q8_0 (from F32 GGUF)"]
    print(f"\nQ8_0: tailor (merge + quantize + write, {os.cpu_count()} threads) / gguf-py (quantize + write only): "
          f"time {q8[0] / peer[0]:.2f}x, peak memory {q8[1] / peer[1]:.2f}x")
    k, peer_k = t["tailor export gguf:Q4_K_M"], t["llama.cpp quantizer Q4_K_M (from F32 GGUF)"]
    print(f"Q4_K_M: tailor (merge + quantize + write) / llama.cpp quantizer (quantize + write only): "
          f"time {k[0] / peer_k[0]:.2f}x, peak memory {k[1] / peer_k[1]:.2f}x")


if __name__ == "__main__":
    main()
