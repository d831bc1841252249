#include "formats/dtype.h"

#include <array>
#include <bit>

namespace tailor::formats {
namespace {

struct DTypeRow {
  std::string_view name;
  unsigned bits;
};

constexpr std::array<DTypeRow, kDTypeCount> kDTypes = {{
    {"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8},
    {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16}, {"U16", 16},
    {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32}, {"C64", 64}, {"F64", 64},
    {"I64", 64}, {"U64", 64},
}};

}  // namespace

unsigned dtype_bits(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].bits; }
std::string_view dtype_name(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (kDTypes[i].name == name) return static_cast<DType>(i);
  return std::nullopt;
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000 | (mantissa << 13);  // inf / nan (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalise
    int shift = std::countl_zero(mantissa) - 21;  // leading zeros within the 10-bit field, +1
    mantissa = (mantissa << shift) & 0x3FF;
    bits = sign | (uint32_t(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float value) {
  uint32_t f = std::bit_cast<uint32_t>(value);
  uint16_t sign = uint16_t((f >> 16) & 0x8000);
  uint32_t abs = f & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00 | uint16_t((abs >> 13) & 0x3FF);  // nan stays nan
  if (abs >= 0x477FF000) return sign | 0x7C00;  // rounds to >= 65520: inf
  if (abs < 0x38800000) {                       // below the smallest normal half: subnormal or zero
    // Adding 0.5 as a float aligns the subnormal's bits at the bottom; the FPU rounds to nearest even.
    float magic = std::bit_cast<float>(abs) + 0.5f;
    return sign | uint16_t(std::bit_cast<uint32_t>(magic) - 0x3F000000);
  }
  uint32_t rounded = abs + 0xFFF + ((abs >> 13) & 1);  // round to nearest even at bit 13
  return sign | uint16_t((rounded - 0x38000000) >> 13);
}

uint16_t float_to_bf16(float value) {
  uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7FFFFFFF) > 0x7F800000) return uint16_t((f >> 16) | 0x40);  // quiet nan
  return uint16_t((f + 0x7FFF + ((f >> 16) & 1)) >> 16);
}

}  // namespace tailor::formats
