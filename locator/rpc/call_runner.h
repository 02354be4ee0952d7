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

#include <thrift/TApplicationException.h>
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

// Reads the arguments of a request frame before it runs, with the checks and limits a
// CallRunner applies: for deciding where a request runs (ServerOptions::runs_inline). Not
// thread-safe: one per thread.
class CallArgsReader {
 public:
  explicit CallArgsReader(const RpcLimits& limits);
  ~CallArgsReader();

  CallArgsReader(const CallArgsReader&) = delete;
  CallArgsReader& operator=(const CallArgsReader&) = delete;

  // Reads the call in `frame` (payload, no length header) into `args`, a generated *_args
  // struct of the method `method`. False, with `args` in an unspecified state, if the frame is
  // not a well-formed call of that method (a worker running it refuses it properly).
  template <class Args>
  bool read(const std::string& frame, const std::string& method, Args* args) {
    if (!begin(frame, method)) return false;
    bool ok = false;
    try {
      args->read(protocol_.get());
      ok = true;
    } catch (const std::exception&) {
    }
    return finish(ok);
  }
  // The sequence id of the call read last (its reply must carry it).
  int32_t seqid() const { return seqid_; }

 private:
  bool begin(const std::string& frame, const std::string& method);
  bool finish(bool ok);

  std::shared_ptr<CallBuffer> in_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol_;
  int32_t seqid_ = 0;
};

// A reply frame carrying a TApplicationException for `name`/`seqid`: how a request refused
// before it could be read (an oversized frame) is answered (PROTOCOL_ERROR), and how a
// continuation call answers a failure its method does not declare (UNKNOWN, as the generated
// processor does).
std::string ExceptionFrame(
    const std::string& name, int32_t seqid, const std::string& message,
    apache::thrift::TApplicationException::TApplicationExceptionType type =
        apache::thrift::TApplicationException::PROTOCOL_ERROR);

}  // namespace thrifty::rpc
