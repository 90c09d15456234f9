// Scenarios with threads and rings under pressure, and the benchmark
// (harness.h). A consumer thread plays the tracer draining rings.
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "harness.h"

using namespace harness;

extern "C" {
__attribute__((noinline)) long count_me(long x) { sink = x; return 3 * x; }
void rh_empty_hooked();
void rh_empty_plain();
}

namespace {

long call_count(long x) {
  long (*volatile p)(long) = count_me;
  return p(x);
}

// Checks one thread's records as they come: ENTRY i then EXIT 3i, in order.
struct Sequence {
  uint64_t block = 0;
  uint64_t seen = 0;  // records checked
  std::string error;
  void check(const Record& r) {
    uint64_t i = seen / 2;
    bool entry = seen % 2 == 0;
    bool ok = r.site == S_COUNT && r.depth == 0 &&
              (entry ? r.kind == RH_KIND_ENTRY && r.regs[0] == i : r.kind == RH_KIND_EXIT && r.regs[0] == 3 * i);
    if (!ok && error.empty()) error = "record " + std::to_string(seen) + ": " + describe(r);
    seen++;
  }
};

// Runs `workers` threads of `calls` calls each, rings of `ring` records,
// drained by one consumer taking at most `batch` records per ring per pass
// and sleeping `pause_us` between passes.
void drained_run(Scenario& s, int workers, long calls, uint64_t ring, size_t batch, int pause_us) {
  std::vector<Sequence> seq(workers);
  std::atomic<int> registered{0}, finished{0};
  std::atomic<bool> consumed{false};
  std::vector<std::thread> ts;
  for (int w = 0; w < workers; w++) {
    ts.emplace_back([&, w] {
      seq[w].block = thread_register(ring);
      registered++;
      for (long i = 0; i < calls; i++)
        if (call_count(i) != 3 * i) s.expect(false, "a wrong result");
      finished++;
      while (!consumed.load()) usleep(100);  // the block stays until the consumer is done
      thread_unregister();
    });
  }
  while (registered.load() < workers) usleep(10);
  std::vector<Record> buf;
  for (bool more = true; more;) {
    more = finished.load() < workers;
    for (auto& q : seq) {
      buf.clear();
      if (drain(q.block, &buf, batch)) more = true;
      for (auto& r : buf) q.check(r);
    }
    if (pause_us) usleep(pause_us);
  }
  consumed = true;
  for (auto& t : ts) t.join();
  for (int w = 0; w < workers; w++) {
    s.expect(seq[w].error.empty(), "thread " + std::to_string(w) + " " + seq[w].error);
    s.expect(seq[w].seen == uint64_t(2 * calls), "thread " + std::to_string(w) + " records " + std::to_string(seq[w].seen));
    s.expect(word(seq[w].block + RH_B_DROPPED) == 0, "records dropped");
  }
  s.expect(pool_word(S_COUNT, RH_P_ACTIVE) == 0, "pool left active");
}

// One thread, ring of 16, 100 calls, nobody draining: 16 kept, 184 dropped.
void undrained_run(Scenario& s) {
  uint64_t dropped0 = arena.header(RH_H_DROPPED);
  std::thread([&] {
    uint64_t b = thread_register(16);
    for (long i = 0; i < 100; i++)
      if (call_count(i) != 3 * i) s.expect(false, "a wrong result");
    std::vector<Record> r;
    drain(b, &r);
    s.expect(r.size() == 16 && word(b + RH_B_DROPPED) == 184, "kept " + std::to_string(r.size()) + ", dropped " +
                                                                    std::to_string(word(b + RH_B_DROPPED)));
    thread_unregister();
  }).join();
  s.expect(arena.header(RH_H_DROPPED) == dropped0 + 184, "arena's dropped count");
}

double ns_per_call(void (*fn)(), long n) {
  void (*volatile p)() = fn;
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) p();
  clock_gettime(CLOCK_MONOTONIC, &b);
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / double(n);
}

}  // namespace

namespace harness {

void threads_scenarios() {
  {
    Scenario s("4 threads x 100000 calls, one consumer: every record, in order");
    drained_run(s, 4, 100000, 256, SIZE_MAX, 0);
  }
  {
    Scenario s("a ring of 16 and a slow consumer: nothing lost");
    drained_run(s, 1, 2000, 16, 4, 50);
  }
  {
    Scenario s("consumer = 0: records dropped and counted, calls fine");
    arena.set(RH_H_CONSUMER, 0);
    undrained_run(s);
    arena.set(RH_H_CONSUMER, 1);
  }
  {
    Scenario s("tracer gone (kill says ESRCH): consumer = 0, records dropped");
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, nullptr, 0);
    arena.set(RH_H_TRACER_PID, uint64_t(child));
    undrained_run(s);
    s.expect(arena.header(RH_H_CONSUMER) == 0, "consumer not cleared");
    arena.set(RH_H_TRACER_PID, uint64_t(getpid()));
    arena.set(RH_H_CONSUMER, 1);
  }
}

// Three loops of calls of an empty function: unhooked; hooked with a ring
// large enough for every record (the recorder alone); hooked with a small
// ring drained by a consumer thread that polls (sleeping 20 us when empty),
// as a tracer would.
void benchmark() {
  const long n = 200000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> block{0};
  double plain = 0, alone = 0, drained = 0;
  std::thread([&] {
    uint64_t b = thread_register(1 << 19);
    memset(reinterpret_cast<void*>(word(b + RH_B_RING)), 0, (1 << 19) * RH_RECORD_SIZE);  // no page faults timed
    plain = ns_per_call(rh_empty_plain, n);
    alone = ns_per_call(rh_empty_hooked, n);
    drain(b, nullptr);
    thread_unregister();
  }).join();
  std::thread worker([&] {
    block = thread_register(4096);
    drained = ns_per_call(rh_empty_hooked, n);
    stop = true;
    thread_unregister();
  });
  while (!block) usleep(10);
  uint64_t taken = 0;
  while (!stop.load()) {
    uint64_t k = drain(block, nullptr);
    if (!k) usleep(20);
    taken += k;
  }
  worker.join();
  taken += drain(block, nullptr);
  printf("bench: empty function, %ld calls: unhooked %.1f ns/call, hooked %.1f ns/call (records not drained), "
         "hooked %.1f ns/call (drained by a consumer thread)\n", n, plain, alone, drained);
  Scenario s("benchmark: every record drained");
  s.expect(taken == 2 * uint64_t(n) && word(block + RH_B_DROPPED) == 0, "taken " + std::to_string(taken));
}

}  // namespace harness
