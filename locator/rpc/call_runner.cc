#include "locator/rpc/call_runner.h"

#include <cstring>

#include <glog/logging.h>
#include <thrift/TApplicationException.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

#include "locator/rpc/call_buffer.h"
#include "locator/rpc/checked_binary_protocol.h"
#include "locator/rpc/framed_transport.h"

namespace thrifty::rpc {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TBufferBase;
using apache::thrift::transport::TTransportException;

CallRunner::CallRunner(std::shared_ptr<apache::thrift::TProcessor> processor,
                       const RpcLimits& limits, std::shared_ptr<RpcCounters> counters,
                       std::string peer)
    : processor_(std::move(processor)),
      counters_(std::move(counters)),
      peer_(std::move(peer)),
      in_(std::make_shared<CallBuffer>(MakeConfiguration(limits))),
      out_(std::make_shared<CallBuffer>(MakeConfiguration(limits))) {
  in_protocol_ = std::make_shared<CheckedBinaryProtocol<TBufferBase>>(
      in_, limits.max_string_bytes, limits.max_container_elements, Receives::kCalls);
  out_protocol_ = std::make_shared<CheckedBinaryProtocol<TBufferBase>>(
      out_, limits.max_string_bytes, limits.max_container_elements, Receives::kCalls);
}

CallRunner::~CallRunner() = default;

bool CallRunner::run(const std::string& frame, std::string* reply) {
  const auto peer = [this] { return peer_; };
  in_->set_read(frame);
  out_->start_frame(std::move(*reply));
  bool keep = false;
  try {
    keep = processor_->process(in_protocol_, out_protocol_, nullptr);
    // TDispatchProcessor's answer to a message that is not a call (the protocol refuses
    // those first; this stays in case it does not).
    if (!keep) counters_->refused(RpcCounters::kProtocolError, peer, "a message that is not a call");
  } catch (const FrameOverrun& e) {
    counters_->refused(RpcCounters::kFrameOverrun, peer, e.what());
  } catch (const TProtocolException& e) {
    counters_->refused(RpcCounters::kProtocolError, peer, e.what());
  } catch (const TTransportException& e) {
    // The message-size budget ("MaxMessageSize reached"): a declaration larger than the frame.
    counters_->refused(RpcCounters::kProtocolError, peer, e.what());
  } catch (const std::exception& e) {
    LOG(ERROR) << "a call from " << peer_ << " failed outside its handler: " << e.what();
  }
  in_->clear_read();
  *reply = out_->take_frame();
  // A refused request's partial reply is not sent: the connection just closes.
  if (!keep) reply->clear();
  return keep;
}

CallArgsReader::CallArgsReader(const RpcLimits& limits)
    : in_(std::make_shared<CallBuffer>(MakeConfiguration(limits))) {
  protocol_ = std::make_shared<CheckedBinaryProtocol<TBufferBase>>(
      in_, limits.max_string_bytes, limits.max_container_elements, Receives::kCalls);
}

CallArgsReader::~CallArgsReader() = default;

bool CallArgsReader::begin(const std::string& frame, const std::string& method) {
  in_->set_read(frame);
  try {
    std::string name;
    apache::thrift::protocol::TMessageType type;
    seqid_ = 0;
    protocol_->readMessageBegin(name, type, seqid_);
    if (name == method) return true;
  } catch (const std::exception&) {
  }
  in_->clear_read();
  return false;
}

bool CallArgsReader::finish(bool ok) {
  try {
    if (ok) protocol_->readMessageEnd();
    if (ok) in_->readEnd();
  } catch (const std::exception&) {
    ok = false;
  }
  in_->clear_read();
  return ok;
}

std::string ExceptionFrame(const std::string& name, int32_t seqid, const std::string& message,
                           TApplicationException::TApplicationExceptionType type) {
  return MessageFrame(name, apache::thrift::protocol::T_EXCEPTION, seqid,
                      TApplicationException(type, message));
}

}  // namespace thrifty::rpc
