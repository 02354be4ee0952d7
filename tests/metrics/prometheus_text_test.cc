// The Prometheus text exposition format 0.0.4 as PrometheusText writes it.
#include "locator/metrics/prometheus_text.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace thrifty::metrics {
namespace {

TEST(PrometheusText, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
  PrometheusText out;
  out.family("thrifty_requests_total", MetricType::kCounter, "Requests served.");
  out.sample(int64_t{7}, {{"op", "get"}});
  out.sample(int64_t{3}, {{"op", "put"}});
  out.family("thrifty_members", MetricType::kGauge, "Members by state.");
  out.sample(int64_t{2}, {{"state", "alive"}});
  out.family("thrifty_ratio", MetricType::kGauge, "A fraction.");
  out.sample(0.25);
  EXPECT_EQ(out.text(),
            "# HELP thrifty_requests_total Requests served.\n"
            "# TYPE thrifty_requests_total counter\n"
            "thrifty_requests_total{op=\"get\"} 7\n"
            "thrifty_requests_total{op=\"put\"} 3\n"
            "# HELP thrifty_members Members by state.\n"
            "# TYPE thrifty_members gauge\n"
            "thrifty_members{state=\"alive\"} 2\n"
            "# HELP thrifty_ratio A fraction.\n"
            "# TYPE thrifty_ratio gauge\n"
            "thrifty_ratio 0.25\n");
}

TEST(PrometheusText, HistogramsAreCumulativeWithSumAndCount) {
  LatencyHistogram h;
  h.record(std::chrono::microseconds(20));
  h.record(std::chrono::microseconds(70));
  h.record(std::chrono::seconds(9));
  PrometheusText out;
  out.family("thrifty_request_duration_seconds", MetricType::kHistogram, "Latency.");
  out.histogram(h.snapshot(), {{"op", "get"}});
  const std::string& text = out.text();
  EXPECT_NE(text.find("# TYPE thrifty_request_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("thrifty_request_duration_seconds_bucket{op=\"get\",le=\"5e-05\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("thrifty_request_duration_seconds_bucket{op=\"get\",le=\"0.0001\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("thrifty_request_duration_seconds_bucket{op=\"get\",le=\"5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("thrifty_request_duration_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("thrifty_request_duration_seconds_sum{op=\"get\"} 9.00009\n"), std::string::npos) << text;
  EXPECT_NE(text.find("thrifty_request_duration_seconds_count{op=\"get\"} 3\n"), std::string::npos) << text;
  // 17 buckets, sum and count.
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 2u + LatencyHistogram::kBuckets + 2u);
}

TEST(PrometheusText, InfoMetricsAreGaugesOfOne) {
  PrometheusText out;
  out.info("thrifty_build_info", "Version.", {{"version", "0.1.0"}});
  EXPECT_EQ(out.text(),
            "# HELP thrifty_build_info Version.\n# TYPE thrifty_build_info gauge\n"
            "thrifty_build_info{version=\"0.1.0\"} 1\n");
}

TEST(PrometheusText, LabelValuesAndHelpAreEscaped) {
  PrometheusText out;
  out.family("thrifty_x", MetricType::kGauge, "a \\ backslash\nand a newline");
  out.sample(int64_t{1}, {{"v", "quote \" back \\ line \n end"}});
  EXPECT_EQ(out.text(),
            "# HELP thrifty_x a \\\\ backslash\\nand a newline\n# TYPE thrifty_x gauge\n"
            "thrifty_x{v=\"quote \\\" back \\\\ line \\n end\"} 1\n");
}

TEST(PrometheusText, NumbersAreSpelledAsTheFormatWants) {
  EXPECT_EQ(PrometheusText::FormatValue(3), "3");
  EXPECT_EQ(PrometheusText::FormatValue(-2), "-2");
  EXPECT_EQ(PrometheusText::FormatValue(0.1), "0.1");
  EXPECT_EQ(PrometheusText::FormatValue(1e-9), "1e-09");
  EXPECT_EQ(PrometheusText::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(PrometheusText::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(PrometheusText::FormatValue(std::nan("")), "NaN");
}

TEST(PrometheusText, BrokenRulesAreRefused) {
  PrometheusText out;
  EXPECT_THROW(out.sample(int64_t{1}), std::invalid_argument) << "a sample before any family";
  EXPECT_THROW(out.family("thrifty_requests", MetricType::kCounter, "h"), std::invalid_argument)
      << "a counter without _total";
  EXPECT_THROW(out.family("9lives", MetricType::kGauge, "h"), std::invalid_argument);
  EXPECT_THROW(out.family("has-dash", MetricType::kGauge, "h"), std::invalid_argument);
  out.family("thrifty_g", MetricType::kGauge, "h");
  EXPECT_THROW(out.family("thrifty_g", MetricType::kGauge, "h"), std::invalid_argument)
      << "a family declared twice";
  EXPECT_THROW(out.sample(int64_t{1}, {{"__reserved", "x"}}), std::invalid_argument);
  EXPECT_THROW(out.sample(int64_t{1}, {{"bad-label", "x"}}), std::invalid_argument);
  EXPECT_THROW(out.histogram(LatencyHistogram::Snapshot{}), std::invalid_argument)
      << "a histogram in a gauge family";
  out.family("thrifty_h_seconds", MetricType::kHistogram, "h");
  EXPECT_THROW(out.sample(int64_t{1}), std::invalid_argument) << "a plain sample in a histogram";
  EXPECT_THROW(out.histogram(LatencyHistogram::Snapshot{}, {{"le", "1"}}), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::metrics
