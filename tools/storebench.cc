// storebench: a load generator for thrifty and, with the same threads, connections, keys,
// values and batches, for Redis and memcached, so all are measured by one program (in the
// spirit of redis-benchmark).
//
// Model: --connections connections are spread evenly over --threads threads. Each connection
// carries one request at a time; a thread keeps all of its connections busy (it sends on every
// idle one, polls their sockets and reads whichever reply arrived first). Latency is measured
// per request, from its send to its last reply byte, into per-thread log-linear histograms
// that are merged at the end.
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "locator/rpc/address.h"
#include "locator/service/discovery.h"
#include "tools/bench/handoff_baseline.h"
#include "tools/bench/histogram.h"
#include "tools/bench/targets.h"
#include "tools/common/cli.h"
#include "tools/common/tls_flags.h"

namespace {

using namespace thrifty;
using namespace thrifty::bench;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

// Set from the command line in main().
struct Flags {
  std::string peer;
  std::string target;
  bool ring_aware = false;
  std::string consistency = "default";
  int redis_wait = 0;
  int threads = 1;
  int connections = 0;
  int64_t requests = 0;
  double seconds = 10;
  double warmup = 1;
  int value_bytes = 100;
  int64_t keyspace = 100000;
  std::string ratio = "1:0";
  int batch = 1;
  bool prefill = false;
  int prefill_batch = 100;
  bool progress = false;
  bool json = false;
  int timeout_ms = 10000;
  std::string count_owned;
  int replicas = 1;
  std::string per_key_copy;

  // Adds the flags to `command`, listed by topic in --help.
  void add_to(cli::CommandLine& command) {
    auto group = [&](const char* name) { command.group(name); };
    group("Target");
    command.option("--peer", peer, "HOST:PORT of the thrifty node to drive (default: the first diststore node "
                                   "found on 127.0.0.1, ports 9900-9939)")
        .type_name("HOST:PORT");
    command.option("--target", target, "drive Redis or memcached instead: redis://HOST[:PORT] (default port "
                                       "6379), memcached://HOST[:PORT] (text protocol, default port 11211); "
                                       "thrifty://HOST:PORT is --peer")
        .type_name("URL");
    command.flag("--ring-aware", ring_aware, "thrifty: send each key straight to its owner (one connection per "
                                             "node per benchmark connection); default: everything to --peer, "
                                             "which forwards what it does not own");
    command.option("--consistency", consistency, "thrifty: the consistency level every request names: one, "
                                                 "quorum, all, or default (the node's --read-consistency / "
                                                 "--write-consistency)")
        .type_name("LEVEL");
    command.option("--redis-wait", redis_wait, "Redis: follow every PUT (its SETs) with WAIT N 0 in the same "
                                               "pipeline, so a PUT is done once N replicas acknowledged it "
                                               "(0: no WAIT)")
        .type_name("N");
    command.option("--timeout-ms", timeout_ms, "deadline of each request");
    group("Load");
    command.option("--threads", threads, "load-generating threads");
    command.option("--connections", connections, "connections in all, spread evenly over the threads, one "
                                                 "request in flight on each (0: one per thread)");
    command.option("--requests", requests, "requests to send in all (0: run for --seconds instead)");
    command.option("--seconds", seconds, "how long to measure when --requests is 0 (0 with --prefill: prefill only)");
    command.option("--warmup", warmup, "seconds of load before measuring starts (with --seconds)");
    group("Keys and values");
    command.option("--value-bytes", value_bytes, "size of each value written");
    command.option("--keyspace", keyspace, "keys are key:000000000000 .. key:<keyspace-1>, chosen uniformly");
    command.option("--ratio", ratio, "GET:PUT mix of the requests: 1:0 only GET, 0:1 only PUT, 9:1 ...")
        .type_name("GET:PUT");
    command.option("--batch", batch, "keys per request: multi_get/multi_put of N keys (thrifty), N pipelined "
                                     "GET/SET commands (Redis), one 'get' of N keys or N pipelined 'set' "
                                     "commands (memcached)");
    group("Prefill and output");
    command.flag("--prefill", prefill, "first write every key of the keyspace (so GETs hit)");
    command.option("--prefill-batch", prefill_batch, "keys per request while prefilling");
    command.flag("--progress", progress, "print a progress line every second (default: only when stderr is a terminal)");
    command.flag("--json", json, "print the results as one JSON object");
    group("Handoff baseline");
    command.option("--count-owned", count_owned, "HOST:PORT: print how many keys of the keyspace that node owns "
                                                 "in the cluster of --peer (it need not have joined yet), then exit")
        .type_name("HOST:PORT");
    command.option("--replicas", replicas, "with --count-owned: count the keys whose replica set of this many "
                                           "nodes holds that node (the cluster's --replicas)");
    command.option("--per-key-copy", per_key_copy, "HOST:PORT: the handoff baseline: read the keys of the "
                                                   "keyspace that node owns from it, write each back with one "
                                                   "put RPC, report keys/s, then exit")
        .type_name("HOST:PORT");
  }
} flags;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- shared state of one run ----

enum Phase : int { kWarmup = 0, kMeasure = 1, kStop = 2 };

struct RunConfig {
  bool prefill = false;    // sequential keys 0..keyspace-1, PUT only
  uint64_t keyspace = 0;
  size_t batch = 1;
  uint32_t get_weight = 1, put_weight = 0;
  bool budget = false;     // stop after `requests`
};

struct Shared {
  std::atomic<int> phase{kWarmup};
  std::atomic<int64_t> budget{0};
  std::atomic<uint64_t> next_key{0};
  std::atomic<int> running{0};
  std::mutex error_mu;
  std::string error;

