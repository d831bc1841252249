#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "train/metrics.h"
#include "train/progress.h"

namespace tailor::train {
namespace {

using nlohmann::json;

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v, const char* format = "%.4g") {
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
  bool markers = false;
};

// A line chart as inline SVG: steps on x, the metric on y, light grid, labelled ticks.
std::string svg_chart(const std::string& title, const std::vector<Series>& series) {
  const double W = 560, H = 260, left = 64, right = 16, top = 28, bottom = 36;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series)
    for (auto [x, y] : s.points)
      if (std::isfinite(y)) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' role='img' aria-label='"
      << escape(title) << "'><text x='" << left << "' y='18' class='t'>" << escape(title) << "</text>";
  if (!std::isfinite(x0)) return svg.str() + "<text x='80' y='120'>no data</text></svg>";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + std::max(1e-9, std::fabs(y0) * 0.1), y0 -= std::max(1e-9, std::fabs(y0) * 0.1);
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * (H - top - bottom); };
  for (int i = 0; i <= 4; ++i) {
    double y = y0 + (y1 - y0) * i / 4, x = x0 + (x1 - x0) * i / 4;
    svg << "<line x1='" << left << "' x2='" << W - right << "' y1='" << py(y) << "' y2='" << py(y) << "' class='g'/>"
        << "<text x='" << left - 6 << "' y='" << py(y) + 4 << "' text-anchor='end'>" << number(y) << "</text>"
        << "<text x='" << px(x) << "' y='" << H - bottom + 16 << "' text-anchor='middle'>" << number(x, x1 - x0 >= 8 ? "%.0f" : "%.1f") << "</text>";
  }
  svg << "<text x='" << (W + left) / 2 << "' y='" << H - 4 << "' text-anchor='middle'>step</text>";
  double legend_x = W - right - 8;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    const auto& s = *it;
    std::string path;
    for (auto [x, y] : s.points)
      if (std::isfinite(y)) path += (path.empty() ? "M" : "L") + number(px(x), "%.1f") + "," + number(py(y), "%.1f");
    svg << "<path d='" << path << "' fill='none' stroke='" << s.color << "' stroke-width='1.8'/>";
    if (s.markers)
      for (auto [x, y] : s.points)
        if (std::isfinite(y)) svg << "<circle cx='" << px(x) << "' cy='" << py(y) << "' r='3' fill='" << s.color << "'/>";
    svg << "<text x='" << legend_x << "' y='18' text-anchor='end' fill='" << s.color << "'>" << escape(s.name) << "</text>";
    legend_x -= 9.0 * s.name.size() + 16;
  }
  return svg.str() + "</svg>";
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string summary_row(const std::string& key, const std::string& value) {
  return "<tr><th>" + escape(key) + "</th><td>" + escape(value) + "</td></tr>";
}

}  // namespace

