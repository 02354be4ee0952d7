// client_app: a program outside thrifty's tree that uses the installed C++ client.
//
//   client_app HOST:PORT KEY VALUE    stores VALUE under KEY, reads it back and prints it
//   client_app HOST:PORT KEY          prints the value of KEY
//
// HOST:PORT is any node of the cluster (a seed: the client fetches the view from it and then
// sends each request straight to the key's owner). Exit status: 0 done, 1 the key is absent
// (or read back different), 2 bad usage or an error.
#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include <glog/logging.h>

#include "diststore/client/cluster_client.h"
#include "locator/rpc/address.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: client_app HOST:PORT KEY [VALUE]\n";
    return 2;
  }
  // The client logs with glog: errors only, on stderr.
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = 2;
  google::InitGoogleLogging(argv[0]);

  const std::string key = argv[2];
  try {
    thrifty::client::ClientOptions options;
    options.seeds = {thrifty::rpc::ParseLocation(argv[1])};
    options.pool.call_timeout_ms = 5000;
    thrifty::client::ClusterClient client(options);

    if (argc == 4) client.put(key, argv[3]);
    const std::optional<std::string> value = client.get(key);
    if (!value) {
      std::cerr << "client_app: key '" << key << "' not found\n";
      return 1;
    }
    std::cout << *value << std::endl;
    if (argc == 4 && *value != argv[3]) {
      std::cerr << "client_app: read back a different value\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "client_app: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
