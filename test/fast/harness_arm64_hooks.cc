// The harness's patching: every test function hooked once at start, and the
// PAC/BTI scenario, which also copies functions into a BTI-guarded page to
// show why landing pads stay in place.
#include <signal.h>
#include <setjmp.h>
#include <sys/mman.h>

#include <cstring>

#include "harness_arm64_scenarios.h"

#ifndef PROT_BTI
#define PROT_BTI 0x10
#endif

// The functions s_pac_bti copies into a guarded page, taken before they are
// patched in place.
static struct {
  const void* fn;
  const char* name;
  uint64_t add;  // what it adds to x0
  uint8_t code[64];
} g_copies[] = {{(void*)g_bti, "g_bti", 77, {}}, {(void*)g_paci, "g_paci", 5, {}},
                {(void*)g_bti_paci, "g_bti_paci", 7, {}}, {(void*)g_nopad, "g_nopad", 1, {}}};

bool hook_all() {
  for (auto& c : g_copies) memcpy(c.code, c.fn, symbol_size(c.name));
  struct {
    const void* fn;
    const char* name;
    uint32_t site;
  } all[] = {
#define H_(fn, site) {(const void*)fn, #fn, site}
      H_(probe, S_PROBE), H_(f_adrp, S_ADRP), H_(f_adr, S_ADR), H_(f_ldrx, S_LDRX), H_(f_ldrw, S_LDRW),
      H_(f_ldrsw, S_LDRSW), H_(f_ldrd, S_LDRD), H_(f_bcond, S_BCOND), H_(f_cbz, S_CBZ), H_(f_tbnz, S_TBNZ),
      H_(tail_a, S_TAIL_A), H_(tail_b, S_TAIL_B), H_(f_thunk, S_THUNK), H_(g_bti, S_BTI), H_(g_paci, S_PACI),
      H_(g_pacib, S_PACIB), H_(g_bti_paci, S_BTI_PACI), H_(f_empty, S_EMPTY), H_(c_outer, S_OUTER),
      H_(c_inner, S_INNER), H_(c_rec, S_REC), H_(c_worker, S_WORKER), H_(c_double, S_DOUBLE),
      H_(c_lj_top2, S_LJ_TOP2), H_(c_lj_outer, S_LJ_OUTER), H_(c_lj_inner, S_LJ_INNER), H_(c_lj_one, S_LJ_ONE),
      H_(c_lj_plain, S_LJ_PLAIN), H_(c_lj_top1, S_LJ_TOP1), H_(c_disable, S_DISABLE), H_(c_str, S_STR),
#undef H_
  };
  bool ok = true;
  for (auto& h : all) {
    std::string why;
    if (!hook(h.fn, h.name, h.site, h.site, &why)) {
      printf("FAIL cannot hook %s: %s\n", h.name, why.c_str());
      ok = false;
    }
  }
  return ok;
}

static void pad_call(const void* fn, uint32_t site, uint64_t x0, uint64_t want, const char* what) {
  CallCtx c = call(fn, ctx_with({x0}));
  check(c.out[0] == want, what, hexpair(c.out[0], want));
  check(c.out[30] == c.ret, what, "x30 after the return");
  auto r = drain(g_main_block);
  if (!count_is(r, 2)) return;
  expect(r[0], RH_KIND_ENTRY, site, c.sp, c.ret, 0, {x0}, what);
  expect(r[1], RH_KIND_EXIT, site, c.sp, c.ret, 0, {want, x1_of(r[1])}, what);
}

static sigjmp_buf g_ill_jb;
static void on_ill(int) { siglongjmp(g_ill_jb, 1); }

// Whether calling fn (blr) raises SIGILL, as a missing landing pad does.
static bool faults(const void* fn) {
  struct sigaction sa = {}, old;
  sa.sa_handler = on_ill;
  sigaction(SIGILL, &sa, &old);
  bool fault = true;
  static CallCtx c;
  c = ctx_with({1});
  if (sigsetjmp(g_ill_jb, 1) == 0) {
    rh_call(fn, &c);
    fault = false;
  }
  sigaction(SIGILL, &old, nullptr);
  return fault;
}

void s_pac_bti() {
  printf("  note: PAC is %s here\n", pac_sign(0x400000) != 0x400000 ? "live (signatures are checked)" : "absent (NOPs)");
  pad_call((void*)g_bti, S_BTI, 1, 78, "bti c first (at = 4)");
  pad_call((void*)g_paci, S_PACI, 1, 6, "paciasp first (at = 4, aut/pac around the recorder)");
  pad_call((void*)g_pacib, S_PACIB, 1, 7, "pacibsp first");
  pad_call((void*)g_bti_paci, S_BTI_PACI, 1, 8, "bti c, paciasp (at = 8)");
  // The C functions are built with -mbranch-protection=standard: check that
  // the planner met a paciasp or a bti where the other scenarios run.
  uint32_t first;
  memcpy(&first, (const void*)c_outer, 4);
  check(first == 0xD503233F, "c_outer begins with paciasp", hexpair(first, 0xD503233F));

  // Copies in a guarded page, called indirectly (blr: BTYPE 10).
  auto& fns = g_copies;
  uint8_t* page = (uint8_t*)map_near(H.stubs, 4096);
  for (int i = 0; i < 4; i++) memcpy(page + 64 * i, fns[i].code, symbol_size(fns[i].name));
  __builtin___clear_cache((char*)page, (char*)page + 4096);
  for (int i = 0; i < 3; i++) {
    std::string why;
    check(hook(page + 64 * i, fns[i].name, S_GUARDED + i, S_GUARDED + i, &why), "hook the guarded copy", why);
  }
  if (mprotect(page, 4096, PROT_READ | PROT_EXEC | PROT_BTI) != 0) {
    printf("  note: PROT_BTI refused here: the guarded-page half is skipped\n");
    return;
  }
  if (!faults(page + 192)) {
    printf("  note: BTI is not enforced here: the guarded-page half is skipped\n");
    return;
  }
  printf("  note: BTI enforced: an indirect call to a non-landing-pad faults\n");
  for (int i = 0; i < 3; i++) {
    check(!faults(page + 64 * i), "guarded, hooked, called indirectly", fns[i].name);
    drain(g_main_block);
    pad_call(page + 64 * i, S_GUARDED + i, 2, 2 + fns[i].add, fns[i].name);
  }
}
