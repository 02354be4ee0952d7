#include "tools/bench/targets.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#ifdef THRIFTY_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "tools/bench/memcached_text.h"

namespace thrifty::bench {

using apache::thrift::TException;

diststore::wire::Consistency::type ParseConsistencyName(const std::string& text) {
  std::string names;
  for (const auto& [value, name] : diststore::wire::_Consistency_VALUES_TO_NAMES) {
    if (strcasecmp(text.c_str(), name) == 0) return static_cast<diststore::wire::Consistency::type>(value);
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    names += (names.empty() ? "" : ", ") + lower;
  }
  throw FatalError("unknown consistency level '" + text + "' (expected " + names + ")");
}

void FormatKey(uint64_t index, std::string* out) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "key:%012llu", static_cast<unsigned long long>(index));
  out->assign(buf, static_cast<size_t>(n));
}

std::string KeyName(uint64_t index) {
  std::string key;
  FormatKey(index, &key);
  return key;
}

// ---- thrifty ----

ThriftConnection ConnectThrift(const locator::wire::Location& node, const ThriftTarget& target) {
  rpc::ConnectOptions options;
  options.connect_timeout_ms = target.connect_timeout_ms;
  options.call_timeout_ms = target.call_timeout_ms;
  options.limits = target.limits;
  options.tls = target.tls;
  try {
    return rpc::Connect<diststore::wire::StoreClient>(node, options);
  } catch (const TException& e) {
    throw FatalError("cannot connect to thrifty node " + rpc::ToString(node) + ": " + e.what());
  }
}

std::vector<locator::wire::Member> RingMembers(const locator::wire::View& view) {
  return membership::InRingMembers(view.members);
}

locator::wire::View FetchView(const ThriftTarget& target) {
  ThriftConnection conn = ConnectThrift(target.entry, target);
  locator::wire::View view;
  try {
    conn.client->get_view(view);
  } catch (const TException& e) {
    throw FatalError("get_view on " + rpc::ToString(target.entry) + " failed: " + e.what());
  }
  return view;
}

void Resolve(ThriftTarget* target) {
  target->nodes.clear();
  target->ring.reset();
  const locator::wire::View view = FetchView(*target);
  const auto members = RingMembers(view);
  target->cluster_nodes = members.size();
  if (!target->ring_aware) {
    target->nodes.push_back(target->entry);
    return;
  }
  if (members.empty()) throw FatalError(rpc::ToString(target->entry) + " reports an empty ring");
  try {
    target->ring = std::make_shared<const locator::Ring>(members, view.placement);
  } catch (const std::exception& e) {
    throw FatalError("cannot build the ring of " + rpc::ToString(target->entry) + ": " + e.what());
  }
  target->nodes = target->ring->nodes();
}

namespace {

bool SameNode(const locator::wire::Location& a, const locator::wire::Location& b) {
  return a.port == b.port && a.address == b.address;
}

class ThriftSlot : public Slot {
 public:
  ThriftSlot(const ThriftTarget& target, const std::string* value)
      : target_(target), value_(value) {
    for (const auto& node : target.nodes) {
      Channel ch;
      ch.node = node;
      ch.conn = ConnectThrift(node, target);
      ch.fd = static_cast<int>(ch.conn.socket->getSocketFD());
      channels_.push_back(std::move(ch));
    }
    pending_.reserve(channels_.size());
  }

  void send(const Request& request) override {
    kind_ = request.kind;
    batch_ = request.count > 1;
    for (auto& ch : channels_) {
      ch.keys.clear();
      ch.entries.clear();
    }
    pending_.clear();
    // Group the keys by the channel they go to.
    for (size_t i = 0; i < request.count; ++i) {
      FormatKey(request.keys[i], &key_);
      Channel& ch = channels_[channel_for(key_)];
      if (kind_ == OpKind::kGet) {
        ch.keys.push_back(key_);
      } else {
        diststore::wire::Entry e;
        e.key = key_;
        e.value = *value_;
        ch.entries.push_back(std::move(e));
      }
    }
    for (size_t c = 0; c < channels_.size(); ++c) {
      Channel& ch = channels_[c];
      if (ch.keys.empty() && ch.entries.empty()) continue;
      try {
        if (kind_ == OpKind::kGet) {
          if (batch_) ch.conn.client->send_multi_get(ch.keys, target_.consistency);
          else ch.conn.client->send_get(ch.keys.front(), target_.consistency);
        } else {
          if (batch_) ch.conn.client->send_multi_put(ch.entries, target_.consistency);
          else ch.conn.client->send_put(ch.entries.front().key, ch.entries.front().value, target_.consistency);
        }
      } catch (const TException& e) {
        throw FatalError("sending to " + rpc::ToString(ch.node) + " failed: " + e.what());
      }
      pending_.push_back(static_cast<int>(c));
    }
  }

