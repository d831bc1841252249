// Test driver for test_packed_loss.py: runs the packed training rows of a prepared dataset (the HDF5 cache
// `tailor data prepare` wrote) through a model as the trainer batches them, and prints per-token losses.
//
//   packed_loss_probe MODEL CACHE.h5
//   -> {"rows": [{"ids": [..], "cu_seqlens": [..], "position_ids": [..], "labels": [..],
//                 "nll": [..],         per position t: -log p(ids[t+1]) from the packed row (null at a
//                                      document's last token and on padding)
//                 "nll_alone": [..],   the same, each document run through the model by itself
//                 "nll_unmasked": [..] the packed row as one causal sequence (no boundaries, positions 0..T-1)
//               }]}
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/pipeline/batch_iterator.h"
#include "models/model_loader.h"

using nlohmann::json;
using namespace tailor;

namespace {

// -log p(ids[t+1] | ..t) for every t of one row, from logits [T, V].
std::vector<double> next_token_nll(const at::Tensor& logits, const at::Tensor& ids) {
  at::Tensor logp = at::log_softmax(logits.to(at::kFloat), -1);
  at::Tensor picked = logp.slice(0, 0, -1).gather(1, ids.slice(0, 1).unsqueeze(1)).squeeze(1).neg();
  std::vector<double> out(picked.size(0));
  for (int64_t t = 0; t < picked.size(0); ++t) out[t] = picked[t].item<double>();
  return out;
}

json row_losses(models::CausalLMImpl& model, const data::PackedBatch& batch, int64_t r) {
  const int64_t T = batch.seq_len;
  std::vector<int64_t> ids_v(batch.input_ids.begin() + r * T, batch.input_ids.begin() + (r + 1) * T);
  std::vector<int64_t> pos_v(batch.position_ids.begin() + r * T, batch.position_ids.begin() + (r + 1) * T);
  std::vector<int64_t> cu(batch.cu_seqlens[r].begin(), batch.cu_seqlens[r].end());
  at::Tensor ids = at::tensor(ids_v, at::kLong);

  // Packed, as the trainer runs it: document boundaries from cu_seqlens, the pipeline's position ids.
  models::SequenceLayout layout = models::packed_layout({cu}, T);
  layout.position_ids = at::tensor(pos_v, at::kLong).view({1, T});
  std::vector<double> packed = next_token_nll(model.forward(ids.view({1, T}), layout)[0], ids);
  std::vector<double> unmasked = next_token_nll(model.forward(ids.view({1, T}))[0], ids);

  json nll = json::array(), alone = json::array(), plain = json::array();
  for (int64_t t = 0; t + 1 < T; ++t) {
    bool inside = false;  // t and t+1 in the same document
    for (size_t k = 0; k + 1 < cu.size(); ++k) inside = inside || (cu[k] <= t && t + 1 < cu[k + 1]);
    nll.push_back(inside ? json(packed[t]) : json(nullptr));
    plain.push_back(inside ? json(unmasked[t]) : json(nullptr));
  }
  for (size_t k = 0; k + 1 < cu.size(); ++k) {
    at::Tensor doc = ids.slice(0, cu[k], cu[k + 1]);
    std::vector<double> single = next_token_nll(model.forward(doc.view({1, -1}))[0], doc);
    for (double x : single) alone.push_back(x);
    if (k + 2 < cu.size() || cu.back() < T) alone.push_back(nullptr);  // the boundary (or padding) after it
  }
  while (alone.size() < nll.size()) alone.push_back(nullptr);
  return {{"ids", ids_v},
          {"cu_seqlens", cu},
          {"position_ids", pos_v},
          {"labels", std::vector<int32_t>(batch.labels.begin() + r * T, batch.labels.begin() + (r + 1) * T)},
          {"nll", nll},
          {"nll_alone", alone},
          {"nll_unmasked", plain}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: packed_loss_probe MODEL CACHE.h5\n";
    return 2;
  }
  try {
    models::CausalLM model = models::load_causal_lm(argv[1]);
    auto dataset = data::PreparedDataset::open(argv[2]);
    torch::NoGradGuard no_grad;
    json rows = json::array();
    data::BatchIterator it(dataset, data::Split::Train, {.rows_per_batch = 4});
    for (int64_t step = 0; step < it.steps_per_epoch(); ++step) {
      data::PackedBatch batch = *it.next();
      for (int64_t r = 0; r < batch.rows; ++r) rows.push_back(row_losses(*model, batch, r));
    }
    std::cout << json{{"rows", rows}}.dump() << "\n";
  } catch (const InputError& e) {
    std::cerr << "packed_loss_probe: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
