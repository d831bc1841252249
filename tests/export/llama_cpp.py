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


class _Batch(ctypes.Structure):
    _fields_ = [("n_tokens", ctypes.c_int32), ("token", ctypes.POINTER(ctypes.c_int32)),
                ("embd", ctypes.POINTER(ctypes.c_float)), ("pos", ctypes.POINTER(ctypes.c_int32)),
                ("n_seq_id", ctypes.POINTER(ctypes.c_int32)),
                ("seq_id", ctypes.POINTER(ctypes.POINTER(ctypes.c_int32))), ("logits", ctypes.POINTER(ctypes.c_int8))]


class _Params(ctypes.Structure):
    # llama_model_params / llama_context_params are passed by value; only their leading fields are touched
    # (context: n_ctx, n_batch, n_ubatch, n_seq_max, n_rs_seq, n_outputs_max, n_outputs_max_per_seq,
    # n_threads, n_threads_batch at 0-8, flash_attn_type at 13, type_k and type_v at 26-27, as 32-bit
    # words), so an oversized opaque buffer stands in for the struct (both are > 16 bytes: returned and
    # passed in memory). The defaults are checked to catch a layout change.
    _fields_ = [("head", ctypes.c_uint32 * 28), ("rest", ctypes.c_uint8 * 1024)]


def logits(lib, model_path, ids, threads=2, chunk=512, f32_attention=False):
    """llama.cpp's logits at every position of `ids`: float32 numpy array [len(ids), n_vocab].
    f32_attention: F32 KV cache and no flash attention (llama.cpp's default keeps K/V in F16)."""
    import numpy as np
    lib.llama_backend_init()
    lib.llama_model_default_params.restype = _Params
    lib.llama_context_default_params.restype = _Params
    lib.llama_model_load_from_file.restype = ctypes.c_void_p
    lib.llama_model_load_from_file.argtypes = [ctypes.c_char_p, _Params]
    lib.llama_init_from_model.restype = ctypes.c_void_p
    lib.llama_init_from_model.argtypes = [ctypes.c_void_p, _Params]
    lib.llama_decode.restype = ctypes.c_int32
    lib.llama_decode.argtypes = [ctypes.c_void_p, _Batch]
    lib.llama_get_logits.restype = ctypes.POINTER(ctypes.c_float)
    lib.llama_get_logits.argtypes = [ctypes.c_void_p]
    lib.llama_model_get_vocab.restype = ctypes.c_void_p
    lib.llama_model_get_vocab.argtypes = [ctypes.c_void_p]
    lib.llama_vocab_n_tokens.restype = ctypes.c_int32
    lib.llama_vocab_n_tokens.argtypes = [ctypes.c_void_p]
    lib.llama_free.argtypes = [ctypes.c_void_p]
    lib.llama_model_free.argtypes = [ctypes.c_void_p]

    model = lib.llama_model_load_from_file(str(model_path).encode(), lib.llama_model_default_params())
    if not model:
        raise AssertionError(f"llama.cpp cannot load {model_path}")
    cp = lib.llama_context_default_params()
    head = list(cp.head)
    if head[:7] != [512, 2048, 512, 1, 0, 0, 1] or head[13] != 0xFFFFFFFF or head[26:28] != [1, 1]:
        raise AssertionError(f"unexpected llama_context_params layout: {head}")
    if f32_attention:
        cp.head[13], cp.head[26], cp.head[27] = 0, 0, 0  # LLAMA_FLASH_ATTN_TYPE_DISABLED, GGML_TYPE_F32
    cp.head[0] = max(256, (len(ids) + 255) // 256 * 256)
    cp.head[1] = cp.head[2] = cp.head[5] = cp.head[6] = chunk  # every position is an output
    cp.head[7] = cp.head[8] = threads
    ctx = lib.llama_init_from_model(model, cp)
    n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
    out = np.empty((len(ids), n_vocab), dtype=np.float32)
    try:
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            n = len(part)
            seq = ctypes.c_int32(0)
            batch = _Batch(n, (ctypes.c_int32 * n)(*part), None, (ctypes.c_int32 * n)(*range(start, start + n)),
                           (ctypes.c_int32 * n)(*[1] * n), (ctypes.POINTER(ctypes.c_int32) * n)(*[ctypes.pointer(seq)] * n),
                           (ctypes.c_int8 * n)(*[1] * n))
            if lib.llama_decode(ctx, batch) != 0:
                raise AssertionError(f"llama_decode failed on {model_path}")
            out[start:start + n] = np.ctypeslib.as_array(lib.llama_get_logits(ctx), shape=(n, n_vocab))
    finally:
        lib.llama_free(ctx)
        lib.llama_model_free(model)
    return out


def tokenize(lib, model_path, texts, add_special=True):
    """llama.cpp's tokenization (llama_tokenize, specials not parsed) of each text with the model's vocabulary."""
    lib.llama_backend_init()
    lib.llama_model_default_params.restype = _Params
    lib.llama_model_load_from_file.restype = ctypes.c_void_p
    lib.llama_model_load_from_file.argtypes = [ctypes.c_char_p, _Params]
    lib.llama_model_get_vocab.restype = ctypes.c_void_p
    lib.llama_model_get_vocab.argtypes = [ctypes.c_void_p]
    lib.llama_tokenize.restype = ctypes.c_int32
    lib.llama_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                   ctypes.c_int32, ctypes.c_bool, ctypes.c_bool]
    lib.llama_model_free.argtypes = [ctypes.c_void_p]
    model = lib.llama_model_load_from_file(str(model_path).encode(), lib.llama_model_default_params())
    if not model:
        raise AssertionError(f"llama.cpp cannot load {model_path}")
    vocab = lib.llama_model_get_vocab(model)
    out = []
    try:
        for text in texts:
            data = text.encode()
            cap = len(data) + 8
            buf = (ctypes.c_int32 * cap)()
            n = lib.llama_tokenize(vocab, data, len(data), buf, cap, add_special, False)
            if n < 0:
                raise AssertionError(f"llama_tokenize needs {-n} tokens for {text[:40]!r}")
            out.append(list(buf[:n]))
    finally:
        lib.llama_model_free(model)
    return out
