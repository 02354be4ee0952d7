// ChannelCall: one typed Thrift call over a PeerChannel, or over the FrameSender a prologue
// is given.
//
// `send(client)` runs the generated client's send_* half into memory (on the caller's
// thread); the frame goes out on the channel; `recv(client)` runs the recv_* half over the
// reply (on the channel's loop thread) and returns the result (a void call returns anything,
// e.g. true). `done` gets the result, or the exception: the channel's (TTransportException,
// ChannelRefused), a declared exception of the method, a TApplicationException, or a
// TProtocolException for a malformed reply. The reply is read with the checked binary protocol
// and the channel's limits, like the blocking clients' replies.
//
// `done` runs once, on the channel's loop thread (or on the caller's, before ChannelCall
// returns, when the call is refused or cannot be written); it must not block.
#pragma once

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "locator/rpc/call_buffer.h"
#include "locator/rpc/checked_binary_protocol.h"
#include "locator/rpc/limits.h"
#include "locator/rpc/peer_channel.h"

namespace thrifty::rpc {

// A call's result, or why there is none.
template <class Result>
struct Outcome {
  std::optional<Result> value;
  std::exception_ptr error;  // set when value is empty
};

template <class Result>
using OutcomeHandler = std::function<void(Outcome<Result>)>;

// Runs `call` here: its result, or the exception it threw.
template <class Result, class Call>
Outcome<Result> OutcomeOf(Call&& call) {
  Outcome<Result> outcome;
  try {
    outcome.value.emplace(call());
  } catch (...) {
    outcome.error = std::current_exception();
  }
  return outcome;
}

// Starts an asynchronous operation with `start` (which passes its handler on) and waits here
// for its outcome: returns the result or throws the error. Never on the thread that would
// complete it (a channel loop).
template <class Result>
Result AwaitOutcome(const std::function<void(OutcomeHandler<Result>)>& start) {
  auto promise = std::make_shared<std::promise<Result>>();
  std::future<Result> future = promise->get_future();
  start([promise](Outcome<Result> outcome) {
    if (outcome.value) {
      promise->set_value(std::move(*outcome.value));
    } else {
      promise->set_exception(outcome.error);
    }
  });
  return future.get();
}

namespace internal {

// A generated client over one in-memory buffer: writes a request, then reads its reply.
template <class Client>
struct ClientCodec {
  explicit ClientCodec(const RpcLimits& limits)
      : buffer(std::make_shared<CallBuffer>(MakeConfiguration(limits))),
        protocol(std::make_shared<CheckedBinaryProtocol<apache::thrift::transport::TBufferBase>>(
            buffer, limits.max_string_bytes, limits.max_container_elements, Receives::kReplies)),
        client(protocol, protocol) {}
  std::shared_ptr<CallBuffer> buffer;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol;
  Client client;
};

}  // namespace internal

template <class Client, class Result, class Send, class Recv>
void ChannelCall(const FrameSender& sender, const RpcLimits& limits, Send send, Recv recv,
                 OutcomeHandler<Result> done) {
  auto codec = std::make_shared<internal::ClientCodec<Client>>(limits);
  std::string request;
  try {
    codec->buffer->start_frame(std::string());
    send(codec->client);
    request = codec->buffer->take_frame();
  } catch (...) {
    done(Outcome<Result>{std::nullopt, std::current_exception()});
    return;
  }
  sender(std::move(request), [codec, recv = std::move(recv), done = std::move(done)](
                                 std::exception_ptr error, std::string reply) {
    Outcome<Result> outcome;
    if (error) {
      outcome.error = std::move(error);
    } else {
      try {
        codec->buffer->set_read(reply);
        outcome.value.emplace(recv(codec->client));
      } catch (...) {
        outcome.error = std::current_exception();
      }
      codec->buffer->clear_read();
    }
    done(std::move(outcome));
  });
}

// The same on `channel`, answered by `deadline`.
template <class Client, class Result, class Send, class Recv>
void ChannelCall(PeerChannel& channel, PeerChannel::Clock::time_point deadline, Send send,
                 Recv recv, OutcomeHandler<Result> done) {
  ChannelCall<Client, Result>(
      [&channel, deadline](std::string request, ReplyHandler handler) {
        channel.call(std::move(request), deadline, std::move(handler));
      },
      channel.options().limits, std::move(send), std::move(recv), std::move(done));
}

}  // namespace thrifty::rpc
