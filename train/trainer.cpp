#include "train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/chat_mask.h"
#include "data/chat_template.h"
#include "data/pipeline/batch_iterator.h"
#include "data/pipeline/data_config.h"
#include "data/tokenizer.h"
#include "kernels/device.h"
#include "kernels/linear_cross_entropy.h"
#include "models/generator.h"
#include "models/gguf_linear.h"
#include "models/model_loader.h"
#include "models/sequence_layout.h"
#include "formats/gguf.h"
#include "lora/gguf_weight.h"
#include "lora/nf4_weight.h"
#include "train/activation_checkpoint.h"
#include "train/adamw.h"
#include "train/attach_lora.h"
#include "train/checkpoint.h"
#include "train/decoder_kernels.h"
#include "train/grad_accumulation.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/nonfinite.h"
#include "train/progress.h"
#include "train/recipe_data.h"
#include "train/report.h"
#include "train/rng_state.h"
#include "train/stop_signal.h"

namespace tailor::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

at::Device pick_device(const std::string& wanted) {
  bool have_cuda = kernels::cuda_device_count() > 0;
  if (wanted == "cuda" && !have_cuda) throw InputError("train.device: cuda requested but no CUDA device is available");
  return (wanted == "cuda" || (wanted == "auto" && have_cuda)) ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
}

// Everything the data side gives the loop.
struct Data : RecipeData {
  std::vector<int32_t> token_bytes;  // UTF-8 bytes each token decodes to, for bits-per-byte
};

Data prepare_data(const Recipe& recipe) {
  data::DataConfig config = data::parse_data_config(recipe.data, recipe.base_dir, recipe.source);
  if (!config.tokenizer || !recipe.resolved["data"]["tokenizer"]) config.tokenizer = recipe.model;
  Data d;
  static_cast<RecipeData&>(d) = prepare_recipe_data(config);
  d.token_bytes.resize(d.tokenizer->vocab_size());
  for (size_t id = 0; id < d.token_bytes.size(); ++id) {
    data::TokenId t = static_cast<data::TokenId>(id);
    d.token_bytes[id] = d.tokenizer->is_special(t) ? 0 : static_cast<int32_t>(d.tokenizer->decode({&t, 1}).size());
  }
  return d;
}

struct BatchTensors {
  at::Tensor input_ids, labels;  // [B, T] int64; labels unshifted, -100 = not trained
  models::SequenceLayout layout;
  int64_t trained_tokens = 0, real_tokens = 0;
};

BatchTensors to_tensors(const data::PackedBatch& batch, at::Device device) {
  BatchTensors t;
  auto shape = std::vector<int64_t>{batch.rows, batch.seq_len};
  t.input_ids = at::tensor(std::vector<int64_t>(batch.input_ids.begin(), batch.input_ids.end()), at::kLong).view(shape);
  t.labels = at::tensor(std::vector<int64_t>(batch.labels.begin(), batch.labels.end()), at::kLong).view(shape);
  std::vector<std::vector<int64_t>> cu;
  bool one_document_per_row = true;
  for (const auto& row : batch.cu_seqlens) {
    cu.emplace_back(row.begin(), row.end());
    one_document_per_row &= cu.back().size() == 2;
  }
  // Rows that each hold one document from position 0 need no mask: under plain causal attention (SDPA's
  // fused kernel, nothing [T, T] saved for backward) no real token sees the padding after it, and padded
  // positions carry no label.
  if (!one_document_per_row) t.layout = models::packed_layout(cu, batch.seq_len);
  t.input_ids = t.input_ids.to(device);
  t.labels = t.labels.to(device);
  for (auto* x : {&t.layout.position_ids, &t.layout.attention_mask, &t.layout.document_ids})
    if (x->defined()) *x = x->to(device);
  t.trained_tokens = batch.trained_tokens;
  t.real_tokens = batch.real_tokens;
  return t;
}

