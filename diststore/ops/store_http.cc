#include "diststore/ops/store_http.h"

#include <sstream>

#include "diststore/ops/status_page.h"
#include "diststore/ops/store_metrics.h"
#include "diststore/service/durability.h"
#include "diststore/service/store_node.h"
#include "locator/rpc/address.h"
#include "thrifty/version.h"

namespace thrifty::diststore {

namespace {

std::string PhaseName(StoreNode::Phase phase) {
  switch (phase) {
    case StoreNode::Phase::kJoining: return "joining";
    case StoreNode::Phase::kServing: return "serving";
    case StoreNode::Phase::kDraining: return "draining";
    case StoreNode::Phase::kStopped: return "stopped";
  }
  return "stopped";
}

std::string FormatWeight(double weight) {
  std::ostringstream out;
  out << weight;
  return out.str();
}

http::HttpResponse NoStore(http::HttpResponse response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

}  // namespace

const char* ThriftyVersion() { return THRIFTY_VERSION; }

StoreHttp::StoreHttp(StoreNode& store, http::HttpOptions options)
    : store_(store),
      start_time_seconds_(std::chrono::duration<double>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()),
      report_(store),
      server_(std::move(options)) {
  server_.route("/metrics", [this](const http::HttpRequest&) { return metrics(); });
  server_.route("/health", [this](const http::HttpRequest&) { return health(); });
  server_.route("/status.json", [this](const http::HttpRequest&) { return status_json(); });
  server_.route("/", [this](const http::HttpRequest&) { return status_page(); });
}

std::string StoreHttp::url() const {
  return "http://" + rpc::ToString(rpc::MakeLocation(server_.address(), server_.port())) + "/";
}

http::HttpResponse StoreHttp::metrics() {
  const StoreOptions& options = store_.options();
  StoreMetricsInput input;
  input.stats = store_.stats(StoreNode::KeyCount::kEstimate);
  input.latency = &store_.latency();
  input.settings = {{"placement", store_.node().options().placement},
                    {"weight", FormatWeight(store_.node().options().weight)},
                    {"engine", options.memory ? "memory" : "rocksdb"},
                    {"sync", options.sync ? "true" : "false"},
                    {"gossip", options.node.gossip ? "true" : "false"},
                    {"max_clock_drift_ms", std::to_string(options.limits.max_clock_drift_ms)},
                    {"drain_timeout_ms", std::to_string(options.drain_timeout_ms)},
                    {"rpc_threads", std::to_string(options.node.server.workers)}};
  input.node = {{"address", store_.node().self_name()},
                {"host_id", store_.host_id()},
                {"durable", options.memory ? "false" : "true"}};
  input.version = ThriftyVersion();
  input.serving = store_.phase() == StoreNode::Phase::kServing;
  input.start_time_seconds = start_time_seconds_;
  http::HttpResponse response;
  response.content_type = metrics::PrometheusText::kContentType;
  response.body = StoreMetricsText(input);
  return NoStore(std::move(response));
}

http::HttpResponse StoreHttp::health() {
  const StoreNode::Phase phase = store_.phase();
  http::HttpResponse response;
  response.status = phase == StoreNode::Phase::kServing ? 200 : 503;
  response.body = PhaseName(phase) + "\n";
  return NoStore(std::move(response));
}

http::HttpResponse StoreHttp::status_json() {
  http::HttpResponse response;
  response.content_type = "application/json";
  response.body = report_.build(PhaseName(store_.phase()), ThriftyVersion()).dump();
  return NoStore(std::move(response));
}

http::HttpResponse StoreHttp::status_page() {
  http::HttpResponse response;
  response.content_type = "text/html; charset=utf-8";
  response.body =
      StatusPageHtml(report_.build(PhaseName(store_.phase()), ThriftyVersion()).dump());
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; style-src 'unsafe-inline'; "
                                "script-src 'unsafe-inline'; img-src 'self' data:");
  return NoStore(std::move(response));
}

}  // namespace thrifty::diststore