  const std::vector<int>& pending() const override { return pending_; }
  int fd(int channel) const override { return channels_[static_cast<size_t>(channel)].fd; }

  bool receive(int channel, Outcome* outcome) override {
    Channel& ch = channels_[static_cast<size_t>(channel)];
    try {
      if (kind_ == OpKind::kGet) {
        if (batch_) {
          got_.clear();
          ch.conn.client->recv_multi_get(got_);
          for (const auto& k : ch.keys) {
            if (got_.find(k) == got_.end()) ++outcome->misses;
          }
        } else {
          try {
            ch.conn.client->recv_get(value_out_);
          } catch (const diststore::wire::NotFound&) {
            ++outcome->misses;
          }
        }
      } else {
        if (batch_) ch.conn.client->recv_multi_put();
        else ch.conn.client->recv_put();
      }
    } catch (const diststore::wire::StoreError& e) {
      ++outcome->errors;
      if (!warned_) {
        warned_ = true;
        std::fprintf(stderr, "storebench: %s refused a request: %s\n",
                     rpc::ToString(ch.node).c_str(), e.message.c_str());
      }
    } catch (const TException& e) {
      throw FatalError("reply from " + rpc::ToString(ch.node) + " failed: " + e.what());
    }
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i] == channel) {
        pending_[i] = pending_.back();
        pending_.pop_back();
        break;
      }
    }
    return pending_.empty();
  }

 private:
  struct Channel {
    locator::wire::Location node;
    ThriftConnection conn;
    int fd = -1;
    std::vector<std::string> keys;
    std::vector<diststore::wire::Entry> entries;
  };

  size_t channel_for(const std::string& key) const {
    if (!target_.ring || channels_.size() == 1) return 0;
    const locator::wire::Location& owner = target_.ring->owner(key);
    for (size_t c = 0; c < channels_.size(); ++c) {
      if (SameNode(channels_[c].node, owner)) return c;
    }
    return 0;  // not reached: the channels are the ring's nodes
  }

  const ThriftTarget& target_;
  const std::string* value_;
  std::vector<Channel> channels_;
  std::vector<int> pending_;
  OpKind kind_ = OpKind::kGet;
  bool batch_ = false;
  bool warned_ = false;
  std::string key_;
  std::string value_out_;
  std::map<std::string, std::string> got_;
};

}  // namespace

std::unique_ptr<Slot> MakeThriftSlot(const ThriftTarget& target, const std::string* value) {
  return std::make_unique<ThriftSlot>(target, value);
}

// ---- Redis ----

#ifdef THRIFTY_HAVE_HIREDIS

namespace {

class RedisSlot : public Slot {
 public:
  RedisSlot(const RedisTarget& target, const std::string* value)
      : name_(target.host + ":" + std::to_string(target.port)),
        value_(value),
        wait_replicas_(target.wait_replicas),
        wait_count_(std::to_string(target.wait_replicas)) {
    timeval connect_timeout{target.connect_timeout_ms / 1000, (target.connect_timeout_ms % 1000) * 1000};
    ctx_ = redisConnectWithTimeout(target.host.c_str(), target.port, connect_timeout);
    if (ctx_ == nullptr) throw FatalError("cannot connect to Redis " + name_ + ": out of memory");
    if (ctx_->err) {
      const std::string why = ctx_->errstr;
      redisFree(ctx_);
      ctx_ = nullptr;
      throw FatalError("cannot connect to Redis " + name_ + ": " + why);
    }
    timeval call_timeout{target.call_timeout_ms / 1000, (target.call_timeout_ms % 1000) * 1000};
    redisSetTimeout(ctx_, call_timeout);
    // One round trip now, so a server that accepts but does not speak Redis fails here.
    auto* reply = static_cast<redisReply*>(redisCommand(ctx_, "PING"));
    if (reply == nullptr) {
      throw FatalError("Redis " + name_ + " did not answer PING: " + std::string(ctx_->errstr));
    }
    const bool pong = reply->type == REDIS_REPLY_STATUS;
    freeReplyObject(reply);
    if (!pong) throw FatalError(name_ + " does not answer PING like a Redis server");
  }
  ~RedisSlot() override {
    if (ctx_) redisFree(ctx_);
  }

