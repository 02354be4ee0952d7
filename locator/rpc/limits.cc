#include "locator/rpc/limits.h"

#include <algorithm>

#include <thrift/transport/TBufferTransports.h>

#include "locator/rpc/checked_binary_protocol.h"

namespace thrifty::rpc {

using apache::thrift::TConfiguration;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TProtocolFactory;
using apache::thrift::transport::TBufferBase;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TTransport;
using apache::thrift::transport::TTransportFactory;

RpcLimits RpcLimits::ForValueSize(int64_t max_value_bytes) {
  RpcLimits limits;
  const int64_t frame_limit = std::max<int64_t>(4 * max_value_bytes + (1 << 20), kFrameLimitFloor);
  const int64_t cap = (int64_t{1} << 30);  // stay far below int32 overflow in Thrift's checks
  limits.max_frame_bytes = static_cast<int32_t>(std::min(frame_limit, cap));
  // A whole frame is in memory before it is parsed, so a string limit below the frame limit
  // would save nothing; equal to it, any value that fits a frame reaches the handler and an
  // oversized one gets a StoreError naming the store's limit instead of a dropped connection.
  limits.max_string_bytes = limits.max_frame_bytes;
  return limits;
}

std::shared_ptr<TConfiguration> MakeConfiguration(const RpcLimits& limits) {
  return std::make_shared<TConfiguration>(limits.max_frame_bytes, limits.max_frame_bytes,
                                          limits.max_recursion_depth);
}

namespace {

std::shared_ptr<FramedTransport> NewFramedTransport(std::shared_ptr<TTransport> inner,
                                                    const RpcLimits& limits,
                                                    uint32_t max_request_bytes) {
  return std::make_shared<FramedTransport>(std::move(inner), MakeConfiguration(limits),
                                           static_cast<uint32_t>(limits.max_frame_bytes),
                                           max_request_bytes);
}

class LimitedFramedTransportFactory : public TTransportFactory {
 public:
  explicit LimitedFramedTransportFactory(const RpcLimits& limits) : limits_(limits) {}
  std::shared_ptr<TTransport> getTransport(std::shared_ptr<TTransport> inner) override {
    return NewFramedTransport(std::move(inner), limits_, /*max_request_bytes=*/0);
  }

 private:
  RpcLimits limits_;
};

// Servers get their transports from MakeFramedTransportFactory: buffered, so the protocol reads
// them without a virtual call per field.
class CheckedBinaryProtocolFactory : public TProtocolFactory {
 public:
  explicit CheckedBinaryProtocolFactory(const RpcLimits& limits) : limits_(limits) {}
  std::shared_ptr<TProtocol> getProtocol(std::shared_ptr<TTransport> transport) override {
    if (auto buffered = std::dynamic_pointer_cast<TBufferBase>(transport)) {
      return std::make_shared<CheckedBinaryProtocol<TBufferBase>>(
          std::move(buffered), limits_.max_string_bytes, limits_.max_container_elements,
          Receives::kCalls);
    }
    return std::make_shared<CheckedBinaryProtocol<TTransport>>(
        std::move(transport), limits_.max_string_bytes, limits_.max_container_elements,
        Receives::kCalls);
  }

 private:
  RpcLimits limits_;
};

}  // namespace

std::shared_ptr<FramedTransport> MakeFramedTransport(std::shared_ptr<TTransport> inner,
                                                     const RpcLimits& limits) {
  return NewFramedTransport(std::move(inner), limits, static_cast<uint32_t>(limits.max_frame_bytes));
}

std::shared_ptr<TProtocol> MakeBinaryProtocol(std::shared_ptr<TFramedTransport> transport,
                                              const RpcLimits& limits) {
  return std::make_shared<CheckedBinaryProtocol<TBufferBase>>(
      std::move(transport), limits.max_string_bytes, limits.max_container_elements,
      Receives::kReplies);
}

std::shared_ptr<TTransportFactory> MakeFramedTransportFactory(const RpcLimits& limits) {
  return std::make_shared<LimitedFramedTransportFactory>(limits);
}

std::shared_ptr<TProtocolFactory> MakeBinaryProtocolFactory(const RpcLimits& limits) {
  return std::make_shared<CheckedBinaryProtocolFactory>(limits);
}

}  // namespace thrifty::rpc
