// Fast mode: calls recorded inside the tracee, with no trap per call.
//
// Three pieces meet here, and this header is their contract:
//
//   - the ARENA: one shared memory object (a memfd the tracee creates by an
//     injected memfd_create and maps MAP_SHARED; the tracer takes that very
//     descriptor with pidfd_getfd, checks it, seals its size and maps it,
//     then the tracee's descriptor is closed).
//     TypeScript (lib/fast/) lays it out and owns every allocation in it:
//     the thread table, thread blocks, node stacks, rings, sites and pools.
//     The recorder only follows the pointers it finds there.
//   - the RECORDER: position-independent machine code with no libc, no
//     relocations and no writable data of its own, one copy per process,
//     in a page we map r-x. One implementation per architecture
//     (recorder_x86_64.S / recorder_arm64.S), assembled into the addon's
//     .rodata-like section between two labels; the addon hands its bytes and
//     the offsets below to TypeScript, which writes them into the tracee.
//   - STUBS, one per patched function, near it (a relative branch reaches):
//     the function's first instruction(s) become a branch to its stub; the
//     stub calls the recorder's entry with the function's site index, then
//     runs the displaced instructions, relocated, and branches back after
//     them. Built by the architecture's planner (fast_<arch>.cc) from the
//     function's bytes, which it decodes whole to refuse what it cannot patch.
//
// The recorder's ENTRY (per call of a patched function), in this order:
//   1. arena = the blob's arena word; if !enabled: run the function unhooked.
//   2. block = the thread table's entry for the thread pointer (fs base on
//      x86-64, read with rdfsbase when the blob's flags say so, else fs:[0],
//      which glibc and musl keep equal to it; tpidr_el0 on arm64); none:
//      missed_nothread++, unhooked.
//   3. block.busy set (a signal handler interrupted the recorder on this
//      thread): missed_busy++, unhooked. Else busy = 1 until the end.
//   4. frame = sp at the function's first instruction; ret = its return
//      address. If ret is the recorder's return address, the call is a TAIL
//      CALL from a hooked function: its return is that call's; the top node
//      must have node.sp == frame (else unhooked, missed_busy++) and
//      ret = that node's ret; the return is not hijacked again.
//      Otherwise a node with node.sp == frame is a dead frame reused (a
//      longjmp or an exception left it): it is popped and reported UNWOUND
//      first, with the nodes above it when all of those are below the frame
//      (its callees); nodes below the frame with no such node under them
//      stay (a coroutine's, or an alternate stack's: their frames may live).
//   5. pool = pools[sites[site]]: atomically active++ ; if it was >= max:
//      active--, nmissed++ (atomic), unhooked. depth == nodes_max: same
//      with block.missed_depth++.
//   6. The ENTRY record goes into the ring (waiting for room, see below),
//      followed by one STRING record per argument the site captures (the
//      site word's capture mask, below) whose register is not 0; head moves
//      once, after all of them. Then the node {sp = frame, ret, site, tsc} is
//      pushed, then (unless a tail call) the return address is replaced by
//      the recorder's return.
//   7. busy = 0; every register as it was; on to the displaced instructions.
//
// The recorder's RETURN (a hooked function returned into it): with
// frame = sp after the return minus return_pops (8 on x86-64, 0 on arm64):
//   - top nodes with node.sp < frame are dead (a longjmp or an exception went
//     past them): popped, pools released, each reported UNWOUND;
//   - then every top node with node.sp == frame (one, or more after tail
//     calls, innermost first) is popped, released and reported EXIT with the
//     return registers; the last popped node's ret is where execution resumes;
//   - no node with node.sp == frame: nomatch++ and a trap (the tracer, if any,
//     decides; lib/fast treats it as trap mode treats a stray trampoline hit):
//     int3 at blob+0 on x86-64, brk #0 at blob+16 on arm64.
//   The return registers (rax, rdx, xmm0, xmm1 / x0-x7, v0-v7) and every other
//   register are as the function left them. busy is set while the return path
//   works (a signal handler's calls meanwhile run unhooked) and cleared after.
//
// A FULL RING (head - tail == mask + 1): if consumer == 0, or the tracer pid
// is gone (kill(pid, 0) fails with ESRCH; then consumer = 0), the record is
// dropped and counted (block.dropped, arena dropped); else the thread sleeps
// until the tracer frees room, and looks again. Nothing is dropped while a
// tracer drains. Sleeping, not spinning: a waiting thread must leave the CPU
// to the tracer that drains it (spinning in sched_yield, 8 threads left the
// tracer a quarter of one CPU in the arm64 VM). The handshake, a Dekker pair
// with a full barrier on each side:
//   thread: store waiting = 1; barrier; load tail; still full:
//           futex(&tail, FUTEX_WAIT, low 32 bits of that tail, RH_WAIT_NS)
//   tracer: store tail; barrier; load waiting; 1: waiting = 0, FUTEX_WAKE.
// The futex is shared (the arena is a MAP_SHARED memfd in both processes).
// The timeout bounds any wake that is missed and is when a dead tracer is
// noticed (kill(pid, 0) is asked again after each wait).
//
// Clocks: an entry's is read when its records are published (after any wait
// for room and its captured strings), a return's before it waits: durations
// are the calls' own, not the ring's or the tracer's.
//
// Records are written before head moves (a release store); the tracer reads
// head (acquire), the records, then stores tail. Threads never share a ring.
//
// Everything below is u64 little-endian at byte offsets; "address" means an
// address in the tracee (the tracer adds its own mapping's offset).
#pragma once