  void send(const Request& request) override {
    for (size_t i = 0; i < request.count; ++i) {
      FormatKey(request.keys[i], &key_);
      int rc;
      if (request.kind == OpKind::kGet) {
        const char* argv[2] = {"GET", key_.data()};
        const size_t len[2] = {3, key_.size()};
        rc = redisAppendCommandArgv(ctx_, 2, argv, len);
      } else {
        const char* argv[3] = {"SET", key_.data(), value_->data()};
        const size_t len[3] = {3, key_.size(), value_->size()};
        rc = redisAppendCommandArgv(ctx_, 3, argv, len);
      }
      if (rc != REDIS_OK) fail("formatting a command");
    }
    // The SETs are acknowledged once `wait_replicas_` replicas have them.
    waiting_ = request.kind == OpKind::kPut && wait_replicas_ > 0;
    if (waiting_) {
      const char* argv[3] = {"WAIT", wait_count_.data(), "0"};
      const size_t len[3] = {4, wait_count_.size(), 1};
      if (redisAppendCommandArgv(ctx_, 3, argv, len) != REDIS_OK) fail("formatting a command");
    }
    int done = 0;
    while (!done) {
      if (redisBufferWrite(ctx_, &done) != REDIS_OK) fail("sending");
    }
    outstanding_ = request.count + (waiting_ ? 1 : 0);
    pending_.assign(1, 0);
  }

  const std::vector<int>& pending() const override { return pending_; }
  int fd(int) const override { return ctx_->fd; }

  bool receive(int, Outcome* outcome) override {
    for (; outstanding_ > 0; --outstanding_) {
      void* raw = nullptr;
      if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) fail("reading a reply");
      auto* reply = static_cast<redisReply*>(raw);
      if (waiting_ && outstanding_ == 1) {  // WAIT's reply: how many replicas acknowledged
        if (reply->type != REDIS_REPLY_INTEGER || reply->integer < wait_replicas_) {
          ++outcome->errors;
          if (!warned_) {
            warned_ = true;
            std::fprintf(stderr, "storebench: Redis %s: WAIT %d 0 answered %s\n", name_.c_str(), wait_replicas_,
                         reply->type == REDIS_REPLY_INTEGER ? std::to_string(reply->integer).c_str()
                                                            : "something other than a count");
          }
        }
      } else if (reply->type == REDIS_REPLY_NIL) {
        ++outcome->misses;
      } else if (reply->type == REDIS_REPLY_ERROR) {
        ++outcome->errors;
        if (!warned_) {
          warned_ = true;
          std::fprintf(stderr, "storebench: Redis %s refused a request: %s\n", name_.c_str(),
                       reply->str);
        }
      }
      freeReplyObject(reply);
    }
    pending_.clear();
    return true;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw FatalError("Redis " + name_ + ": " + what + " failed: " +
                     (ctx_->err ? std::string(ctx_->errstr) : std::string("unknown error")));
  }

  std::string name_;
  const std::string* value_;
  const int wait_replicas_;
  const std::string wait_count_;  // wait_replicas_ as WAIT's argument
  redisContext* ctx_ = nullptr;
  size_t outstanding_ = 0;
  bool waiting_ = false;  // the request ends with a WAIT
  std::vector<int> pending_;
  std::string key_;
  bool warned_ = false;
};

}  // namespace

bool RedisSupported() { return true; }

std::unique_ptr<Slot> MakeRedisSlot(const RedisTarget& target, const std::string* value) {
  return std::make_unique<RedisSlot>(target, value);
}

#else

bool RedisSupported() { return false; }

std::unique_ptr<Slot> MakeRedisSlot(const RedisTarget&, const std::string*) {
  throw FatalError("this storebench was built without hiredis (install libhiredis-dev and rebuild)");
}

#endif

// ---- memcached ----

namespace {

// A TCP connection to HOST:PORT within `timeout_ms`, blocking afterwards. Throws FatalError.
int ConnectTcp(const std::string& host, int port, int timeout_ms, const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (rc != 0) throw FatalError("cannot connect to " + name + ": " + gai_strerror(rc));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int err = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int n;
        do {
          n = poll(&p, 1, timeout_ms);
        } while (n < 0 && errno == EINTR);
        socklen_t len = sizeof err;
        if (n == 0) err = ETIMEDOUT;
        else if (n < 0) err = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err != 0) {
      why = std::strerror(err);
      close(fd);
      fd = -1;
      continue;
    }
    fcntl(fd, F_SETFL, flags);
  }
  freeaddrinfo(addresses);
  if (fd < 0) throw FatalError("cannot connect to " + name + ": " + why);
  return fd;
}

