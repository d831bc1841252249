#include "export/gguf_types.h"

#include <algorithm>
#include <cctype>

namespace tailor::exporting {
using formats::GgufType;

namespace {

struct FileTypeRow {
  GgufFileType type;
  const char* name;
  uint32_t id;
  GgufType base;
};
constexpr FileTypeRow kFileTypes[] = {
    {GgufFileType::F32, "F32", 0, GgufType::F32},       {GgufFileType::F16, "F16", 1, GgufType::F16},
    {GgufFileType::BF16, "BF16", 32, GgufType::BF16},   {GgufFileType::Q8_0, "Q8_0", 7, GgufType::Q8_0},
    {GgufFileType::Q4_0, "Q4_0", 2, GgufType::Q4_0},    {GgufFileType::Q4_K_M, "Q4_K_M", 15, GgufType::Q4_K},
    {GgufFileType::Q5_K_M, "Q5_K_M", 17, GgufType::Q5_K}, {GgufFileType::Q6_K, "Q6_K", 18, GgufType::Q6_K},
};

const FileTypeRow& row(GgufFileType type) {
  return *std::find_if(std::begin(kFileTypes), std::end(kFileTypes), [&](const auto& r) { return r.type == type; });
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama-quant.cpp tensor_allows_quantization, for the tensors tailor writes.
bool allows_quantization(const PlannedTensor& t) {
  if (t.ne.size() < 2) return false;
  const std::string& n = t.name;
  return n.size() >= 6 && n.compare(n.size() - 6, 6, "weight") == 0 && !contains(n, "_norm.weight");
}

// llama-quant.cpp tensor_type_fallback.
GgufType fallback(GgufType type, int64_t ncols) {
  const int64_t block = formats::gguf_type_info(uint32_t(type))->block_size;
  if (ncols % block == 0) return type;
  GgufType next = type;
  switch (type) {
    case GgufType::Q4_K: next = GgufType::Q5_0; break;
    case GgufType::Q5_K: next = GgufType::Q5_1; break;
    case GgufType::Q6_K: next = GgufType::Q8_0; break;
    default: next = GgufType::F16; break;  // Q8_0 / Q4_0 rows not divisible by 32
  }
  if (ncols % formats::gguf_type_info(uint32_t(next))->block_size != 0) next = GgufType::F16;
  return next;
}

bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

}  // namespace

std::optional<GgufFileType> parse_gguf_file_type(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  for (const auto& r : kFileTypes)
    if (upper == r.name) return r.type;
  return std::nullopt;
}

std::string gguf_file_type_name(GgufFileType type) { return row(type).name; }
uint32_t llama_file_type_id(GgufFileType type) { return row(type).id; }
bool is_quantized(GgufFileType type) {
  return type != GgufFileType::F32 && type != GgufFileType::F16 && type != GgufFileType::BF16;
}

std::vector<GgufType> plan_tensor_types(const std::vector<PlannedTensor>& tensors, GgufFileType file_type) {
  const GgufType base = row(file_type).base;
  const bool mix = file_type == GgufFileType::Q4_K_M || file_type == GgufFileType::Q5_K_M;
  bool tied = std::none_of(tensors.begin(), tensors.end(), [](const auto& t) { return t.name == "output.weight"; });
  int n_attn_v = 0, n_ffn_down = 0;
  for (const auto& t : tensors) {
    n_attn_v += contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight");
    n_ffn_down += contains(t.name, "ffn_down");
  }
  int i_attn_v = 0, i_ffn_down = 0;
  std::vector<GgufType> types;
  for (const auto& t : tensors) {
    if (t.ne.size() < 2 || t.name == "rope_freqs.weight") {
      types.push_back(GgufType::F32);  // norms, biases, rope factors stay F32 in every file type
      continue;
    }
    if (!is_quantized(file_type)) {
      types.push_back(base);
      continue;
    }
    if (!allows_quantization(t)) {
      types.push_back(GgufType::F32);
      continue;
    }
    GgufType type = base;
    const std::string& n = t.name;
    if (n == "output.weight" || (tied && n == "token_embd.weight")) {
      if (t.ne[0] % formats::gguf_type_info(uint32_t(base))->block_size != 0) type = GgufType::Q8_0;
      else if (type != GgufType::Q8_0) type = GgufType::Q6_K;
    } else if (n == "token_embd.weight") {
      // the default type
    } else if (contains(n, "attn_v.weight") || contains(n, "attn_qkv.weight")) {
      // llama.cpp's attn_v branch also catches attn_qkv (category_is_attn_v), before its own qkv rule.
      if (mix && use_more_bits(i_attn_v, n_attn_v)) type = GgufType::Q6_K;
      ++i_attn_v;
    } else if (contains(n, "ffn_down")) {
      if (mix && use_more_bits(i_ffn_down, n_ffn_down)) type = GgufType::Q6_K;
      ++i_ffn_down;
    }
    types.push_back(fallback(type, t.ne[0]));
  }
  return types;
}

}  // namespace tailor::exporting
