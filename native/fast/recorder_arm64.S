// The arm64 recorder: records calls inside the tracee (recorder.h is the
// contract: arena layout, entry steps 1-7, the return, the ring protocol).
// (Over 400 lines on purpose: the blob is copied whole into tracees, so it is
// one contiguous piece between two labels: one file.)
//
// This is never executed in the addon: it sits in a read-only data section,
// between rethook_recorder_arm64_start and _end, and fast_arm64.cc hands its
// bytes to TypeScript, which copies them into the tracee (mapped r-x). Hence:
// position independent (adr and ldr-literal to itself only), no relocations,
// no libc, no writable data but the two words the tracer writes beforehand.
//
// Entry, from a stub (fast_arm64.cc builds it) by `blr x17`:
//   [sp + 0]  the function's x16      [sp + 8]  its x17
//   [sp + 16] its x30: the real return address; this slot is the hijack:
//             the stub reloads x30 from it after we return
//   frame = sp + 32 (sp at the function's first instruction)
//   x16 = the site index; x17 = scratch; x30 = back into the stub.
// Every other register, NZCV and all FP/SIMD registers are preserved (a
// displaced b.cond may test the caller's flags; d0 is only read).
//
// Return (rh_ret): a hooked function's `ret` lands here with sp = its frame
// (arm64 returns pop nothing). x16/x17 are clobbered (IP0/IP1 are dead across
// a return, AAPCS64); every other register is as the function left it, and x30
// is the real return address, as it would have been without us. We resume
// with `ret x17`: RET is not checked against BTI landing pads, BR would be.
//
// Captured strings (entry step 6): the site word's bits 32-39 say which of
// x0-x7 hold a C string; each one not 0 gets a STRING record after the ENTRY
// record, filled by process_vm_readv on our own pid (RH_H_PID): it never
// faults, a bad pointer reads nothing (-EFAULT). Read page by page (4 KiB
// chunks: no page is smaller): up to the pointer's page end first, then, when
// that read was whole, held no NUL and left room, the rest from ptr + n.
// R_RET = the bytes read (a failed read counts 0; a failed second read keeps
// the first part); the rest of the record's 96 string bytes are zeros. The
// records are reserved one after the other (x25 = reserved, not published:
// rec_begin looks at head + x25) and head moves once, past all of them. An
// ENTRY record dropped drops its STRING records too (each counted, none read).
//
// Timestamps: cntvct_el0 (no isb: a few cycles of skew between the two ends
// of a call do not matter). Atomics: ldaxr/stlxr loops, valid on every arm64.
#include "recorder.h"

#define NR_KILL 129
#define NR_FUTEX 98
#define NR_PROCESS_VM_READV 270
#define ESRCH 3

// Our save area, the same in both paths: x9-x15, x19-x25, x30, NZCV.
#define SAVE 128
// In the entry path, the stub's words above it.
#define STUB_X30 (SAVE + 16)
#define STUB_FRAME (SAVE + 32)

// The capture frame, below the save area while STRING records are written:
// the function's x0-x8 (the system calls clobber x0 and take x1-x5, x8), then
// the two iovecs process_vm_readv reads.
#define CAP 112
#define CAP_X8 64
#define CAP_LOCAL 80	/* {record + R_REGS (+ n), len} */
#define CAP_REMOTE 96	/* {ptr (+ n), len} */
#define PAGE_CHUNK 4096	/* never more than the smallest page size: */
			/* a read never crosses more than one page end */

// *addr += delta, atomically; t (x) and s (w) are scratch.
.macro ATOMIC_ADD addr, delta, t, s
1:	ldaxr	\t, [\addr]
	add	\t, \t, \delta
	stlxr	\s, \t, [\addr]
	cbnz	\s, 1b
.endm

.macro ATOMIC_SUB addr, delta, t, s
1:	ldaxr	\t, [\addr]
	sub	\t, \t, \delta
	stlxr	\s, \t, [\addr]
	cbnz	\s, 1b
.endm