// Mean next-token cross-entropy over the trained labels: position t predicts label t+1.
at::Tensor causal_lm_loss(models::CausalLMImpl& model, const BatchTensors& batch, kernels::KernelMode mode) {
  at::Tensor hidden = model.hidden_states(batch.input_ids, batch.layout);
  auto C = hidden.size(-1);
  at::Tensor h = hidden.slice(1, 0, -1).reshape({-1, C});
  at::Tensor y = batch.labels.slice(1, 1).reshape({-1});
  if (model.config().final_logit_softcapping) {  // capped logits: the fused path has no cap, compute them
    at::Tensor logits = model.logits(hidden).slice(1, 0, -1).reshape({-1, model.config().vocab_size});
    return at::cross_entropy_loss(logits.to(at::kFloat), y, {}, at::Reduction::Mean, -100);
  }
  return kernels::linear_cross_entropy(h, model.lm_head_weight(), y, mode);
}

struct EvalResult {
  double loss = NAN, perplexity = NAN, bits_per_byte = NAN;
  int64_t tokens = 0, bytes = 0;
};

EvalResult evaluate(models::CausalLMImpl& model, const Data& d, int64_t rows_per_batch, at::Device device,
                    kernels::KernelMode mode) {
  data::BatchIterator it(d.prepared.dataset, data::Split::Val, {.rows_per_batch = rows_per_batch});
  double nll = 0;
  EvalResult r;
  at::NoGradGuard no_grad;
  while (auto batch = it.next()) {
    if (batch->trained_tokens == 0) continue;
    BatchTensors t = to_tensors(*batch, device);
    nll += causal_lm_loss(model, t, mode).item<double>() * t.trained_tokens;
    r.tokens += t.trained_tokens;
    for (size_t i = 0; i < batch->labels.size(); ++i)
      if (batch->labels[i] >= 0) r.bytes += d.token_bytes.at(batch->labels[i]);
  }
  if (r.tokens == 0) return r;
  r.loss = nll / r.tokens;
  r.perplexity = std::exp(r.loss);
  r.bits_per_byte = r.bytes ? nll / (std::log(2.0) * r.bytes) : NAN;
  return r;
}

// The prompt as the model's chat template presents a user turn, ready for the assistant's reply.
std::vector<int64_t> chat_prompt_ids(const data::Tokenizer& tokenizer, const std::string& prompt) {
  std::vector<data::TokenId> ids;
  if (tokenizer.chat_template().empty()) {
    ids = tokenizer.encode(prompt);
  } else {
    auto chat_template = data::ChatTemplate::for_tokenizer(tokenizer);
    auto rendered = chat_template.render_tracked(nlohmann::ordered_json::array({{{"role", "user"}, {"content", prompt}}}),
                                                 {.add_generation_prompt = true});
    ids = data::ChatMasker(chat_template, tokenizer).encode(rendered);  // the prompt never becomes special tokens
  }
  const auto& special = tokenizer.special_tokens();
  if (special.add_bos && special.bos && (ids.empty() || ids.front() != *special.bos)) ids.insert(ids.begin(), *special.bos);
  return {ids.begin(), ids.end()};
}

// A sample cut at max_new_tokens can end inside a multi-byte character split across tokens; its bytes
// decode to U+FFFD, which is an artifact of the cut, not model output.
std::string without_split_character(std::string text) {
  static const std::string replacement = "\xEF\xBF\xBD";
  while (text.ends_with(replacement)) text.resize(text.size() - replacement.size());
  return text;
}

void write_samples(models::CausalLMImpl& model, const Data& d, const Recipe& recipe, const char* stage, MetricsLog& log) {
  if (recipe.samples.empty()) return;
  at::NoGradGuard no_grad;
  models::SamplingOptions options;
  options.max_new_tokens = recipe.sample_tokens;
  for (auto id : d.tokenizer->special_tokens().eos_ids) options.stop_ids.push_back(id);
  for (const auto& prompt : recipe.samples) {
    auto result = models::generate(model, chat_prompt_ids(*d.tokenizer, prompt), options);
    std::vector<data::TokenId> out(result.tokens.begin(), result.tokens.end());
    log.write({{"kind", "sample"}, {"stage", stage}, {"prompt", prompt}, {"text", without_split_character(d.tokenizer->decode(out, true))}});
  }
}

