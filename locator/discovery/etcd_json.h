// The JSON of etcd v3's gRPC gateway (POST /v3/...), for the calls discovery makes: request
// bodies built, answers parsed. No network here (etcd_client.h sends them).
//
// The gateway's conventions: keys and values are base64 strings; 64-bit integers (lease IDs,
// TTLs, revisions) are decimal strings on the way out, and are accepted as strings or numbers
// on the way in; fields at their default (0, false, empty) are left out of answers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace thrifty::discovery {

struct EtcdKeyValue {
  std::string key;    // decoded bytes
  std::string value;  // decoded bytes
  int64_t lease = 0;  // 0: none
  int64_t create_revision = 0;
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl_s = 0;  // what etcd granted (it raises a TTL below its minimum)
};

// etcd's range_end for every key that starts with `prefix`: the prefix with its last byte that
// is not 0xff increased and the bytes after it dropped. "\0" (every key) for an empty or all-0xff
// prefix.
std::string PrefixRangeEnd(const std::string& prefix);

namespace etcd_json {

// /v3/lease/grant: {"TTL":"<ttl_s>"}
std::string GrantRequest(int64_t ttl_s);
// /v3/kv/put: {"key":..,"value":..,"lease":"<id>"} ("lease" left out when 0).
std::string PutRequest(const std::string& key, const std::string& value, int64_t lease);
// /v3/kv/range over every key that starts with `prefix`: {"key":..,"range_end":..}.
std::string RangePrefixRequest(const std::string& prefix);
// /v3/lease/keepalive and /v3/lease/revoke: {"ID":"<id>"}.
std::string LeaseRequest(int64_t lease);
// /v3/kv/txn: put key=value under `lease` only if the key does not exist (create_revision 0).
std::string CreateIfAbsentRequest(const std::string& key, const std::string& value, int64_t lease);
// /v3/kv/txn: delete the key only if it holds `value`.
std::string DeleteIfValueRequest(const std::string& key, const std::string& value);

// Answers. Each throws EtcdError (kMalformed) when `body` is not the JSON expected.
EtcdLease ParseGrantResponse(const std::string& body);
// The key-values found, in etcd's order (by key).
std::vector<EtcdKeyValue> ParseRangeResponse(const std::string& body);
// The lease's remaining TTL in seconds; 0 when etcd no longer has the lease. The gateway streams
// {"result":{...}} objects (or {"error":{...}}, which throws EtcdError kAnswer); the first counts.
int64_t ParseKeepAliveResponse(const std::string& body);
// Whether the transaction's compare held (and its success branch ran).
bool ParseTxnResponse(const std::string& body);

// An error answer: {"error":"..","message":"..","code":N}, as the gateway returns with a non-200
// status ({"message":..,"grpc_code":N} inside a streamed {"error":..}). Fills what it finds; `message` is the body itself (cut to 200 bytes) if it is not
// such JSON. Never throws.
struct ErrorAnswer {
  int code = 0;
  std::string message;
};
ErrorAnswer ParseErrorResponse(const std::string& body);

}  // namespace etcd_json
}  // namespace thrifty::discovery