std::filesystem::path write_report(const std::filesystem::path& run_dir) {
  auto records = read_metrics(run_dir / "metrics.jsonl");
  Series train_loss{"train loss", "#2563eb", {}}, val_loss{"validation loss", "#dc2626", {}, true};
  Series lr{"learning rate", "#059669", {}}, throughput{"tokens/s", "#7c3aed", {}};
  json run, dataset, last_train;
  std::vector<json> samples, evals;
  for (const auto& r : records) {
    auto kind = r.value("kind", "");
    double step = r.value("step", 0);
    if (kind == "train") {
      train_loss.points.push_back({step, r.value("loss", NAN)});
      lr.points.push_back({step, r.value("lr", NAN)});
      throughput.points.push_back({step, r.value("tokens_per_s", NAN)});
      last_train = r;
    } else if (kind == "eval") {
      val_loss.points.push_back({step, r.value("loss", NAN)});
      evals.push_back(r);
    } else if (kind == "sample") {
      samples.push_back(r);
    } else if (kind == "dataset") {
      dataset = r;
    } else if (kind == "run") {
      run = r;
    }
  }

  std::ostringstream html;
  html << "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tailor run report</title><style>"
          "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#111;padding:0 16px}"
          "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
          "table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
          "th{background:#f6f6f6}.charts{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #eee}"
          "svg text{font:11px system-ui,sans-serif;fill:#444}svg .t{font-size:13px;font-weight:600;fill:#111}"
          "svg .g{stroke:#eee}pre{background:#f6f6f6;padding:12px;overflow:auto}td.gen{white-space:pre-wrap;max-width:460px}"
          "</style></head><body>";
  html << "<h1>tailor run report</h1><table>";
  for (const char* key : {"recipe", "model", "output_dir", "started", "device", "dtype", "trainable_parameters",
                          "total_parameters", "status"})
    if (run.contains(key)) html << summary_row(key, run[key].is_string() ? run[key].get<std::string>() : run[key].dump());
  if (run.contains("frozen_base")) {  // {"q4_1": {"layers": 210, "bytes": ...}}: how the LoRA layers hold their bases
    std::string text;
    for (const auto& [format, entry] : run["frozen_base"].items())
      text += (text.empty() ? "" : ", ") + format + ": " + std::to_string(entry.value("layers", 0)) + " layers, " +
              format_bytes(entry.value("bytes", 0.0));
    html << summary_row("frozen base (LoRA layers)", text);
  }
  if (!last_train.is_null()) {
    html << summary_row("steps", std::to_string(last_train.value("step", 0)))
         << summary_row("final train loss", number(last_train.value("loss", NAN)))
         << summary_row("wall time", format_duration(last_train.value("elapsed_s", 0.0)))
         << summary_row("tokens/s (last step)", number(last_train.value("tokens_per_s", 0.0), "%.0f"))
         << summary_row("peak memory", format_bytes(last_train.value("peak_memory_bytes", 0.0)));
  }
  if (evals.size() >= 1)
    html << summary_row("validation loss", number(evals.front().value("loss", NAN)) + " (step " +
                                               std::to_string(evals.front().value("step", 0)) + ") → " +
                                               number(evals.back().value("loss", NAN)) + " (step " +
                                               std::to_string(evals.back().value("step", 0)) + ")");
  html << "</table><h2>Training</h2><div class='charts'>" << svg_chart("Loss", {train_loss, val_loss})
       << svg_chart("Learning rate", {lr}) << svg_chart("Throughput (tokens/s)", {throughput}) << "</div>";

  if (!evals.empty()) {
    html << "<h2>Evaluation</h2><table><tr><th>step</th><th>loss</th><th>perplexity</th><th>bits/byte</th><th>tokens</th></tr>";
    for (const auto& e : evals)
      html << "<tr><td>" << e.value("step", 0) << "</td><td>" << number(e.value("loss", NAN)) << "</td><td>"
           << number(e.value("perplexity", NAN)) << "</td><td>" << number(e.value("bits_per_byte", NAN)) << "</td><td>"
           << e.value("tokens", 0) << "</td></tr>";
    html << "</table>";
  }
  if (!dataset.is_null()) {
    html << "<h2>Dataset</h2><table>";
    for (auto& [key, value] : dataset.items())
      if (key != "kind" && !value.is_structured())
        html << summary_row(key, value.is_string() ? value.get<std::string>() : value.dump());
    html << "</table>";
    if (dataset.contains("sources") && dataset["sources"].is_array()) {
      const char* columns[] = {"path", "format", "records", "samples", "tokens", "trained_tokens", "truncated",
                               "train_docs", "val_docs"};
      html << "<table><tr>";
      for (const char* c : columns) html << "<th>" << c << "</th>";
      html << "</tr>";
      for (const auto& source : dataset["sources"]) {
        html << "<tr>";
        for (const char* c : columns) {
          const json& v = source.contains(c) ? source[c] : json();
          html << "<td>" << escape(v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump()) << "</td>";
        }
        html << "</tr>";
      }
      html << "</table>";
    }
  }
  if (!samples.empty()) {
    html << "<h2>Sample generations</h2><table><tr><th>prompt</th><th>before training</th><th>after training</th></tr>";
    std::vector<std::string> prompts;
    for (const auto& s : samples)
      if (std::find(prompts.begin(), prompts.end(), s.value("prompt", "")) == prompts.end())
        prompts.push_back(s.value("prompt", ""));
    for (const auto& p : prompts) {
      std::string before, after;
      for (const auto& s : samples)
        if (s.value("prompt", "") == p) (s.value("stage", "") == "before" ? before : after) = s.value("text", "");
      html << "<tr><td>" << escape(p) << "</td><td class='gen'>" << escape(before) << "</td><td class='gen'>"
           << escape(after) << "</td></tr>";
    }
    html << "</table>";
  }
  html << "<h2>Recipe (resolved)</h2><pre>" << escape(read_text(run_dir / "recipe.yaml")) << "</pre></body></html>\n";
  auto path = run_dir / "report.html";
  write_file_atomic(path, html.str());
  return path;
}

}  // namespace tailor::train
