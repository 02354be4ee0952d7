#include "locator/rpc/thrift_logging.h"

#include <glog/logging.h>
#include <thrift/TOutput.h>

namespace thrifty::rpc {

namespace {
void ToGlog(const char* message) { VLOG(1) << "thrift: " << message; }
}  // namespace

void RouteThriftLogsToGlog() { apache::thrift::GlobalOutput.setOutputFunction(&ToGlog); }

}  // namespace thrifty::rpc
