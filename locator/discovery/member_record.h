// MemberRecord: what a node registers about itself in etcd, as the value of its key
// PREFIX/members/ADDRESS:PORT (discovery_url.h). The value is one JSON object:
//
//   {"address":"127.0.0.1","port":9900,"service_type":"diststore.Store","host_id":"..."}
//
// `address` and `port` are the node's advertised Thrift address (what --peer would name);
// `service_type` is what it serves (a node joins only nodes of its own type); `host_id` is left
// out when the node has none (see diststore/storage/host_id.h). Readers ignore fields they do
// not know, so later versions may add some.
#pragma once

#include <optional>
#include <string>

namespace thrifty::discovery {

struct MemberRecord {
  std::string address;
  int port = 0;
  std::string service_type;
  std::string host_id;

  // "ADDRESS:PORT" ("[v6]:PORT"), the last part of the record's key.
  std::string name() const;
};

std::string EncodeMemberRecord(const MemberRecord& record);
// The record, or nullopt when `value` is not such JSON (no address, a port outside 1..65535).
std::optional<MemberRecord> DecodeMemberRecord(const std::string& value);

}  // namespace thrifty::discovery
