#include "locator/discovery/member_record.h"

#include <nlohmann/json.hpp>

namespace thrifty::discovery {

using Json = nlohmann::json;

std::string MemberRecord::name() const {
  const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return host + ":" + std::to_string(port);
}

std::string EncodeMemberRecord(const MemberRecord& record) {
  Json json{{"address", record.address},
            {"port", record.port},
            {"service_type", record.service_type}};
  if (!record.host_id.empty()) json["host_id"] = record.host_id;
  return json.dump();
}

std::optional<MemberRecord> DecodeMemberRecord(const std::string& value) {
  const Json json = Json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  MemberRecord record;
  const auto address = json.find("address");
  const auto port = json.find("port");
  if (address == json.end() || !address->is_string() || port == json.end() ||
      !port->is_number_integer()) {
    return std::nullopt;
  }
  record.address = address->get<std::string>();
  const int64_t number = port->get<int64_t>();
  if (record.address.empty() || number < 1 || number > 65535) return std::nullopt;
  record.port = static_cast<int>(number);
  if (const auto type = json.find("service_type"); type != json.end() && type->is_string()) {
    record.service_type = type->get<std::string>();
  }
  if (const auto id = json.find("host_id"); id != json.end() && id->is_string()) {
    record.host_id = id->get<std::string>();
  }
  return record;
}

}  // namespace thrifty::discovery
