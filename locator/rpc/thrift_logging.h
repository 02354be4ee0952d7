// Thrift prints its own diagnostics (every refused connection, every dropped client) straight
// to stderr. thrifty routes them into glog at verbosity 1 instead, so a node's log says what
// happened in one voice and a client command's stderr stays one clear line.
#pragma once

namespace thrifty::rpc {

void RouteThriftLogsToGlog();

}  // namespace thrifty::rpc
