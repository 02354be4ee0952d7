#include "locator/discovery/etcd_json.h"

#include <nlohmann/json.hpp>

#include "locator/discovery/base64.h"
#include "locator/discovery/etcd_error.h"

namespace thrifty::discovery {

using Json = nlohmann::json;

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    const auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace etcd_json {

namespace {

[[noreturn]] void Malformed(const std::string& what, const std::string& body) {
  throw EtcdError(EtcdError::Kind::kMalformed,
                  "etcd's answer is not what was expected (" + what + "): " + body.substr(0, 200));
}

Json Parse(const std::string& body) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) Malformed("not a JSON object", body);
  return json;
}

// A 64-bit integer field: a decimal string (the gateway's way) or a number; `fallback` when
// the field is absent (the gateway leaves zeros out).
int64_t Int64Field(const Json& object, const char* name, const std::string& body,
                   int64_t fallback = 0) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return fallback;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& text = it->get_ref<const std::string&>();
    try {
      size_t used = 0;
      const long long value = std::stoll(text, &used, 10);
      if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
  }
  Malformed(std::string("field ") + name + " is not an integer", body);
}

std::string BytesField(const Json& object, const char* name, const std::string& body) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) Malformed(std::string("field ") + name + " is not a string", body);
  auto bytes = Base64Decode(it->get_ref<const std::string&>());
  if (!bytes) Malformed(std::string("field ") + name + " is not base64", body);
  return *bytes;
}

}  // namespace

std::string GrantRequest(int64_t ttl_s) { return Json{{"TTL", std::to_string(ttl_s)}}.dump(); }

std::string PutRequest(const std::string& key, const std::string& value, int64_t lease) {
  Json json{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) json["lease"] = std::to_string(lease);
  return json.dump();
}

std::string RangePrefixRequest(const std::string& prefix) {
  return Json{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(PrefixRangeEnd(prefix))}}
      .dump();
}

std::string LeaseRequest(int64_t lease) { return Json{{"ID", std::to_string(lease)}}.dump(); }

std::string CreateIfAbsentRequest(const std::string& key, const std::string& value, int64_t lease) {
  Json put{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  return Json{{"compare", Json::array({Json{{"target", "CREATE"},
                                            {"result", "EQUAL"},
                                            {"key", Base64Encode(key)},
                                            {"create_revision", "0"}}})},
              {"success", Json::array({Json{{"request_put", put}}})}}
      .dump();
}

std::string DeleteIfValueRequest(const std::string& key, const std::string& value) {
  return Json{{"compare", Json::array({Json{{"target", "VALUE"},
                                            {"result", "EQUAL"},
                                            {"key", Base64Encode(key)},
                                            {"value", Base64Encode(value)}}})},
              {"success",
               Json::array({Json{{"request_delete_range", Json{{"key", Base64Encode(key)}}}}})}}
      .dump();
}

EtcdLease ParseGrantResponse(const std::string& body) {
  const Json json = Parse(body);
  if (json.contains("error")) {
    const ErrorAnswer error = ParseErrorResponse(body);
    throw EtcdError(EtcdError::Kind::kAnswer, "lease grant refused: " + error.message, error.code);
  }
  EtcdLease lease;
  lease.id = Int64Field(json, "ID", body);
  lease.ttl_s = Int64Field(json, "TTL", body);
  if (lease.id == 0) Malformed("no lease ID", body);
  return lease;
}

std::vector<EtcdKeyValue> ParseRangeResponse(const std::string& body) {
  const Json json = Parse(body);
  std::vector<EtcdKeyValue> out;
  const auto kvs = json.find("kvs");
  if (kvs == json.end() || kvs->is_null()) return out;
  if (!kvs->is_array()) Malformed("kvs is not an array", body);
  for (const Json& item : *kvs) {
    if (!item.is_object()) Malformed("a kvs entry is not an object", body);
    EtcdKeyValue kv;
    kv.key = BytesField(item, "key", body);
    kv.value = BytesField(item, "value", body);
    kv.lease = Int64Field(item, "lease", body);
    kv.create_revision = Int64Field(item, "create_revision", body);
    out.push_back(std::move(kv));
  }
  return out;
}

int64_t ParseKeepAliveResponse(const std::string& body) {
  // One JSON object per streamed message, separated by new lines: the first one answers.
  const size_t start = body.find_first_not_of(" \r\n\t");
  if (start == std::string::npos) Malformed("empty", body);
  const size_t end = body.find('\n', start);
  const std::string first = body.substr(start, end == std::string::npos ? end : end - start);
  const Json json = Parse(first);
  if (const auto error = json.find("error"); error != json.end()) {
    const ErrorAnswer answer = ParseErrorResponse(error->is_object() ? error->dump() : first);
    throw EtcdError(EtcdError::Kind::kAnswer, "lease keepalive refused: " + answer.message,
                    answer.code);
  }
  const auto result = json.find("result");
  if (result == json.end() || !result->is_object()) Malformed("no result", body);
  return Int64Field(*result, "TTL", body);
}

bool ParseTxnResponse(const std::string& body) {
  const Json json = Parse(body);
  const auto succeeded = json.find("succeeded");
  if (succeeded == json.end() || succeeded->is_null()) return false;
  if (!succeeded->is_boolean()) Malformed("succeeded is not a boolean", body);
  return succeeded->get<bool>();
}

ErrorAnswer ParseErrorResponse(const std::string& body) {
  ErrorAnswer answer;
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    // "code" in a unary call's answer, "grpc_code" in a streamed one's.
    for (const char* name : {"code", "grpc_code"}) {
      const auto code = json.find(name);
      if (code != json.end() && code->is_number_integer()) answer.code = code->get<int>();
    }
    for (const char* name : {"message", "error"}) {
      const auto text = json.find(name);
      if (text != json.end() && text->is_string() && !text->get_ref<const std::string&>().empty()) {
        answer.message = text->get<std::string>();
        break;
      }
    }
  }
  if (answer.message.empty()) answer.message = body.substr(0, 200);
  return answer;
}

}  // namespace etcd_json
}  // namespace thrifty::discovery