// ---- the arena header (at the arena's base) --------------------------------
#define RH_MAGIC 0x3130746b6f6f6872ULL /* "rhookt01" */
#define RH_H_MAGIC 0
#define RH_H_ENABLED 8            /* 0: hook no new call (detached); returns still resolve */
#define RH_H_CONSUMER 16          /* 1 while a tracer drains the rings */
#define RH_H_TRACER_PID 24        /* looked at with kill(pid, 0) when a ring is full */
#define RH_H_THREADS 32           /* address of the thread table */
#define RH_H_THREAD_MASK 40       /* its slots - 1 (a power of two) */
#define RH_H_SITES 48             /* address of the site table: one u64 per site (below) */
#define RH_H_POOLS 56             /* address of the pool table */
#define RH_H_MISSED_BUSY 64       /* entries unhooked: the thread was inside the recorder */
#define RH_H_MISSED_NOTHREAD 72   /* entries unhooked: the thread has no block */
#define RH_H_DROPPED 80           /* records dropped: a full ring and no tracer */
#define RH_H_NOMATCH 88           /* returns with no node (trapped) */
#define RH_H_PID 96               /* the tracee's pid: process_vm_readv reads captured strings through it */
#define RH_HEADER_SIZE 4096

// ---- the thread table: slots of {key, block} -------------------------------
// key = the thread pointer; 0 = empty (ends a probe), 1 = deleted (skipped).
// Probe from RH_THREAD_HASH(key) & mask, then +1, at most mask + 1 slots.
#define RH_T_KEY 0
#define RH_T_BLOCK 8
#define RH_T_SLOT_SIZE 16
#define RH_THREAD_HASH(key) (((key) >> 6) ^ ((key) >> 18))

// ---- a pool (one per hook): 32 bytes ---------------------------------------
#define RH_P_ACTIVE 0   /* calls in flight (atomic) */
#define RH_P_MAX 8      /* maxActive */
#define RH_P_NMISSED 16 /* calls unhooked because active reached max (atomic) */
#define RH_POOL_SIZE 32

