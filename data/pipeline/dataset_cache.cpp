#include "data/pipeline/dataset_cache.h"

#include <H5Cpp.h>
#include <unistd.h>

#include <random>

#include "core/atomic_file.h"
#include "core/error.h"

namespace tailor::data {
namespace {

namespace fs = std::filesystem;

constexpr int kFormatVersion = 1;
constexpr hsize_t kChunk = hsize_t{1} << 16;
constexpr size_t kFlushTokens = size_t{1} << 20;

const H5::PredType& h5_type(const int32_t*) { return H5::PredType::NATIVE_INT32; }
const H5::PredType& h5_type(const int64_t*) { return H5::PredType::NATIVE_INT64; }
const H5::PredType& h5_type(const uint8_t*) { return H5::PredType::NATIVE_UINT8; }
const H5::PredType& h5_type(const char*) { return H5::PredType::NATIVE_CHAR; }

H5::DataSet create_extendible(H5::Group& group, const char* name, const H5::PredType& type) {
  hsize_t dims = 0, max_dims = H5S_UNLIMITED;
  H5::DataSpace space(1, &dims, &max_dims);
  H5::DSetCreatPropList props;
  props.setChunk(1, &kChunk);
  return group.createDataSet(name, type, space, props);
}

template <typename T>
void append_to(H5::DataSet& set, const std::vector<T>& values, int64_t at) {
  if (values.empty()) return;
  hsize_t size = static_cast<hsize_t>(at) + values.size();
  set.extend(&size);
  H5::DataSpace file_space = set.getSpace();
  hsize_t start = static_cast<hsize_t>(at), count = values.size();
  file_space.selectHyperslab(H5S_SELECT_SET, &count, &start);
  H5::DataSpace memory(1, &count);
  set.write(values.data(), h5_type(values.data()), memory, file_space);
}

template <typename T>
void write_whole(H5::Group& group, const char* name, const T* data, size_t n) {
  hsize_t dims = n;
  H5::DataSpace space(1, &dims);
  H5::DataSet set = group.createDataSet(name, h5_type(data), space);
  if (n) set.write(data, h5_type(data));
}

template <typename T>
std::vector<T> read_whole(const H5::Group& group, const char* name) {
  H5::DataSet set = group.openDataSet(name);
  H5::DataSpace space = set.getSpace();
  if (space.getSimpleExtentNdims() != 1) throw InputError(std::string("dataset '") + name + "' is not 1-D");
  hsize_t n = 0;
  space.getSimpleExtentDims(&n);
  std::vector<T> values(n);
  if (n) set.read(values.data(), h5_type(values.data()));
  return values;
}

template <typename T>
void write_attribute(H5::H5File& file, const char* name, T value) {
  H5::DataSpace scalar;
  file.createAttribute(name, h5_type(&value), scalar).write(h5_type(&value), &value);
}

template <typename T>
T read_attribute(const H5::H5File& file, const char* name) {
  T value{};
  file.openAttribute(name).read(h5_type(&value), &value);
  return value;
}

void write_plan(H5::Group& plan, const char* split, const PackPlan& pack) {
  H5::Group group = plan.createGroup(split);
  std::vector<int64_t> offsets{0}, docs;
  for (const auto& row : pack.rows) {
    docs.insert(docs.end(), row.begin(), row.end());
    offsets.push_back(static_cast<int64_t>(docs.size()));
  }
  write_whole(group, "row_offsets", offsets.data(), offsets.size());
  write_whole(group, "row_docs", docs.data(), docs.size());
}

std::vector<std::vector<int64_t>> read_plan(const H5::Group& plan, const char* split, int64_t documents) {
  H5::Group group = plan.openGroup(split);
  auto offsets = read_whole<int64_t>(group, "row_offsets");
  auto docs = read_whole<int64_t>(group, "row_docs");
  std::vector<std::vector<int64_t>> rows;
  if (offsets.empty() || offsets.front() != 0 || offsets.back() != static_cast<int64_t>(docs.size()))
    throw InputError(std::string("plan '") + split + "' is inconsistent");
  for (size_t r = 0; r + 1 < offsets.size(); ++r) {
    if (offsets[r] > offsets[r + 1]) throw InputError(std::string("plan '") + split + "' is inconsistent");
    rows.emplace_back(docs.begin() + offsets[r], docs.begin() + offsets[r + 1]);
    for (int64_t d : rows.back())
      if (d < 0 || d >= documents) throw InputError(std::string("plan '") + split + "' names a missing document");
  }
  return rows;
}

}  // namespace

struct CacheWriter::Impl {
  H5::H5File file;
  H5::Group tokens;
  H5::DataSet ids, trained;
};

CacheWriter::CacheWriter(const fs::path& target) : target_(target) {
  H5::Exception::dontPrint();
  fs::create_directories(target.parent_path());
  std::random_device rd;
  temp_ = target;
  temp_ += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  impl_ = std::make_unique<Impl>();
  impl_->file = H5::H5File(temp_.string(), H5F_ACC_TRUNC);
  impl_->tokens = impl_->file.createGroup("tokens");
  impl_->ids = create_extendible(impl_->tokens, "ids", H5::PredType::NATIVE_INT32);
  impl_->trained = create_extendible(impl_->tokens, "trained", H5::PredType::NATIVE_UINT8);
}

CacheWriter::~CacheWriter() {
  if (impl_) {
    impl_.reset();
    std::error_code ignored;
    fs::remove(temp_, ignored);
  }
}

void CacheWriter::append(const Sample& sample, int32_t source) {
  offsets_.push_back(tokens_written_ + static_cast<int64_t>(ids_buffer_.size()));
  lengths_.push_back(static_cast<int32_t>(sample.ids.size()));
  sources_.push_back(source);
  ids_buffer_.insert(ids_buffer_.end(), sample.ids.begin(), sample.ids.end());
  trained_buffer_.insert(trained_buffer_.end(), sample.trained.begin(), sample.trained.end());
  if (ids_buffer_.size() >= kFlushTokens) flush_tokens();
}

void CacheWriter::flush_tokens() {
  append_to(impl_->ids, ids_buffer_, tokens_written_);
  append_to(impl_->trained, trained_buffer_, tokens_written_);
  tokens_written_ += static_cast<int64_t>(ids_buffer_.size());
  ids_buffer_.clear();
  trained_buffer_.clear();
}

void CacheWriter::commit(const CacheSettings& settings, const PackPlan& train, const PackPlan& val,
                         const std::string& key, const std::string& identity_json, const std::string& stats_json) {
  flush_tokens();
  H5::H5File& file = impl_->file;
  H5::Group docs = file.createGroup("docs");
  write_whole(docs, "offset", offsets_.data(), offsets_.size());
  write_whole(docs, "length", lengths_.data(), lengths_.size());
  write_whole(docs, "source", sources_.data(), sources_.size());
  H5::Group plan = file.createGroup("plan");
  write_plan(plan, "train", train);
  write_plan(plan, "val", val);
  H5::Group meta = file.createGroup("meta");
  write_whole(meta, "key", key.data(), key.size());
  write_whole(meta, "identity", identity_json.data(), identity_json.size());
  write_whole(meta, "stats", stats_json.data(), stats_json.size());
  write_attribute<int32_t>(file, "format_version", kFormatVersion);
  write_attribute<int64_t>(file, "max_seq_len", settings.max_seq_len);
  write_attribute<int32_t>(file, "packing", settings.packing ? 1 : 0);
  write_attribute<int32_t>(file, "pad_id", settings.pad_id);
  write_attribute<int64_t>(file, "seed", static_cast<int64_t>(settings.seed));
  file.flush(H5F_SCOPE_GLOBAL);
  impl_.reset();  // closes the file
  // HDF5 wrote through its own handle: fsync by reopening, then rename atomically.
  if (FILE* f = std::fopen(temp_.c_str(), "rb")) {
    ::fsync(::fileno(f));
    std::fclose(f);
  }
  fs::rename(temp_, target_);
  fsync_directory(target_.parent_path());
}

struct PreparedDataset::Impl {
  H5::H5File file;
  H5::DataSet ids, trained;
};

PreparedDataset::~PreparedDataset() = default;

std::shared_ptr<PreparedDataset> PreparedDataset::open(const fs::path& path) {
  H5::Exception::dontPrint();
  std::shared_ptr<PreparedDataset> data(new PreparedDataset());
  data->path_ = path;
  try {
    if (!H5::H5File::isHdf5(path.string())) throw InputError("not an HDF5 file");
    data->impl_ = std::make_unique<Impl>();
    H5::H5File& file = data->impl_->file;
    file = H5::H5File(path.string(), H5F_ACC_RDONLY);
    if (read_attribute<int32_t>(file, "format_version") != kFormatVersion) throw InputError("unsupported format_version");
    data->settings_.max_seq_len = read_attribute<int64_t>(file, "max_seq_len");
    data->settings_.packing = read_attribute<int32_t>(file, "packing") != 0;
    data->settings_.pad_id = read_attribute<int32_t>(file, "pad_id");
    data->settings_.seed = static_cast<uint64_t>(read_attribute<int64_t>(file, "seed"));
    H5::Group meta = file.openGroup("meta");
    auto text = [&](const char* name) {
      auto chars = read_whole<char>(meta, name);
      return std::string(chars.begin(), chars.end());
    };
    data->key_ = text("key");
    data->identity_ = text("identity");
    data->stats_ = text("stats");
    H5::Group docs = file.openGroup("docs");
    data->offsets_ = read_whole<int64_t>(docs, "offset");
    data->lengths_ = read_whole<int32_t>(docs, "length");
    data->sources_ = read_whole<int32_t>(docs, "source");
    H5::Group tokens = file.openGroup("tokens");
    data->impl_->ids = tokens.openDataSet("ids");
    data->impl_->trained = tokens.openDataSet("trained");
    hsize_t n_tokens = 0;
    data->impl_->ids.getSpace().getSimpleExtentDims(&n_tokens);
    size_t n_docs = data->offsets_.size();
    if (data->lengths_.size() != n_docs || data->sources_.size() != n_docs) throw InputError("document table is inconsistent");
    for (size_t d = 0; d < n_docs; ++d)
      if (data->offsets_[d] < 0 || data->lengths_[d] <= 0 || data->lengths_[d] > data->settings_.max_seq_len ||
          static_cast<hsize_t>(data->offsets_[d] + data->lengths_[d]) > n_tokens)
        throw InputError("document " + std::to_string(d) + " lies outside the token arrays");
    H5::Group plan = file.openGroup("plan");
    data->train_ = read_plan(plan, "train", static_cast<int64_t>(n_docs));
    data->val_ = read_plan(plan, "val", static_cast<int64_t>(n_docs));
  } catch (const H5::Exception& e) {
    throw InputError(path.string() + ": not a complete tailor dataset cache (" + e.getDetailMsg() + ")");
  } catch (const InputError& e) {
    throw InputError(path.string() + ": not a complete tailor dataset cache (" + e.what() + ")");
  }
  return data;
}

Sample PreparedDataset::document(int64_t doc) const {
  Sample sample;
  hsize_t start = static_cast<hsize_t>(offsets_.at(doc)), count = static_cast<hsize_t>(lengths_.at(doc));
  sample.ids.resize(count);
  sample.trained.resize(count);
  H5::DataSpace memory(1, &count);
  H5::DataSpace ids_space = impl_->ids.getSpace();
  ids_space.selectHyperslab(H5S_SELECT_SET, &count, &start);
  impl_->ids.read(sample.ids.data(), H5::PredType::NATIVE_INT32, memory, ids_space);
  H5::DataSpace trained_space = impl_->trained.getSpace();
  trained_space.selectHyperslab(H5S_SELECT_SET, &count, &start);
  impl_->trained.read(sample.trained.data(), H5::PredType::NATIVE_UINT8, memory, trained_space);
  return sample;
}

}  // namespace tailor::data