// Each step allocates and frees gigabytes of activations. glibc's default serves blocks from 128 KiB up by
// fresh mmap until its threshold adapts; every such block is page-faulted and zeroed by the kernel again on
// each use (measured: 14% of a step in the kernel, and bf16 steps at half speed). Fixing the threshold at
// glibc's maximum (32 MiB) from the start reuses heap memory for all but the largest blocks (lm_head
// logits chunks) and returns freed memory above 32 MiB at the top of the heap. SmolLM2-135M, 512 x 4, 2
// threads: fp32 198 -> 255 tok/s (RSS 3.37 -> 3.72 GB), bf16 237 -> 444 tok/s (2.84 -> 4.32 GB).
void reuse_freed_blocks() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
#endif
}

}  // namespace

RunOutcome run_recipe(const Recipe& recipe) {
  reuse_freed_blocks();
  auto started = Clock::now();
  RunOutcome outcome;
  outcome.run_dir = recipe.output_dir;
  fs::create_directories(outcome.run_dir);
  const fs::path checkpoints = outcome.run_dir / "checkpoints";
  if (recipe.train.threads > 0) at::set_num_threads(recipe.train.threads);
  const bool terminal = ::isatty(STDOUT_FILENO);
  Progress progress(recipe.max_steps, recipe.train.log_every, terminal);
  const auto mode = kernels::parse_kernel_mode(recipe.train.kernels);
  const at::Device device = pick_device(recipe.train.device);
  const auto dtype = recipe.train.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;

  // Resume point first: what a resumed run must reproduce is fixed before anything random happens.
  std::optional<fs::path> resume_from;
  if (recipe.train.resume == "auto") resume_from = find_latest_checkpoint(checkpoints);

  if (recipe.lora.quantize == "gguf" && !models::is_gguf_path(recipe.model))
    throw InputError("lora.quantize: gguf trains on a GGUF file's blocks as loaded, but model '" + recipe.model +
                     "' is not a .gguf file; use lora.quantize: nf4 or none");
  progress.message("loading " + recipe.model);
  models::CausalLM model = models::load_causal_lm(recipe.model, {.dtype = dtype, .device = device});
  model->set_ops(decoder_ops(mode));
  progress.message("preparing data");
  Data d = prepare_data(recipe);
  const auto& stats = d.prepared.stats;
  auto total = stats.total();
  progress.message("data: " + std::to_string(stats.train_rows) + " train rows, " + std::to_string(stats.val_rows) +
                   " val rows, " + std::to_string(total.trained_tokens) + " trained tokens, packing efficiency " +
                   std::to_string(stats.train_efficiency).substr(0, 5) + (stats.cache_hit ? " (cache)" : ""));

  at::manual_seed(recipe.seed);
  BaseQuantizer quantize;
  if (recipe.lora.quantize == "nf4") {  // QLoRA: frozen bases as NF4 (block 64, double-quantized absmax)
    quantize = [](const std::string&, const at::Tensor& w) { return lora::Nf4QuantizedWeight::quantize(w, 64, true); };
  } else if (recipe.lora.quantize == "gguf") {  // the file's own blocks (mapped), dequantized per use
    auto file = std::make_shared<const formats::GgufFile>(recipe.model);
    quantize = [file, config = model->config()](const std::string& module, const at::Tensor&) {
      models::GgufLinearWeight w = models::gguf_linear_weight(config, *file, module);
      return std::make_shared<lora::GgufQuantizedWeight>(file, *w.tensor, w.row_order);
    };
  }
  lora::Adapter adapter = attach_lora(*model, adapter_config_for(recipe), quantize, mode);  // train.kernels reaches LoRA too
  if (dtype != at::kFloat) {  // bf16: the frozen base computes in bf16; LoRA weights and AdamW states stay fp32
    at::NoGradGuard no_grad;  // (as PEFT's autocast_adapter_dtype; module copies keep the model's dtype)
    for (auto& [name, p] : adapter.named_parameters())
      if (name.find("lora_") != std::string::npos) p.set_data(p.to(at::kFloat));
  }
  set_activation_checkpointing(*model, recipe.train.activation_checkpointing);
#ifdef __GLIBC__
  malloc_trim(0);  // base weights replaced by quantized ones were freed into the heap: give them back
#endif
  auto named = adapter.named_parameters();
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
  for (auto& [name, p] : named) params.push_back(p), names.push_back(name);
  AdamW optimizer(params, names,
                  {.lr = recipe.optim.lr, .beta1 = recipe.optim.beta1, .beta2 = recipe.optim.beta2,
                   .eps = recipe.optim.eps, .weight_decay = recipe.optim.weight_decay});
  LrSchedule schedule{parse_schedule_kind(recipe.optim.schedule), recipe.optim.lr, recipe.optim.warmup_steps,
                      recipe.max_steps};
  NonFiniteGuard guard(recipe.train.max_bad_steps);

  int64_t step = 0;
  data::DataCursor cursor;
  double elapsed_before = 0;
  if (resume_from) {
    TrainState state = load_checkpoint(*resume_from, adapter);
    optimizer.load_state_tensors(state.tensors);
    restore_rng_state(state.tensors);
    step = state.step;
    cursor = {state.trainer.at("data_epoch").get<int64_t>(), state.trainer.at("data_step").get<int64_t>()};
    elapsed_before = state.trainer.value("elapsed_s", 0.0);
    progress.message("resumed from " + resume_from->string() + " at step " + std::to_string(step));
  }
  const int64_t first_step = step;  // where this process starts: max_steps when a finished run is run again
  MetricsLog log(outcome.run_dir / "metrics.jsonl", resume_from ? step : 0);
  write_file_atomic(outcome.run_dir / kRecipeFile, to_yaml(recipe));
  if (!resume_from) {
    int64_t total_params = 0;
    for (const auto& p : model->parameters()) total_params += p.numel();
    for (const auto& b : model->named_buffers())  // LoRA keeps frozen base weights as buffers
      if (b.key().ends_with("weight") || b.key().ends_with("bias")) total_params += b.value().numel();
    json frozen_base = json::object();  // the targeted linears' base weights: format -> layers, bytes held
    for (const auto& [name, layer] : adapter.lora_layers()) {
      const auto& q = layer->quantized_weight();
      const int64_t weights = layer->out_features() * layer->in_features();
      if (q) total_params += weights;
      json& entry = frozen_base[q ? q->format() : recipe.train.dtype];
      if (entry.is_null()) entry = {{"layers", 0}, {"bytes", 0}};
      entry["layers"] = entry["layers"].get<int64_t>() + 1;
      entry["bytes"] = entry["bytes"].get<int64_t>() + (q ? q->storage_bytes() : weights * int64_t(at::elementSize(dtype)));
    }
    log.write({{"kind", "run"}, {"recipe", recipe.name}, {"model", recipe.model}, {"output_dir", recipe.output_dir},
               {"device", device.str()}, {"dtype", recipe.train.dtype}, {"kernels", recipe.train.kernels},
               {"trainable_parameters", adapter.parameter_count()}, {"total_parameters", total_params},
               {"frozen_base", frozen_base}});
    json ds = json::parse(stats.to_json());
    ds["kind"] = "dataset";
    log.write(ds);
    model->eval();  // no dropout: the "before" picture must not consume the training RNG stream
    write_samples(*model, d, recipe, "before", log);
    if (stats.val_rows > 0) {
      auto e = evaluate(*model, d, recipe.train.batch_size, device, mode);
      json record{{"kind", "eval"}, {"step", 0},           {"loss", e.loss},   {"perplexity", e.perplexity},
                  {"bits_per_byte", e.bits_per_byte}, {"tokens", e.tokens}, {"bytes", e.bytes}};
      log.write(record);
      progress.eval(record);
    }
  }

  auto checkpoint = [&](int64_t at_step) {
    TrainState state;
    state.step = at_step;
    state.recipe = to_yaml(recipe);
    state.tensors = optimizer.state_tensors();
    for (auto& [k, v] : capture_rng_state()) state.tensors[k] = v;
    state.trainer = {{"data_epoch", cursor.epoch}, {"data_step", cursor.step},
                     {"elapsed_s", elapsed_before + seconds_since(started)}, {"skipped_steps", guard.skipped()}};
    return save_checkpoint(checkpoints, adapter, state, recipe.train.keep_checkpoints);
  };

  install_stop_handlers();
  data::BatchIterator batches(d.prepared.dataset, data::Split::Train,
                              {.rows_per_batch = recipe.train.batch_size}, cursor);
  model->train();
  // TAILOR_PROFILE_TRACE=FILE: a chrome://tracing file of the second step's operators (the first one warms up).
  const char* profile_trace = std::getenv("TAILOR_PROFILE_TRACE");
  while (step < recipe.max_steps) {
    auto step_started = Clock::now();
    std::optional<torch::autograd::profiler::RecordProfile> profiling;
    if (profile_trace && *profile_trace && step == 1) profiling.emplace(std::string(profile_trace));
    std::vector<BatchTensors> micro;
    std::vector<int64_t> counts;
    for (int i = 0; i < recipe.train.grad_accum; ++i) {
      auto batch = batches.next();
      if (!batch) throw InputError("the training split is empty");  // train batches cycle over epochs
      micro.push_back(to_tensors(*batch, device));
      counts.push_back(micro.back().trained_tokens);
    }
    GradientAccumulation accumulation(counts);
    double loss_sum = 0;
    int64_t step_tokens = 0;
    for (size_t i = 0; i < micro.size(); ++i) {
      at::Tensor loss = causal_lm_loss(*model, micro[i], mode);
      (loss * accumulation.loss_weight(i)).backward();
      loss_sum += loss.item<double>() * accumulation.loss_weight(i);
      step_tokens += micro[i].real_tokens;
    }
    double grad_norm_value = clip_grad_norm(params, recipe.optim.grad_clip > 0 ? recipe.optim.grad_clip : INFINITY)
                                 .item<double>();
    bool finite = std::isfinite(loss_sum) && std::isfinite(grad_norm_value);
    optimizer.set_lr(schedule.lr_at(step));
    if (guard.record(finite)) optimizer.step();
    optimizer.zero_grad();
    profiling.reset();
    cursor = batches.cursor();
    ++step;
    if (!finite) {
      progress.message("step " + std::to_string(step) + ": non-finite loss or gradient, update skipped (" +
                       std::to_string(guard.consecutive()) + " in a row)");
      if (guard.should_stop())
        throw InputError(std::to_string(guard.consecutive()) +
                         " consecutive non-finite steps: stopping; the last good checkpoint is in " + checkpoints.string() +
                         " (lower optim.lr or check the data)");
    }
    double elapsed = elapsed_before + seconds_since(started);
    json record{{"kind", "train"},
                {"step", step},
                {"loss", loss_sum},
                {"lr", schedule.lr_at(step - 1)},
                {"grad_norm", grad_norm_value},
                {"tokens", step_tokens},
                {"tokens_per_s", step_tokens / std::max(1e-9, seconds_since(step_started))},
                {"elapsed_s", elapsed},
                {"memory_bytes", resident_bytes()},
                {"peak_memory_bytes", peak_resident_bytes()},
                {"skipped", !finite}};
    log.write(record);
    progress.train_step(record);

    bool last = step == recipe.max_steps;
    if (stats.val_rows > 0 && ((recipe.train.eval_every > 0 && step % recipe.train.eval_every == 0) || last)) {
      model->eval();
      auto e = evaluate(*model, d, recipe.train.batch_size, device, mode);
      model->train();
      json eval{{"kind", "eval"},         {"step", step},      {"loss", e.loss},  {"perplexity", e.perplexity},
                {"bits_per_byte", e.bits_per_byte}, {"tokens", e.tokens}, {"bytes", e.bytes}};
      log.write(eval);
      progress.eval(eval);
    }
    bool periodic = recipe.train.checkpoint_every > 0 && step % recipe.train.checkpoint_every == 0;
    if (periodic || last || stop_requested()) checkpoint(step);
    if (stop_requested() && !last) {
      progress.message("stopped by signal " + std::to_string(stop_signal_number()) + " after step " +
                       std::to_string(step) + "; checkpoint written. Resume with the same command: tailor run " +
                       recipe.source + " (resume: auto)");
      outcome.interrupted = true;
      break;
    }
  }
  progress.finish();
  outcome.steps = step;
  outcome.adapter_dir = outcome.run_dir / "adapter";
  adapter.save(outcome.adapter_dir);
  outcome.already_complete = resume_from && first_step >= recipe.max_steps;
  if (!outcome.interrupted && !outcome.already_complete) {
    model->eval();
    write_samples(*model, d, recipe, "after", log);
    log.write({{"kind", "event"}, {"step", step}, {"message", "finished"}});
  }
  outcome.report = write_report(outcome.run_dir);
  return outcome;
}

}  // namespace tailor::train
