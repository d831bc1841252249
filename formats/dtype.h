// Element types of safetensors files (the reference's full list, in its enum order) and the
// float16/bfloat16 conversions every reader of half-precision bytes needs.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace tailor::formats {

// Order matters: it is the reference's "increasing alignment" order, which its writer sorts on.
enum class DType : uint8_t {
  BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
  I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64,
};

inline constexpr int kDTypeCount = static_cast<int>(DType::U64) + 1;

unsigned dtype_bits(DType dtype);
std::string_view dtype_name(DType dtype);               // "F32", "BF16", ...
std::optional<DType> parse_dtype(std::string_view name);  // nullopt for an unknown string

// IEEE half and bfloat16 bit patterns <-> float. float_to_* round to nearest even (like numpy/torch).
float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);
inline float bf16_to_float(uint16_t bits) {
  uint32_t widened = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof value);
  return value;
}
uint16_t float_to_bf16(float value);

}  // namespace tailor::formats
