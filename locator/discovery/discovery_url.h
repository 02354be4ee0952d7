// DiscoveryUrl: the --discovery flag, where a node finds its peers and registers itself.
//
//   etcd://HOST[:PORT][/PREFIX]
//
// HOST is a DNS name, an IPv4 address or an IPv6 address in brackets ("[::1]"); PORT is etcd's
// client port, 1..65535 (default 2379); PREFIX is one or more segments of letters, digits, '.',
// '-' and '_' separated by '/' (default "thrifty"; no empty, "." or ".." segment; one trailing
// '/' is ignored). Nodes that share an etcd and a PREFIX find each other; the keys they use:
//
//   /PREFIX/members/HOST:PORT   one per registered node (see member_record.h), under its lease
//   /PREFIX/start-lock          held by a node while it lists the members and joins
//
// No user name, password, query or fragment: etcd is spoken to in plain HTTP (its JSON
// gateway), without TLS or authentication.
#pragma once

#include <string>

namespace thrifty::discovery {

struct DiscoveryUrl {
  std::string host;      // without brackets
  int port = 2379;
  std::string prefix;    // "/thrifty": a leading '/', no trailing '/'

  // "/thrifty/members/" and "/thrifty/start-lock".
  std::string members_prefix() const;
  std::string lock_key() const;
  // "HOST:PORT" as an HTTP Host header and the base of etcd's URLs ("[::1]:2379" for IPv6).
  std::string authority() const;
  // "etcd://HOST:PORT/PREFIX", every default spelled out.
  std::string ToString() const;
};

// Parses --discovery. Throws std::invalid_argument with one line saying what is wrong and what
// the flag expects.
DiscoveryUrl ParseDiscoveryUrl(const std::string& text);

}  // namespace thrifty::discovery
