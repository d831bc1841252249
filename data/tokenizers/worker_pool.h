// Threads that outlive one encode_batch call, so what each keeps per thread (merged-word cache, regex
// scratch) stays warm from call to call instead of starting cold in fresh threads every time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tailor::data {

class WorkerPool {
 public:
  static WorkerPool& shared();
  ~WorkerPool();

  // Runs `work` on `helpers` pool threads and on the calling thread at once; returns when every copy
  // has returned. `work` must not throw. Calls from several threads take turns.
  void run(unsigned helpers, const std::function<void()>& work);

 private:
  WorkerPool() = default;
  void loop(unsigned index);

  std::mutex turn_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void()>* work_ = nullptr;
  unsigned wanted_ = 0, running_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace tailor::data
