// Half-precision conversions: every half bit pattern survives a round trip through float, and
// rounding of floats between halves is to nearest even.
#include "formats/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

namespace tailor::formats {
namespace {

TEST(DType, NamesAndBitsFollowTheReferenceTable) {
  EXPECT_EQ(dtype_bits(DType::F4), 4u);
  EXPECT_EQ(dtype_bits(DType::F6_E3M2), 6u);
  EXPECT_EQ(dtype_bits(DType::BF16), 16u);
  EXPECT_EQ(dtype_bits(DType::C64), 64u);
  for (int i = 0; i < kDTypeCount; ++i) EXPECT_EQ(parse_dtype(dtype_name(DType(i))), DType(i));
  EXPECT_FALSE(parse_dtype("f32").has_value());
}

TEST(DType, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = half_to_float(uint16_t(bits));
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(value))));
      continue;
    }
    EXPECT_EQ(float_to_half(value), bits) << bits;
  }
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0xFBFF), -65504.0f);
}

TEST(DType, FloatToHalfRoundsToNearestEven) {
  // Midway between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);  // rounds up to infinity
  EXPECT_EQ(float_to_half(65519.0f), 0x7BFF);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and the smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
}

}  // namespace
}  // namespace tailor::formats