  void fail(const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(error_mu);
      if (error.empty()) error = message;
    }
    phase.store(kStop);
  }
};

struct Counters {
  uint64_t requests = 0, keys = 0, gets = 0, puts = 0, misses = 0, errors = 0;
  void add(const Counters& o) {
    requests += o.requests;
    keys += o.keys;
    gets += o.gets;
    puts += o.puts;
    misses += o.misses;
    errors += o.errors;
  }
};

struct WorkerStats {
  LatencyHistogram all, get, put;
  Counters counters;
  uint64_t all_requests = 0;  // warm-up included (for CPU-per-request accounting)
  // Read by the progress printer; written only by the worker.
  alignas(64) std::atomic<uint64_t> done_requests{0};
  std::atomic<uint64_t> done_keys{0};

  void reset() {
    all.reset();
    get.reset();
    put.reset();
    counters = Counters();
    done_requests.store(0, std::memory_order_relaxed);
    done_keys.store(0, std::memory_order_relaxed);
  }
};

class Worker {
 public:
  Worker(int index, const RunConfig& config, Shared& shared, std::vector<Slot*> slots,
         WorkerStats& stats)
      : config_(config), shared_(shared), stats_(stats), rng_(0x5EED0000u + static_cast<uint64_t>(index)) {
    for (Slot* slot : slots) {
      State s;
      s.slot = slot;
      s.keys.resize(std::max(config.batch, size_t{1}));
      states_.push_back(std::move(s));
    }
  }

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {
      shared_.fail(e.what());
    }
    shared_.running.fetch_sub(1);
  }

 private:
  struct State {
    Slot* slot = nullptr;
    bool active = false;
    Clock::time_point start;
    OpKind kind = OpKind::kGet;
    size_t count = 0;
    std::vector<uint64_t> keys;
    Outcome outcome;
  };

  uint64_t next_random() {  // xorshift64*
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
  }
  uint64_t random_below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next_random()) * n) >> 64);
  }

  // Fills the next request into `s`; false when the run has nothing more to send.
  bool next_request(State& s) {
    if (shared_.phase.load(std::memory_order_relaxed) == kStop) return false;
    if (config_.prefill) {
      const uint64_t first = shared_.next_key.fetch_add(config_.batch);
      if (first >= config_.keyspace) return false;
      s.count = static_cast<size_t>(std::min<uint64_t>(config_.batch, config_.keyspace - first));
      for (size_t i = 0; i < s.count; ++i) s.keys[i] = first + i;
      s.kind = OpKind::kPut;
      return true;
    }
    if (config_.budget && shared_.budget.fetch_sub(1) <= 0) return false;
    const uint32_t total = config_.get_weight + config_.put_weight;
    s.kind = random_below(total) < config_.get_weight ? OpKind::kGet : OpKind::kPut;
    s.count = config_.batch;
    for (size_t i = 0; i < s.count; ++i) s.keys[i] = random_below(config_.keyspace);
    return true;
  }

  void issue(State& s) {
    if (!next_request(s)) return;
    s.outcome = Outcome();
    s.start = Clock::now();
    s.slot->send(Request{s.kind, s.keys.data(), s.count});
    s.active = true;
    ++active_;
  }

  void complete(State& s, int channel) {
    if (!s.slot->receive(channel, &s.outcome)) return;
    const auto now = Clock::now();
    s.active = false;
    --active_;
    ++stats_.all_requests;
    const int phase = shared_.phase.load(std::memory_order_relaxed);
    if (phase != seen_phase_) {
      if (seen_phase_ == kWarmup && phase == kMeasure) stats_.reset();
      seen_phase_ = phase;
    }
    if (phase == kMeasure) {
      const uint64_t ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.start).count());
      stats_.all.record(ns);
      Counters& c = stats_.counters;
      if (s.kind == OpKind::kGet) {
        stats_.get.record(ns);
        ++c.gets;
      } else {
        stats_.put.record(ns);
        ++c.puts;
      }
      ++c.requests;
      c.keys += s.count;
      c.misses += s.outcome.misses;
      c.errors += s.outcome.errors;
      stats_.done_requests.store(c.requests, std::memory_order_relaxed);
      stats_.done_keys.store(c.keys, std::memory_order_relaxed);
    }
    if (phase != kStop) issue(s);
  }

  void loop() {
    seen_phase_ = shared_.phase.load();
    for (State& s : states_) issue(s);
    std::vector<pollfd> fds;
    std::vector<std::pair<State*, int>> who;
    while (active_ > 0) {
      fds.clear();
      who.clear();
      for (State& s : states_) {
        if (!s.active) continue;
        for (int ch : s.slot->pending()) {
          fds.push_back(pollfd{s.slot->fd(ch), POLLIN, 0});
          who.emplace_back(&s, ch);
        }
      }
      if (fds.size() == 1) {  // one reply awaited: a blocking read is cheaper than poll + read
        complete(*who[0].first, who[0].second);
        continue;
      }
      const int n = poll(fds.data(), fds.size(), 1000);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw FatalError(std::string("poll: ") + std::strerror(errno));
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents != 0) complete(*who[i].first, who[i].second);
      }
    }
  }

  const RunConfig& config_;
  Shared& shared_;
  WorkerStats& stats_;
  uint64_t rng_;
  std::vector<State> states_;
  size_t active_ = 0;
  int seen_phase_ = kWarmup;
};

