// EtcdClient: the etcd v3 calls discovery makes, over etcd's JSON gateway (HTTP/1.1 POST to
// /v3/..., bodies from etcd_json.h).
//
// Each call opens its own connection (Connection: close) and is bounded by `timeout_ms` from
// connect to the last byte of the answer; a host name is resolved first by the system resolver
// (with its own timeouts). Calls block the calling thread; the client holds no mutable state,
// so any thread may call it at any time. Every failure throws EtcdError whose message names
// etcd's address and the call: kTransport when etcd could not be reached or did not answer in
// time, kAnswer when it answered with an error, kMalformed when the answer made no sense.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "locator/discovery/etcd_error.h"
#include "locator/discovery/etcd_json.h"

namespace thrifty::discovery {

class EtcdClient {
 public:
  // `host` without brackets (an IPv6 address is bracketed in the Host header).
  EtcdClient(std::string host, int port, int timeout_ms = 2000);

  // A lease of `ttl_s` seconds.
  EtcdLease grant(int64_t ttl_s) const;
  // Puts key=value, attached to `lease` (0: none). kAnswer not_found() if the lease is gone.
  void put(const std::string& key, const std::string& value, int64_t lease) const;
  // Every key starting with `prefix`, by key.
  std::vector<EtcdKeyValue> range_prefix(const std::string& prefix) const;
  // Renews `lease` once; returns its TTL in seconds, 0 if etcd no longer has it.
  int64_t keep_alive(int64_t lease) const;
  // Revokes `lease`: every key attached to it is deleted. A lease already gone is no error.
  void revoke(int64_t lease) const;
  // Puts key=value under `lease` if the key does not exist; true if it was put.
  bool create_if_absent(const std::string& key, const std::string& value, int64_t lease) const;
  // Deletes the key if it holds `value`; true if it did.
  bool delete_if_value(const std::string& key, const std::string& value) const;

  // "http://HOST:PORT", as error messages name it.
  std::string address() const;

 private:
  // POSTs `body` to `path`; returns the body of a 200 answer, throws EtcdError otherwise.
  std::string post(const char* path, const std::string& body) const;

  std::string host_;
  int port_;
  int timeout_ms_;
};

}  // namespace thrifty::discovery
