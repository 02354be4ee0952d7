#include "locator/metrics/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace thrifty::metrics {

namespace {

bool NameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kUntyped: return "untyped";
  }
  return "untyped";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void PrometheusText::CheckMetricName(const std::string& name) {
  bool ok = !name.empty() && (NameStart(name[0]) || name[0] == ':');
  for (char c : name) ok = ok && (NameChar(c) || c == ':');
  if (!ok) throw std::invalid_argument("invalid metric name '" + name + "'");
}

void PrometheusText::CheckLabelName(const std::string& name) {
  bool ok = !name.empty() && NameStart(name[0]) && name.rfind("__", 0) != 0;
  for (char c : name) ok = ok && NameChar(c);
  if (!ok) throw std::invalid_argument("invalid label name '" + name + "'");
}

std::string PrometheusText::EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 9.007199254740992e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // The shortest digits that read back as `value`, in %g's layout (as Go's Prometheus clients
  // write them: 0.0001, 5e-05).
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, value, std::chars_format::general);
  return std::string(text, result.ptr);
}

void PrometheusText::family(const std::string& name, MetricType type, const std::string& help) {
  CheckMetricName(name);
  if (type == MetricType::kCounter && !EndsWith(name, "_total")) {
    throw std::invalid_argument("counter '" + name + "' must end in _total");
  }
  if (!declared_.insert(name).second) {
    throw std::invalid_argument("metric family '" + name + "' declared twice");
  }
  current_ = name;
  current_type_ = type;
  out_ += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out_ += "# TYPE " + name + " " + TypeName(type) + "\n";
}

void PrometheusText::require_current(MetricType type, const char* what) const {
  if (current_.empty()) throw std::invalid_argument(std::string(what) + " before any family");
  const bool histogram = current_type_ == MetricType::kHistogram;
  if ((type == MetricType::kHistogram) != histogram) {
    throw std::invalid_argument(std::string(what) + " does not fit family '" + current_ + "' (" +
                                TypeName(current_type_) + ")");
  }
}

void PrometheusText::write_sample(const std::string& name, const Labels& labels,
                                  const std::string& value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      CheckLabelName(label);
      if (!first) out_ += ',';
      first = false;
      out_ += label + "=\"" + EscapeLabelValue(label_value) + "\"";
    }
    out_ += '}';
  }
  out_ += ' ' + value + '\n';
}

void PrometheusText::sample(int64_t value, const Labels& labels) {
  require_current(MetricType::kGauge, "sample");
  write_sample(current_, labels, std::to_string(value));
}

void PrometheusText::sample(double value, const Labels& labels) {
  require_current(MetricType::kGauge, "sample");
  write_sample(current_, labels, FormatValue(value));
}

void PrometheusText::histogram(const LatencyHistogram::Snapshot& snapshot, const Labels& labels) {
  require_current(MetricType::kHistogram, "histogram");
  for (const auto& label : labels) {
    if (label.first == "le") throw std::invalid_argument("a histogram's labels may not hold 'le'");
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    cumulative += snapshot.counts[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i + 1 < LatencyHistogram::kBuckets
                                   ? FormatValue(LatencyHistogram::UpperBoundSeconds(i))
                                   : std::string("+Inf"));
    write_sample(current_ + "_bucket", with_le, std::to_string(cumulative));
  }
  write_sample(current_ + "_sum", labels, FormatValue(snapshot.sum_seconds));
  write_sample(current_ + "_count", labels, std::to_string(cumulative));
}

void PrometheusText::info(const std::string& name, const std::string& help, const Labels& labels) {
  family(name, MetricType::kGauge, help);
  sample(int64_t{1}, labels);
}

}  // namespace thrifty::metrics
