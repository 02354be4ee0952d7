// CallRunner: runs one connection's request frames through its Thrift processor, in memory.
//
// The event loop (rpc_server.h) cuts frames off the socket; this turns each into a reply frame
// with the generated processor, through a binary protocol with thrifty's limits
// (checked_binary_protocol.h) over a buffer that holds exactly that frame: a message that runs
// past its frame, or stops short of it, is refused before the handler runs.
//
// A request refused for what it holds (a frame overrun, a malformed or unexpected message) is
// counted in RpcCounters and logged with the peer, and the connection is to be closed.
//
// Not thread-safe: the server runs one connection's requests one after another, on whichever
// thread, never two at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/TProcessor.h>

#include "locator/rpc/limits.h"
#include "locator/rpc/rpc_counters.h"

namespace thrifty::rpc {

class CallBuffer;

class CallRunner {
 public:
  CallRunner(std::shared_ptr<apache::thrift::TProcessor> processor, const RpcLimits& limits,
             std::shared_ptr<RpcCounters> counters, std::string peer);
  ~CallRunner();

  CallRunner(const CallRunner&) = delete;
  CallRunner& operator=(const CallRunner&) = delete;

  // Runs the request in `frame` (its payload, without the length header). On return `*reply`
  // holds the whole reply frame, header included (empty if the call has no answer). Returns
  // false if the connection must be closed after `*reply` is sent.
  bool run(const std::string& frame, std::string* reply);

  const std::string& peer() const { return peer_; }

 private:
  std::shared_ptr<apache::thrift::TProcessor> processor_;
  std::shared_ptr<RpcCounters> counters_;
  std::string peer_;
  std::shared_ptr<CallBuffer> in_;
  std::shared_ptr<CallBuffer> out_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> in_protocol_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> out_protocol_;
};

// A reply frame carrying a TApplicationException for `name`/`seqid`: how a request refused
// before it could be read (an oversized frame) is answered.
std::string ExceptionFrame(const std::string& name, int32_t seqid, const std::string& message);

}  // namespace thrifty::rpc
