// The run report: RUN/report.html, one self-contained file (inline SVG plots, no scripts, no network)
// built from RUN/metrics.jsonl and RUN/recipe.yaml: training and validation loss, learning rate,
// throughput, dataset statistics, sample generations before and after training, the resolved recipe.
#pragma once

#include <filesystem>

namespace tailor::train {

// Writes RUN/report.html atomically and returns its path.
std::filesystem::path write_report(const std::filesystem::path& run_dir);

}  // namespace tailor::train
