// StoreCalls: the Store processor of one client connection (the node serves it with
// rpc::PerConnection): the generated processor over the connection's StoreHandler, plus `get`,
// `put` and `erase` taken as continuation calls (locator/rpc/continuation_calls.h).
//
// A get, put or erase the RequestRouter forwards to the key's owner then holds no call worker while
// the owner works: the worker starts it (RequestRouter::get_async / put_async / erase_async) and goes back to
// the pool, and the reply is written when the owner's answer comes, on the peer channel's loop
// thread. What stays on this node (the key is this node's) is answered before start_call
// returns, on the worker. Every other call, and a get or put that does not parse, runs through
// the generated processor as before (which refuses what is malformed).
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
  bool start_get(const std::string& frame, Reply& reply);
  bool start_put(const std::string& frame, Reply& reply);
  bool start_erase(const std::string& frame, Reply& reply);
  // The completion of a put or erase: writes `Result` (or its declared exception) to `reply`
  // and records the latency under `op`.
  template <class Result>
  rpc::OutcomeHandler<bool> write_reply(const std::string& method, int32_t seqid, ClientOp op,
                                        Reply& reply);

  std::shared_ptr<StoreHandler> handler_;
  StoreNode& store_;
  rpc::CallArgsReader reader_;
};

}  // namespace thrifty::diststore
