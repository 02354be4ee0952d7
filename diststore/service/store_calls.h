// StoreCalls: the Store processor of one connection (the node serves it with
// rpc::PerConnection): the generated processor over the connection's StoreHandler, plus every
// call that may wait on another node taken as a continuation call
// (locator/rpc/continuation_calls.h): a client's get, put, erase, multi_get and multi_put, and
// a peer's owner_put (with replicas, the records it asks this node to lead; records a newer
// view gives to other nodes are handed on) and owner_get (with one copy and keys moving, a
// fallback read asks the previous holders).
//
// Such a call holds no call worker while other nodes work: the worker starts it (the
// RequestRouter's *_async forms) and goes back to the pool, and the reply is written when the
// last answer comes, on a peer channel's loop thread. What stays on this node (the keys are
// this node's) is answered before start_call returns, on the worker. Every other call, and
// one that does not parse, names an unknown consistency level, or is a node-to-node call on a
// connection that has not proved the cluster key, runs through the generated processor as
// before (which refuses what is malformed or unauthorized).
//
// Replies are the generated processor's, byte for byte: the result struct with the declared
// exception set, or a TApplicationException for an undeclared one. Latencies go to the same
// histograms. One connection's calls come one at a time (ServerConnection), so its reader
// needs no lock.
#pragma once

#include <memory>
#include <string>

#include "Store.h"
#include "diststore/ops/store_latency.h"
#include "diststore/service/replication.h"
#include "diststore/service/store_handler.h"
#include "locator/metrics/latency_histogram.h"
#include "locator/rpc/call_runner.h"
#include "locator/rpc/channel_call.h"
#include "locator/rpc/continuation_calls.h"

namespace thrifty::diststore {

class StoreNode;

class StoreCalls : public wire::StoreProcessor, public rpc::ContinuationCalls {
 public:
  // `handler` is the connection's; its StoreNode must outlive every call started here (the
  // node stops its server and its peer channels before its parts go).
  explicit StoreCalls(std::shared_ptr<StoreHandler> handler);

  bool start_call(const std::string& frame, Reply reply) override;

 private:
  // Reads a call's arguments, sequence id and consistency level; false (the call is left to the
  // generated processor) if it does not parse or names an unknown level.
  template <class Args>
  bool read_call(const std::string& frame, const std::string& method, Args* args,
                 int32_t* seqid, Consistency* level);
  // Reads the call (read_call) and starts it: start(args, level, done), `done` writing the
  // reply of `method` (Result, with a Value unless Value is bool) and recording its latency.
  template <class Args, class Result, class Value, class Start>
  bool take(const std::string& frame, const char* method, metrics::LatencyHistogram* latency,
            Reply& reply, Start start);
  bool start_get(const std::string& frame, Reply& reply);
  bool start_put(const std::string& frame, Reply& reply);
  bool start_erase(const std::string& frame, Reply& reply);
  bool start_multi_get(const std::string& frame, Reply& reply);
  bool start_multi_put(const std::string& frame, Reply& reply);
  bool start_owner_put(const std::string& frame, Reply& reply);
  bool start_owner_get(const std::string& frame, Reply& reply);

  std::shared_ptr<StoreHandler> handler_;
  StoreNode& store_;
  rpc::CallArgsReader reader_;
};

}  // namespace thrifty::diststore
