// Test helpers: a blocking HTTP/1.1 client for 127.0.0.1 only, with a deadline on everything,
// and a way to send raw bytes. Never follows redirects or reuses connections.
#pragma once

#include <map>
#include <string>

namespace thrifty::testing {

struct HttpReply {
  int status = 0;                              // 0: no answer (refused, closed, timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;  // why status is 0
};

// Sends `request` (raw bytes) to 127.0.0.1:port and reads until the server closes the
// connection or `timeout_ms` passes, then parses what came back as one HTTP response.
HttpReply HttpExchange(int port, const std::string& request, int timeout_ms = 5000);

// GET (or another method) of `path` with "Connection: close".
HttpReply HttpGet(int port, const std::string& path, int timeout_ms = 5000,
                  const std::string& method = "GET");

}  // namespace thrifty::testing
