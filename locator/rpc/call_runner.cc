#include "locator/rpc/call_runner.h"

#include <cstring>

#include <glog/logging.h>
#include <thrift/TApplicationException.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

#include "locator/rpc/checked_binary_protocol.h"
#include "locator/rpc/framed_transport.h"

namespace thrifty::rpc {

using apache::thrift::TApplicationException;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TBufferBase;
using apache::thrift::transport::TTransportException;

namespace {

// The frame header: the payload's size, big-endian, in the 4 bytes at `out`.
void PutFrameSize(char* out, size_t size) {
  const auto n = static_cast<uint32_t>(size);
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
}

}  // namespace

// A transport over memory: reads one request frame (borrowed, not copied), writes one reply
// into a string that starts with room for the frame header.
class CallBuffer : public apache::thrift::transport::TVirtualTransport<CallBuffer, TBufferBase> {
 public:
  explicit CallBuffer(std::shared_ptr<apache::thrift::TConfiguration> config)
      : TVirtualTransport(std::move(config)) {}

  bool isOpen() const override { return true; }
  void open() override {}
  void close() override {}

  void set_request(const std::string& frame) {
    auto* data = reinterpret_cast<uint8_t*>(const_cast<char*>(frame.data()));
    setReadBuffer(data, static_cast<uint32_t>(frame.size()));
    // Every frame gets the whole message-size budget (see framed_transport.h).
    resetConsumedMessageSize();
  }
  void clear_request() { setReadBuffer(nullptr, 0); }

  // Starts a reply in `storage` (its capacity is reused).
  void start_reply(std::string storage) {
    reply_ = std::move(storage);
    reply_.resize(std::max<size_t>(reply_.capacity(), 256));
    auto* base = reinterpret_cast<uint8_t*>(reply_.data());
    setWriteBuffer(base + 4, static_cast<uint32_t>(reply_.size() - 4));
  }
  // The reply written since start_reply(), as a frame (empty if nothing was written).
  std::string take_reply() {
    const auto* base = reinterpret_cast<uint8_t*>(reply_.data());
    const size_t size = static_cast<size_t>(wBase_ - base) - 4;
    if (size == 0) {
      reply_.clear();
    } else {
      reply_.resize(size + 4);
      PutFrameSize(reply_.data(), size);
    }
    setWriteBuffer(nullptr, 0);
    return std::move(reply_);
  }

  uint32_t readEnd() override {
    const auto left = static_cast<uint32_t>(rBound_ - rBase_);
    if (left > 0) {
      rBase_ = rBound_;
      throw FrameOverrun(std::to_string(left) + " bytes after the end of the message in its frame");
    }
    return 0;
  }

 protected:
  uint32_t readSlow(uint8_t*, uint32_t) override {
    throw FrameOverrun("message runs past the end of its frame");
  }
  const uint8_t* borrowSlow(uint8_t*, uint32_t*) override { return nullptr; }
  void writeSlow(const uint8_t* buf, uint32_t len) override {
    auto* base = reinterpret_cast<uint8_t*>(reply_.data());
    const size_t used = static_cast<size_t>(wBase_ - base);
    reply_.resize(std::max(reply_.size() * 2, used + len));
    base = reinterpret_cast<uint8_t*>(reply_.data());
    std::memcpy(base + used, buf, len);
    setWriteBuffer(base + used + len, static_cast<uint32_t>(reply_.size() - used - len));
  }

 private:
  std::string reply_;
};

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
  in_->set_request(frame);
  out_->start_reply(std::move(*reply));
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
  in_->clear_request();
  *reply = out_->take_reply();
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
  in_->set_request(frame);
  try {
    std::string name;
    apache::thrift::protocol::TMessageType type;
    int32_t seqid = 0;
    protocol_->readMessageBegin(name, type, seqid);
    if (name == method) return true;
  } catch (const std::exception&) {
  }
  in_->clear_request();
  return false;
}

bool CallArgsReader::finish(bool ok) {
  try {
    if (ok) protocol_->readMessageEnd();
    if (ok) in_->readEnd();
  } catch (const std::exception&) {
    ok = false;
  }
  in_->clear_request();
  return ok;
}

std::string ExceptionFrame(const std::string& name, int32_t seqid, const std::string& message) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  protocol.writeMessageBegin(name, apache::thrift::protocol::T_EXCEPTION, seqid);
  TApplicationException(TApplicationException::PROTOCOL_ERROR, message).write(&protocol);
  protocol.writeMessageEnd();
  std::string out(4, '\0');
  buffer->appendBufferToString(out);
  PutFrameSize(out.data(), out.size() - 4);
  return out;
}

}  // namespace thrifty::rpc
