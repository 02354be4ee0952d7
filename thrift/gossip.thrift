// Gossip packets of the SWIM failure detector, sent over UDP in compact protocol, each
// followed by an HMAC-SHA256 of the encoded struct under the cluster key.

include "locator.thrift"

namespace cpp thrifty.rpc

enum GossipType {
  PING = 1,
  PING_REQ = 2,
  ACK = 3,
  NACK = 4,
}

// One piece of membership news piggybacked on a packet.
struct MemberUpdate {
  1: locator.Member member,
}

struct GossipPacket {
  // Wire format version of this struct.
  1: i16 format = 1,
  2: GossipType type,
  // Probe sequence number; an ACK echoes the sequence of the PING it answers.
  3: i64 seq,
  // Who sends this packet (Thrift address of the sender).
  4: locator.Location sender,
  // PING_REQ: the member to probe on the sender's behalf. PING: the member being probed.
  5: optional locator.Location target,
  // Sender's wall clock in ms; packets far outside the receiver's window are dropped as stale.
  6: i64 sent_ms,
  7: list<MemberUpdate> updates,
}
