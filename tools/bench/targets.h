// The two systems storebench drives, behind one small interface.
//
// A Slot is one benchmark connection: it carries one request at a time. A thrifty slot holds
// one Thrift connection (direct: to the entry node, which forwards) or one connection per
// ring node (ring-aware: each key goes straight to its owner; a batch is split per owner and
// the parts travel in parallel). A Redis slot holds one hiredis context; a batch is N
// pipelined GET or SET commands. A memcached slot holds one TCP connection speaking the text
// protocol; a GET batch is one multi-key `get`, a PUT batch N pipelined `set` commands. Sending never waits for the reply, so one thread can keep
// many slots busy: it polls the sockets of the slots it drives and reads the replies that
// arrived, like redis-benchmark's event loop.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <thrift/transport/TSocket.h>

#include "Store.h"
#include "locator/rpc/connect.h"
#include "locator/rpc/limits.h"
#include "locator/service/ring.h"

namespace thrifty::bench {

// A failure that ends the run (a connection lost or refused, a malformed reply).
class FatalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The Consistency named `text` ("one", "quorum", "all", "default"; any case). Throws
// FatalError naming the levels.
diststore::wire::Consistency::type ParseConsistencyName(const std::string& text);

// Key i of the benchmark keyspace: "key:" + 12 decimal digits (16 bytes, like
// redis-benchmark's key:__rand_int__). Writes into `out`, reusing its capacity.
void FormatKey(uint64_t index, std::string* out);
std::string KeyName(uint64_t index);

enum class OpKind { kGet, kPut };

// What a slot is asked to do: one request over `count` keys starting at `keys`.
struct Request {
  OpKind kind = OpKind::kGet;
  const uint64_t* keys = nullptr;
  size_t count = 0;
};

// Counted per finished request.
struct Outcome {
  uint64_t misses = 0;  // GET of a key that has no value
  uint64_t errors = 0;  // the server refused (StoreError, Redis error reply)
};

class Slot {
 public:
  virtual ~Slot() = default;
  // Sends the request without waiting. The slot must be idle. Throws FatalError.
  virtual void send(const Request& request) = 0;
  // Channels with a reply outstanding (indexes for fd() and receive()).
  virtual const std::vector<int>& pending() const = 0;
  virtual int fd(int channel) const = 0;
  // Reads the reply of `channel` (blocking until it is whole). Returns true when the whole
  // request is done (every channel answered). Adds to `outcome`. Throws FatalError.
  virtual bool receive(int channel, Outcome* outcome) = 0;
};

// ---- thrifty ----

struct ThriftTarget {
  locator::wire::Location entry;            // --peer
  bool ring_aware = false;
  // Sent with every get/put/multi_get/multi_put (--consistency); DEFAULT: the node's default.
  diststore::wire::Consistency::type consistency = diststore::wire::Consistency::DEFAULT;
  int connect_timeout_ms = 2000;
  int call_timeout_ms = 10000;
  rpc::RpcLimits limits;
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls;  // --tls-*; null: plain TCP
  // Filled by Resolve(): the nodes slots connect to (direct: just `entry`) and, ring-aware,
  // the ring that maps keys to them.
  std::vector<locator::wire::Location> nodes;
  std::shared_ptr<const locator::Ring> ring;
  size_t cluster_nodes = 0;  // ring members the entry node knows
};

// A connected Thrift client of one node.
using ThriftConnection = rpc::ThriftConnection<diststore::wire::StoreClient>;
// Throws FatalError naming the node when it cannot be reached.
ThriftConnection ConnectThrift(const locator::wire::Location& node, const ThriftTarget& target);

// The ring members of the cluster as `entry` sees them, and its placement.
locator::wire::View FetchView(const ThriftTarget& target);
std::vector<locator::wire::Member> RingMembers(const locator::wire::View& view);

// Fetches the view (ring-aware) and fills target->nodes / target->ring. Throws FatalError.
void Resolve(ThriftTarget* target);

std::unique_ptr<Slot> MakeThriftSlot(const ThriftTarget& target, const std::string* value);

// ---- Redis ----

struct RedisTarget {
  std::string host = "127.0.0.1";
  int port = 6379;
  int connect_timeout_ms = 2000;
  int call_timeout_ms = 10000;
  // > 0: every PUT request (its SETs) is followed by `WAIT wait_replicas 0` in the same
  // pipeline, so a PUT is done once that many replicas acknowledged it (--redis-wait).
  int wait_replicas = 0;
};

bool RedisSupported();  // false when built without hiredis
// Throws FatalError when Redis cannot be reached. With wait_replicas, a WAIT that answers fewer
// replicas than asked counts as an error of its request (WAIT with timeout 0 blocks until
// enough replicas acknowledged, so a Redis with too few replicas fails the run at
// call_timeout_ms instead).
std::unique_ptr<Slot> MakeRedisSlot(const RedisTarget& target, const std::string* value);

// ---- memcached (text protocol, no client library: see MakeMemcachedSlot) ----

struct MemcachedTarget {
  std::string host = "127.0.0.1";
  int port = 11211;
  int connect_timeout_ms = 2000;
  int call_timeout_ms = 10000;
};

// One connection to memcached, checked with `version`; throws FatalError when memcached cannot
// be reached or does not answer like memcached. A GET of N keys is one `get K1 .. KN` (a miss
// is a key without a VALUE), a PUT of N keys N pipelined `set K 0 0 LEN`; an error reply
// (ERROR, CLIENT_ERROR, SERVER_ERROR, NOT_STORED) counts as an error of that request.
// libmemcached is not used: its set waits for the reply (buffered sets give up per-request
// replies) and its API gives no socket to poll, so one thread could not keep many connections
// busy the way the other targets do.
std::unique_ptr<Slot> MakeMemcachedSlot(const MemcachedTarget& target, const std::string* value);

}  // namespace thrifty::bench
