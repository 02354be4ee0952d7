#include "diststore/service/store_calls.h"

#include <chrono>

#include "diststore/service/replication.h"
#include "diststore/service/store_node.h"
#include "locator/rpc/frame_parser.h"

namespace thrifty::diststore {

namespace {

using Clock = std::chrono::steady_clock;

// The reply to `method` for a failure: the declared exception `result` has a field for (set by
// `declare`, which returns false for an undeclared one), else a TApplicationException.
template <class Result, class Declare>
std::string FailureReply(const std::string& method, int32_t seqid, const std::exception_ptr& error,
                         Declare declare) {
  Result result;
  try {
    if (declare(error, &result)) return rpc::ReplyFrame(method, seqid, result);
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return rpc::ExceptionFrame(method, seqid, e.what(),
                               apache::thrift::TApplicationException::UNKNOWN);
  } catch (...) {
    return rpc::ExceptionFrame(method, seqid, "unknown error",
                               apache::thrift::TApplicationException::UNKNOWN);
  }
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
  if (head->name == "get") return start_get(frame, reply);
  if (head->name == "put") return start_put(frame, reply);
  if (head->name == "erase") return start_erase(frame, reply);
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

bool StoreCalls::start_get(const std::string& frame, Reply& reply) {
  wire::Store_get_args args;
  int32_t seqid = 0;
  Consistency level;
  if (!read_call(frame, "get", &args, &seqid, &level)) return false;
  auto& latency = store_.latency().of(ClientOp::kGet);
  store_.router().get_async(
      std::move(args.key), level,
      [seqid, &latency, start = Clock::now(),
       reply = std::move(reply)](rpc::Outcome<std::string> outcome) {
        std::string frame;
        if (outcome.value) {
          wire::Store_get_result result;
          result.success = std::move(*outcome.value);
          result.__isset.success = true;
          frame = rpc::ReplyFrame("get", seqid, result);
        } else {
          frame = FailureReply<wire::Store_get_result>(
              "get", seqid, outcome.error, [](const std::exception_ptr& e, auto* result) {
                try {
                  std::rethrow_exception(e);
                } catch (const wire::NotFound& x) {
                  result->missing = x;
                  result->__isset.missing = true;
                } catch (const wire::StoreError& x) {
                  result->error = x;
                  result->__isset.error = true;
                } catch (const wire::Unavailable& x) {
                  result->unavailable = x;
                  result->__isset.unavailable = true;
                } catch (...) {
                  return false;
                }
                return true;
              });
        }
        latency.record(Clock::now() - start);
        reply(std::move(frame));
      });
  return true;
}

// put and erase: no result value; StoreError, Unavailable and TimedOut declared.
template <class Result>
rpc::OutcomeHandler<bool> StoreCalls::write_reply(const std::string& method, int32_t seqid,
                                                  ClientOp op, Reply& reply) {
  return [method, seqid, &latency = store_.latency().of(op), start = Clock::now(),
          reply = std::move(reply)](rpc::Outcome<bool> outcome) {
    std::string frame;
    if (outcome.value) {
      frame = rpc::ReplyFrame(method, seqid, Result());
    } else {
      frame = FailureReply<Result>(
          method, seqid, outcome.error, [](const std::exception_ptr& e, Result* result) {
            try {
              std::rethrow_exception(e);
            } catch (const wire::StoreError& x) {
              result->error = x;
              result->__isset.error = true;
            } catch (const wire::Unavailable& x) {
              result->unavailable = x;
              result->__isset.unavailable = true;
            } catch (const wire::TimedOut& x) {
              result->timed_out = x;
              result->__isset.timed_out = true;
            } catch (...) {
              return false;
            }
            return true;
          });
    }
    latency.record(Clock::now() - start);
    reply(std::move(frame));
  };
}

bool StoreCalls::start_put(const std::string& frame, Reply& reply) {
  wire::Store_put_args args;
  int32_t seqid = 0;
  Consistency level;
  if (!read_call(frame, "put", &args, &seqid, &level)) return false;
  store_.router().put_async(std::move(args.key), std::move(args.value), level,
                            write_reply<wire::Store_put_result>("put", seqid, ClientOp::kPut, reply));
  return true;
}

bool StoreCalls::start_erase(const std::string& frame, Reply& reply) {
  wire::Store_erase_args args;
  int32_t seqid = 0;
  Consistency level;
  if (!read_call(frame, "erase", &args, &seqid, &level)) return false;
  store_.router().erase_async(
      std::move(args.key), level,
      write_reply<wire::Store_erase_result>("erase", seqid, ClientOp::kErase, reply));
  return true;
}

}  // namespace thrifty::diststore