class MemcachedSlot : public Slot {
 public:
  MemcachedSlot(const MemcachedTarget& target, const std::string* value)
      : name_("memcached " + rpc::ToString(rpc::MakeLocation(target.host, target.port))),
        value_(value),
        in_(size_t{64} << 10) {
    fd_ = ConnectTcp(target.host, target.port, target.connect_timeout_ms, name_);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const timeval call_timeout{target.call_timeout_ms / 1000, (target.call_timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &call_timeout, sizeof call_timeout);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &call_timeout, sizeof call_timeout);
    // One round trip now, so a server that accepts but does not speak memcached fails here.
    try {
      write_all("version\r\n");
      const std::string line = read_line();
      if (line.rfind("VERSION ", 0) != 0) {
        throw FatalError(name_ + " does not answer 'version' like memcached (it said '" + line.substr(0, 80) + "')");
      }
    } catch (...) {
      close(fd_);
      throw;
    }
  }
  ~MemcachedSlot() override { close(fd_); }

  void send(const Request& request) override {
    out_.clear();
    kind_ = request.kind;
    count_ = request.count;
    if (request.kind == OpKind::kGet) {
      keys_.resize(request.count);
      for (size_t i = 0; i < request.count; ++i) FormatKey(request.keys[i], &keys_[i]);
      AppendMemcachedGet(keys_, &out_);
      reader_.expect_get();
    } else {
      for (size_t i = 0; i < request.count; ++i) {
        FormatKey(request.keys[i], &key_);
        AppendMemcachedSet(key_, *value_, &out_);
      }
      reader_.expect_sets(request.count);
    }
    write_all(out_);
    pending_.assign(1, 0);
  }

  const std::vector<int>& pending() const override { return pending_; }
  int fd(int) const override { return fd_; }

  bool receive(int, Outcome* outcome) override {
    try {
      while (true) {
        begin_ += reader_.consume(in_.data() + begin_, end_ - begin_);
        if (reader_.done()) break;
        fill();
      }
    } catch (const FatalError&) {
      throw;
    } catch (const std::runtime_error& e) {  // the reader's: not memcached's protocol
      throw FatalError(name_ + ": " + e.what());
    }
    if (begin_ != end_) throw FatalError(name_ + " sent more than the reply to one request");
    begin_ = end_ = 0;
    if (reader_.errors() > 0) {
      outcome->errors += reader_.errors();
      if (!warned_) {
        warned_ = true;
        std::fprintf(stderr, "storebench: %s refused a request: %s\n", name_.c_str(),
                     reader_.first_error().c_str());
      }
    } else if (kind_ == OpKind::kGet && reader_.values() < count_) {
      outcome->misses += count_ - reader_.values();
    }
    pending_.clear();
    return true;
  }

 private:
  void write_all(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        fail_io("sending", n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno);
      }
    }
  }

  // Moves unread bytes to the front of the buffer and reads more after them (blocking).
  void fill() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (begin_ > 0) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == in_.size()) throw FatalError(name_ + ": a reply line longer than the read buffer");
    while (true) {
      const ssize_t n = ::recv(fd_, in_.data() + end_, in_.size() - end_, 0);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        return;
      }
      if (n == 0) throw FatalError(name_ + " closed the connection");
      if (errno == EINTR) continue;
      fail_io("reading a reply", errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno);
    }
  }

  // The first line of the reply (the handshake's).
  std::string read_line() {
    while (true) {
      const char* start = in_.data() + begin_;
      const void* nl = std::memchr(start, '\n', end_ - begin_);
      if (nl != nullptr) {
        const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - start);
        std::string line(start, len > 0 && start[len - 1] == '\r' ? len - 1 : len);
        begin_ += len + 1;
        if (begin_ == end_) begin_ = end_ = 0;
        return line;
      }
      if (end_ - begin_ > MemcachedReplyReader::kMaxLine) {
        throw FatalError(name_ + " does not answer 'version' like memcached (no line end)");
      }
      fill();
    }
  }

  [[noreturn]] void fail_io(const char* what, int err) {
    throw FatalError(name_ + ": " + what + " failed: " + std::strerror(err));
  }

  std::string name_;
  const std::string* value_;
  int fd_ = -1;
  std::vector<char> in_;
  size_t begin_ = 0, end_ = 0;  // unread bytes of in_
  std::string out_;
  std::string key_;
  std::vector<std::string> keys_;
  MemcachedReplyReader reader_;
  OpKind kind_ = OpKind::kGet;
  size_t count_ = 0;
  std::vector<int> pending_;
  bool warned_ = false;
};

}  // namespace

std::unique_ptr<Slot> MakeMemcachedSlot(const MemcachedTarget& target, const std::string* value) {
  return std::make_unique<MemcachedSlot>(target, value);
}

}  // namespace thrifty::bench
