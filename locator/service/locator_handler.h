// LocatorHandler: the Locator service of a LocatorNode. Services that extend locator.Locator
// derive from it (`class MineHandler : public LocatorHandler, virtual public MineIf`), which is
// why it inherits LocatorIf virtually.
#pragma once

#include <string>
#include <vector>

#include "Locator.h"
#include "locator/service/locator_node.h"

namespace thrifty::locator {

class LocatorHandler : virtual public rpc::LocatorIf {
 public:
  explicit LocatorHandler(LocatorNode& node) : node_(node) {}

  void ping() override {}
  void service_type(std::string& out) override { out = node_.service_type(); }
  void service_types(std::vector<std::string>& out) override { out = node_.service_types(); }
  void debug(std::string& out) override { out = node_.debug(); }

  void join(rpc::View& out, const rpc::Location& location, const rpc::JoinInfo& info) override;
  void add(const rpc::Location& location, const std::vector<rpc::Location>& authorities,
           const rpc::JoinInfo& info) override;
  void remove(const rpc::Location& location, const std::vector<rpc::Location>& authorities,
              const std::string& proof) override;
  void get_all(std::vector<rpc::Location>& out) override;
  void get_node(rpc::Location& out, const std::string& key) override;
  void get_nodes(std::vector<rpc::Location>& out, const std::string& key, int32_t n) override;
  void members(std::vector<rpc::Member>& out) override;
  void get_view(rpc::View& out) override { out = node_.view(); }
  void sync(rpc::View& out, const std::vector<rpc::Member>& members,
            const std::string& proof) override;
  void stats(std::map<std::string, int64_t>& out) override;

 protected:
  LocatorNode& node_;
};

}  // namespace thrifty::locator
