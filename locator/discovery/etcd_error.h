// EtcdError: a call to etcd that failed, and how.
#pragma once

#include <stdexcept>
#include <string>

namespace thrifty::discovery {

class EtcdError : public std::runtime_error {
 public:
  enum class Kind {
    kTransport,  // no answer: etcd could not be resolved, reached, written to or read in time
    kAnswer,     // etcd answered with an error (grpc_code() says which)
    kMalformed,  // etcd's answer was not the JSON expected
  };
  // gRPC's NOT_FOUND: e.g. "requested lease not found".
  static constexpr int kNotFound = 5;

  EtcdError(Kind kind, const std::string& what, int grpc_code = 0)
      : std::runtime_error(what), kind_(kind), grpc_code_(grpc_code) {}

  Kind kind() const { return kind_; }
  int grpc_code() const { return grpc_code_; }
  bool not_found() const { return kind_ == Kind::kAnswer && grpc_code_ == kNotFound; }

 private:
  Kind kind_;
  int grpc_code_;
};

}  // namespace thrifty::discovery
