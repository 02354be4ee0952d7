#include "diststore/service/metered_peer_client.h"

#include <memory>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TVirtualTransport.h>

namespace thrifty::diststore {

namespace {

using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::protocol::TMessageType;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TType;

constexpr int64_t kFrameHeaderBytes = 4;

// A transport that only counts what is written to it: measuring a message keeps no copy of it.
class ByteCount : public apache::thrift::transport::TVirtualTransport<ByteCount> {
 public:
  void write(const uint8_t*, uint32_t len) { bytes += len; }
  int64_t bytes = 0;
};

// Bytes of a framed message `name` whose body `write_body(protocol)` writes.
template <typename WriteBody>
int64_t MessageBytes(const char* name, TMessageType type, WriteBody&& write_body) {
  auto count = std::make_shared<ByteCount>();
  TBinaryProtocol protocol(count);
  protocol.writeMessageBegin(name, type, 0);
  write_body(protocol);
  protocol.writeMessageEnd();
  return kFrameHeaderBytes + count->bytes;
}

// A call: the generated argument struct `args` (its pointers set) is the body.
template <typename Args>
int64_t CallBytes(const char* name, const Args& args) {
  return MessageBytes(name, apache::thrift::protocol::T_CALL, [&](TProtocol& p) { args.write(&p); });
}

// A reply: the result struct with field 0 (`success`) written by `write_success`, or no field
// for a void call.
template <typename WriteSuccess>
int64_t ReplyBytes(const char* name, TType success_type, WriteSuccess&& write_success) {
  return MessageBytes(name, apache::thrift::protocol::T_REPLY, [&](TProtocol& p) {
    p.writeStructBegin("result");
    if (success_type != apache::thrift::protocol::T_STOP) {
      p.writeFieldBegin("success", success_type, 0);
      write_success(p);
      p.writeFieldEnd();
    }
    p.writeFieldStop();
    p.writeStructEnd();
  });
}

int64_t VoidReplyBytes(const char* name) {
  return ReplyBytes(name, apache::thrift::protocol::T_STOP, [](TProtocol&) {});
}

template <typename Struct>
int64_t StructReplyBytes(const char* name, const Struct& value) {
  return ReplyBytes(name, apache::thrift::protocol::T_STRUCT, [&](TProtocol& p) { value.write(&p); });
}

template <typename Struct>
int64_t StructListReplyBytes(const char* name, const std::vector<Struct>& values) {
  return ReplyBytes(name, apache::thrift::protocol::T_LIST, [&](TProtocol& p) {
    p.writeListBegin(apache::thrift::protocol::T_STRUCT, static_cast<uint32_t>(values.size()));
    for (const auto& v : values) v.write(&p);
    p.writeListEnd();
  });
}

}  // namespace

void MeteredPeerClient::count(int64_t sent, int64_t received) {
  sent_.fetch_add(sent, std::memory_order_relaxed);
  received_.fetch_add(received, std::memory_order_relaxed);
}

std::vector<wire::Record> MeteredPeerClient::owner_get(const Location& peer,
                                                      const std::vector<std::string>& keys,
                                                      bool fallback) {
  std::vector<wire::Record> records = inner_.owner_get(peer, keys, fallback);
  wire::Store_owner_get_pargs args;
  args.keys = &keys;
  args.fallback = &fallback;
  count(CallBytes("owner_get", args), StructListReplyBytes("owner_get", records));
  return records;
}

void MeteredPeerClient::owner_put(const Location& peer, const std::vector<wire::Record>& records,
                                  wire::Consistency::type consistency) {
  inner_.owner_put(peer, records, consistency);
  const auto level = static_cast<int32_t>(consistency);
  wire::Store_owner_put_pargs args;
  args.records = &records;
  args.consistency = &level;
  count(CallBytes("owner_put", args), VoidReplyBytes("owner_put"));
}

wire::HandoffAck MeteredPeerClient::handoff(const Location& peer,
                                           const std::vector<wire::Record>& records,
                                           const Location& sender) {
  wire::HandoffAck ack = inner_.handoff(peer, records, sender);
  wire::Store_handoff_pargs args;
  args.records = &records;
  args.sender = &sender;
  count(CallBytes("handoff", args), StructReplyBytes("handoff", ack));
  return ack;
}

wire::RangeRoots MeteredPeerClient::repair_roots(const Location& peer, const Location& asker,
                                                 int64_t fingerprint) {
  wire::RangeRoots roots = inner_.repair_roots(peer, asker, fingerprint);
  wire::Store_repair_roots_pargs args;
  args.asker = &asker;
  args.ring_fingerprint = &fingerprint;
  count(CallBytes("repair_roots", args), StructReplyBytes("repair_roots", roots));
  return roots;
}

std::vector<int64_t> MeteredPeerClient::repair_tree(const Location& peer, int64_t range,
                                                    int32_t level,
                                                    const std::vector<int32_t>& indexes,
                                                    int64_t fingerprint) {
  std::vector<int64_t> hashes = inner_.repair_tree(peer, range, level, indexes, fingerprint);
  wire::Store_repair_tree_pargs args;
  args.range_id = &range;
  args.level = &level;
  args.indexes = &indexes;
  args.ring_fingerprint = &fingerprint;
  const int64_t reply = ReplyBytes("repair_tree", apache::thrift::protocol::T_LIST, [&](TProtocol& p) {
    p.writeListBegin(apache::thrift::protocol::T_I64, static_cast<uint32_t>(hashes.size()));
    for (int64_t h : hashes) p.writeI64(h);
    p.writeListEnd();
  });
  count(CallBytes("repair_tree", args), reply);
  return hashes;
}

wire::LeafPage MeteredPeerClient::repair_leaves(const Location& peer,
                                               const std::vector<wire::LeafRef>& leaves,
                                               const std::string& after_key, int64_t fingerprint) {
  wire::LeafPage page = inner_.repair_leaves(peer, leaves, after_key, fingerprint);
  wire::Store_repair_leaves_pargs args;
  args.leaves = &leaves;
  args.after_key = &after_key;
  args.ring_fingerprint = &fingerprint;
  count(CallBytes("repair_leaves", args), StructReplyBytes("repair_leaves", page));
  return page;
}

}  // namespace thrifty::diststore