struct RunResult {
  double seconds = 0;
  Counters counters;
  uint64_t all_requests = 0;
  double client_cpu_seconds = 0;  // this process, warm-up included
  LatencyHistogram all, get, put;
};

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// Runs `config` on `slots_per_thread` (one worker thread per entry).
RunResult Run(const RunConfig& config, const std::vector<std::vector<Slot*>>& slots_per_thread,
              double warmup, double seconds, int64_t requests, bool progress, const char* label) {
  Shared shared;
  const bool timed = !config.prefill && !config.budget;
  shared.phase.store(timed && warmup > 0 ? kWarmup : kMeasure);
  shared.budget.store(requests);
  std::vector<std::unique_ptr<WorkerStats>> stats;
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t t = 0; t < slots_per_thread.size(); ++t) {
    stats.push_back(std::make_unique<WorkerStats>());
    workers.push_back(std::make_unique<Worker>(static_cast<int>(t), config, shared,
                                               slots_per_thread[t], *stats.back()));
  }
  shared.running.store(static_cast<int>(workers.size()));
  auto sum = [&](uint64_t* reqs, uint64_t* keys) {
    *reqs = *keys = 0;
    for (const auto& s : stats) {
      *reqs += s->done_requests.load(std::memory_order_relaxed);
      *keys += s->done_keys.load(std::memory_order_relaxed);
    }
  };

  const double cpu_start = ProcessCpuSeconds();
  auto measure_start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  auto sleep_until = [&](Clock::time_point until) {
    while (Clock::now() < until && shared.running.load() > 0 && shared.phase.load() != kStop) {
      std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(),
                                                            std::chrono::milliseconds(20)));
    }
  };
  if (timed && warmup > 0) {
    if (progress) std::fprintf(stderr, "storebench: %s: warming up for %.1f s\n", label, warmup);
    sleep_until(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(warmup)));
    measure_start = Clock::now();
    int expected = kWarmup;
    shared.phase.compare_exchange_strong(expected, kMeasure);
  }
  const auto deadline = measure_start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(seconds));
  uint64_t last_reqs = 0, last_keys = 0;
  auto last_tick = measure_start;
  while (shared.running.load() > 0 && shared.phase.load() != kStop) {
    const auto tick = std::min(last_tick + std::chrono::seconds(1),
                               timed ? deadline : Clock::time_point::max());
    sleep_until(tick);
    const auto now = Clock::now();
    if (timed && now >= deadline) break;
    if (now < tick) continue;  // woken early (a worker finished or failed): look again
    if (progress) {
      uint64_t reqs, keys;
      sum(&reqs, &keys);
      const double dt = Seconds(now - last_tick);
      std::fprintf(stderr, "storebench: %s: %.0f s, %llu requests, %.0f requests/s, %.0f keys/s\n",
                   label, Seconds(now - measure_start), static_cast<unsigned long long>(reqs),
                   static_cast<double>(reqs - last_reqs) / dt, static_cast<double>(keys - last_keys) / dt);
      last_reqs = reqs;
      last_keys = keys;
    }
    last_tick = now;  // always: the next tick is a second from now, never in the past
  }
  int measuring = kMeasure;
  shared.phase.compare_exchange_strong(measuring, kStop);
  const auto measure_end = Clock::now();
  for (auto& t : threads) t.join();
  if (!shared.error.empty()) cli::Fail(2, shared.error);

  RunResult result;
  result.client_cpu_seconds = ProcessCpuSeconds() - cpu_start;
  result.seconds = Seconds((timed ? measure_end : Clock::now()) - measure_start);
  for (const auto& s : stats) {
    result.counters.add(s->counters);
    result.all_requests += s->all_requests;
    result.all.merge(s->all);
    result.get.merge(s->get);
    result.put.merge(s->put);
  }
  return result;
}

