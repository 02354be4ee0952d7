#include "diststore/service/channel_peer_client.h"

#include "Store.h"
#include "locator/rpc/channel_call.h"

namespace thrifty::diststore {

ChannelPeerClient::ChannelPeerClient(rpc::ClientLoops& loops, rpc::ChannelOptions options,
                                     int call_timeout_ms)
    : loops_(loops), options_(std::move(options)), call_timeout_ms_(call_timeout_ms) {}

ChannelPeerClient::~ChannelPeerClient() { close(); }

void ChannelPeerClient::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (auto& [name, channel] : channels_) channel->close();
}

std::shared_ptr<rpc::PeerChannel> ChannelPeerClient::channel(const Location& peer, Lane lane) {
  const std::string name = rpc::ToString(peer) + "#" + std::to_string(static_cast<int>(lane));
  std::lock_guard<std::mutex> lock(mu_);
  auto& channel = channels_[name];
  if (!channel) {
    channel = rpc::PeerChannel::Make(loops_, peer, options_);
    if (closed_) channel->close();  // refuses its calls: the loops may be stopped
  }
  return channel;
}

rpc::PeerChannel::Clock::time_point ChannelPeerClient::deadline() const {
  return rpc::PeerChannel::Clock::now() + std::chrono::milliseconds(call_timeout_ms_);
}

template <class Result, class Send, class Recv>
void ChannelPeerClient::start(const Location& peer, Lane lane, Send send, Recv recv,
                              rpc::OutcomeHandler<Result> done) {
  rpc::ChannelCall<wire::StoreClient, Result>(*channel(peer, lane), deadline(), std::move(send),
                                              std::move(recv), std::move(done));
}

template <class Result>
Result ChannelPeerClient::wait(const std::function<void(rpc::OutcomeHandler<Result>)>& call) {
  return rpc::AwaitOutcome<Result>(call);
}

template <class Result, class Send, class Recv>
Result ChannelPeerClient::wait(const Location& peer, Lane lane, Send send, Recv recv) {
  return wait<Result>([&](rpc::OutcomeHandler<Result> done) {
    start<Result>(peer, lane, std::move(send), std::move(recv), std::move(done));
  });
}

std::vector<wire::Record> ChannelPeerClient::owner_get(const Location& peer,
                                                       const std::vector<std::string>& keys,
                                                       bool fallback) {
  return wait<std::vector<wire::Record>>([&](auto done) {
    owner_get_async(peer, keys, fallback, std::move(done));
  });
}

void ChannelPeerClient::owner_put(const Location& peer, const std::vector<wire::Record>& records,
                                  wire::Consistency::type consistency) {
  wait<bool>([&](auto done) { owner_put_async(peer, records, consistency, std::move(done)); });
}

wire::HandoffAck ChannelPeerClient::handoff(const Location& peer,
                                            const std::vector<wire::Record>& records,
                                            const Location& sender) {
  return wait<wire::HandoffAck>([&](auto done) {
    handoff_async(peer, records, sender, std::move(done));
  });
}

void ChannelPeerClient::keep_hints(const Location& peer, const std::vector<wire::Record>& records,
                                   const std::string& target_host_id, const Location& target) {
  wait<bool>([&](auto done) {
    keep_hints_async(peer, records, target_host_id, target, std::move(done));
  });
}

std::map<std::string, int64_t> ChannelPeerClient::stats(const Location& peer) {
  return wait<std::map<std::string, int64_t>>(
      peer, Lane::kLeaf, [](wire::StoreClient& c) { c.send_stats(); },
      [](wire::StoreClient& c) {
        std::map<std::string, int64_t> out;
        c.recv_stats(out);
        return out;
      });
}

wire::RangeRoots ChannelPeerClient::repair_roots(const Location& peer, const Location& asker,
                                                 int64_t fingerprint) {
  return wait<wire::RangeRoots>(
      peer, Lane::kLeaf, [&](wire::StoreClient& c) { c.send_repair_roots(asker, fingerprint); },
      [](wire::StoreClient& c) {
        wire::RangeRoots roots;
        c.recv_repair_roots(roots);
        return roots;
      });
}

std::vector<int64_t> ChannelPeerClient::repair_tree(const Location& peer, int64_t range,
                                                    int32_t level,
                                                    const std::vector<int32_t>& indexes,
                                                    int64_t fingerprint) {
  return wait<std::vector<int64_t>>(
      peer, Lane::kLeaf, [&](wire::StoreClient& c) { c.send_repair_tree(range, level, indexes, fingerprint); },
      [](wire::StoreClient& c) {
        std::vector<int64_t> hashes;
        c.recv_repair_tree(hashes);
        return hashes;
      });
}

wire::LeafPage ChannelPeerClient::repair_leaves(const Location& peer,
                                                const std::vector<wire::LeafRef>& leaves,
                                                const std::string& after_key,
                                                int64_t fingerprint) {
  return wait<wire::LeafPage>(
      peer, Lane::kLeaf, [&](wire::StoreClient& c) { c.send_repair_leaves(leaves, after_key, fingerprint); },
      [](wire::StoreClient& c) {
        wire::LeafPage page;
        c.recv_repair_leaves(page);
        return page;
      });
}

void ChannelPeerClient::owner_get_async(const Location& peer, std::vector<std::string> keys,
                                        bool fallback,
                                        rpc::OutcomeHandler<std::vector<wire::Record>> done) {
  start<std::vector<wire::Record>>(
      peer, fallback ? Lane::kCoordinate : Lane::kLeaf, [&](wire::StoreClient& c) { c.send_owner_get(keys, fallback); },
      [](wire::StoreClient& c) {
        std::vector<wire::Record> out;
        c.recv_owner_get(out);
        return out;
      },
      std::move(done));
}

void ChannelPeerClient::owner_put_async(const Location& peer, std::vector<wire::Record> records,
                                        wire::Consistency::type consistency,
                                        rpc::OutcomeHandler<bool> done) {
  bool to_lead = false;
  for (const auto& r : records) to_lead = to_lead || r.version == 0;
  start<bool>(
      peer, to_lead ? Lane::kCoordinate : Lane::kReplica,
      [&](wire::StoreClient& c) { c.send_owner_put(records, consistency); },
      [](wire::StoreClient& c) {
        c.recv_owner_put();
        return true;
      },
      std::move(done));
}

void ChannelPeerClient::keep_hints_async(const Location& peer, std::vector<wire::Record> records,
                                         std::string target_host_id, Location target,
                                         rpc::OutcomeHandler<bool> done) {
  start<bool>(
      peer, Lane::kLeaf,
      [&](wire::StoreClient& c) { c.send_keep_hints(records, target_host_id, target); },
      [](wire::StoreClient& c) {
        c.recv_keep_hints();
        return true;
      },
      std::move(done));
}

void ChannelPeerClient::handoff_async(const Location& peer, std::vector<wire::Record> records,
                                      Location sender, rpc::OutcomeHandler<wire::HandoffAck> done) {
  start<wire::HandoffAck>(
      peer, Lane::kLeaf, [&](wire::StoreClient& c) { c.send_handoff(records, sender); },
      [](wire::StoreClient& c) {
        wire::HandoffAck ack;
        c.recv_handoff(ack);
        return ack;
      },
      std::move(done));
}

}  // namespace thrifty::diststore
