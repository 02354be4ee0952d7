// ContinuationCalls: calls a connection's processor answers later, from any thread, without
// holding the thread that started them.
//
// A processor made for a connection (RpcServer's processor factory) may also implement this
// interface. The server then offers it each request a call worker takes from the connection's
// queue, before running it through the generated processor: a call it takes holds no thread
// while it waits (on another node, typically). Its reply goes out when `reply` runs; the
// connection's later requests wait for it, so replies stay in request order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "locator/rpc/call_buffer.h"

namespace thrifty::rpc {

class ContinuationCalls {
 public:
  // How a taken call ends: its whole reply frame, header included (ReplyFrame below, or
  // call_runner.h's ExceptionFrame). An empty frame closes the connection unanswered.
  using Reply = std::function<void(std::string frame)>;

  virtual ~ContinuationCalls() = default;

  // Called on a call worker with a complete request (payload, no length header), one request
  // of a connection at a time. Returns false to leave the call to the generated processor
  // (which also refuses what is malformed). True: the call is taken, and `reply` runs exactly
  // once, on any thread, possibly before this returns; it never blocks. It must not throw
  // (if it does, the error is logged and the connection closed).
  virtual bool start_call(const std::string& frame, Reply reply) = 0;
};

// The reply frame, header included, of the call `name`/`seqid` whose generated *_presult or
// *_result struct is `result` (its success or exception field set as the generated processor
// would).
template <class Result>
std::string ReplyFrame(const std::string& name, int32_t seqid, const Result& result) {
  return MessageFrame(name, apache::thrift::protocol::T_REPLY, seqid, result);
}

}  // namespace thrifty::rpc