// ---- output ----

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// `v` rounded to `digits` decimals, for JSON numbers as short as the text output's.
double Rounded(double v, int digits = 1) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

Json LatencyJson(const LatencyHistogram& h) {
  return {{"count", h.count()},
          {"p50", Rounded(Us(h.quantile(0.50)))},
          {"p99", Rounded(Us(h.quantile(0.99)))},
          {"p999", Rounded(Us(h.quantile(0.999)))},
          {"mean", Rounded(h.mean() / 1000.0)},
          {"min", Rounded(Us(h.min()))},
          {"max", Rounded(Us(h.max()))}};
}

std::string LatencyText(const LatencyHistogram& h) {
  std::ostringstream out;
  out << "p50 " << Fixed(Us(h.quantile(0.50))) << "  p99 " << Fixed(Us(h.quantile(0.99)))
      << "  p99.9 " << Fixed(Us(h.quantile(0.999))) << "  mean " << Fixed(h.mean() / 1000.0)
      << "  max " << Fixed(Us(h.max()));
  return out.str();
}

double PerSecond(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

// ---- flags ----

void ParseRatio(const std::string& text, uint32_t* get, uint32_t* put) {
  const auto colon = text.find(':');
  auto number = [&](const std::string& part) -> uint32_t {
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos) {
      cli::Fail(2, "--ratio must be GET:PUT with whole numbers, e.g. 9:1 (got '" + text + "')");
    }
    return static_cast<uint32_t>(std::stoul(part));
  };
  if (colon == std::string::npos) cli::Fail(2, "--ratio must be GET:PUT, e.g. 9:1 (got '" + text + "')");
  *get = number(text.substr(0, colon));
  *put = number(text.substr(colon + 1));
  if (*get + *put == 0) cli::Fail(2, "--ratio: GET and PUT cannot both be 0");
}

