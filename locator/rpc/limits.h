// RpcLimits: the input limits every Thrift server and client of thrifty runs with.
//
// Thrift 0.17's defaults are unsafe (unbounded string and container sizes, a 100 MiB message
// limit, frame limits that its transport factories do not pass on), so every transport and
// protocol in thrifty is made by the functions below and nowhere else.
#pragma once

#include <cstdint>
#include <memory>

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransport.h>

#include "locator/rpc/framed_transport.h"

namespace thrifty::rpc {

struct RpcLimits {
  // Largest frame (one whole request or reply). A frame header above it closes the
  // connection before anything is allocated: this is what turns an HTTP request or a TLS
  // ClientHello sent to the port (read as a ~1 GB / ~369 MB frame) into a cheap refusal.
  // A client also sends no request over it (a server with these limits would refuse it).
  int32_t max_frame_bytes = kFrameLimitFloor;
  // Largest single string/binary inside a message. A message declaring a longer one is refused
  // before anything is allocated for it.
  int32_t max_string_bytes = 64 << 20;
  // Largest list/map/set element count.
  int32_t max_container_elements = 65536;
  int32_t max_recursion_depth = 64;

  // Limits sized for values of up to `max_value_bytes`.
  static RpcLimits ForValueSize(int64_t max_value_bytes);
};

std::shared_ptr<apache::thrift::TConfiguration> MakeConfiguration(const RpcLimits& limits);

// A client's framed transport over `inner`, with the limits applied (0.17's
// TFramedTransportFactory drops them): one message per frame, frames read and sent of up to
// max_frame_bytes (see framed_transport.h).
std::shared_ptr<FramedTransport> MakeFramedTransport(
    std::shared_ptr<apache::thrift::transport::TTransport> inner, const RpcLimits& limits);

// A client's binary protocol with string and container limits, specialised for a framed
// (buffered) transport so reads and writes skip the virtual transport calls. It reads replies
// only.
std::shared_ptr<apache::thrift::protocol::TProtocol> MakeBinaryProtocol(
    std::shared_ptr<apache::thrift::transport::TFramedTransport> transport,
    const RpcLimits& limits);

// A server's transports and protocols: as above, except that replies are sent whatever their
// size (the client's limit is the client's concern) and only calls are read.
std::shared_ptr<apache::thrift::transport::TTransportFactory> MakeFramedTransportFactory(
    const RpcLimits& limits);
std::shared_ptr<apache::thrift::protocol::TProtocolFactory> MakeBinaryProtocolFactory(
    const RpcLimits& limits);

}  // namespace thrifty::rpc
