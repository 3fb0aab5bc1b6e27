// A few threads kept for the life of a stream, that run one job at a time on
// all of them: thread-local state (pattern-matching scratch space, case
// folding buffers) is set up once rather than for every batch.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace pickaxe {

class TaskPool {
 public:
  // `threads` in all: the caller's own and threads - 1 kept ones (fewer
  // when the system refuses more: the caller then runs the missing jobs).
  explicit TaskPool(size_t threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Calls job(0) on this thread and job(1..threads-1) on the kept ones (the
  // jobs no thread was kept for after job(0), on this one), and returns when
  // all have returned. A job must not wait for a later one.
  void run(const std::function<void(size_t)>& job);

 private:
  void serve(size_t index);

  std::mutex mutex_;
  std::condition_variable started_, finished_;
  const std::function<void(size_t)>* job_ = nullptr;
  uint64_t generation_ = 0;
  size_t running_ = 0;
  bool stopping_ = false;
  size_t jobs_ = 1;  // the threads asked for
  std::vector<std::thread> threads_;
};

inline TaskPool::TaskPool(size_t threads) : jobs_(std::max<size_t>(threads, 1)) {
  for (size_t i = 1; i < jobs_; ++i) {
    try {
      threads_.emplace_back([this, i] { serve(i); });
    } catch (const std::system_error&) {
      break;  // a limit on threads: run() does the rest on the caller's
    }
  }
}

inline TaskPool::~TaskPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  started_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

inline void TaskPool::run(const std::function<void(size_t)>& job) {
  {
    std::lock_guard lock(mutex_);
    job_ = &job;
    running_ = threads_.size();
    ++generation_;
  }
  started_.notify_all();
  job(0);
  for (size_t i = threads_.size() + 1; i < jobs_; ++i) job(i);
  std::unique_lock lock(mutex_);
  finished_.wait(lock, [this] { return running_ == 0; });
  job_ = nullptr;
}

inline void TaskPool::serve(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(size_t)>* job;
    {
      std::unique_lock lock(mutex_);
      started_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
    }
    (*job)(index);
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    finished_.notify_one();
  }
}

}  // namespace pickaxe
