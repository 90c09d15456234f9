// A tiny key-value store to trace: `rethook trace -f 'kv_*' -- examples/kvstore`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry { const char* key; int value; struct entry* next; };
static struct entry* table[8];

__attribute__((noinline)) unsigned kv_hash(const char* s) {
  unsigned h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h % 8;
}

__attribute__((noinline)) struct entry* kv_find(const char* key) {
  for (struct entry* e = table[kv_hash(key)]; e; e = e->next)
    if (strcmp(e->key, key) == 0) return e;
  return NULL;
}

__attribute__((noinline)) int kv_put(const char* key, int value) {
  struct entry* e = kv_find(key);
  if (e) { e->value = value; return 0; }
  e = malloc(sizeof *e);
  e->key = key; e->value = value;
  unsigned h = kv_hash(key);
  e->next = table[h];
  table[h] = e;
  return 1;
}

__attribute__((noinline)) int kv_get(const char* key, int fallback) {
  struct entry* e = kv_find(key);
  return e ? e->value : fallback;
}

int main(void) {
  kv_put("apple", 3);
  kv_put("pear", 5);
  kv_put("apple", 4);
  printf("apple=%d pear=%d plum=%d\n", kv_get("apple", -1), kv_get("pear", -1), kv_get("plum", -1));
  return 0;
}
