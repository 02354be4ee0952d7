// An example service on thrifty's locator: every Echo node is also a Locator node (ping,
// get_node, members, ...), so a client can ask any node which node owns a key and call Echo
// there. See README.md.

include "locator.thrift"

namespace cpp thrifty.echo

service Echo extends locator.Locator {
  // Returns `text` unchanged.
  string echo(1: string text),
}
