#include "data/tokenizers/worker_pool.h"

namespace tailor::data {

WorkerPool& WorkerPool::shared() {
  static WorkerPool pool;
  return pool;
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::run(unsigned helpers, const std::function<void()>& work) {
  std::lock_guard turn(turn_);
  {
    std::unique_lock lock(mutex_);
    while (threads_.size() < helpers) threads_.emplace_back(&WorkerPool::loop, this, unsigned(threads_.size()));
    work_ = &work;
    wanted_ = running_ = helpers;
    ++generation_;
  }
  wake_.notify_all();
  work();
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return running_ == 0; });
  work_ = nullptr;
}

void WorkerPool::loop(unsigned index) {
  uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    if (index >= wanted_) continue;
    const std::function<void()>* work = work_;
    lock.unlock();
    (*work)();
    lock.lock();
    if (--running_ == 0) done_.notify_all();
  }
}

}  // namespace tailor::data
