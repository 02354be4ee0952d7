// Certificates: a CA and certificates it signed, made with the openssl command at test time in
// a temporary directory (the TLS tests of the RPC layer and of the cluster share them).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "locator/rpc/tls.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {

class Certificates {
 public:
  Certificates() {
    openssl_ = InPath("openssl");
    if (openssl_.empty()) {
      error_ = "no openssl command on PATH (scripts/deps installs it)";
      return;
    }
    ok_ = MakeCa("ca") && MakeCa("stranger-ca") &&
          Issue("node", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost") &&
          Issue("peer", "ca", "subjectAltName=DNS:peer.test") &&  // a client certificate
          Issue("stranger", "stranger-ca", "subjectAltName=IP:127.0.0.1") &&
          Issue("elsewhere", "ca", "subjectAltName=IP:127.0.0.2") &&  // names another address
          Issue("cn-only", "ca", "");  // CN=127.0.0.1, no subject alternative name
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string pem(const std::string& name) const { return dir_.path() + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir_.path() + "/" + name + ".key"; }
  rpc::TlsOptions options(const std::string& name, const std::string& ca = "ca") const {
    rpc::TlsOptions o;
    if (!name.empty()) {
      o.cert_file = pem(name);
      o.key_file = key(name);
    }
    o.ca_file = pem(ca);
    return o;
  }
  std::vector<std::string> node_args(const std::string& name = "node") const {
    return {"--memory", "--tls-cert=" + pem(name), "--tls-key=" + key(name), "--tls-ca=" + pem("ca")};
  }

 private:
  static std::string InPath(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const std::string candidate = dirs.substr(start, end - start) + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
    return "";
  }
  bool Run(std::vector<std::string> argv) {
    if (argv[0] == "openssl") argv[0] = openssl_;
    const auto result = RunCommand(argv, "", 30000);
    if (result.status != 0) error_ += "openssl failed: " + result.err + "\n";
    return result.status == 0;
  }
  bool MakeCa(const std::string& name) {
    return Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", key(name), "-out", pem(name), "-days", "2", "-subj", "/CN=" + name});
  }
  bool Issue(const std::string& name, const std::string& ca, const std::string& extension) {
    const std::string csr = dir_.path() + "/" + name + ".csr";
    const std::string ext = dir_.path() + "/" + name + ".ext";
    if (!Run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key(name), "-out", csr, "-subj", "/CN=127.0.0.1"})) {
      return false;
    }
    std::vector<std::string> sign = {"openssl", "x509", "-req", "-in", csr, "-CA", pem(ca), "-CAkey",
                                     key(ca), "-CAcreateserial", "-out", pem(name), "-days", "2"};
    if (!extension.empty()) {
      if (!Run({"/bin/sh", "-c", "printf '%s\\n' \"$1\" > \"$2\"", "sh", extension, ext})) return false;
      sign.insert(sign.end(), {"-extfile", ext});
    }
    return Run(sign);
  }

  TempDir dir_;
  std::string openssl_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace thrifty::testing
