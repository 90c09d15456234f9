// C test functions for the arm64 fast-mode harness. Built with
// -mbranch-protection=standard, so they begin as real code does: paciasp in
// functions that save x30, bti c in leaves. noipa and the volatile sink keep
// every call a real call (no inlining, no sibling calls, no recursion turned
// into a loop).
#include <setjmp.h>

#define T __attribute__((noipa))

volatile long sink;
static jmp_buf jb;

T long c_inner(long x) { return x * 2; }
T long c_outer(long x) { long r = c_inner(x + 1); sink = r; return r + 1; }

T long c_rec(long n) {
  if (n <= 0) return 0;
  long r = c_rec(n - 1);
  sink = r;
  return r + n;
}

T long c_worker(long i, long t) { return 2 * i + t; }
T double c_double(double a, long b) { return a * (double)b; }

// Two hooked frames abandoned by a longjmp into a third (c_lj_top2).
T long c_lj_inner(long x) { longjmp(jb, (int)x); }
T long c_lj_outer(long x) { long r = c_lj_inner(x + 1); sink = r; return r + 1; }
T long c_lj_top2(void) {
  if (setjmp(jb) == 0) {
    c_lj_outer(1);
    return -1;
  }
  return 42;
}

// One hooked frame abandoned, then a call from the same frame (c_lj_top1).
T long c_lj_one(long x) { longjmp(jb, (int)x); }
T long c_lj_plain(long x) { return x + 1; }
T long c_lj_top1(void) {
  volatile long r = 0;
  if (setjmp(jb) == 0) c_lj_one(5);
  r = c_lj_plain(10);
  return r;
}

// Detach (enabled = 0) while hooked: its own return must still resolve.
T long c_disable(long* enabled) {
  *enabled = 0;
  long r = c_inner(3);
  sink = r;
  return r + 1;
}

// A captured string (its site's mask: bit 0).
T long c_str(const char* s, long i) { return s[0] + i; }
