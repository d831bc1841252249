#include "formats/gguf_blocks.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tailor::formats {
namespace {

constexpr int64_t QK_K = 256;

struct TypeRow {
  uint32_t id;
  GgufTypeInfo info;
};

// Block sizes from ggml.h / gguf-py GGML_QUANT_SIZES (formats.md §4.2).
constexpr std::array<TypeRow, 34> kTypes = {{
    {0, {"F32", 1, 4, true}},          {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", 32, 18, true}},       {3, {"Q4_1", 32, 20, true}},
    {6, {"Q5_0", 32, 22, true}},       {7, {"Q5_1", 32, 24, true}},
    {8, {"Q8_0", 32, 34, true}},       {9, {"Q8_1", 32, 36, false}},
    {10, {"Q2_K", 256, 84, true}},     {11, {"Q3_K", 256, 110, true}},
    {12, {"Q4_K", 256, 144, true}},    {13, {"Q5_K", 256, 176, true}},
    {14, {"Q6_K", 256, 210, true}},    {15, {"Q8_K", 256, 292, false}},
    {16, {"IQ2_XXS", 256, 66, false}}, {17, {"IQ2_XS", 256, 74, false}},
    {18, {"IQ3_XXS", 256, 98, false}}, {19, {"IQ1_S", 256, 50, false}},
    {20, {"IQ4_NL", 32, 18, false}},   {21, {"IQ3_S", 256, 110, false}},
    {22, {"IQ2_S", 256, 82, false}},   {23, {"IQ4_XS", 256, 136, false}},
    {24, {"I8", 1, 1, false}},         {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},        {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, true}},         {29, {"IQ1_M", 256, 56, false}},
    {30, {"BF16", 1, 2, true}},        {34, {"TQ1_0", 256, 54, false}},
    {35, {"TQ2_0", 256, 66, false}},   {39, {"MXFP4", 32, 17, false}},
    {40, {"NVFP4", 64, 36, false}},    {41, {"Q1_0", 0, 0, false}},
}};

uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
float load_half(const uint8_t* p) { return half_to_float(load_u16(p)); }

void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(int(qs[j] & 0x0F) - 8);
    y[j + 16] = d * float(int(qs[j] >> 4) - 8);
  }
}

void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = load_half(b), m = load_half(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(qs[j] & 0x0F) + m;
    y[j + 16] = d * float(qs[j] >> 4) + m;
  }
}

uint32_t load_u32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint32_t qh = load_u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
    int hi = (qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    y[j] = d * float(lo - 16);
    y[j + 16] = d * float(hi - 16);
  }
}

void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = load_half(b), m = load_half(b + 2);
  const uint32_t qh = load_u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
    int hi = (qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    y[j] = d * float(lo) + m;
    y[j + 16] = d * float(hi) + m;
  }
}

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  for (int j = 0; j < 32; ++j) y[j] = float(int8_t(b[2 + j])) * d;
}

// Q2_K: u8 scales[16] (low nibble scale, high nibble min); u8 qs[64] (2 bits each); f16 d; f16 dmin.
void dequant_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = load_half(b + 80), dmin = load_half(b + 82);
  int is = 0;
  for (int half = 0; half < 2; ++half, qs += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part, ++is) {
        const float dl = d * float(scales[is] & 0xF), ml = dmin * float(scales[is] >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * float((qs[part * 16 + l] >> shift) & 3) - ml;
      }
    }
  }
}

// Q3_K: u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 six-bit scales); f16 d.
void dequant_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* packed = b + 96;
  const float d = load_half(b + 108);
  int8_t scales[16];
  for (int s = 0; s < 16; ++s) {
    int low = s < 8 ? packed[s] & 0x0F : packed[s - 8] >> 4;
    int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    scales[s] = int8_t((low | high << 4) - 32);
  }
  for (int j = 0; j < 8; ++j) {  // groups of 32 values
    const uint8_t* q = qs + 32 * (j / 4);
    const int shift = 2 * (j % 4);
    for (int l = 0; l < 32; ++l) {
      const float dl = d * float(scales[(32 * j + l) / 16]);
      int value = int((q[l] >> shift) & 3) - ((hmask[l] >> j) & 1 ? 0 : 4);
      y[32 * j + l] = dl * float(value);
    }
  }
}

// The 6-bit scale and min of sub-block k in Q4_K / Q5_K's 12 packed bytes.
void scale_min_k4(int k, const uint8_t* q, uint8_t& sc, uint8_t& mn) {
  if (k < 4) {
    sc = q[k] & 63;
    mn = q[k + 4] & 63;
  } else {
    sc = uint8_t((q[k + 4] & 0xF) | ((q[k - 4] >> 6) << 4));
    mn = uint8_t((q[k + 4] >> 4) | ((q[k] >> 6) << 4));
  }
}

