// GGUF reader: metadata of every type, tensor infos and data placement, dequantization entry points,
// and the malformed files behind llama.cpp's GGUF CVEs (each must be one InputError, never a crash).
#include "formats/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "gguf_builder.h"
#include "test_files.h"

namespace tailor::formats {
namespace {

using testing::GgufBuilder;
using testing::scratch_dir;
using testing::write_bytes;

constexpr uint32_t kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8,
                   kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12;

// A small valid file: one value of every type, arrays of strings/ints/floats, an F32 [4, 3] tensor
// and a Q8_0 [32, 2] tensor.
std::string small_gguf(uint32_t version = 3) {
  GgufBuilder b;
  b.header(2, 16, version)
      .kv_string("general.architecture", "llama")
      .kv("a.u8", kU8, uint8_t(200))
      .kv("a.i8", kI8, int8_t(-5))
      .kv("a.u16", kU16, uint16_t(60000))
      .kv("a.i16", kI16, int16_t(-300))
      .kv("a.u32", kU32, uint32_t(4000000000u))
      .kv("a.i32", kI32, int32_t(-7))
      .kv("a.f32", kF32, 0.5f)
      .kv("a.bool", kBool, uint8_t(1))
      .kv("a.u64", kU64, uint64_t(1) << 40)
      .kv("a.i64", kI64, int64_t(-1) << 40)
      .kv("a.f64", kF64, 0.25);
  b.str("a.strings").u32(kArray).u32(kString).u64(2).str("hello").str("wörld");
  b.str("a.ints").u32(kArray).u32(kI32).u64(3).raw(int32_t(1)).raw(int32_t(-2)).raw(int32_t(3));
  b.str("a.floats").u32(kArray).u32(kF32).u64(2).raw(1.5f).raw(-2.0f);
  b.kv("general.alignment", kU32, uint32_t(64));
  b.tensor("w", {4, 3}, 0, 0).tensor("q", {32, 2}, 8, 64).pad(64);
  for (int i = 0; i < 12; ++i) b.raw(float(i));
  b.pad(64);
  for (int block = 0; block < 2; ++block) {
    b.raw(uint16_t(block == 0 ? 0x3C00 : 0x4000));  // d = 1.0, then 2.0
    for (int j = 0; j < 32; ++j) b.raw(int8_t(j - 16));
  }
  return b.bytes;
}

void expect_rejected(const std::filesystem::path& path, const std::string& fragment) {
  try {
    GgufFile file(path);
    FAIL() << "accepted, expected an error containing '" << fragment << "'";
  } catch (const InputError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Gguf, ReadsEveryValueTypeAndTensorInfo) {
  auto dir = scratch_dir();
  GgufFile file(write_bytes(dir / "small.gguf", small_gguf()));
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.metadata().size(), 16u);
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.get_uint("a.u8"), 200u);
  EXPECT_EQ(file.get_int("a.i8"), -5);
  EXPECT_EQ(file.get_uint("a.u16"), 60000u);
  EXPECT_EQ(file.get_int("a.i16"), -300);
  EXPECT_EQ(file.get_uint("a.u32"), 4000000000u);
  EXPECT_EQ(file.at("a.u32").type(), GgufValueType::UINT32);
  EXPECT_EQ(file.get_int("a.i32"), -7);
  EXPECT_EQ(file.get_float("a.f32"), 0.5);
  EXPECT_TRUE(file.get_bool("a.bool"));
  EXPECT_EQ(file.get_uint("a.u64"), uint64_t(1) << 40);
  EXPECT_EQ(file.get_int("a.i64"), int64_t(-1) << 40);
  EXPECT_EQ(file.get_float("a.f64"), 0.25);
  EXPECT_EQ(file.get_strings("a.strings"), (std::vector<std::string>{"hello", "wörld"}));
  EXPECT_EQ(file.get_ints("a.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(file.get_floats("a.floats"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(file.get_floats("a.ints"), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(file.at("a.ints").as_array().element_type(), GgufValueType::INT32);

  // Wrong-type requests name the file and key.
  EXPECT_THROW(file.get_uint("a.i8"), InputError);  // negative
  EXPECT_THROW(file.get_string("a.u8"), InputError);
  EXPECT_THROW(file.get_strings("a.ints"), InputError);
  EXPECT_THROW(file.get_ints("a.floats"), InputError);
  EXPECT_THROW(file.get_bool("a.u8"), InputError);
  try {
    file.get_uint("missing.key");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.key"), std::string::npos);
  }

  ASSERT_EQ(file.tensors().size(), 2u);
  const GgufTensorInfo& w = file.tensor("w");
  EXPECT_EQ(w.ne, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(w.shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(w.nbytes, 48u);
  EXPECT_EQ(w.rows(), 3);
  std::vector<float> values = dequantize(w);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(values[i], float(i));
  auto view = as_tensor_view(w);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->dtype, DType::F32);
  EXPECT_EQ(view->shape, (std::vector<int64_t>{3, 4}));

  const GgufTensorInfo& q = file.tensor("q");
  EXPECT_EQ(q.type, GgufType::Q8_0);
  EXPECT_EQ(q.nbytes, 68u);
  EXPECT_FALSE(as_tensor_view(q).has_value());
  std::vector<float> row1(32);
  dequantize_rows(q, 1, 2, row1.data());  // block d = 2.0, qs = j - 16
  for (int j = 0; j < 32; ++j) EXPECT_EQ(row1[j], 2.0f * float(j - 16));
  std::vector<float> all = dequantize(q);
  EXPECT_EQ(all[0], -16.0f);
  EXPECT_EQ(std::vector<float>(all.begin() + 32, all.end()), row1);
  EXPECT_THROW(dequantize_rows(q, 1, 3, row1.data()), std::out_of_range);
  EXPECT_THROW(file.tensor("nope"), InputError);
}

TEST(Gguf, Version2ParsesLikeVersion3) {
  auto dir = scratch_dir();
  GgufFile file(write_bytes(dir / "v2.gguf", small_gguf(2)));
  EXPECT_EQ(file.version(), 2u);
  EXPECT_EQ(file.tensors().size(), 2u);
}

TEST(GgufBadInput, TruncationAtEveryOffsetOfTheHeaderIsRejected) {
  auto dir = scratch_dir();
  std::string full = small_gguf();
  // Everything up to the last tensor's final byte is needed.
  for (size_t cut = 0; cut < full.size(); ++cut) {
    auto path = write_bytes(dir / "cut.gguf", full.substr(0, cut));
    EXPECT_THROW(GgufFile{path}, InputError) << "truncated at " << cut;
  }
  EXPECT_NO_THROW(GgufFile(write_bytes(dir / "full.gguf", full)));
}

TEST(GgufBadInput, EveryCorruptedHeaderByteGivesAnErrorOrAValidFile) {
  auto dir = scratch_dir();
  std::string full = small_gguf();
  const size_t header_end = full.size() - 48 - 68;
  for (size_t at = 0; at < header_end; ++at) {
    for (unsigned char value : {0x00, 0xff, 0x01}) {
      std::string bent = full;
      bent[at] = char(value);
      try {
        GgufFile file(write_bytes(dir / "bent.gguf", bent));
        for (const GgufTensorInfo& t : file.tensors())
          if (gguf_type_info(uint32_t(t.type))->dequantizable) dequantize(t);
      } catch (const InputError&) {
      }
    }
  }
}

TEST(GgufBadInput, HeaderFields) {
  auto dir = scratch_dir();
  // 64 spare bytes, so each case fails on its own field, not on a count check against a tiny file.
  auto check = [&](const std::string& name, const GgufBuilder& b, const std::string& fragment) {
    expect_rejected(write_bytes(dir / (name + ".gguf"), b.bytes + std::string(64, '\0')), fragment);
  };
  check("magic", GgufBuilder().raw(uint32_t(0x12345678)).u32(3).u64(0).u64(0), "magic");
  check("v1", GgufBuilder().header(0, 0, 1), "version 1");
  check("big_endian", GgufBuilder().header(0, 0, 0x03000000), "big-endian");
  check("tensor_count", GgufBuilder().header(uint64_t(1) << 63, 0), "tensor count");
  check("tensor_count_max", GgufBuilder().header(~uint64_t(0), 0), "tensor count");
  check("kv_count", GgufBuilder().header(0, uint64_t(1) << 62), "metadata count");
  check("key_length", GgufBuilder().header(0, 1).u64(uint64_t(1) << 63), "a metadata key claims");
  check("key_past_end", GgufBuilder().header(0, 1).u64(1000).u32(0), "only");
  check("empty_key", GgufBuilder().header(0, 1).str("").u32(kU8).raw(uint8_t(0)), "empty metadata key");
  check("duplicate_key", GgufBuilder().header(0, 2).kv("k", kU8, uint8_t(0)).kv("k", kU8, uint8_t(0)), "duplicate metadata key");
  check("value_type", GgufBuilder().header(0, 1).str("k").u32(13), "value type 13");
  check("string_length", GgufBuilder().header(0, 1).str("k").u32(kString).u64(~uint64_t(0)), "limit");
  check("string_past_end", GgufBuilder().header(0, 1).str("k").u32(kString).u64(1000).raw(uint8_t('a')), "only");
  check("bool", GgufBuilder().header(0, 1).kv("k", kBool, uint8_t(2)), "neither 0 nor 1");
  check("array_count", GgufBuilder().header(0, 1).str("k").u32(kArray).u32(kU8).u64(uint64_t(1) << 62), "limit");
  check("array_remaining", GgufBuilder().header(0, 1).str("k").u32(kArray).u32(kI32).u64(1000).u32(1), "remain");
  check("array_strings", GgufBuilder().header(0, 1).str("k").u32(kArray).u32(kString).u64(1u << 29).u64(0), "remain");
  check("array_string_len", GgufBuilder().header(0, 1).str("k").u32(kArray).u32(kString).u64(1).u64(uint64_t(1) << 62),
        "limit");
  check("array_type", GgufBuilder().header(0, 1).str("k").u32(kArray).u32(77).u64(0), "element type 77");
  check("nested", GgufBuilder().header(0, 1).str("k").u32(kArray).u32(kArray).u64(0), "nested");
  check("alignment_zero", GgufBuilder().header(0, 1).kv("general.alignment", kU32, uint32_t(0)), "power of two");
  check("alignment_odd", GgufBuilder().header(0, 1).kv("general.alignment", kU32, uint32_t(48)), "power of two");
  check("alignment_huge", GgufBuilder().header(0, 1).kv("general.alignment", kU32, uint32_t(1) << 31), "power of two");
  check("alignment_type", GgufBuilder().header(0, 1).kv("general.alignment", kU64, uint64_t(32)), "expected UINT32");
}

TEST(GgufBadInput, TensorInfos) {
  auto dir = scratch_dir();
  auto with_tensor = [](const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset,
                        size_t data_bytes) {
    GgufBuilder b;
    b.header(1, 0).tensor(name, std::move(ne), type, offset).pad(32);
    b.bytes.append(data_bytes, '\0');
    return b;
  };
  auto check = [&](const std::string& file, const GgufBuilder& b, const std::string& fragment) {
    expect_rejected(write_bytes(dir / (file + ".gguf"), b.bytes), fragment);
  };
  EXPECT_NO_THROW(GgufFile(write_bytes(dir / "ok.gguf", with_tensor("t", {8, 2}, 0, 0, 64).bytes)));
  check("name_length", with_tensor(std::string(64, 'n'), {8}, 0, 0, 32), "limit");
  check("dims", with_tensor("t", {1, 1, 1, 1, 1}, 0, 0, 4), "5 dimensions");
  check("negative_dim", with_tensor("t", {uint64_t(-4)}, 0, 0, 32), "negative");
  check("numel_overflow", with_tensor("t", {uint64_t(1) << 32, uint64_t(1) << 32}, 0, 0, 32), "overflows");
  check("bytes_overflow", with_tensor("t", {uint64_t(1) << 62}, 0, 0, 32), "overflows");
  check("unknown_type", with_tensor("t", {8}, 4, 0, 32), "unknown ggml type 4");
  check("type_too_big", with_tensor("t", {8}, 1000, 0, 32), "unknown ggml type 1000");
  check("block", with_tensor("t", {33}, 2, 0, 64), "not a multiple of the Q4_0 block size 32");
  check("misaligned", with_tensor("t", {8}, 0, 4, 64), "not a multiple of the alignment");
  check("past_end", with_tensor("t", {8, 2}, 0, 0, 63), "outside");
  check("offset_huge", with_tensor("t", {8}, 0, ~uint64_t(31), 32), "outside");
  GgufBuilder overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad(32);
  overlap.bytes.append(64, '\0');
  check("overlap", overlap, "overlap");
  GgufBuilder duplicate;
  duplicate.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad(32);
  duplicate.bytes.append(64, '\0');
  check("duplicate", duplicate, "duplicate tensor name");
}

TEST(GgufBlocks, TypeTableMatchesGgml) {
  EXPECT_EQ(gguf_type_info(12)->type_size, 144u);
  EXPECT_EQ(gguf_type_info(14)->type_size, 210u);
  EXPECT_EQ(gguf_type_info(10)->type_size, 84u);
  EXPECT_EQ(gguf_type_info(30)->name, "BF16");
  EXPECT_EQ(gguf_type_info(4), nullptr);
  EXPECT_EQ(gguf_type_info(100), nullptr);
  std::byte block[18] = {};
  float out[32];
  EXPECT_THROW(dequantize_blocks(GgufType::IQ4_NL, block, out, 32), std::invalid_argument);
  EXPECT_THROW(dequantize_blocks(GgufType::Q4_0, block, out, 16), std::invalid_argument);
}

}  // namespace
}  // namespace tailor::formats
