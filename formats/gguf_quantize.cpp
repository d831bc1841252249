#include "formats/gguf_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "formats/dtype.h"

namespace tailor::formats {
namespace {

constexpr int QK_K = 256;
constexpr float kGroupMaxEps = 1e-15f;

void store_half(uint8_t* p, float value) {
  uint16_t h = float_to_half(value);
  p[0] = uint8_t(h & 0xFF);
  p[1] = uint8_t(h >> 8);
}
float rounded_half(float value) { return half_to_float(float_to_half(value)); }

// ggml's nearest_int: round half to even through the float mantissa (|x| <= 2^22).
int nearest_int(float fval) {
  float val = fval + 12582912.f;
  int i;
  std::memcpy(&i, &val, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

// ---- 32-element blocks (quantize_row_q*_ref) -----------------------------------------------------

void q8_0_block(const float* x, uint8_t* y) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_half(y, d);
  for (int j = 0; j < 32; ++j) y[2 + j] = uint8_t(int8_t(std::roundf(x[j] * id)));
}

// The element with the largest magnitude, keeping its sign (the first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

void q4_0_block(const float* x, uint8_t* y) {
  const float d = signed_absmax(x, 32) / -8;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_half(y, d);
  for (int j = 0; j < 16; ++j) {
    const uint8_t a = uint8_t(std::min(15, int(int8_t(x[j] * id + 8.5f))));
    const uint8_t b = uint8_t(std::min(15, int(int8_t(x[j + 16] * id + 8.5f))));
    y[2 + j] = uint8_t(a | (b << 4));
  }
}

void min_max(const float* x, int n, float& min, float& max) {
  min = x[0];
  max = x[0];
  for (int j = 1; j < n; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
}

void q4_1_block(const float* x, uint8_t* y) {
  float min, max;
  min_max(x, 32, min, max);
  const float d = (max - min) / 15;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_half(y, d);
  store_half(y + 2, min);
  for (int j = 0; j < 16; ++j) {
    const uint8_t a = uint8_t(std::min(15, int(int8_t((x[j] - min) * id + 0.5f))));
    const uint8_t b = uint8_t(std::min(15, int(int8_t((x[j + 16] - min) * id + 0.5f))));
    y[4 + j] = uint8_t(a | (b << 4));
  }
}

void q5_0_block(const float* x, uint8_t* y) {
  const float d = signed_absmax(x, 32) / -16;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_half(y, d);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t a = uint8_t(std::min(31, int(int8_t(x[j] * id + 16.5f))));
    const uint8_t b = uint8_t(std::min(31, int(int8_t(x[j + 16] * id + 16.5f))));
    y[6 + j] = uint8_t((a & 0x0F) | ((b & 0x0F) << 4));
    qh |= uint32_t((a & 0x10u) >> 4) << j;
    qh |= uint32_t((b & 0x10u) >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) y[2 + k] = uint8_t(qh >> (8 * k));
}

void q5_1_block(const float* x, uint8_t* y) {
  float min, max;
  min_max(x, 32, min, max);
  const float d = (max - min) / 31;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  store_half(y, d);
  store_half(y + 2, min);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t a = uint8_t((x[j] - min) * id + 0.5f);
    const uint8_t b = uint8_t((x[j + 16] - min) * id + 0.5f);
    y[8 + j] = uint8_t((a & 0x0F) | ((b & 0x0F) << 4));
    qh |= uint32_t((a & 0x10u) >> 4) << j;
    qh |= uint32_t((b & 0x10u) >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) y[4 + k] = uint8_t(qh >> (8 * k));
}

// ---- K-quant helpers (make_qkx2_quants, make_qx_quants) -------------------------------------------

// Scale and min for a group of n values with levels 0..nmax, searching nstep scales around the
// min/max fit for the lowest weighted squared error (ggml's make_qkx2_quants, use_mad = false).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, uint8_t* Laux,
                       float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * diff * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = uint8_t(l);
      float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        cur_error += weights[i] * diff * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Symmetric scale for levels -nmax..nmax-1 weighted by x² (ggml's make_qx_quants, rmse_type 1, no qw).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Shared by Q4_K and Q5_K: per-32 scales/mins packed as 6 bits, then the levels L (0..nmax).
// Layout of both blocks starts with f16 d, f16 dmin, u8 scales[12].
void k_scales_and_levels(const float* x, uint8_t* y, int nmax, float rmin, float rdelta, int nstep, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t* packed = y + 4;
  std::memset(packed, 0, 12);
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t ls = uint8_t(std::min(63, int(uint8_t(nearest_int(inv_scale * scales[j])))));
    uint8_t lm = uint8_t(std::min(63, int(uint8_t(nearest_int(inv_min * mins[j])))));
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] |= uint8_t((ls >> 4) << 6);
      packed[j - 0] |= uint8_t((lm >> 4) << 6);
    }
  }
  store_half(y, max_scale / 63.f);
  store_half(y + 2, max_min / 63.f);
  const float d_all = rounded_half(max_scale / 63.f), dmin_all = rounded_half(max_min / 63.f);
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, packed, &sc, &m);
    const float d = d_all * sc;
    if (d == 0) continue;
    const float dm = dmin_all * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

void q4_k_block(const float* x, uint8_t* y) {
  uint8_t L[QK_K];
  k_scales_and_levels(x, y, 15, -1.f, 0.1f, 20, L);
  uint8_t* q = y + 16;
  for (int j = 0; j < QK_K; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

void q5_k_block(const float* x, uint8_t* y) {
  uint8_t L[QK_K];
  k_scales_and_levels(x, y, 31, -0.5f, 0.1f, 15, L);
  uint8_t* qh = y + 16;
  uint8_t* ql = y + 48;
  std::memset(qh, 0, QK_K / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QK_K; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 = uint8_t(m1 << 2);
    m2 = uint8_t(m2 << 2);
    ql += 32;
  }
}

// Q6_K: u8 ql[128], u8 qh[64], i8 scales[16], f16 d (last).
void q6_k_block(const float* x, uint8_t* y) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
    scales[ib] = scale;
    if (std::fabs(scale) > max_abs_scale) {
      max_abs_scale = std::fabs(scale);
      max_scale = scale;
    }
  }
  uint8_t* ql = y;
  uint8_t* qh = y + 128;
  int8_t* sc = reinterpret_cast<int8_t*>(y + 192);
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(y, 0, 210);
    return;
  }
  float iscale = -128.f / max_scale;
  store_half(y + 208, 1 / iscale);
  const float d_all = rounded_half(1 / iscale);
  for (int ib = 0; ib < QK_K / 16; ++ib) sc[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < QK_K / 16; ++j) {
    float d = d_all * sc[j];
    if (d == 0) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
    }
  }
  for (int j = 0; j < QK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = uint8_t(q1 | (q3 << 4));
      ql[l + 32] = uint8_t(q2 | (q4 << 4));
      qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                      ((L[j + l + 96] >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

using BlockFn = void (*)(const float*, uint8_t*);

BlockFn block_quantizer(GgufType type) {
  switch (type) {
    case GgufType::Q8_0: return q8_0_block;
    case GgufType::Q4_0: return q4_0_block;
    case GgufType::Q4_1: return q4_1_block;
    case GgufType::Q5_0: return q5_0_block;
    case GgufType::Q5_1: return q5_1_block;
    case GgufType::Q4_K: return q4_k_block;
    case GgufType::Q5_K: return q5_k_block;
    case GgufType::Q6_K: return q6_k_block;
    default: return nullptr;
  }
}

void convert_row(GgufType type, const float* src, uint8_t* dst, int64_t n) {
  switch (type) {
    case GgufType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case GgufType::F16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = float_to_half(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case GgufType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = float_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    default: break;
  }
  const GgufTypeInfo* info = gguf_type_info(uint32_t(type));
  BlockFn fn = block_quantizer(type);
  for (int64_t b = 0; b < n / info->block_size; ++b) fn(src + b * info->block_size, dst + b * info->type_size);
}

}  // namespace

bool gguf_can_quantize(GgufType type) {
  return type == GgufType::F32 || type == GgufType::F16 || type == GgufType::BF16 || block_quantizer(type) != nullptr;
}

size_t gguf_row_bytes(GgufType type, int64_t n) {
  const GgufTypeInfo* info = gguf_type_info(uint32_t(type));
  if (!info || info->block_size <= 0) throw std::invalid_argument("gguf_row_bytes: unknown type");
  return size_t(n / info->block_size) * info->type_size;
}

void quantize_rows(GgufType type, const float* src, std::byte* dst, int64_t rows, int64_t n, unsigned threads) {
  if (!gguf_can_quantize(type))
    throw std::invalid_argument("cannot quantize to " + std::string(gguf_type_name(type)));
  const int64_t block = gguf_type_info(uint32_t(type))->block_size;
  if (n % block != 0)
    throw std::invalid_argument("rows of " + std::to_string(n) + " elements are not a multiple of " +
                                std::string(gguf_type_name(type)) + "'s block of " + std::to_string(block));
  const size_t row_bytes = gguf_row_bytes(type, n);
  auto* out = reinterpret_cast<uint8_t*>(dst);
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  // Small tensors are not worth a thread each.
  const int64_t work = rows * n;
  threads = unsigned(std::min<int64_t>(threads, std::max<int64_t>(1, work / (1 << 16))));
  auto run = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) convert_row(type, src + r * n, out + r * row_bytes, n);
  };
  if (threads <= 1 || rows < 2) {
    run(0, rows);
    return;
  }
  std::vector<std::thread> pool;
  const int64_t per = (rows + threads - 1) / threads;
  for (int64_t r0 = 0; r0 < rows; r0 += per) pool.emplace_back(run, r0, std::min(rows, r0 + per));
  for (auto& t : pool) t.join();
}

std::vector<std::byte> quantize(GgufType type, std::span<const float> values, int64_t row_length, unsigned threads) {
  if (row_length <= 0 || int64_t(values.size()) % row_length != 0)
    throw std::invalid_argument("quantize: " + std::to_string(values.size()) + " values are not rows of " +
                                std::to_string(row_length));
  const int64_t rows = int64_t(values.size()) / row_length;
  if (!gguf_can_quantize(type))
    throw std::invalid_argument("cannot quantize to " + std::string(gguf_type_name(type)));
  std::vector<std::byte> out(size_t(rows) * gguf_row_bytes(type, row_length));
  quantize_rows(type, values.data(), out.data(), rows, row_length, threads);
  return out;
}

}  // namespace tailor::formats