.macro SAVE_REGS
	sub	sp, sp, #SAVE
	stp	x9, x10, [sp, #0]
	stp	x11, x12, [sp, #16]
	stp	x13, x14, [sp, #32]
	stp	x15, x30, [sp, #48]
	stp	x19, x20, [sp, #64]
	stp	x21, x22, [sp, #80]
	stp	x23, x24, [sp, #96]
	mrs	x9, nzcv
	stp	x9, x25, [sp, #112]
.endm

.macro RESTORE_REGS
	ldp	x9, x25, [sp, #112]
	msr	nzcv, x9
	ldp	x9, x10, [sp, #0]
	ldp	x11, x12, [sp, #16]
	ldp	x13, x14, [sp, #32]
	ldp	x15, x30, [sp, #48]
	ldp	x19, x20, [sp, #64]
	ldp	x21, x22, [sp, #80]
	ldp	x23, x24, [sp, #96]
	add	sp, sp, #SAVE
.endm

// x15 = the top node's address (x14 = depth, > 0).
.macro TOP_NODE
	add	x15, x10, x14, lsl #5
	add	x15, x15, #(RH_B_NODES - RH_NODE_SIZE)
.endm

	.section .rodata.rethook_recorder_arm64, "a"
	.balign 16
	.globl rethook_recorder_arm64_start, rethook_recorder_arm64_end
	.globl rethook_recorder_arm64_entry, rethook_recorder_arm64_ret
	.globl rethook_recorder_arm64_arena, rethook_recorder_arm64_flags
	.globl rethook_recorder_arm64_nomatch
	.hidden rethook_recorder_arm64_start, rethook_recorder_arm64_end
	.hidden rethook_recorder_arm64_entry, rethook_recorder_arm64_ret
	.hidden rethook_recorder_arm64_arena, rethook_recorder_arm64_flags
	.hidden rethook_recorder_arm64_nomatch

rethook_recorder_arm64_start:
// The data words come first: their offsets never move when code changes.
rethook_recorder_arm64_arena:
.Larena:
	.quad 0		// the arena's address (the tracer writes it)
rethook_recorder_arm64_flags:
	.quad 0		// unused on arm64

// A return with no node: nomatch++, every register as the function left it
// (x16/x17 aside, x30 = rh_ret), sp = its frame, then this trap. The tracer
// decides; without one, SIGTRAP. A second brk: never fall into the code.
rethook_recorder_arm64_nomatch:
.Lnomatch_trap:
	brk	#0
	brk	#0

// ---- entry -------------------------------------------------------------------
rethook_recorder_arm64_entry:
	hint	#34			// bti c: a landing pad for the stub's blr
	SAVE_REGS
	add	x11, sp, #STUB_FRAME	// x11 = frame
	ldr	x12, [sp, #STUB_X30]	// x12 = the real return address
	mov	x13, x16		// x13 = site
	ldr	x9, .Larena
	// 1. enabled?
	ldr	x14, [x9, #RH_H_ENABLED]
	cbz	x14, .Lentry_out
	// 2. this thread's block
	bl	find_block
	cbz	x10, .Lnothread
	// 3. busy: a signal handler interrupted the recorder on this thread
	ldr	x14, [x10, #RH_B_BUSY]
	cbnz	x14, .Lbusy
	mov	x14, #1
	str	x14, [x10, #RH_B_BUSY]
	// 4. a tail call from a hooked function, or a dead frame reused
	mov	x20, #0			// x20 = 1: a tail call
	adr	x14, .Lret
	cmp	x12, x14
	b.ne	.Lreused
	ldr	x14, [x10, #RH_B_DEPTH]
	cbz	x14, .Ltail_mismatch
	TOP_NODE
	ldr	x16, [x15, #RH_N_SP]
	cmp	x16, x11
	b.ne	.Ltail_mismatch
	ldr	x12, [x15, #RH_N_RET]	// its return is the tail caller's
	mov	x20, #1
	b	.Lpool
.Lreused:
	// A node of this very frame is a dead call whose frame is reused (a
	// longjmp or an exception left it), and so is every node above it when
	// all of those are below the frame (its callees): all UNWOUND, innermost
	// first. Nodes below the frame with no such node under them stay (a
	// coroutine's, an alternate stack's).
	ldr	x19, [x10, #RH_B_DEPTH]	// x19 scans down from the top
2:	cbz	x19, .Lpool		// no node of this frame: nothing dead
	sub	x19, x19, #1
	add	x15, x10, x19, lsl #5
	ldr	x16, [x15, #(RH_B_NODES + RH_N_SP)]
	cmp	x16, x11
	b.lo	2b			// below the frame: a callee, look further down
	b.hi	.Lpool			// above it: a live caller, nothing dead
3:	cbz	x19, 4f			// the lowest node of this frame (several after tail calls)
	sub	x17, x19, #1
	add	x15, x10, x17, lsl #5
	ldr	x16, [x15, #(RH_B_NODES + RH_N_SP)]
	cmp	x16, x11
	b.ne	4f
	mov	x19, x17
	b	3b
4:	mov	x21, #RH_KIND_UNWOUND
5:	ldr	x14, [x10, #RH_B_DEPTH]
	cmp	x14, x19
	b.ls	.Lpool
	bl	emit_pop
	b	5b
.Lpool:
	// 5. the pool, then the node stack
	mov	x16, x13
	bl	pool_of			// x15 = pool
1:	ldaxr	x16, [x15]		// RH_P_ACTIVE is 0: x16 = active before
	add	x17, x16, #1
	stlxr	w14, x17, [x15]
	cbnz	w14, 1b
	ldr	x17, [x15, #RH_P_MAX]
	cmp	x16, x17
	b.hs	.Lpool_full
	ldr	x14, [x10, #RH_B_DEPTH]
	ldr	x16, [x10, #RH_B_NODES_MAX]
	cmp	x14, x16
	b.hs	.Ldepth_full
	// 6. the ENTRY record (x0-x7 and d0 are still the function's)
	mrs	x19, cntvct_el0
	bl	rec_begin0		// x14 = record, or 0: dropped (x25 = 0)
	cbz	x14, .Lcapture
	mov	x16, #RH_KIND_ENTRY
	orr	x16, x16, x13, lsl #32
	stp	x16, x19, [x14, #RH_R_KIND]
	stp	x11, x12, [x14, #RH_R_SP]
	stp	x0, x1, [x14, #RH_R_REGS]
	stp	x2, x3, [x14, #(RH_R_REGS + 16)]
	stp	x4, x5, [x14, #(RH_R_REGS + 32)]
	stp	x6, x7, [x14, #(RH_R_REGS + 48)]
	str	d0, [x14, #RH_R_FP]
	ldr	x16, [x10, #RH_B_DEPTH]
	str	x16, [x14, #RH_R_DEPTH]
	mov	x25, #1			// reserved, not yet published
.Lcapture:
	// The STRING records: the site word's capture mask (bits 32-39).
	ldr	x16, [x9, #RH_H_SITES]
	add	x16, x16, x13, lsl #3
	ldrb	w21, [x16, #4]		// x21 = the mask, shifted right as we go
	cbz	x21, .Lpublish
	sub	sp, sp, #CAP
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	str	x8, [sp, #CAP_X8]
	mov	x22, #0			// x22 = the argument's index
.Lcap_next:
	tbz	x21, #0, .Lcap_skip
	ldr	x23, [sp, x22, lsl #3]	// x23 = the pointer
	cbz	x23, .Lcap_skip
	cbnz	x25, 1f
	bl	rec_drop		// the ENTRY record was dropped: so is this one
	b	.Lcap_skip
1:	bl	rec_begin
	cbz	x14, .Lcap_skip		// dropped (counted)
	mov	x16, #RH_KIND_STRING
	orr	x16, x16, x13, lsl #32
	stp	x16, x22, [x14, #RH_R_KIND]	// R_TSC = the index
	str	x23, [x14, #RH_R_SP]
	stp	xzr, xzr, [x14, #RH_R_REGS]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 16)]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 32)]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 48)]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 64)]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 80)]
	// First read: up to the end of the pointer's (4 KiB) page, at most
	// RH_STRING_MAX bytes.
	and	x16, x23, #(PAGE_CHUNK - 1)
	mov	x17, #PAGE_CHUNK
	sub	x17, x17, x16
	mov	x16, #RH_STRING_MAX
	cmp	x17, x16
	csel	x17, x17, x16, lo	// x17 = n
	add	x16, x14, #RH_R_REGS
	stp	x16, x17, [sp, #CAP_LOCAL]
	stp	x23, x17, [sp, #CAP_REMOTE]
	bl	read_remote		// x24 = the bytes read (>= 0)
	cmp	x24, x17
	b.ne	.Lcap_done		// short or failed: that is all
	cmp	x17, #RH_STRING_MAX
	b.hs	.Lcap_done		// full
	mov	x15, #0
2:	add	x16, x14, x15
	ldrb	w16, [x16, #RH_R_REGS]
	cbz	w16, .Lcap_done		// the NUL: the string is whole
	add	x15, x15, #1
	cmp	x15, x17
	b.lo	2b
	// Second read: the rest, from the next page (a failure keeps the first).
	mov	x16, #RH_STRING_MAX
	sub	x16, x16, x17		// RH_STRING_MAX - n: less than a chunk
	add	x15, x14, #RH_R_REGS
	add	x15, x15, x17
	stp	x15, x16, [sp, #CAP_LOCAL]
	add	x15, x23, x17
	stp	x15, x16, [sp, #CAP_REMOTE]
	mov	x15, x24
	bl	read_remote
	add	x24, x24, x15
.Lcap_done:
	str	x24, [x14, #RH_R_RET]
	add	x25, x25, #1
.Lcap_skip:
	lsr	x21, x21, #1
	add	x22, x22, #1
	cbnz	x21, .Lcap_next
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldr	x8, [sp, #CAP_X8]
	add	sp, sp, #CAP
.Lpublish:
	// Every record reserved goes out at once: head moves once. The entry's
	// clock is read again first, into its record (at head) and the node: a
	// wait for room or a captured string's system calls are not the call's.
	cbz	x25, .Lpush
	mrs	x19, cntvct_el0
	ldr	x16, [x10, #RH_B_HEAD]
	ldr	x17, [x10, #RH_B_RING_MASK]
	and	x17, x16, x17
	ldr	x15, [x10, #RH_B_RING]
	add	x15, x15, x17, lsl #7	// RH_RECORD_SIZE
	str	x19, [x15, #RH_R_TSC]
	add	x16, x16, x25
	add	x17, x10, #RH_B_HEAD
	stlr	x16, [x17]
.Lpush:
	ldr	x14, [x10, #RH_B_DEPTH]
	add	x15, x10, x14, lsl #5
	add	x15, x15, #RH_B_NODES
	stp	x11, x12, [x15, #RH_N_SP]
	stp	x13, x19, [x15, #RH_N_SITE]
	add	x14, x14, #1
	str	x14, [x10, #RH_B_DEPTH]
	cbnz	x20, .Lentry_done	// a tail call's return is hijacked already
	adr	x14, .Lret
	str	x14, [sp, #STUB_X30]
.Lentry_done:
	// 7. not busy any more (RH_B_BUSY is 0)
	stlr	xzr, [x10]
.Lentry_out:
	RESTORE_REGS
	ret

.Lnothread:
	add	x16, x9, #RH_H_MISSED_NOTHREAD
	ATOMIC_ADD x16, #1, x14, w17
	b	.Lentry_out
.Lbusy:
	// Someone else's busy: leave it set.
	add	x16, x9, #RH_H_MISSED_BUSY
	ATOMIC_ADD x16, #1, x14, w17
	b	.Lentry_out
.Ltail_mismatch:
	// A tail call whose caller's node is not on top: unhooked, ours cleared.
	add	x16, x9, #RH_H_MISSED_BUSY
	ATOMIC_ADD x16, #1, x14, w17
	b	.Lentry_done
.Lpool_full:
	ATOMIC_SUB x15, #1, x14, w17
	add	x16, x15, #RH_P_NMISSED
	ATOMIC_ADD x16, #1, x14, w17
	b	.Lentry_done
.Ldepth_full:
	ATOMIC_SUB x15, #1, x14, w17
	ldr	x14, [x10, #RH_B_MISSED_DEPTH]
	add	x14, x14, #1
	str	x14, [x10, #RH_B_MISSED_DEPTH]
	b	.Lentry_done

// ---- return --------------------------------------------------------------------
rethook_recorder_arm64_ret:
.Lret:
	SAVE_REGS
	add	x11, sp, #SAVE		// x11 = frame: sp after the return
	ldr	x9, .Larena
	bl	find_block
	cbz	x10, .Lnomatch
	// busy while we work (a signal handler's calls then go unhooked rather
	// than push onto the stack we are popping); restored after.
	ldr	x20, [x10, #RH_B_BUSY]
	mov	x14, #1
	str	x14, [x10, #RH_B_BUSY]
	// Nodes below the frame are dead: a longjmp or an exception passed them.
	mov	x21, #RH_KIND_UNWOUND
1:	ldr	x14, [x10, #RH_B_DEPTH]
	cbz	x14, .Lnomatch_busy
	TOP_NODE
	ldr	x16, [x15, #RH_N_SP]
	cmp	x16, x11
	b.hs	2f
	bl	emit_pop
	b	1b
2:	b.ne	.Lnomatch_busy
	// Every node of this frame returns now, innermost first (tail calls).
	mov	x21, #RH_KIND_EXIT
3:	bl	emit_pop		// x22 = its real return address
	ldr	x14, [x10, #RH_B_DEPTH]
	cbz	x14, 4f
	TOP_NODE
	ldr	x16, [x15, #RH_N_SP]
	cmp	x16, x11
	b.eq	3b
4:	add	x14, x10, #RH_B_BUSY
	stlr	x20, [x14]
	mov	x17, x22
	RESTORE_REGS
	mov	x30, x17
	ret	x17

.Lnomatch_busy:
	add	x14, x10, #RH_B_BUSY
	stlr	x20, [x14]
.Lnomatch:
	add	x16, x9, #RH_H_NOMATCH
	ATOMIC_ADD x16, #1, x14, w17
	RESTORE_REGS
	b	.Lnomatch_trap

// ---- helpers (internal calls: x30 is the caller's to keep) ---------------------

// x10 = the block of this thread (tpidr_el0) or 0. In: x9 = arena.
// Clobbers x14-x17, x23, x24, NZCV.
find_block:
	mrs	x14, tpidr_el0
	cbz	x14, 3f			// key 0 marks empty slots
	lsr	x15, x14, #6
	eor	x15, x15, x14, lsr #18	// RH_THREAD_HASH
	ldr	x16, [x9, #RH_H_THREAD_MASK]
	ldr	x17, [x9, #RH_H_THREADS]
	add	x23, x16, #1		// probe at most mask + 1 slots
1:	and	x15, x15, x16
	add	x24, x17, x15, lsl #4
	ldr	x10, [x24, #RH_T_KEY]
	cmp	x10, x14
	b.eq	2f
	cbz	x10, 3f			// empty: the end of the probe (1, deleted: on)
	add	x15, x15, #1
	subs	x23, x23, #1
	b.ne	1b
3:	mov	x10, #0
	ret
2:	ldr	x10, [x24, #RH_T_BLOCK]
	ret

// x15 = the pool of site x16: the site word's bits 0-31 (its bits 32-39 are
// the capture mask). In: x9. Clobbers x17.
pool_of:
	ldr	x17, [x9, #RH_H_SITES]
	add	x17, x17, x16, lsl #3
	ldr	w15, [x17]		// RH_SITE_POOL_MASK: the low word, zero-extended
	ldr	x17, [x9, #RH_H_POOLS]
	add	x15, x17, x15, lsl #5
	ret

// x14 = the address of the record after the x25 reserved ones (head + x25)
// in this thread's ring, or 0 when the record is dropped (counted). A full
// ring (head + x25 - tail == mask + 1) with a live tracer draining it is
// waited for (futex): the tracer drains up to head, which leaves room
// for the reserved records and this one unless x25 > mask (then dropped: it
// could never fit). A dead tracer (kill(pid, 0) fails with ESRCH) clears
// consumer. In: x9, x10, x25. Clobbers x15-x17, NZCV; the system calls' x0-x3
// and x8 are saved around them. rec_begin0: none reserved.
// rec_drop: only count a dropped record (x14 = 0).
rec_begin0:
	mov	x25, #0
rec_begin:
1:	ldr	x15, [x10, #RH_B_HEAD]
	add	x15, x15, x25
	add	x17, x10, #RH_B_TAIL
	ldar	x16, [x17]		// the tracer is done with records below tail
	sub	x16, x15, x16
	ldr	x17, [x10, #RH_B_RING_MASK]
	cmp	x16, x17
	b.hi	2f			// head + x25 - tail == mask + 1: full
	and	x15, x15, x17
	ldr	x14, [x10, #RH_B_RING]
	add	x14, x14, x15, lsl #7	// RH_RECORD_SIZE
	ret
2:	cmp	x25, x17
	b.hi	rec_drop		// more reserved than the ring holds
	ldr	x16, [x9, #RH_H_CONSUMER]
	cbz	x16, rec_drop
	stp	x0, x1, [sp, #-64]!	// x0-x3, x8, then the futex timeout at sp + 48
	stp	x2, x3, [sp, #16]
	str	x8, [sp, #32]
	ldr	x0, [x9, #RH_H_TRACER_PID]
	cmp	x0, #0
	b.le	3f			// no pid: kill(0, 0) would ask about our group
	mov	x1, #0
	mov	x8, #NR_KILL
	svc	#0
	cmn	x0, #ESRCH
	b.eq	3f
	// Sleep until the tracer frees room (recorder.h, FULL RING): say so,
	// then look at tail again after a full barrier, and sleep on the value seen.
	mov	x16, #1
	str	x16, [x10, #RH_B_WAITING]
	dmb	ish
	add	x0, x10, #RH_B_TAIL
	ldr	x2, [x0]
	ldr	x16, [x10, #RH_B_HEAD]
	add	x16, x16, x25
	sub	x16, x16, x2
	ldr	x17, [x10, #RH_B_RING_MASK]
	cmp	x16, x17
	b.ls	4f			// room already
	mov	w2, w2			// tail's low 32 bits, as seen
	mov	x1, #0			// FUTEX_WAIT (shared: the tracer wakes it)
	movz	x16, #(RH_WAIT_NS & 0xffff)
	movk	x16, #(RH_WAIT_NS >> 16), lsl #16
	stp	xzr, x16, [sp, #48]	// {tv_sec = 0, tv_nsec}
	add	x3, sp, #48
	mov	x8, #NR_FUTEX
	svc	#0
4:	ldr	x8, [sp, #32]
	ldp	x2, x3, [sp, #16]
	ldp	x0, x1, [sp], #64
	b	1b
3:	str	xzr, [x9, #RH_H_CONSUMER]	// the tracer is gone
	ldr	x8, [sp, #32]
	ldp	x2, x3, [sp, #16]
	ldp	x0, x1, [sp], #64
rec_drop:
	ldr	x16, [x10, #RH_B_DROPPED]
	add	x16, x16, #1
	str	x16, [x10, #RH_B_DROPPED]
	add	x16, x9, #RH_H_DROPPED
	ATOMIC_ADD x16, #1, x15, w17
	mov	x14, #0
	ret

// x24 = what process_vm_readv(RH_H_PID, the capture frame's local iovec, 1,
// its remote iovec, 1, 0) returned, 0 when negative (a bad pointer: -EFAULT;
// no such system call: -ENOSYS; pid 0, not written yet: -ESRCH). The capture
// frame is at sp. In: x9. Clobbers x0-x5, x8, NZCV.
read_remote:
	ldr	x0, [x9, #RH_H_PID]
	add	x1, sp, #CAP_LOCAL
	mov	x2, #1
	add	x3, sp, #CAP_REMOTE
	mov	x4, #1
	mov	x5, #0
	mov	x8, #NR_PROCESS_VM_READV
	svc	#0
	cmp	x0, #0
	csel	x24, x0, xzr, gt
	ret

// The record at head is written: publish it. In: x10. Clobbers x16, x17.
rec_commit:
	ldr	x16, [x10, #RH_B_HEAD]
	add	x16, x16, #1
	add	x17, x10, #RH_B_HEAD
	stlr	x16, [x17]
	ret

// Pop the top node, release its pool, record it as kind x21 (EXIT: x0, x1,
// d0; UNWOUND: zeros). x22 = its real return address. In: x9, x10 (depth > 0).
// Clobbers x14-x17, x22-x24, x30, NZCV.
emit_pop:
	mov	x23, x30
	ldr	x14, [x10, #RH_B_DEPTH]
	sub	x14, x14, #1
	str	x14, [x10, #RH_B_DEPTH]
	add	x24, x10, x14, lsl #5
	add	x24, x24, #RH_B_NODES	// x24 = the node (above depth now)
	ldr	x16, [x24, #RH_N_SITE]
	bl	pool_of
	ATOMIC_SUB x15, #1, x16, w17	// RH_P_ACTIVE is 0
	mrs	x22, cntvct_el0		// before any wait for room: waiting is not the call's time
	bl	rec_begin0
	cbz	x14, 3f
	ldr	x16, [x24, #RH_N_SITE]
	orr	x16, x21, x16, lsl #32
	stp	x16, x22, [x14, #RH_R_KIND]
	ldp	x16, x17, [x24, #RH_N_SP]	// sp, ret
	stp	x16, x17, [x14, #RH_R_SP]
	cmp	x21, #RH_KIND_EXIT
	b.ne	1f
	stp	x0, x1, [x14, #RH_R_REGS]
	str	d0, [x14, #RH_R_FP]
	b	2f
1:	stp	xzr, xzr, [x14, #RH_R_REGS]
	str	xzr, [x14, #RH_R_FP]
2:	stp	xzr, xzr, [x14, #(RH_R_REGS + 16)]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 32)]
	stp	xzr, xzr, [x14, #(RH_R_REGS + 48)]
	ldr	x16, [x10, #RH_B_DEPTH]
	str	x16, [x14, #RH_R_DEPTH]
	bl	rec_commit
3:	ldr	x22, [x24, #RH_N_RET]
	ret	x23

	.balign 8
rethook_recorder_arm64_end:

	.section .note.GNU-stack, "", %progbits