// Q4_K: f16 d; f16 dmin; u8 scales[12]; u8 qs[128].
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_half(b), dmin = load_half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int k = 0; k < 8; ++k) {
    uint8_t sc, mn;
    scale_min_k4(k, scales, sc, mn);
    const float dk = d * float(sc), mk = dmin * float(mn);
    const uint8_t* q = qs + 32 * (k / 2);
    const int shift = 4 * (k % 2);
    for (int l = 0; l < 32; ++l) *y++ = dk * float((q[l] >> shift) & 0xF) - mk;
  }
}

// Q5_K: f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128].
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_half(b), dmin = load_half(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int k = 0; k < 8; ++k) {
    uint8_t sc, mn;
    scale_min_k4(k, scales, sc, mn);
    const float dk = d * float(sc), mk = dmin * float(mn);
    const uint8_t* q = qs + 32 * (k / 2);
    const int shift = 4 * (k % 2);
    for (int l = 0; l < 32; ++l) {
      int value = ((q[l] >> shift) & 0xF) | ((qh[l] >> k) & 1) << 4;
      *y++ = dk * float(value) - mk;
    }
  }
}

// Q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d (last).
void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_half(b + 208);
  for (int n = 0; n < 2; ++n, ql += 64, qh += 32, sc += 8, y += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
      const int q2 = int((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
      const int q3 = int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
      const int q4 = int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
      y[l] = d * float(sc[is + 0]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
  }
}

}  // namespace

const GgufTypeInfo* gguf_type_info(uint32_t type) {
  for (const TypeRow& row : kTypes)
    if (row.id == type && row.info.block_size > 0) return &row.info;
  return nullptr;
}

std::string_view gguf_type_name(GgufType type) {
  const GgufTypeInfo* info = gguf_type_info(static_cast<uint32_t>(type));
  return info ? info->name : std::string_view("unknown");
}

std::optional<DType> gguf_type_as_dtype(GgufType type) {
  switch (type) {
    case GgufType::F32: return DType::F32;
    case GgufType::F16: return DType::F16;
    case GgufType::BF16: return DType::BF16;
    case GgufType::F64: return DType::F64;
    case GgufType::I8: return DType::I8;
    case GgufType::I16: return DType::I16;
    case GgufType::I32: return DType::I32;
    case GgufType::I64: return DType::I64;
    default: return std::nullopt;
  }
}

void dequantize_blocks(GgufType type, const std::byte* blocks, float* out, int64_t n) {
  const auto* src = reinterpret_cast<const uint8_t*>(blocks);
  const GgufTypeInfo* info = gguf_type_info(static_cast<uint32_t>(type));
  if (!info || !info->dequantizable)
    throw std::invalid_argument("cannot dequantize GGUF type " + std::string(gguf_type_name(type)));
  if (n % info->block_size != 0)
    throw std::invalid_argument("element count is not a multiple of the " + std::string(info->name) + " block");
  if (n == 0) return;  // an empty tensor may have no bytes at all (data == nullptr)
  const int64_t n_blocks = n / info->block_size;
  void (*block_fn)(const uint8_t*, float*) = nullptr;
  switch (type) {
    case GgufType::F32: std::memcpy(out, src, size_t(n) * 4); return;
    case GgufType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = load_half(src + 2 * i);
      return;
    case GgufType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(load_u16(src + 2 * i));
      return;
    case GgufType::F64:
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, src + 8 * i, 8);
        out[i] = float(v);
      }
      return;
    case GgufType::Q4_0: block_fn = dequant_q4_0; break;
    case GgufType::Q4_1: block_fn = dequant_q4_1; break;
    case GgufType::Q5_0: block_fn = dequant_q5_0; break;
    case GgufType::Q5_1: block_fn = dequant_q5_1; break;
    case GgufType::Q8_0: block_fn = dequant_q8_0; break;
    case GgufType::Q2_K: block_fn = dequant_q2_k; break;
    case GgufType::Q3_K: block_fn = dequant_q3_k; break;
    case GgufType::Q4_K: block_fn = dequant_q4_k; break;
    case GgufType::Q5_K: block_fn = dequant_q5_k; break;
    case GgufType::Q6_K: block_fn = dequant_q6_k; break;
    default: throw std::invalid_argument("cannot dequantize GGUF type " + std::string(info->name));
  }
  for (int64_t i = 0; i < n_blocks; ++i) block_fn(src + i * info->type_size, out + i * info->block_size);
}

}  // namespace tailor::formats
