#include "lora/adapter.h"

#include <ATen/ATen.h>

#include <cstring>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/safetensors.h"

namespace tailor::lora {
namespace {

formats::DType to_dtype(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return formats::DType::F32;
    case at::kHalf: return formats::DType::F16;
    case at::kBFloat16: return formats::DType::BF16;
    case at::kDouble: return formats::DType::F64;
    case at::kLong: return formats::DType::I64;
    case at::kInt: return formats::DType::I32;
    case at::kShort: return formats::DType::I16;
    case at::kChar: return formats::DType::I8;
    case at::kByte: return formats::DType::U8;
    case at::kBool: return formats::DType::BOOL;
    default: throw std::invalid_argument(std::string("no safetensors dtype for ") + c10::toString(type));
  }
}

std::optional<at::ScalarType> to_scalar_type(formats::DType type) {
  switch (type) {
    case formats::DType::F32: return at::kFloat;
    case formats::DType::F16: return at::kHalf;
    case formats::DType::BF16: return at::kBFloat16;
    case formats::DType::F64: return at::kDouble;
    case formats::DType::I64: return at::kLong;
    case formats::DType::I32: return at::kInt;
    case formats::DType::I16: return at::kShort;
    case formats::DType::I8: return at::kChar;
    case formats::DType::U8: return at::kByte;
    case formats::DType::BOOL: return at::kBool;
    default: return std::nullopt;
  }
}

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << shape;
  return out.str();
}

}  // namespace

std::map<std::string, at::Tensor> read_safetensors_tensors(const std::filesystem::path& file) {
  formats::SafetensorsFile st(file);
  std::map<std::string, at::Tensor> out;
  for (const auto& view : st.tensors()) {
    auto type = to_scalar_type(view.dtype);
    if (!type)
      throw InputError(file.string() + ": tensor '" + view.name + "' has dtype " +
                       std::string(formats::dtype_name(view.dtype)) + ", which tailor cannot load into a tensor");
    at::Tensor t = at::empty(view.shape, at::TensorOptions().dtype(*type));
    if (view.nbytes) std::memcpy(t.data_ptr(), view.data, view.nbytes);
    out.emplace(view.name, std::move(t));
  }
  return out;
}

void write_safetensors_tensors(const std::filesystem::path& file,
                               const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<at::Tensor> keep;
  std::vector<formats::TensorView> views;
  keep.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    keep.push_back(tensor.detach().to(at::kCPU).contiguous());
    const at::Tensor& t = keep.back();
    views.push_back({name, to_dtype(t.scalar_type()), t.sizes().vec(), static_cast<const std::byte*>(t.const_data_ptr()),
                     static_cast<size_t>(t.nbytes())});
  }
  formats::write_safetensors(file, views);
}

void Adapter::add_lora(const std::string& path, LoraLinear layer) { lora_.insert_or_assign(path, std::move(layer)); }
void Adapter::add_trainable_tokens(const std::string& path, TrainableTokens tokens) {
  tokens_.insert_or_assign(path, std::move(tokens));
}
void Adapter::add_module_copy(const std::string& path, ModuleCopy copy) { copies_.insert_or_assign(path, std::move(copy)); }
void Adapter::tie_module_copy(const std::string& alias, const std::string& path) {
  if (!copies_.count(path)) throw std::logic_error("tie_module_copy: no module copy at " + path);
  tied_copies_.insert_or_assign(alias, path);
  config_.ensure_weight_tying = true;
}

std::vector<std::pair<std::string, at::Tensor>> Adapter::named_parameters() const {
  std::map<std::string, at::Tensor> all;
  for (const auto& [path, layer] : lora_)
    for (auto& [suffix, tensor] : layer->adapter_tensors()) all.emplace(kPeftPrefix + path + "." + suffix, tensor);
  for (const auto& [path, tokens] : tokens_)
    all.emplace(kPeftPrefix + path + ".token_adapter.trainable_tokens_delta", tokens->trainable_tokens_delta);
  for (const auto& [path, copy] : copies_) {
    all.emplace(kPeftPrefix + path + ".weight", copy->weight);
    if (copy->bias.defined()) all.emplace(kPeftPrefix + path + ".bias", copy->bias);
  }
  return {all.begin(), all.end()};
}

std::vector<at::Tensor> Adapter::parameters() const {
  std::vector<at::Tensor> out;
  for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
  return out;
}

int64_t Adapter::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, tensor] : named_parameters()) n += tensor.numel();
  return n;
}

void Adapter::save(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  std::vector<std::string> targeted;
  for (const auto& [path, layer] : lora_) targeted.push_back(path);
  auto tensors = named_parameters();
  for (const auto& [alias, path] : tied_copies_) {
    const ModuleCopy& copy = copies_.at(path);
    tensors.emplace_back(kPeftPrefix + alias + ".weight", copy->weight);
    if (copy->bias.defined()) tensors.emplace_back(kPeftPrefix + alias + ".bias", copy->bias);
  }
  write_safetensors_tensors(folder / kAdapterWeightsFile, tensors);
  write_file_atomic(folder / kAdapterConfigFile, adapter_config_to_json(config_, targeted));
}

void Adapter::load_weights(const std::filesystem::path& folder) {
  const std::filesystem::path file = folder / kAdapterWeightsFile;
  std::map<std::string, at::Tensor> stored = read_safetensors_tensors(file);
  auto wanted = named_parameters();
  std::set<std::string> expected;
  for (const auto& [name, tensor] : wanted) {
    expected.insert(name);
    auto it = stored.find(name);
    if (it == stored.end()) throw InputError(file.string() + ": tensor '" + name + "' is missing");
    if (!it->second.sizes().equals(tensor.sizes()))
      throw InputError(file.string() + ": tensor '" + name + "': shape " + shape_string(it->second.sizes()) +
                       ", expected " + shape_string(tensor.sizes()));
  }
  for (const auto& [alias, path] : tied_copies_)
    for (const char* suffix : {".weight", ".bias"}) {
      auto it = stored.find(kPeftPrefix + alias + suffix);
      if (it == stored.end()) continue;  // adapters saved before tying was recorded hold the copy once
      auto main = stored.find(kPeftPrefix + path + suffix);
      if (main == stored.end() || !it->second.sizes().equals(main->second.sizes()) || !it->second.equal(main->second))
        throw InputError(file.string() + ": tensor '" + it->first + "' must equal '" + kPeftPrefix + path + suffix +
                         "' (" + alias + " is tied to " + path + ")");
      expected.insert(it->first);
    }
  for (const auto& [name, tensor] : stored)
    if (!expected.count(name))
      throw InputError(file.string() + ": tensor '" + name + "' matches no trainable part of this model (check " +
                       kAdapterConfigFile + "'s target_modules)");
  at::NoGradGuard no_grad;
  for (auto& [name, tensor] : wanted) tensor.copy_(stored.at(name));
}

}  // namespace tailor::lora