// ---- a thread block ----------------------------------------------------------
#define RH_B_BUSY 0
#define RH_B_DEPTH 8         /* nodes on the stack */
#define RH_B_HEAD 16         /* records written (the thread's) */
#define RH_B_TAIL 24         /* records consumed (the tracer's) */
#define RH_B_RING 32         /* address of the ring */
#define RH_B_RING_MASK 40    /* records in the ring - 1 (a power of two) */
#define RH_B_NODES_MAX 48
#define RH_B_TID 56          /* for the tracer; the recorder never reads it */
#define RH_B_MISSED_DEPTH 64 /* entries unhooked: the node stack was full */
#define RH_B_DROPPED 72      /* records dropped here (full ring, no tracer) */
#define RH_B_WAITING 80      /* 1: the thread sleeps on tail's low 32 bits for room (see FULL RING) */
#define RH_WAIT_NS 2000000   /* the longest sleep before looking again: 2 ms */
#define RH_B_NODES 128       /* the node stack, bottom first */
// A node: 32 bytes.
#define RH_N_SP 0   /* the frame: sp at the function's first instruction */
#define RH_N_RET 8  /* the real return address */
#define RH_N_SITE 16
#define RH_N_TSC 24 /* the entry's clock */
#define RH_NODE_SIZE 32

// ---- a record in a ring: 128 bytes -------------------------------------------
#define RH_R_KIND 0   /* kind | site << 32 */
#define RH_R_TSC 8    /* the clock (rdtsc / cntvct_el0) */
#define RH_R_SP 16    /* the frame */
#define RH_R_RET 24   /* the real return address */
#define RH_R_REGS 32  /* 8 words. ENTRY: the integer argument registers (x86-64:
                         rdi rsi rdx rcx r8 r9, 0, 0; arm64: x0-x7). EXIT:
                         the return registers (rax rdx / x0 x1), then 0s. */
#define RH_R_FP 96    /* EXIT: xmm0 / d0's low 64 bits; ENTRY: xmm0 / d0 */
#define RH_R_DEPTH 104 /* nodes below this call's */
#define RH_RECORD_SIZE 128
#define RH_KIND_ENTRY 1
#define RH_KIND_EXIT 2
#define RH_KIND_UNWOUND 3
// A STRING record: the C string an integer argument register pointed to at
// the entry, read with process_vm_readv(pid, ...) (a bad pointer reads 0
// bytes, never faults): R_TSC = the argument's index, R_SP = the pointer,
// R_RET = the bytes read (0..RH_STRING_MAX; the string may be cut there, or
// where its pages end), the bytes at R_REGS. It follows its ENTRY record.
// The reads go page by page: no more than up to the end of the pointer's page
// first, then (no NUL read yet, room left) the rest from the next page.
#define RH_KIND_STRING 4
#define RH_STRING_MAX 96

// ---- the site table: one u64 per site ------------------------------------------
// bits 0-31: the pool's index; bits 32-39: the capture mask (bit i: integer
// argument register i holds a C string to capture at the entry).
#define RH_SITE_POOL_MASK 0xffffffffULL
#define RH_SITE_CAPTURE_SHIFT 32

// ---- the recorder blob ---------------------------------------------------------
// The addon exports its bytes and these offsets (fast.recorder in lib/native.ts):
//   entry:  where stubs call (its calling convention is the architecture's:
//           see recorder_<arch>.S's top comment and the planner);
//   ret:    the address hijacked returns come back to;
//   arena:  a u64 the tracer writes: the arena's address;
//   flags:  a u64 the tracer writes: bit 0 = rdfsbase is usable (x86-64).
// The blob is mapped read-execute; the tracer writes the two words through
// /proc/PID/mem before any stub can run.
#define RH_FLAG_FSGSBASE 1ULL

#ifndef __ASSEMBLER__
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
// The consumer's half of the FULL RING handshake, for consumers in C or C++
// (the test harnesses; the tracer's is FastArena.consumed in lib/fast/arena.ts):
// records below `tail` of the block at `block` are consumed; a thread
// sleeping for room is woken.
static inline void rh_consumed(uint64_t block, uint64_t tail) {
  __atomic_store_n((uint64_t*)(block + RH_B_TAIL), tail, __ATOMIC_SEQ_CST);
  if (__atomic_exchange_n((uint64_t*)(block + RH_B_WAITING), 0, __ATOMIC_SEQ_CST) != 0)
    syscall(SYS_futex, (void*)(block + RH_B_TAIL), FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}
#endif
