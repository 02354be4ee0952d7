// Gossip packets of the SWIM failure detector, sent over UDP in compact protocol, each
// followed by an HMAC-SHA256 of the encoded struct under the cluster key (see
// locator/membership/gossip_codec.h for the exact packet layout).

include "locator.thrift"

namespace cpp thrifty.membership.wire

enum GossipType {
  PING = 1,
  PING_REQ = 2,
  ACK = 3,
  NACK = 4,
}

// One piece of membership news piggybacked on a packet.
struct MemberUpdate {
  1: locator.Member member,
  // SUSPECT and DEAD news: the member whose own failure detector reached that verdict.
  // Lifeguard counts suspicions from distinct reporters as independent confirmations.
  2: optional locator.Location reporter,
}

struct GossipPacket {
  // Wire format version of this struct.
  1: i16 format = 1,
  2: GossipType type,
  // Probe sequence number; an ACK or NACK echoes the sequence of the PING or PING_REQ it
  // answers.
  3: i64 seq,
  // Who sends this packet (Thrift address of the sender).
  4: locator.Location sender,
  // PING_REQ: the member to probe on the sender's behalf. PING: the member being probed (a
  // receiver that is someone else drops the packet).
  5: optional locator.Location target,
  // Sender's wall clock in ms; packets far outside the receiver's window are dropped as stale.
  6: i64 sent_ms,
  7: list<MemberUpdate> updates,
  // PING_REQ: the UDP port of the target's gossip endpoint, so that a helper which does not
  // know the target yet can still probe it.
  8: optional i32 target_gossip_port,
}
