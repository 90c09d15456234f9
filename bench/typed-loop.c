// The formatting benchmark: a hooked function with a string and an integer
// argument (built with -g, so its types come from DWARF), called N times.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noipa)) int lookup(const char *key, int len) { return (int)strlen(key) == len ? 0 : -1; }
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000, s = 0;
  for (long i = 0; i < n; i++) s += lookup("alpha", (int)(i & 7));
  printf("%ld\n", s);
  return 0;
}
