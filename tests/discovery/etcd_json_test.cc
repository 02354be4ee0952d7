// etcd's JSON gateway without etcd: request bodies (base64 keys, int64 as strings), answers as
// etcd 3.4 sends them (fields at their default left out), base64, member records.
#include "locator/discovery/etcd_json.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "locator/discovery/base64.h"
#include "locator/discovery/etcd_error.h"
#include "locator/discovery/member_record.h"

namespace thrifty::discovery {
namespace {

using Json = nlohmann::json;

// The kind of EtcdError `parse` throws; fails the test if it throws none.
template <typename F>
EtcdError::Kind ErrorKind(F parse) {
  try {
    parse();
  } catch (const EtcdError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no EtcdError";
  return EtcdError::Kind::kTransport;
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("/thrifty/members/"), "L3RocmlmdHkvbWVtYmVycy8=");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= bytes.size(); n += 7) {
    const std::string part = bytes.substr(0, n);
    EXPECT_EQ(Base64Decode(Base64Encode(part)), part) << n;
  }
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode(""), "");
}

TEST(Base64, RefusesWhatIsNotPaddedBase64) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v!", " Zm9v", "Zm9v ", "Zg==Zg==", "Zm=v",
                          "Zm9v\n"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(PrefixRangeEnd, IncrementsTheLastByteThatCan) {
  EXPECT_EQ(PrefixRangeEnd("/p/members/"), "/p/members0");
  EXPECT_EQ(PrefixRangeEnd("a"), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xfe\xff", 3)), std::string("a\xff", 2));
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(EtcdJsonRequests, KeysAndValuesAreBase64AndIntegersStrings) {
  EXPECT_EQ(Json::parse(etcd_json::GrantRequest(10)), Json({{"TTL", "10"}}));
  EXPECT_EQ(Json::parse(etcd_json::LeaseRequest(7587868418712358401)),
            Json({{"ID", "7587868418712358401"}}));
  EXPECT_EQ(Json::parse(etcd_json::PutRequest("/p/members/127.0.0.1:9900", "{\"a\":1}", 42)),
            Json({{"key", Base64Encode("/p/members/127.0.0.1:9900")},
                  {"value", Base64Encode("{\"a\":1}")},
                  {"lease", "42"}}));
  // No lease: no field (etcd takes "0" as "none" too, but says less this way).
  EXPECT_FALSE(Json::parse(etcd_json::PutRequest("k", "v", 0)).contains("lease"));
  EXPECT_EQ(Json::parse(etcd_json::RangePrefixRequest("/p/members/")),
            Json({{"key", "L3AvbWVtYmVycy8="}, {"range_end", Base64Encode("/p/members0")}}));
}

TEST(EtcdJsonRequests, Transactions) {
  const Json create = Json::parse(etcd_json::CreateIfAbsentRequest("/p/start-lock", "n:1", 5));
  ASSERT_EQ(create["compare"].size(), 1u);
  EXPECT_EQ(create["compare"][0]["target"], "CREATE");
  EXPECT_EQ(create["compare"][0]["result"], "EQUAL");
  EXPECT_EQ(create["compare"][0]["create_revision"], "0");
  EXPECT_EQ(create["compare"][0]["key"], Base64Encode("/p/start-lock"));
  ASSERT_EQ(create["success"].size(), 1u);
  EXPECT_EQ(create["success"][0]["request_put"],
            Json({{"key", Base64Encode("/p/start-lock")}, {"value", Base64Encode("n:1")},
                  {"lease", "5"}}));
  EXPECT_FALSE(create.contains("failure"));

  const Json remove = Json::parse(etcd_json::DeleteIfValueRequest("/p/start-lock", "n:1"));
  EXPECT_EQ(remove["compare"][0]["target"], "VALUE");
  EXPECT_EQ(remove["compare"][0]["value"], Base64Encode("n:1"));
  EXPECT_EQ(remove["success"][0]["request_delete_range"],
            Json({{"key", Base64Encode("/p/start-lock")}}));
}

// Answers, as etcd 3.4's gateway sends them.
constexpr char kHeader[] =
    R"("header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"2","raft_term":"2"})";

TEST(EtcdJsonAnswers, Grant) {
  const EtcdLease lease = etcd_json::ParseGrantResponse(
      std::string("{") + kHeader + R"(,"ID":"4111120350583701509","TTL":"3"})");
  EXPECT_EQ(lease.id, 4111120350583701509);
  EXPECT_EQ(lease.ttl_s, 3);
  // Numbers are taken too.
  EXPECT_EQ(etcd_json::ParseGrantResponse(R"({"ID":12,"TTL":10})").id, 12);
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseGrantResponse(R"({"TTL":"3"})"); }),
            EtcdError::Kind::kMalformed);
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseGrantResponse(R"({"ID":"12x"})"); }),
            EtcdError::Kind::kMalformed);
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseGrantResponse("not json"); }),
            EtcdError::Kind::kMalformed);
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseGrantResponse("[1]"); }), EtcdError::Kind::kMalformed);
}

