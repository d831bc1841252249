// TensorSource over safetensors checkpoints: zero-copy views into the mapped shards.
#include <ATen/ATen.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "models/tensor_source.h"

namespace tailor::models {
namespace {

at::ScalarType torch_dtype(formats::DType dtype, const std::string& where) {
  switch (dtype) {
    case formats::DType::F32: return at::kFloat;
    case formats::DType::F16: return at::kHalf;
    case formats::DType::BF16: return at::kBFloat16;
    case formats::DType::F64: return at::kDouble;
    default:
      throw InputError(where + ": dtype " + std::string(formats::dtype_name(dtype)) +
                       " is not a floating-point weight type (expected F32, F16, BF16 or F64)");
  }
}

class SafetensorsSource : public TensorSource {
 public:
  explicit SafetensorsSource(const std::filesystem::path& path) : checkpoint_(path) {}

  std::string describe() const override { return checkpoint_.path().string(); }
  bool contains(const std::string& name) const override { return checkpoint_.find(name) != nullptr; }
  std::vector<int64_t> shape(const std::string& name) const override { return checkpoint_.at(name).shape; }

  at::Tensor load(const std::string& name) const override {
    const formats::TensorView& view = checkpoint_.at(name);
    const at::ScalarType dtype = torch_dtype(view.dtype, describe() + ": tensor '" + name + "'");
    // from_blob never writes; the const_cast only satisfies its signature.
    return at::from_blob(const_cast<std::byte*>(view.data), view.shape, at::TensorOptions().dtype(dtype));
  }

 private:
  formats::SafetensorsCheckpoint checkpoint_;
};

}  // namespace

std::unique_ptr<TensorSource> open_safetensors_source(const std::filesystem::path& path) {
  return std::make_unique<SafetensorsSource>(path);
}

std::vector<int64_t> MapTensorSource::shape(const std::string& hf_name) const {
  return tensors_.at(hf_name).sizes().vec();
}

}  // namespace tailor::models
