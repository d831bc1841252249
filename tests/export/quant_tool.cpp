// Test-only bridge from the Python parity tests to the GGUF quantizers and writer.
//   quant_tool quantize TYPE ROW_LEN IN.f32 OUT.bin     float32 rows -> blocks (all threads)
//   quant_tool dequantize TYPE IN.bin OUT.f32           blocks -> float32 through the reader's dequantizer
//   quant_tool sample-gguf OUT.gguf                    a file holding every metadata type and a few tensors
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/gguf_quantize.h"
#include "formats/gguf_writer.h"

using namespace tailor::formats;

namespace {

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const std::string& path, const void* data, size_t n) {
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(data), std::streamsize(n));
}

GgufType type_named(const std::string& name) {
  for (uint32_t id = 0; id < 64; ++id)
    if (const auto* info = gguf_type_info(id); info && info->name == name) return GgufType(id);
  throw std::runtime_error("unknown type " + name);
}

void sample_gguf(const std::string& path) {
  GgufWriter w(64);
  w.set("t.u8", GgufValue(uint8_t(200)));
  w.set("t.i8", GgufValue(int8_t(-100)));
  w.set("t.u16", GgufValue(uint16_t(60000)));
  w.set("t.i16", GgufValue(int16_t(-30000)));
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_f32("t.f32", 1.5f);
  w.set_bool("t.bool", true);
  w.set_string("t.str", "héllo ✓");
  w.set("t.u64", GgufValue(uint64_t(1) << 40));
  w.set("t.i64", GgufValue(-(int64_t(1) << 40)));
  w.set("t.f64", GgufValue(0.125));
  w.set_strings("t.strs", {"a", "", "ccc"});
  w.set_i32s("t.i32s", {1, -2, 3});
  w.set_f32s("t.f32s", {0.5f, -0.25f});
  w.set("t.bools", GgufValue(GgufArray{std::vector<bool>{true, false, true}}));
  std::vector<float> values(3 * 256);
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(int(i % 17) - 8) * 0.01f;
  w.add_tensor("f32", GgufType::F32, {256, 3}, quantize(GgufType::F32, values, 256));
  w.add_tensor("q8", GgufType::Q8_0, {256, 3}, quantize(GgufType::Q8_0, values, 256));
  w.add_tensor("q6k", GgufType::Q6_K, {256, 3}, quantize(GgufType::Q6_K, values, 256));
  w.add_tensor("odd", GgufType::F16, {5}, quantize(GgufType::F16, std::span<const float>(values.data(), 5), 5));
  w.write(path);
}

}  // namespace

int main(int argc, char** argv) try {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 5 && args[0] == "quantize") {
    GgufType type = type_named(args[1]);
    int64_t row = std::stoll(args[2]);
    auto raw = read_all(args[3]);
    std::vector<float> values(raw.size() / 4);
    std::memcpy(values.data(), raw.data(), values.size() * 4);
    auto out = quantize(type, values, row, 0);
    write_all(args[4], out.data(), out.size());
  } else if (args.size() == 4 && args[0] == "dequantize") {
    GgufType type = type_named(args[1]);
    auto raw = read_all(args[2]);
    const auto* info = gguf_type_info(uint32_t(type));
    int64_t n = int64_t(raw.size() / info->type_size) * info->block_size;
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_blocks(type, reinterpret_cast<const std::byte*>(raw.data()), out.data(), n);
    write_all(args[3], out.data(), out.size() * 4);
  } else if (args.size() == 2 && args[0] == "sample-gguf") {
    sample_gguf(args[1]);
  } else {
    std::cerr << "usage: quant_tool quantize|dequantize|sample-gguf ...\n";
    return 2;
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