TEST(EtcdJsonAnswers, Range) {
  const auto kvs = etcd_json::ParseRangeResponse(
      std::string("{") + kHeader +
      R"(,"kvs":[{"key":"L3AvbWVtYmVycy9h","create_revision":"2","mod_revision":"2","version":"1","value":"eA==","lease":"4111120350583701511"},)"
      R"({"key":"L3AvbWVtYmVycy9i","create_revision":"3","mod_revision":"3","version":"1"}],"count":"2"})");
  ASSERT_EQ(kvs.size(), 2u);
  EXPECT_EQ(kvs[0].key, "/p/members/a");
  EXPECT_EQ(kvs[0].value, "x");
  EXPECT_EQ(kvs[0].lease, 4111120350583701511);
  EXPECT_EQ(kvs[0].create_revision, 2);
  // An empty value and no lease are left out of the answer.
  EXPECT_EQ(kvs[1].key, "/p/members/b");
  EXPECT_EQ(kvs[1].value, "");
  EXPECT_EQ(kvs[1].lease, 0);
  // Nothing found: no "kvs" at all.
  EXPECT_TRUE(etcd_json::ParseRangeResponse(std::string("{") + kHeader + "}").empty());
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseRangeResponse(R"({"kvs":[{"key":"%%"}]})"); }),
            EtcdError::Kind::kMalformed);
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseRangeResponse(R"({"kvs":{}})"); }),
            EtcdError::Kind::kMalformed);
}

TEST(EtcdJsonAnswers, KeepAlive) {
  EXPECT_EQ(etcd_json::ParseKeepAliveResponse(
                std::string(R"({"result":{)") + kHeader + R"(,"ID":"41","TTL":"3"}})" + "\n"),
            3);
  // A lease etcd does not have: no TTL (0).
  EXPECT_EQ(etcd_json::ParseKeepAliveResponse(
                std::string(R"({"result":{)") + kHeader + R"(,"ID":"12345"}})" + "\n"),
            0);
  // More streamed objects: the first answers.
  EXPECT_EQ(etcd_json::ParseKeepAliveResponse("\n{\"result\":{\"TTL\":\"9\"}}\n{\"result\":{}}\n"), 9);
  EXPECT_EQ(ErrorKind([] {
              etcd_json::ParseKeepAliveResponse(
                  R"({"error":{"grpc_code":14,"http_code":503,"message":"unavailable"}})");
            }),
            EtcdError::Kind::kAnswer);
  try {
    etcd_json::ParseKeepAliveResponse(R"({"error":{"grpc_code":14,"message":"unavailable"}})");
  } catch (const EtcdError& e) {
    EXPECT_EQ(e.grpc_code(), 14);
    EXPECT_NE(std::string(e.what()).find("unavailable"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseKeepAliveResponse(""); }), EtcdError::Kind::kMalformed);
  EXPECT_EQ(ErrorKind([] { etcd_json::ParseKeepAliveResponse(R"({"header":{}})"); }),
            EtcdError::Kind::kMalformed);
}

TEST(EtcdJsonAnswers, TxnAndErrors) {
  EXPECT_TRUE(etcd_json::ParseTxnResponse(
      std::string("{") + kHeader +
      R"(,"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]})"));
  // false is left out.
  EXPECT_FALSE(etcd_json::ParseTxnResponse(std::string("{") + kHeader + "}"));

  auto error = etcd_json::ParseErrorResponse(
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  EXPECT_EQ(error.code, EtcdError::kNotFound);
  EXPECT_EQ(error.message, "etcdserver: requested lease not found");
  error = etcd_json::ParseErrorResponse("502 Bad Gateway");
  EXPECT_EQ(error.code, 0);
  EXPECT_EQ(error.message, "502 Bad Gateway");
  EXPECT_TRUE(EtcdError(EtcdError::Kind::kAnswer, "x", 5).not_found());
  EXPECT_FALSE(EtcdError(EtcdError::Kind::kTransport, "x", 5).not_found());
}

TEST(MemberRecord, EncodesAndDecodes) {
  MemberRecord record{"127.0.0.1", 9901, "diststore.Store", "6f1c-..."};
  const std::string value = EncodeMemberRecord(record);
  EXPECT_EQ(Json::parse(value), Json({{"address", "127.0.0.1"},
                                      {"port", 9901},
                                      {"service_type", "diststore.Store"},
                                      {"host_id", "6f1c-..."}}));
  const auto back = DecodeMemberRecord(value);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->address, "127.0.0.1");
  EXPECT_EQ(back->port, 9901);
  EXPECT_EQ(back->service_type, "diststore.Store");
  EXPECT_EQ(back->host_id, "6f1c-...");
  EXPECT_EQ(back->name(), "127.0.0.1:9901");
  EXPECT_EQ((MemberRecord{"::1", 5, "", ""}.name()), "[::1]:5");
  // No host ID: no field. Unknown fields are ignored.
  EXPECT_FALSE(Json::parse(EncodeMemberRecord({"h", 1, "t", ""})).contains("host_id"));
  EXPECT_TRUE(DecodeMemberRecord(R"({"address":"h","port":1,"zone":"a"})").has_value());
  for (const char* bad : {"", "x", "[]", R"({"port":1})", R"({"address":"h"})",
                          R"({"address":"","port":1})", R"({"address":"h","port":0})",
                          R"({"address":"h","port":65536})", R"({"address":"h","port":"1"})",
                          R"({"address":5,"port":1})"}) {
    EXPECT_FALSE(DecodeMemberRecord(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace thrifty::discovery
