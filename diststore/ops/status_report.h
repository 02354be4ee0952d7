// StatusReport: the data of a store node's status page (/status.json): this node, every member
// it knows (address, state, zone, weight, share of the ring, keys, rate of key operations) and a
// picture of the ring (ring_picture.h).
//
// Members' keys and request counts come from their own stats: this node's directly, the others'
// by the Locator `stats` call, in parallel, waiting at most wait_ms (a member that does not
// answer in time keeps its last numbers, marked stale). They are polled at most once per
// min_interval_ms however often the page is asked for, and a member's rate is the change of its
// key operations (its gets + puts + erases stats: keys read, written or erased through it, n for
// a batch of n keys) between two polls. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "diststore/ops/ring_picture.h"

namespace thrifty::diststore {

class StoreNode;

struct StatusReportOptions {
  int min_interval_ms = 2000;
  int wait_ms = 1000;
};

class StatusReport {
 public:
  // `store` must outlive this object.
  StatusReport(StoreNode& store, StatusReportOptions options = {});

  // The report; `health` is what /health says ("serving", "joining", ...).
  nlohmann::json build(const std::string& health, const std::string& version);

 private:
  struct Sample {
    int64_t keys = -1;      // -1: unknown
    int64_t key_operations = -1;  // key operations (gets + puts + erases) since it started; -1: unknown
    double rate = -1;       // key operations per second between the last two polls; -1: unknown
    int64_t at_ms = 0;      // steady clock, when it was taken
    bool stale = true;      // the member did not answer the last poll
  };
  void poll();  // under mu_
  const RingPicture& picture(const std::shared_ptr<const locator::Ring>& ring);  // under mu_

  StoreNode& store_;
  const StatusReportOptions options_;
  std::mutex mu_;
  std::map<std::string, Sample> samples_;  // by member name
  int64_t last_poll_ms_ = -1;
  std::shared_ptr<const locator::Ring> pictured_;
  RingPicture picture_;
};

}  // namespace thrifty::diststore
