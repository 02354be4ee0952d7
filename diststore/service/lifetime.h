// Lifetime: lets work that outlives a request (a peer call's completion, a task on a pool)
// find out whether the object that started it still exists, and keeps that object from going
// while such work runs in it.
//
// The owner keeps a Lifetime and calls end() first thing in its destructor: end() waits for
// every Hold taken before it and makes every later one false. Work captures `watch()` (a
// shared handle, safe to keep past the owner) and touches the owner only inside a true Hold:
//
//   peers.owner_put_async(..., [life = life_.watch(), this](auto outcome) {
//     Lifetime::Hold hold(life);
//     if (!hold) return;  // the owner is gone: drop it
//     ...
//   });
//
// Thread-safe. A Hold must not wait for end() (nor for anything that waits for it).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>

namespace thrifty::diststore {

class Lifetime {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int holds = 0;
    bool ended = false;
  };

 public:
  using Watch = std::shared_ptr<State>;

  Lifetime() = default;
  ~Lifetime() { end(); }
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;

  Watch watch() const { return state_; }

  // Waits for the Holds taken so far; later Holds are false. Idempotent.
  void end() {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->ended = true;
    state_->cv.wait(lock, [&] { return state_->holds == 0; });
  }

  // True while the owner lives; it cannot end while this is in scope. Holds nest (work
  // that completes on the thread that started it takes a second one).
  class Hold {
   public:
    explicit Hold(Watch watch) : state_(std::move(watch)) {
      std::lock_guard<std::mutex> lock(state_->mu);
      alive_ = !state_->ended;
      if (alive_) ++state_->holds;
    }
    ~Hold() {
      if (!alive_) return;
      std::lock_guard<std::mutex> lock(state_->mu);
      if (--state_->holds == 0) state_->cv.notify_all();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    explicit operator bool() const { return alive_; }

   private:
    Watch state_;
    bool alive_ = false;
  };

 private:
  const Watch state_ = std::make_shared<State>();
};

}  // namespace thrifty::diststore