locator::wire::Location ParseNode(const std::string& flag, const std::string& text) {
  try {
    return rpc::ParseLocation(text);
  } catch (const std::exception& e) {
    cli::Fail(2, "--" + flag + ": " + e.what());
  }
}

struct Target {
  enum Kind { kThrifty, kRedis, kMemcached } kind = kThrifty;
  RedisTarget redis_target;
  MemcachedTarget memcached_target;
  ThriftTarget thrift;
  std::string name;  // "thrifty", "redis" or "memcached"
  std::string address;
  bool thrifty() const { return kind == kThrifty; }
};

// HOST[:PORT] after the scheme of a --target URL (a trailing '/' allowed).
locator::wire::Location ParseServerUrl(const std::string& url, const std::string& scheme, int default_port) {
  std::string hostport = url.substr(scheme.size());
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  if (hostport.empty() || hostport.front() == ':') {
    cli::Fail(2, "--target " + scheme + "HOST[:PORT]: no host in '" + url + "'");
  }
  if (hostport.find(':') == std::string::npos || hostport.back() == ']') {
    hostport += ":" + std::to_string(default_port);
  }
  return ParseNode("target", hostport);
}

Target ParseTarget(const cli::TlsFlags& tls) {
  Target t;
  std::string peer = flags.peer;
  const std::string& target = flags.target;
  const std::string redis_scheme = "redis://", memcached_scheme = "memcached://", thrifty_scheme = "thrifty://";
  const bool redis = target.rfind(redis_scheme, 0) == 0;
  if (redis || target.rfind(memcached_scheme, 0) == 0) {
    const std::string& scheme = redis ? redis_scheme : memcached_scheme;
    if (!flags.peer.empty()) cli::Fail(2, "--peer and --target " + scheme + "... exclude each other");
    if (flags.ring_aware) cli::Fail(2, "--ring-aware applies to thrifty only");
    if (flags.consistency != "default") cli::Fail(2, "--consistency applies to thrifty only");
    if (flags.redis_wait > 0 && !redis) cli::Fail(2, "--redis-wait applies to Redis only");
    const locator::wire::Location where = ParseServerUrl(target, scheme, redis ? 6379 : 11211);
    if (redis) {
      t.kind = Target::kRedis;
      t.redis_target.host = where.address;
      t.redis_target.port = where.port;
      t.redis_target.call_timeout_ms = flags.timeout_ms;
      t.redis_target.wait_replicas = flags.redis_wait;
      t.name = "redis";
    } else {
      t.kind = Target::kMemcached;
      t.memcached_target.host = where.address;
      t.memcached_target.port = where.port;
      t.memcached_target.call_timeout_ms = flags.timeout_ms;
      t.name = "memcached";
    }
    t.address = rpc::ToString(where);
    return t;
  }
  if (target.rfind(thrifty_scheme, 0) == 0) {
    if (!flags.peer.empty()) cli::Fail(2, "--peer and --target thrifty://... exclude each other");
    peer = target.substr(thrifty_scheme.size());
  } else if (!target.empty() && target != "thrifty") {
    cli::Fail(2, "--target must be redis://HOST:PORT, memcached://HOST:PORT or thrifty://HOST:PORT (got '" +
                     target + "')");
  }
  if (peer.empty()) {
    auto found = locator::DiscoverPeer("127.0.0.1", 9900, 9939, 0, "diststore.Store", 300,
                                       tls.client_factory());
    if (!found) cli::Fail(2, "no diststore node found on 127.0.0.1:9900-9939 (give --peer)");
    t.thrift.entry = *found;
  } else {
    t.thrift.entry = ParseNode("peer", peer);
  }
  if (flags.redis_wait > 0) cli::Fail(2, "--redis-wait applies to Redis only");
  try {
    t.thrift.consistency = ParseConsistencyName(flags.consistency);
  } catch (const FatalError& e) {
    cli::Fail(2, std::string("--consistency: ") + e.what());
  }
  t.thrift.ring_aware = flags.ring_aware;
  t.thrift.call_timeout_ms = flags.timeout_ms;
  t.thrift.limits = rpc::RpcLimits::ForValueSize(std::max<int64_t>(flags.value_bytes, 16 << 20));
  t.thrift.tls = tls.client_factory();
  t.name = "thrifty";
  t.address = rpc::ToString(t.thrift.entry);
  return t;
}

