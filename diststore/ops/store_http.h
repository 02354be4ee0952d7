// StoreHttp: a store node's HTTP endpoint (storeserver --http-port), on an HttpServer of its
// own threads:
//   /metrics      the node's stats and latency histograms in the Prometheus text format
//                 (store_metrics.h)
//   /health       200 "serving", or 503 "joining" / "draining" / "stopped": one line
//   /status.json  members, ring and request rates (status_report.h)
//   /             the status page (status_page.h)
// Owned by StoreNode, which constructs it (binding the port) before it joins and stops it
// before anything its handlers read goes away.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "diststore/ops/status_report.h"
#include "locator/http/http_server.h"

namespace thrifty::diststore {

class StoreNode;

// The version /metrics (thrifty_build_info) and /status.json report.
const char* ThriftyVersion();

class StoreHttp {
 public:
  // Binds options.bind_address:options.port (std::runtime_error if it cannot). `store` must
  // outlive this object.
  StoreHttp(StoreNode& store, http::HttpOptions options);
  StoreHttp(const StoreHttp&) = delete;
  StoreHttp& operator=(const StoreHttp&) = delete;

  void start() { server_.start(); }
  void stop() { server_.stop(); }
  int port() const { return server_.port(); }
  // "http://ADDRESS:PORT/"
  std::string url() const;
  // The server's counters (http_*), part of the node's stats.
  std::map<std::string, int64_t> stats() const { return server_.stats(); }

 private:
  http::HttpResponse metrics();
  http::HttpResponse health();
  http::HttpResponse status_json();
  http::HttpResponse status_page();

  StoreNode& store_;
  const double start_time_seconds_;
  StatusReport report_;
  http::HttpServer server_;  // last: its threads stop before the rest goes
};

}  // namespace thrifty::diststore
