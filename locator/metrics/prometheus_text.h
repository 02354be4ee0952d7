// PrometheusText: writes metrics in the Prometheus text exposition format, version 0.0.4
// (Content-Type: text/plain; version=0.0.4), the format every Prometheus server scrapes.
//
// Every metric family is declared once with its HELP and TYPE lines and its samples follow it
// at once, as the format requires. The writer enforces the rules a scraper would otherwise
// reject or `promtool check metrics` flag; breaking one is a bug in the caller and throws
// std::invalid_argument:
//   - names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not "__...");
//   - a family is declared once, and samples go to the family declared last;
//   - counters end in "_total"; histograms get no "le" label from the caller.
// Label values and HELP text are escaped (backslash, newline, and in label values the double
// quote), so any bytes may go in them.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "locator/metrics/latency_histogram.h"

namespace thrifty::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

class PrometheusText {
 public:
  // The HTTP Content-Type of the text this writer makes.
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Starts the family `name`: writes its HELP and TYPE lines.
  void family(const std::string& name, MetricType type, const std::string& help);

  // One sample of the current (counter, gauge or untyped) family, named like it.
  void sample(int64_t value, const Labels& labels = {});
  void sample(double value, const Labels& labels = {});

  // One histogram of the current histogram family: its cumulative "_bucket" samples (le from
  // 5e-05 to 5, then +Inf), "_sum" (seconds) and "_count", each with `labels`.
  void histogram(const LatencyHistogram::Snapshot& snapshot, const Labels& labels = {});

  // A family of its own holding one sample of value 1 whose labels carry the information
  // (settings, versions): the "info metric" convention, e.g. thrifty_build_info{version="..."} 1.
  void info(const std::string& name, const std::string& help, const Labels& labels);

  const std::string& text() const { return out_; }

  // Helpers, exposed for tests. Throw std::invalid_argument if `name` is not valid.
  static void CheckMetricName(const std::string& name);
  static void CheckLabelName(const std::string& name);
  static std::string EscapeLabelValue(const std::string& value);
  static std::string EscapeHelp(const std::string& help);
  // Numbers as the format spells them: integers exactly, others in the shortest form that reads
  // back as the same double; NaN, +Inf, -Inf.
  static std::string FormatValue(double value);

 private:
  void write_sample(const std::string& name, const Labels& labels, const std::string& value);
  void require_current(MetricType type, const char* what) const;

  std::string out_;
  std::set<std::string> declared_;
  std::string current_;
  MetricType current_type_ = MetricType::kUntyped;
};

}  // namespace thrifty::metrics