int HandoffModes(const Target& target) {
  if (!target.thrifty()) cli::Fail(2, "--count-owned and --per-key-copy drive thrifty only");
  const uint64_t keyspace = static_cast<uint64_t>(flags.keyspace);
  try {
    if (!flags.count_owned.empty()) {
      const locator::wire::Location node = ParseNode("count-owned", flags.count_owned);
      const uint64_t owned = CountOwned(target.thrift, node, keyspace, flags.replicas);
      if (flags.json) {
        cli::PrintJson({{"node", rpc::ToString(node)}, {"keyspace", keyspace}, {"owned", owned}});
      } else {
        std::cout << owned << std::endl;
      }
      return 0;
    }
    const locator::wire::Location node = ParseNode("per-key-copy", flags.per_key_copy);
    const CopyResult r = PerKeyCopy(target.thrift, node, keyspace);
    const double rate = PerSecond(r.written, r.seconds);
    if (r.found < r.owned) {
      std::fprintf(stderr, "storebench: %s holds %llu of the %llu keys it owns\n",
                   rpc::ToString(node).c_str(), static_cast<unsigned long long>(r.found),
                   static_cast<unsigned long long>(r.owned));
    }
    if (flags.json) {
      cli::PrintJson({{"node", rpc::ToString(node)},
                      {"keyspace", keyspace},
                      {"owned", r.owned},
                      {"found", r.found},
                      {"read_seconds", Rounded(r.read_seconds, 3)},
                      {"written", r.written},
                      {"seconds", Rounded(r.seconds, 3)},
                      {"keys_per_s", std::llround(rate)}});
    } else {
      std::cout << rpc::ToString(node) << " owns " << r.owned << " keys of " << keyspace << ", holds "
                << r.found << " (read in batches in " << Fixed(r.read_seconds, 2) << " s)\n"
                << "one put per key: " << r.written << " keys in " << Fixed(r.seconds, 2) << " s = "
                << Fixed(rate, 0) << " keys/s" << std::endl;
    }
    return r.found < r.owned ? 1 : 0;
  } catch (const FatalError& e) {
    cli::Fail(2, e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  cli::CommandLine command(
      "usage: storebench [--peer HOST:PORT [--ring-aware] [--consistency LEVEL]\n"
      "                  | --target redis://HOST:PORT [--redis-wait N] | --target memcached://HOST:PORT]\n"
      "                  [--threads N] [--connections N] [--seconds S | --requests N]\n"
      "                  [--ratio GET:PUT] [--batch N] [--value-bytes N] [--keyspace N] [--prefill]\n"
      "                  [--json] [--progress]\n"
      "Drives a thrifty node or cluster, a Redis server or memcached with the same load: connections\n"
      "spread over threads, one request in flight per connection, uniform random keys. Reports\n"
      "requests/s, keys/s and latency percentiles (p50, p99, p99.9).\n"
      "  storebench --peer 127.0.0.1:9900 --connections 50 --threads 2 --prefill --seconds 5\n"
      "  storebench --target redis://127.0.0.1:6379 --connections 50 --threads 2 --ratio 0:1\n"
      "  storebench --target redis://127.0.0.1:6379 --redis-wait 1 --ratio 0:1   (SET, then WAIT 1 0)\n"
      "  storebench --peer 127.0.0.1:9900 --ring-aware --consistency quorum --ratio 0:1\n"
      "  storebench --target memcached://127.0.0.1:11211 --prefill --connections 50 --threads 2\n"
      "Handoff baseline: storebench --peer NODE --count-owned NEW | --per-key-copy NEW --keyspace N");
  flags.add_to(command);
  command.group("TLS (thrifty only)");
  cli::TlsFlags tls_flags(command, /*server=*/false);
  const auto args = command.parse(argc, argv);
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  cli::InitClientLogging(argv[0]);
  std::signal(SIGPIPE, SIG_IGN);

  if (flags.threads < 1 || flags.threads > 1024) cli::Fail(2, "--threads must be in 1..1024");
  if (flags.connections < 0 || flags.connections > 10000) cli::Fail(2, "--connections must be in 0..10000");
  if (flags.requests < 0) cli::Fail(2, "--requests must be >= 0");
  if (!(flags.seconds >= 0) || flags.seconds > 86400) cli::Fail(2, "--seconds must be in 0..86400");
  if (!(flags.warmup >= 0) || flags.warmup > 3600) cli::Fail(2, "--warmup must be in 0..3600");
  if (flags.value_bytes < 0 || flags.value_bytes > (16 << 20)) cli::Fail(2, "--value-bytes must be in 0..16777216");
  if (flags.keyspace < 1) cli::Fail(2, "--keyspace must be >= 1");
  if (flags.batch < 1 || flags.batch > 10000) cli::Fail(2, "--batch must be in 1..10000");
  if (flags.prefill_batch < 1 || flags.prefill_batch > 10000) cli::Fail(2, "--prefill-batch must be in 1..10000");
  if (flags.timeout_ms < 1) cli::Fail(2, "--timeout-ms must be >= 1");
  if (flags.redis_wait < 0 || flags.redis_wait > 1000) cli::Fail(2, "--redis-wait must be in 0..1000");
  if (!flags.count_owned.empty() && !flags.per_key_copy.empty()) {
    cli::Fail(2, "--count-owned and --per-key-copy exclude each other");
  }
  if (flags.replicas < 1) cli::Fail(2, "--replicas must be >= 1");
  uint32_t get_weight = 0, put_weight = 0;
  ParseRatio(flags.ratio, &get_weight, &put_weight);

  Target target = ParseTarget(tls_flags);
  if (!flags.count_owned.empty() || !flags.per_key_copy.empty()) return HandoffModes(target);

  const int connections = flags.connections == 0 ? flags.threads : flags.connections;
  const int threads = std::min(flags.threads, connections);
  const bool progress = flags.progress || isatty(STDERR_FILENO) == 1;

  // A value of printable bytes; every write sends the same one.
  std::string value(static_cast<size_t>(flags.value_bytes), 'x');
  std::mt19937_64 gen(42);
  for (auto& c : value) c = static_cast<char>('!' + gen() % 94);

  // Connect everything before the clock starts.
  std::vector<std::unique_ptr<Slot>> slots;
  try {
    if (target.thrifty()) Resolve(&target.thrift);
    for (int i = 0; i < connections; ++i) {
      switch (target.kind) {
        case Target::kThrifty: slots.push_back(MakeThriftSlot(target.thrift, &value)); break;
        case Target::kRedis: slots.push_back(MakeRedisSlot(target.redis_target, &value)); break;
        case Target::kMemcached: slots.push_back(MakeMemcachedSlot(target.memcached_target, &value)); break;
      }
    }
  } catch (const FatalError& e) {
    cli::Fail(2, e.what());
  }
  std::vector<std::vector<Slot*>> per_thread(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    for (int i = connections * t / threads; i < connections * (t + 1) / threads; ++i) {
      per_thread[static_cast<size_t>(t)].push_back(slots[static_cast<size_t>(i)].get());
    }
  }
  const std::string routing = !target.thrifty() ? target.name : (target.thrift.ring_aware ? "ring-aware" : "direct");
  const uint64_t keyspace = static_cast<uint64_t>(flags.keyspace);

  RunResult prefill;
  if (flags.prefill) {
    RunConfig config;
    config.prefill = true;
    config.keyspace = keyspace;
    config.batch = static_cast<size_t>(flags.prefill_batch);
    prefill = Run(config, per_thread, 0, 0, 0, progress, "prefill");
    if (!flags.json) {
      std::cout << "prefill: " << prefill.counters.keys << " keys in " << Fixed(prefill.seconds, 2)
                << " s (" << Fixed(PerSecond(prefill.counters.keys, prefill.seconds), 0) << " keys/s)"
                << std::endl;
    }
    if (prefill.counters.errors > 0) {
      cli::Fail(2, "prefill: " + std::to_string(prefill.counters.errors) + " requests refused");
    }
  }

  RunResult result;
  const bool run = flags.requests > 0 || flags.seconds > 0;
  if (run) {
    RunConfig config;
    config.keyspace = keyspace;
    config.batch = static_cast<size_t>(flags.batch);
    config.get_weight = get_weight;
    config.put_weight = put_weight;
    config.budget = flags.requests > 0;
    result = Run(config, per_thread, flags.warmup, flags.seconds, flags.requests, progress, "run");
  }
  const Counters& c = result.counters;
  const double rps = PerSecond(c.requests, result.seconds);
  const double kps = PerSecond(c.keys, result.seconds);

  if (flags.json) {
    Json out = {{"target", target.name},
                {"address", target.address},
                {"routing", routing},
                {"cluster_nodes", target.thrifty() ? target.thrift.cluster_nodes : 1},
                {"consistency", target.thrifty() ? flags.consistency : std::string("-")},
                {"redis_wait", target.kind == Target::kRedis ? flags.redis_wait : 0},
                {"ratio", flags.ratio},
                {"batch", flags.batch},
                {"threads", threads},
                {"connections", connections},
                {"value_bytes", flags.value_bytes},
                {"keyspace", keyspace}};
    if (flags.prefill) {
      out["prefill"] = {{"keys", prefill.counters.keys},
                        {"seconds", Rounded(prefill.seconds, 3)},
                        {"keys_per_s", std::llround(PerSecond(prefill.counters.keys, prefill.seconds))}};
    }
    out["seconds"] = Rounded(result.seconds, 3);
    out["requests"] = c.requests;
    out["keys"] = c.keys;
    out["all_requests"] = result.all_requests;
    out["client_cpu_seconds"] = Rounded(result.client_cpu_seconds, 3);
    out["requests_per_s"] = std::llround(rps);
    out["keys_per_s"] = std::llround(kps);
    out["gets"] = c.gets;
    out["puts"] = c.puts;
    out["misses"] = c.misses;
    out["errors"] = c.errors;
    out["latency_us"] = LatencyJson(result.all);
    out["get_latency_us"] = LatencyJson(result.get);
    out["put_latency_us"] = LatencyJson(result.put);
    cli::PrintJson(out);
  } else if (run) {
    std::cout << target.name << " " << target.address << " (" << routing
              << (target.thrifty() ? ", " + std::to_string(target.thrift.cluster_nodes) + "-node cluster" : "")
              << "): GET:PUT " << flags.ratio << ", batch " << flags.batch << ", "
              << flags.value_bytes << "-byte values, keyspace " << keyspace << ", " << connections
              << " connection(s) on " << threads << " thread(s)\n"
              << "  " << Fixed(result.seconds, 2) << " s: " << c.requests << " requests, "
              << Fixed(rps, 0) << " requests/s, " << Fixed(kps, 0) << " keys/s, " << c.misses
              << " misses, " << c.errors << " errors\n"
              << "  latency (us): " << LatencyText(result.all) << "\n";
    if (c.gets > 0 && c.puts > 0) {
      std::cout << "  GET latency (us): " << LatencyText(result.get) << "\n"
                << "  PUT latency (us): " << LatencyText(result.put) << "\n";
    }
    std::cout << std::flush;
  }
  return 0;
}
