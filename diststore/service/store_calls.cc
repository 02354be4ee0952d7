#include "diststore/service/store_calls.h"

#include <chrono>
#include <type_traits>

#include "diststore/service/replication.h"
#include "diststore/service/store_node.h"
#include "locator/rpc/frame_parser.h"

namespace thrifty::diststore {

namespace {

using Clock = std::chrono::steady_clock;

// Which declared exceptions a generated *_result struct has beyond StoreError (every call
// taken here declares it).
template <class Result, class = void>
struct DeclaresUnavailable : std::false_type {};
template <class Result>
struct DeclaresUnavailable<Result, std::void_t<decltype(std::declval<Result>().unavailable)>>
    : std::true_type {};
template <class Result, class = void>
struct DeclaresNotFound : std::false_type {};
template <class Result>
struct DeclaresNotFound<Result, std::void_t<decltype(std::declval<Result>().missing)>>
    : std::true_type {};
template <class Result, class = void>
struct DeclaresTimedOut : std::false_type {};
template <class Result>
struct DeclaresTimedOut<Result, std::void_t<decltype(std::declval<Result>().timed_out)>>
    : std::true_type {};

// Sets the field of `result` for `error` if the method declares it; false if it does not.
template <class Result>
bool Declare(const std::exception_ptr& error, Result* result) {
  try {
    std::rethrow_exception(error);
  } catch (const wire::NotFound& x) {
    if constexpr (DeclaresNotFound<Result>::value) {
      result->missing = x;
      result->__isset.missing = true;
      return true;
    }
  } catch (const wire::StoreError& x) {
    result->error = x;
    result->__isset.error = true;
    return true;
  } catch (const wire::Unavailable& x) {
    if constexpr (DeclaresUnavailable<Result>::value) {
      result->unavailable = x;
      result->__isset.unavailable = true;
      return true;
    }
  } catch (const wire::TimedOut& x) {
    if constexpr (DeclaresTimedOut<Result>::value) {
      result->timed_out = x;
      result->__isset.timed_out = true;
      return true;
    }
  } catch (...) {
  }
  return false;
}

// The reply to `method` for `outcome`: the result struct (with `success`, unless the method
// returns nothing: Value bool), its declared exception, or a TApplicationException.
template <class Result, class Value>
std::string ReplyOf(const std::string& method, int32_t seqid, rpc::Outcome<Value>& outcome) {
  Result result;
  if (outcome.value) {
    if constexpr (!std::is_same_v<Value, bool>) {
      result.success = std::move(*outcome.value);
      result.__isset.success = true;
    }
    return rpc::ReplyFrame(method, seqid, result);
  }
  if (Declare(outcome.error, &result)) return rpc::ReplyFrame(method, seqid, result);
  try {
    std::rethrow_exception(outcome.error);
  } catch (const std::exception& e) {
    return rpc::ExceptionFrame(method, seqid, e.what(),
                               apache::thrift::TApplicationException::UNKNOWN);
  } catch (...) {
  }
  return rpc::ExceptionFrame(method, seqid, "unknown error",
                             apache::thrift::TApplicationException::UNKNOWN);
}

// The completion of a continuation call of `method`: writes its reply to `reply` and records
// the latency in `latency` (if any).
template <class Result, class Value>
rpc::OutcomeHandler<Value> Answer(const char* method, int32_t seqid,
                                  metrics::LatencyHistogram* latency, rpc::ContinuationCalls::Reply& reply) {
  return [method, seqid, latency, start = Clock::now(),
          reply = std::move(reply)](rpc::Outcome<Value> outcome) {
    std::string frame = ReplyOf<Result>(method, seqid, outcome);
    if (latency) latency->record(Clock::now() - start);
    reply(std::move(frame));
  };
}

}  // namespace

StoreCalls::StoreCalls(std::shared_ptr<StoreHandler> handler)
    : wire::StoreProcessor(handler),
      handler_(std::move(handler)),
      store_(handler_->store()),
      reader_(store_.options().node.server.limits) {}

bool StoreCalls::start_call(const std::string& frame, Reply reply) {
  const auto head = rpc::PeekMessageHead(frame);
  if (!head) return false;
  const std::string& name = head->name;
  if (name == "get") return start_get(frame, reply);
  if (name == "put") return start_put(frame, reply);
  if (name == "erase") return start_erase(frame, reply);
  if (name == "multi_get") return start_multi_get(frame, reply);
  if (name == "multi_put") return start_multi_put(frame, reply);
  if (name == "owner_put") return start_owner_put(frame, reply);
  if (name == "owner_get") return start_owner_get(frame, reply);
  return false;
}

template <class Args>
bool StoreCalls::read_call(const std::string& frame, const std::string& method, Args* args,
                           int32_t* seqid, Consistency* level) {
  if (!reader_.read(frame, method, args)) return false;
  *seqid = reader_.seqid();
  try {
    *level = LevelFromWire(args->consistency);
  } catch (const wire::StoreError&) {
    return false;  // the generated processor answers it (the handler refuses the level)
  }
  return true;
}

template <class Args, class Result, class Value, class Start>
bool StoreCalls::take(const std::string& frame, const char* method,
                      metrics::LatencyHistogram* latency, Reply& reply, Start start) {
  Args args;
  int32_t seqid = 0;
  Consistency level;
  if (!read_call(frame, method, &args, &seqid, &level)) return false;
  start(args, level, Answer<Result, Value>(method, seqid, latency, reply));
  return true;
}

bool StoreCalls::start_get(const std::string& frame, Reply& reply) {
  return take<wire::Store_get_args, wire::Store_get_result, std::string>(
      frame, "get", &store_.latency().of(ClientOp::kGet), reply,
      [this](auto& args, Consistency level, auto done) {
        store_.router().get_async(std::move(args.key), level, std::move(done));
      });
}

bool StoreCalls::start_put(const std::string& frame, Reply& reply) {
  return take<wire::Store_put_args, wire::Store_put_result, bool>(
      frame, "put", &store_.latency().of(ClientOp::kPut), reply,
      [this](auto& args, Consistency level, auto done) {
        store_.router().put_async(std::move(args.key), std::move(args.value), level,
                                  std::move(done));
      });
}

bool StoreCalls::start_erase(const std::string& frame, Reply& reply) {
  return take<wire::Store_erase_args, wire::Store_erase_result, bool>(
      frame, "erase", &store_.latency().of(ClientOp::kErase), reply,
      [this](auto& args, Consistency level, auto done) {
        store_.router().erase_async(std::move(args.key), level, std::move(done));
      });
}

bool StoreCalls::start_multi_get(const std::string& frame, Reply& reply) {
  return take<wire::Store_multi_get_args, wire::Store_multi_get_result,
              std::map<std::string, std::string>>(
      frame, "multi_get", &store_.latency().of(ClientOp::kMultiGet), reply,
      [this](auto& args, Consistency level, auto done) {
        store_.router().multi_get_async(std::move(args.keys), level, std::move(done));
      });
}

bool StoreCalls::start_multi_put(const std::string& frame, Reply& reply) {
  return take<wire::Store_multi_put_args, wire::Store_multi_put_result, bool>(
      frame, "multi_put", &store_.latency().of(ClientOp::kMultiPut), reply,
      [this](auto& args, Consistency level, auto done) {
        store_.router().multi_put_async(std::move(args.entries), level, std::move(done));
      });
}

bool StoreCalls::start_owner_put(const std::string& frame, Reply& reply) {
  // A stranger's owner_put goes to the generated processor, whose handler refuses and counts it.
  if (!handler_->proved_peer()) return false;
  return take<wire::Store_owner_put_args, wire::Store_owner_put_result, bool>(
      frame, "owner_put", nullptr, reply, [this](auto& args, Consistency level, auto done) {
        store_.router().owner_put_async(std::move(args.records), level, std::move(done));
      });
}

bool StoreCalls::start_owner_get(const std::string& frame, Reply& reply) {
  if (!handler_->proved_peer()) return false;
  wire::Store_owner_get_args args;
  if (!reader_.read(frame, "owner_get", &args)) return false;
  // With one copy and keys moving, a fallback read asks the previous holders: no worker waits.
  store_.owner().owner_get_async(
      std::move(args.keys), args.fallback,
      Answer<wire::Store_owner_get_result, std::vector<wire::Record>>("owner_get", reader_.seqid(),
                                                                       nullptr, reply));
  return true;
}

}  // namespace thrifty::diststore
