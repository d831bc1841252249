"""ctypes access to the llama.cpp/ggml symbols exported by xllamacpp's extension module, for the export
tests: ggml's own quantizer (ggml_quantize_chunk, the reference K-quant path when no importance matrix is
given), gguf_init_from_file (ggml's strict reader) and llama_chat_apply_template."""
import ctypes
from pathlib import Path

GGML_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8,
              "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "BF16": 30}


def library():
    import xllamacpp
    so = next(Path(xllamacpp.__file__).parent.glob("xllamacpp*.so"))
    lib = ctypes.CDLL(str(so))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, ctypes.c_bool, ctypes.c_void_p]
    lib.gguf_free.argtypes = [ctypes.c_void_p]
    lib.gguf_get_n_tensors.restype = ctypes.c_int64
    lib.gguf_get_n_tensors.argtypes = [ctypes.c_void_p]
    lib.gguf_get_n_kv.restype = ctypes.c_int64
    lib.gguf_get_n_kv.argtypes = [ctypes.c_void_p]
    return lib


class _InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


def ggml_quantize(lib, qtype, values):
    """values: float32 numpy array [rows, n] -> bytes as llama.cpp's quantize writes them."""
    import numpy as np
    values = np.ascontiguousarray(values, dtype=np.float32)
    rows, n = values.shape
    out = ctypes.create_string_buffer(values.nbytes * 2 + 1024)
    size = lib.ggml_quantize_chunk(GGML_TYPES[qtype], values.ctypes.data, out, 0, rows, n, None)
    return out.raw[:size]


def gguf_open_counts(lib, path):
    """(n_kv, n_tensors) as ggml's reader sees the file, or None if ggml rejects it."""
    params = _InitParams(True, None)
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, _InitParams]
    ctx = lib.gguf_init_from_file(str(path).encode(), params)
    if not ctx:
        return None
    counts = (lib.gguf_get_n_kv(ctx), lib.gguf_get_n_tensors(ctx))
    lib.gguf_free(ctx)
    return counts


class _ChatMessage(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


def chat_apply_template(lib, template, messages, add_assistant):
    """llama.cpp's built-in chat formatting (llama_chat_apply_template) for `template` text."""
    lib.llama_chat_apply_template.restype = ctypes.c_int32
    lib.llama_chat_apply_template.argtypes = [ctypes.c_char_p, ctypes.POINTER(_ChatMessage), ctypes.c_size_t,
                                              ctypes.c_bool, ctypes.c_char_p, ctypes.c_int32]
    arr = (_ChatMessage * len(messages))(*[_ChatMessage(m["role"].encode(), m["content"].encode()) for m in messages])
    size = 1 << 16
    buf = ctypes.create_string_buffer(size)
    n = lib.llama_chat_apply_template(template.encode(), arr, len(messages), add_assistant, buf, size)
    if n < 0:
        raise AssertionError(f"llama_chat_apply_template failed ({n}): template not recognised")
    return buf.raw[:n].decode()
