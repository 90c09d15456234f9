// A function that takes about 100 ns, called N times (argv[1]); prints its
// mean time per call as the program itself measures it (CLOCK_MONOTONIC
// around the whole loop), for comparison with the durations a tracer reports.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define NOINLINE __attribute__((noinline, noipa))
NOINLINE long work100(long x) {
  volatile long s = x;
  for (int i = 0; i < 160; i++) s = s * 3 + 1;
  return s;
}
int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000, sum = 0;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) sum += work100(i);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("%.1f %ld\n", ns / n, sum);
  return 0;
}
