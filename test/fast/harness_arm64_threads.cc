// The harness's scenarios on other threads: the node stack's limit, a thread
// without a block, many threads with a consumer, the full-ring rule (a slow
// consumer, none, a dead tracer), and the micro-benchmark.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "harness_arm64_scenarios.h"

static std::mutex g_table_lock;  // the thread table has one writer at a time

// body() on a new thread that owns `block` (made beforehand: the arena's
// allocator is the main thread's), registered while it runs.
template <typename F>
static void on_thread(uint64_t block, F body) {
  std::thread t([&] {
    uint64_t tp = thread_pointer();
    if (block) {
      std::lock_guard<std::mutex> g(g_table_lock);
      block_register(tp, block);
    }
    body();
    if (block) {
      std::lock_guard<std::mutex> g(g_table_lock);
      block_unregister(tp);
    }
  });
  t.join();
}

void s_depth_full() {
  uint64_t b = block_new(64, 3);
  CallCtx c;
  on_thread(b, [&] { c = call((void*)c_rec, ctx_with({4})); });
  CHECK_EQ(c.out[0], 10);
  auto r = drain(b);
  static const uint64_t results[3] = {10, 6, 3};  // c_rec(4 - d)
  if (count_is(r, 6))
    for (int d = 0; d < 3; d++) {
      expect(r[d], RH_KIND_ENTRY, S_REC, kAny, kAny, d, {uint64_t(4 - d)}, "entry");
      expect(r[5 - d], RH_KIND_EXIT, S_REC, r[d].sp, r[d].ret, d, {results[d], x1_of(r[5 - d])}, "exit");
    }
  CHECK_EQ(word(b, RH_B_MISSED_DEPTH), 2);
  CHECK_EQ(pool_word(S_REC, RH_P_NMISSED), 0);
  CHECK_EQ(word(b, RH_B_DEPTH), 0);
}

void s_nothread() {
  CallCtx c;
  uint64_t seen_x30 = 0;
  on_thread(0, [&] {
    c = call((void*)probe, ctx_with({1, 2, 3, 4, 5, 6, 7, 8}));
    seen_x30 = probe_seen[30];
  });
  CHECK_EQ(c.out[0], 36);
  CHECK_EQ(seen_x30, c.ret);  // not hijacked
  CHECK_EQ(hdr(RH_H_MISSED_NOTHREAD), 1);
}

// Checks one thread's records as they are drained: E(i), X(i), i = 0, 1, ...
struct Stream {
  long t = 0, next = 0, bad = 0;
  bool want_exit = false;
  Record entry{};
  void take(const Record& r) {
    if (!want_exit) {
      bad += !(r.kind == RH_KIND_ENTRY && r.site == S_WORKER && r.regs[0] == uint64_t(next) && r.regs[1] == uint64_t(t) &&
               r.depth == 0 && (next == 0 || r.tsc >= entry.tsc));
      entry = r;
    } else {
      bad += !(r.kind == RH_KIND_EXIT && r.site == S_WORKER && r.regs[0] == uint64_t(2 * next + t) && r.depth == 0 &&
               r.sp == entry.sp && r.ret == entry.ret && r.tsc >= entry.tsc);
      next++;
    }
    want_exit = !want_exit;
  }
};

// Drain every block into its stream until `done` and all rings are empty;
// at most `batch` records per ring per round, `pause_us` between rounds.
static void consume(const std::vector<uint64_t>& blocks, std::vector<Stream>* streams, std::atomic<bool>* done,
                    size_t batch, int pause_us) {
  for (;;) {
    bool finished = done->load();
    size_t got = 0;
    for (size_t k = 0; k < blocks.size(); k++) {
      uint64_t b = blocks[k];
      uint64_t head = __atomic_load_n(&word(b, RH_B_HEAD), __ATOMIC_ACQUIRE);
      uint64_t tail = word(b, RH_B_TAIL), mask = word(b, RH_B_RING_MASK);
      for (size_t n = 0; tail != head && n < batch; tail++, n++, got++)
        (*streams)[k].take(((const Record*)word(b, RH_B_RING))[tail & mask]);
      rh_consumed(b, tail);
    }
    if (finished && got == 0) return;
    if (pause_us) usleep(pause_us);
  }
}

// `threads` producers of `calls` calls each into rings of `records`.
static void produce(int threads, long calls, uint64_t records, size_t batch, int pause_us) {
  hdr(RH_H_CONSUMER) = 1;
  std::vector<uint64_t> blocks;
  std::vector<Stream> streams(threads);
  for (int t = 0; t < threads; t++) {
    blocks.push_back(block_new(records, 16));
    streams[t].t = t;
  }
  std::atomic<bool> done{false};
  std::atomic<long> wrong{0};
  std::thread consumer(consume, blocks, &streams, &done, batch, pause_us);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; t++)
    workers.emplace_back([&, t] {
      on_thread(blocks[t], [&] {
        for (long i = 0; i < calls; i++)
          if (c_worker(i, t) != 2 * i + t) wrong++;
      });
    });
  for (auto& w : workers) w.join();
  done = true;
  consumer.join();
  CHECK_EQ(wrong.load(), 0);
  for (int t = 0; t < threads; t++) {
    CHECK_EQ(streams[t].next, calls);
    CHECK_EQ(streams[t].bad, 0);
    CHECK_EQ(word(blocks[t], RH_B_DROPPED), 0);
  }
  CHECK_EQ(hdr(RH_H_DROPPED), 0);
  CHECK_EQ(pool_word(S_WORKER, RH_P_ACTIVE), 0);
}

void s_threads() { produce(4, 20000, 64, 1 << 30, 0); }
void s_slow_consumer() { produce(1, 1000, 16, 3, 100); }

// 100 calls into a ring of 16 that nobody drains: the first 16 records kept.
static void drop_run(long calls, uint64_t want_dropped) {
  uint64_t b = block_new(16, 16);
  on_thread(b, [&] {
    for (long i = 0; i < calls; i++) c_worker(i, 0);
  });
  auto r = drain(b);
  Stream s;
  for (auto& rec : r) s.take(rec);
  CHECK_EQ(r.size(), 16);
  CHECK_EQ(s.bad, 0);
  CHECK_EQ(word(b, RH_B_DROPPED), want_dropped);
  CHECK_EQ(hdr(RH_H_DROPPED), want_dropped);
  CHECK_EQ(word(b, RH_B_DEPTH), 0);
}

void s_no_consumer() { drop_run(100, 184); }

void s_tracer_gone() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);  // reaped: kill(pid, 0) now fails with ESRCH
  hdr(RH_H_CONSUMER) = 1;
  hdr(RH_H_TRACER_PID) = uint64_t(pid);
  drop_run(20, 24);
  CHECK_EQ(hdr(RH_H_CONSUMER), 0);
}

static double ns_per_call(long (*f)(long), long n) {
  long (*volatile fn)(long) = f;  // a real indirect call every time
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i += 500) {
    for (long j = 0; j < 500; j++) fn(j);
    word(g_main_block, RH_B_TAIL) = word(g_main_block, RH_B_HEAD);  // we are our own consumer
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / double(n);
}

void benchmark() {
  const long n = 200000;
  ns_per_call(f_empty_plain, n / 10);  // warm up (translation, under qemu)
  ns_per_call(f_empty, n / 10);
  double plain = ns_per_call(f_empty_plain, n), hooked = ns_per_call(f_empty, n);
  printf("bench: empty function, unhooked %.1f ns/call, hooked %.1f ns/call (+%.1f ns, x%.1f)\n", plain, hooked,
         hooked - plain, hooked / plain);
  drain(g_main_block);
}
