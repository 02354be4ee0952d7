// The locator contract. Every thrifty node serves it: it answers "who owns this key" from
// its own full view of the cluster. Other services extend Locator (see examples/).
//
// Transport: framed (TFramedTransport), binary protocol. Ports are i32 because an i16 cannot
// hold ports above 32767.

namespace cpp thrifty.locator.wire

struct Location {
  1: string address,
  2: i32 port,
}

enum MemberState {
  ALIVE = 0,
  SUSPECT = 1,
  DEAD = 2,
  LEFT = 3,
}

// One member of the cluster as a node sees it. `incarnation` orders what is said about the
// member: a higher incarnation always wins; for the same incarnation DEAD/LEFT beats SUSPECT
// beats ALIVE. A node refutes a suspicion by raising its own incarnation.
struct Member {
  1: Location location,
  2: MemberState state = MemberState.ALIVE,
  3: i64 incarnation,
  4: map<string, binary> metadata,
  // UDP port of the member's gossip endpoint (0: none).
  5: i32 gossip_port,
}

// What a node says about itself when it joins.
struct JoinInfo {
  1: i64 incarnation,
  2: map<string, binary> metadata,
  3: i32 gossip_port,
  // Placement name, e.g. "ketama" or "rendezvous/siphash": a node with another one is refused.
  4: string placement,
  5: string service_type,
  // Proof of the cluster key (HMAC), empty when the cluster runs without one.
  6: binary proof,
}

struct View {
  1: list<Member> members,
  2: string placement,
  3: string service_type,
}

// A request that cannot be honoured as asked (bad location, wrong placement, ...).
exception LocatorError {
  1: string message,
}

// The ring is empty: no node can own a key.
exception NoNodes {
  1: string message,
}

// Missing or wrong proof of the cluster key.
exception Unauthorized {
  1: string message,
}

// A node's answer to `auth_begin`: its own fresh nonce, and its proof of the cluster key over
// both nonces (see locator/membership/peer_handshake.h).
struct PeerChallenge {
  1: binary nonce,
  2: binary proof,
}

service Base {
  void ping(),
  // The most derived service this node speaks, e.g. "locator.Locator" or "diststore.Store".
  string service_type(),
  // The whole inheritance chain, most basic first.
  list<string> service_types(),
  // A human-readable dump of the node's view.
  string debug(),

  // ---- Peer authentication (per connection) ----
  // Node-to-node calls (join, add, remove, sync, owner_get, owner_put, handoff) are served only
  // on a connection that proved the cluster key: the caller sends a fresh 32-byte nonce, checks
  // the node's proof over both nonces (so it talks to a member, not an impostor), then sends
  // its own. Proofs are bound to this connection's nonces: one seen on another connection is
  // worthless. Client calls (get, put, ..., the Locator queries) need none of this.
  PeerChallenge auth_begin(1: binary client_nonce) throws (1: Unauthorized denied),
  void auth_finish(1: binary proof) throws (1: Unauthorized denied),
}

service Locator extends Base {
  // Admits `location` into the cluster through this node and returns the whole view.
  // Every other member learns of the new node from this one, in parallel.
  View join(1: Location location, 2: JoinInfo info)
      throws (1: LocatorError error, 2: Unauthorized denied),

  // Tells this node that `location` joined. `authorities` are the nodes that already know.
  void add(1: Location location, 2: list<Location> authorities, 3: JoinInfo info)
      throws (1: LocatorError error, 2: Unauthorized denied),

  // Tells this node that `location` left the cluster.
  void remove(1: Location location, 2: list<Location> authorities, 3: binary proof)
      throws (1: LocatorError error, 2: Unauthorized denied),

  // Every node in the ring (ALIVE and SUSPECT members).
  list<Location> get_all(),

  // The node that owns `key`.
  Location get_node(1: string key) throws (1: NoNodes error),

  // The preference list of `key`: n distinct nodes in ring order (fewer if the ring is smaller).
  list<Location> get_nodes(1: string key, 2: i32 n)
      throws (1: NoNodes error, 2: LocatorError bad),

  // Every member this node knows, whatever its state, with its metadata.
  list<Member> members(),

  // This node's whole view: members, placement and service type (what ring-aware clients
  // need to place keys themselves).
  View get_view(),

  // Push-pull anti-entropy: merges the caller's members into this node's view and returns
  // this node's view.
  View sync(1: list<Member> members, 2: binary proof)
      throws (1: LocatorError error, 2: Unauthorized denied),

  // Counters and gauges of this node (requests, members, keys, ...).
  map<string, i64> stats(),
}
