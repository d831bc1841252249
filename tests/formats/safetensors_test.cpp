// safetensors reader and writer: round trips, sharding, and every malformed-input case of the
// Models issue (each must give one InputError naming the file, never a crash).
#include "formats/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/error.h"
#include "test_files.h"

namespace tailor::formats {
namespace {

using testing::read_bytes;
using testing::scratch_dir;
using testing::write_bytes;

// A safetensors file from a header JSON and a data buffer, with the length prefix as given.
std::string make_file(const std::string& header, const std::string& data, std::optional<uint64_t> claimed = {}) {
  uint64_t n = claimed.value_or(header.size());
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// Expects an InputError whose message names the file and contains `fragment`.
void expect_rejected(const std::filesystem::path& path, const std::string& fragment) {
  try {
    SafetensorsFile file(path);
    FAIL() << "accepted " << path << ", expected an error containing '" << fragment << "'";
  } catch (const InputError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Safetensors, ReadsTensorsMetadataAndZeroCopyViews) {
  auto dir = scratch_dir();
  float a[4] = {1, 2, 3, 4};
  int16_t b[3] = {-1, 7, 300};
  std::string data(reinterpret_cast<char*>(a), 16);
  data.append(reinterpret_cast<char*>(b), 6);
  auto path = write_bytes(dir / "x.safetensors",
                          make_file(R"({"__metadata__":{"format":"pt"},"b":{"dtype":"I16","shape":[3],"data_offsets":[16,22]},)"
                                    R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}  )",
                                    data));
  SafetensorsFile file(path);
  ASSERT_EQ(file.tensors().size(), 2u);
  EXPECT_EQ(file.tensors()[0].name, "a");  // offset order
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const TensorView& va = file.at("a");
  EXPECT_EQ(va.dtype, DType::F32);
  EXPECT_EQ(va.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(va.nbytes, 16u);
  EXPECT_EQ(std::memcmp(va.data, a, 16), 0);
  EXPECT_EQ(std::memcmp(file.at("b").data, b, 6), 0);
  EXPECT_EQ(file.find("c"), nullptr);
  EXPECT_THROW(file.at("c"), InputError);
}

TEST(Safetensors, WriterRoundTripsEveryDtypeInReferenceOrder) {
  auto dir = scratch_dir();
  std::vector<std::string> storage;
  std::vector<TensorView> views;
  for (int i = 0; i < kDTypeCount; ++i) {
    auto dtype = static_cast<DType>(i);
    std::vector<int64_t> shape = {2, 8};  // 16 elements: whole bytes even for 4- and 6-bit types
    size_t nbytes = 16 * dtype_bits(dtype) / 8;
    storage.emplace_back(nbytes, '\0');
    std::iota(storage.back().begin(), storage.back().end(), char(i));
    views.push_back({"t_" + std::string(dtype_name(dtype)), dtype, shape, nullptr, nbytes});
  }
  views.push_back({"empty", DType::F32, {0, 3}, nullptr, 0});
  views.push_back({"scalar", DType::F64, {}, nullptr, 8});
  storage.emplace_back();
  storage.emplace_back("\x01\x02\x03\x04\x05\x06\x07\x08");
  for (size_t i = 0; i < views.size(); ++i) views[i].data = reinterpret_cast<const std::byte*>(storage[i].data());

  write_safetensors(dir / "all.safetensors", views);
  SafetensorsFile file(dir / "all.safetensors");
  ASSERT_EQ(file.tensors().size(), views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    const TensorView& got = file.at(views[i].name);
    EXPECT_EQ(got.dtype, views[i].dtype);
    EXPECT_EQ(got.shape, views[i].shape);
    ASSERT_EQ(got.nbytes, views[i].nbytes);
    EXPECT_EQ(std::memcmp(got.data, storage[i].data(), got.nbytes), 0) << views[i].name;
  }
  // Layout of the reference writer: widest dtype first, data buffer 8-byte aligned.
  EXPECT_EQ(file.tensors()[0].name, "t_U64");
  EXPECT_EQ(file.tensors()[1].name, "t_I64");
  EXPECT_EQ(file.tensors()[2].name, "scalar");  // F64, before t_F64 by name
  EXPECT_EQ(file.tensors().back().name, "t_BOOL");  // BOOL is first in the enum, so last
  std::string bytes = read_bytes(dir / "all.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 32), R"({"__metadata__":{"format":"pt"},)");
}

TEST(Safetensors, WriterRejectsInconsistentViews) {
  auto dir = scratch_dir();
  float x[2] = {};
  std::vector<TensorView> wrong_size = {{"w", DType::F32, {3}, reinterpret_cast<std::byte*>(x), 8}};
  EXPECT_THROW(write_safetensors(dir / "a.safetensors", wrong_size), InputError);
  std::vector<TensorView> duplicate = {{"w", DType::F32, {1}, reinterpret_cast<std::byte*>(x), 4},
                                       {"w", DType::F32, {1}, reinterpret_cast<std::byte*>(x), 4}};
  EXPECT_THROW(write_safetensors(dir / "a.safetensors", duplicate), InputError);
  std::vector<TensorView> bad_name = {{"w\xff", DType::F32, {1}, reinterpret_cast<std::byte*>(x), 4}};
  EXPECT_THROW(write_safetensors(dir / "a.safetensors", bad_name), InputError);
  EXPECT_FALSE(std::filesystem::exists(dir / "a.safetensors"));
}

TEST(Safetensors, ShardedCheckpointRoundTripsThroughTheIndex) {
  auto dir = scratch_dir();
  std::vector<std::vector<float>> storage;
  std::vector<TensorView> views;
  for (int i = 0; i < 7; ++i) {
    storage.emplace_back(size_t(10 + i), float(i));
    views.push_back({"layer." + std::to_string(i) + ".weight", DType::F32, {int64_t(10 + i)},
                     reinterpret_cast<const std::byte*>(storage.back().data()), storage.back().size() * 4});
  }
  ShardedWriteOptions options;
  options.max_shard_bytes = 100;  // 40..64-byte tensors: [40 44] [48 52] [56] [60] [64]
  auto written = write_safetensors_checkpoint(dir, views, options);
  ASSERT_EQ(written.size(), 6u);  // 5 shards + index
  EXPECT_EQ(written[0].filename(), "model-00001-of-00005.safetensors");
  EXPECT_EQ(written.back().filename(), "model.safetensors.index.json");
  auto index = nlohmann::json::parse(read_bytes(written.back()));
  EXPECT_EQ(index["metadata"]["total_size"], 4 * (10 + 11 + 12 + 13 + 14 + 15 + 16));
  EXPECT_EQ(index["weight_map"]["layer.3.weight"], "model-00002-of-00005.safetensors");
  EXPECT_EQ(index["weight_map"]["layer.6.weight"], "model-00005-of-00005.safetensors");

  SafetensorsCheckpoint checkpoint(dir);
  EXPECT_EQ(checkpoint.size(), 7u);
  EXPECT_EQ(checkpoint.shards().size(), 5u);
  for (int i = 0; i < 7; ++i) {
    const TensorView& view = checkpoint.at("layer." + std::to_string(i) + ".weight");
    EXPECT_EQ(std::memcmp(view.data, storage[i].data(), view.nbytes), 0);
  }
  EXPECT_THROW(checkpoint.at("missing"), InputError);

  // Saving again into one file replaces the shards' index, so the folder has one meaning.
  options.max_shard_bytes = 1 << 20;
  written = write_safetensors_checkpoint(dir, views, options);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  EXPECT_EQ(SafetensorsCheckpoint(dir).shards().size(), 1u);
}

TEST(Safetensors, CheckpointIndexIsValidated) {
  auto dir = scratch_dir();
  float x = 1;
  std::vector<TensorView> views = {{"a", DType::F32, {1}, reinterpret_cast<std::byte*>(&x), 4}};
  write_safetensors(dir / "shard.safetensors", views);
  auto index = [&](const std::string& json) { return write_bytes(dir / "model.safetensors.index.json", json); };
  EXPECT_THROW(SafetensorsCheckpoint(index(R"({"weight_map":{"a":"../shard.safetensors"}})")), InputError);
  EXPECT_THROW(SafetensorsCheckpoint(index(R"({"weight_map":{"a":"/etc/passwd"}})")), InputError);
  EXPECT_THROW(SafetensorsCheckpoint(index(R"({"weight_map":{"b":"shard.safetensors"}})")), InputError);
  EXPECT_THROW(SafetensorsCheckpoint(index(R"({"weight_map":{"a":"missing.safetensors"}})")), InputError);
  EXPECT_THROW(SafetensorsCheckpoint(index(R"({"weight_map":[]})")), InputError);
  EXPECT_THROW(SafetensorsCheckpoint(index("{not json")), InputError);
  EXPECT_EQ(SafetensorsCheckpoint(index(R"({"metadata":{},"weight_map":{"a":"shard.safetensors"}})")).size(), 1u);
  std::filesystem::remove(dir / "model.safetensors.index.json");
  EXPECT_THROW(SafetensorsCheckpoint{dir}, InputError);
}

TEST(SafetensorsBadInput, TruncationAtEveryByteOfTheHeaderRegionIsRejected) {
  auto dir = scratch_dir();
  float x[3] = {1, 2, 3};
  std::vector<TensorView> views = {{"w", DType::F32, {3}, reinterpret_cast<std::byte*>(x), 12},
                                   {"b", DType::F32, {0}, nullptr, 0}};
  write_safetensors(dir / "full.safetensors", views);
  std::string full = read_bytes(dir / "full.safetensors");
  for (size_t cut = 0; cut < full.size(); ++cut) {
    auto path = write_bytes(dir / "cut.safetensors", full.substr(0, cut));
    EXPECT_THROW(SafetensorsFile{path}, InputError) << "truncated at " << cut;
  }
  EXPECT_NO_THROW(SafetensorsFile(dir / "full.safetensors"));
}

TEST(SafetensorsBadInput, EveryCorruptedHeaderByteGivesAnErrorOrAValidFile) {
  auto dir = scratch_dir();
  float x[3] = {1, 2, 3};
  std::vector<TensorView> views = {{"w", DType::F32, {3}, reinterpret_cast<std::byte*>(x), 12}};
  write_safetensors(dir / "full.safetensors", views);
  std::string full = read_bytes(dir / "full.safetensors");
  for (size_t at = 0; at + 12 < full.size(); ++at) {
    for (char value : {'\0', '\xff', '9', '[', '"', '-'}) {
      std::string bent = full;
      bent[at] = value;
      auto path = write_bytes(dir / "bent.safetensors", bent);
      try {
        SafetensorsFile file(path);
      } catch (const InputError&) {
      }
    }
  }
}

TEST(SafetensorsBadInput, HeaderLengthLimits) {
  auto dir = scratch_dir();
  expect_rejected(write_bytes(dir / "huge.safetensors", make_file("{}", "", uint64_t(1) << 63)), "exceeds the limit");
  expect_rejected(write_bytes(dir / "max.safetensors", make_file("{}", "", ~uint64_t(0))), "exceeds the limit");
  expect_rejected(write_bytes(dir / "over.safetensors", make_file("{}", "", 100'000'001)), "exceeds the limit");
  expect_rejected(write_bytes(dir / "past.safetensors", make_file("{}", "", 1000)), "past the end");
  expect_rejected(write_bytes(dir / "short.safetensors", "abc"), "too short");
  expect_rejected(write_bytes(dir / "brace.safetensors", make_file(" {}", "")), "does not start with '{'");
  EXPECT_EQ(SafetensorsFile(write_bytes(dir / "empty.safetensors", make_file("{}      ", ""))).tensors().size(), 0u);
}

TEST(SafetensorsBadInput, LayoutViolations) {
  auto dir = scratch_dir();
  std::string data(16, '\0');
  auto check = [&](const std::string& name, const std::string& header, const std::string& fragment,
                   const std::string& buffer) {
    expect_rejected(write_bytes(dir / (name + ".safetensors"), make_file(header, buffer)), fragment);
  };
  check("overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
        "overlap", data.substr(0, 12));
  check("gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
        "tensor 'b'", data.substr(0, 12));
  check("late_start", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "tensor 'a'", data.substr(0, 8));
  check("reversed", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", "tensor 'a'", data.substr(0, 4));
  check("past_end", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "past the data buffer", data.substr(0, 8));
  check("tail", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "data buffer holds 16", data);
  check("unknown_dtype", R"({"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", "unknown dtype 'F12'", data.substr(0, 8));
  check("size_mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "needs 12 bytes", data.substr(0, 8));
  check("overflow", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", "overflows",
        data.substr(0, 8));
  check("bits_overflow", R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", "overflows",
        data.substr(0, 8));
  check("partial_byte", R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", "whole bytes", data.substr(0, 2));
  check("negative", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "non-negative", data.substr(0, 8));
  check("fraction", R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", "non-negative", data.substr(0, 8));
  check("huge_offset", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999999]}})",
        "non-negative", data.substr(0, 8));
  check("duplicate", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
        "duplicate tensor name", data.substr(0, 8));
  check("duplicate_field", R"({"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", "duplicate field",
        data.substr(0, 4));
  check("missing_field", R"({"a":{"dtype":"F32","shape":[1]}})", "needs dtype, shape and data_offsets", data.substr(0, 4));
  check("offsets_arity", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "data_offsets", data.substr(0, 4));
  check("not_object", R"({"a":[1,2]})", "not an object", "");
  check("array_root", R"([1])", "does not start with '{'", "");
  check("bad_json", R"({"a":)", "not valid JSON", "");
  check("bad_utf8", "{\"\xff\":1}", "not valid JSON", "");
  check("metadata_value", R"({"__metadata__":{"format":1}})", "not a string", "");
  check("deep", R"({"a":{"b":{"c":{}}}})", "nests deeper", "");
  check("long_name", "{\"" + std::string(5000, 'x') + "\":{}}", "exceeds the limit", "");
}

TEST(SafetensorsBadInput, TensorCountIsCapped) {
  auto dir = scratch_dir();
  std::string header = "{";
  for (size_t i = 0; i <= kSafetensorsMaxTensors; ++i) {
    header += '"';
    header += std::to_string(i);
    header += "\":0,";
  }
  header.back() = '}';
  expect_rejected(write_bytes(dir / "many.safetensors", make_file(header, "")), "more than 1000000 tensors");
}

}  // namespace
}  // namespace tailor::formats
