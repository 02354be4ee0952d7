#include "locator/discovery/etcd_client.h"

#include <chrono>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace thrifty::discovery {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// etcd's answers here are small; a range over a large prefix could be larger.
constexpr uint64_t kMaxAnswerBytes = 16 * 1024 * 1024;

}  // namespace

EtcdClient::EtcdClient(std::string host, int port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

std::string EtcdClient::address() const {
  const std::string name = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return "http://" + name + ":" + std::to_string(port_);
}

std::string EtcdClient::post(const char* path, const std::string& body) const {
  const std::string where = "etcd at " + address() + ", " + path;
  net::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
  if (ec) {
    throw EtcdError(EtcdError::Kind::kTransport, where + ": cannot resolve " + host_ + ": " +
                                                     ec.message());
  }

  bhttp::request<bhttp::string_body> request{bhttp::verb::post, path, 11};
  request.set(bhttp::field::host, address().substr(7));
  request.set(bhttp::field::content_type, "application/json");
  request.keep_alive(false);
  request.body() = body;
  request.prepare_payload();

  // The stream's one deadline bounds connect, write and read together: the operations run
  // on this thread's io_context, and expiry cancels whichever is pending.
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);
  beast::error_code failure;
  const char* stage = "connect";
  stream.expires_after(std::chrono::milliseconds(timeout_ms_));
  stream.async_connect(endpoints, [&](beast::error_code connect_ec, const tcp::endpoint&) {
    if (connect_ec) {
      failure = connect_ec;
      return;
    }
    stage = "send";
    bhttp::async_write(stream, request, [&](beast::error_code write_ec, size_t) {
      if (write_ec) {
        failure = write_ec;
        return;
      }
      stage = "answer";
      bhttp::async_read(stream, buffer, parser, [&](beast::error_code read_ec, size_t) {
        failure = read_ec;
      });
    });
  });
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  if (failure) {
    const std::string why = failure == beast::error::timeout
                                ? "no " + std::string(stage) + " within " +
                                      std::to_string(timeout_ms_) + " ms"
                                : std::string(stage) + ": " + failure.message();
    throw EtcdError(EtcdError::Kind::kTransport, where + ": " + why);
  }
  const auto& response = parser.get();
  if (response.result() != bhttp::status::ok) {
    const etcd_json::ErrorAnswer error = etcd_json::ParseErrorResponse(response.body());
    throw EtcdError(EtcdError::Kind::kAnswer,
                    where + ": HTTP " + std::to_string(response.result_int()) + ": " + error.message,
                    error.code);
  }
  return response.body();
}

EtcdLease EtcdClient::grant(int64_t ttl_s) const {
  return etcd_json::ParseGrantResponse(post("/v3/lease/grant", etcd_json::GrantRequest(ttl_s)));
}

void EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) const {
  post("/v3/kv/put", etcd_json::PutRequest(key, value, lease));
}

std::vector<EtcdKeyValue> EtcdClient::range_prefix(const std::string& prefix) const {
  return etcd_json::ParseRangeResponse(post("/v3/kv/range", etcd_json::RangePrefixRequest(prefix)));
}

int64_t EtcdClient::keep_alive(int64_t lease) const {
  return etcd_json::ParseKeepAliveResponse(
      post("/v3/lease/keepalive", etcd_json::LeaseRequest(lease)));
}

void EtcdClient::revoke(int64_t lease) const {
  try {
    post("/v3/lease/revoke", etcd_json::LeaseRequest(lease));
  } catch (const EtcdError& e) {
    if (!e.not_found()) throw;  // gone already: what revoking wanted
  }
}

bool EtcdClient::create_if_absent(const std::string& key, const std::string& value,
                                  int64_t lease) const {
  return etcd_json::ParseTxnResponse(
      post("/v3/kv/txn", etcd_json::CreateIfAbsentRequest(key, value, lease)));
}

bool EtcdClient::delete_if_value(const std::string& key, const std::string& value) const {
  return etcd_json::ParseTxnResponse(
      post("/v3/kv/txn", etcd_json::DeleteIfValueRequest(key, value)));
}

}  // namespace thrifty::discovery
