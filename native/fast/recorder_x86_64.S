// The x86-64 recorder (recorder.h is the contract; this is its x86-64 text).
// (Over 400 lines on purpose: the blob is copied whole into tracees, so it is
// one contiguous piece between two labels: one file.)
//
// Position-independent bytes between rethook_recorder_x86_64_start and _end,
// copied into the tracee and never executed in the addon (hence .rodata).
// Every reference to the blob itself is rip-relative to a local label, so
// the assembler resolves it and the object has no relocation inside the
// blob; no libc, two raw syscalls (kill, futex) when a ring is full,
// one more (process_vm_readv) per captured string.
//
// Layout (offsets exported in rethook_recorder_x86_64_offsets):
//   +0      int3: the NOMATCH TRAP. A return with no node for its frame ends
//           here after restoring every register and rsp (= frame + 8, as the
//           real return would have left it): the tracer sees SIGTRAP with
//           rip = blob + 1.
//   entry   called by a stub:  push imm32 SITE ; call [rip+P] ; lea rsp,[rsp+8]
//           so at entry [rsp] = the stub's continuation, [rsp+8] = SITE
//           (sign-extended imm32: read as a u32), [rsp+16] = the function's
//           return address, and frame = rsp + 16. Returns to the stub with
//           every general register and the stack as they were (flags not:
//           they are dead at a call), xmm registers untouched (xmm0 read).
//   ret     where hijacked returns land: rsp = frame + 8.
//   arena, flags: two u64 words the tracer writes (read rip-relative).
//
// Captured strings (recorder.h, entry step 6): after the ENTRY record, one
// STRING record per set bit i of the site word's capture mask (bits 32-37:
// rdi rsi rdx rcx r8 r9; bits 38-39 are arm64's x6/x7, ignored here) whose
// register is not 0, in ascending i; head moves once, after the last. The
// bytes come from process_vm_readv(RH_H_PID, ...), which fails with -EFAULT
// on a bad address instead of faulting: at most to the pointer's page end
// first, then (all of it read, no NUL in it, fewer than RH_STRING_MAX) the
// rest from the next page. R_RET = the bytes read (0..RH_STRING_MAX): they
// may run past the string's NUL (the tracer stops at the first NUL); the
// record's bytes after them are stale. If the ENTRY record itself was
// dropped, each STRING it would have had is counted dropped, not written.
//
// busy: the entry sets it for its whole length, and so does the return path
// (it moves the node stack and the ring too, and a signal handler's hooked
// call must not interleave with that); only the entry consults it.
#include "recorder.h"

	.intel_syntax noprefix
	.section .rodata.rethook_recorder, "a"
	.balign 16

	.globl rethook_recorder_x86_64_start
	.hidden rethook_recorder_x86_64_start
rethook_recorder_x86_64_start:
.Lstart:
.Lnomatch_trap:
	int3
	.balign 16, 0xcc

// Saved registers, pushed in this order by both paths: rax first.
#define SAVE_GPRS push rax; push rcx; push rdx; push rsi; push rdi; push r8; push r9; push r10; push r11
#define RESTORE_GPRS pop r11; pop r10; pop r9; pop r8; pop rdi; pop rsi; pop rdx; pop rcx; pop rax

// The entry's stack after SAVE_GPRS and 48 bytes of locals (E_ = from rsp).
#define E_TSC 0        /* the entry's clock */
#define E_TARGET 8     /* depth to pop down to (a reused frame) */
#define E_MASK 16      /* capture bits not yet done */
#define E_N 24         /* records reserved, not yet published (ENTRY + STRINGs) */
#define E_IDX 32       /* the argument being captured */
#define E_PTR 40       /* its pointer */
#define E_LOCALS 48
#define E_R11 (E_LOCALS + 0)
#define E_R9 (E_LOCALS + 16)
#define E_R8 (E_LOCALS + 24)
#define E_RDI (E_LOCALS + 32)
#define E_RSI (E_LOCALS + 40)
#define E_RDX (E_LOCALS + 48)
#define E_RCX (E_LOCALS + 56)
#define E_SITE (E_LOCALS + 80)
#define E_FRAME (E_LOCALS + 88)
#define CAPTURE_ARGS 0x3f  /* the capture bits x86-64 has registers for */

// Register roles in both paths, kept across the subroutines below:
//   r11 = arena, r10 = thread block, r9 = frame, r8 = the real return.
// The subroutines clobber rax rcx rdx rsi rdi (r11 is reloaded after a syscall).

.Lentry:
	SAVE_GPRS
	sub rsp, E_LOCALS
	mov r11, qword ptr [rip + .Larena]
	cmp qword ptr [r11 + RH_H_ENABLED], 0
	je .Lentry_out
	call .Lfind_block
	test r10, r10
	jz .Lentry_nothread
	cmp qword ptr [r10 + RH_B_BUSY], 0
	jne .Lentry_busy
	mov qword ptr [r10 + RH_B_BUSY], 1
	lea r9, [rsp + E_FRAME]
	mov r8, qword ptr [r9]
	lea rax, [rip + .Lret]
	cmp r8, rax
	je .Lentry_tail

	// A reused frame: a node with sp == frame with only nodes below the
	// frame above it (its callees, or a tail chain's other members at
	// sp == frame) is dead, as is everything above it. Nodes below the
	// frame with no such node under them stay: they may be a coroutine's
	// or an alternate stack's (a return decides them, recorder.h).
	mov rcx, qword ptr [r10 + RH_B_DEPTH]
.Lscan:
	test rcx, rcx
	jz .Lpool
	mov rax, rcx
	shl rax, 5
	cmp qword ptr [r10 + rax + RH_B_NODES - RH_NODE_SIZE + RH_N_SP], r9
	ja .Lpool
	je .Lreused
	dec rcx
	jmp .Lscan
.Lreused:			// node rcx-1 has sp == frame; so may those under it
	dec rcx
	jz .Lreap
	mov rax, rcx
	shl rax, 5
	cmp qword ptr [r10 + rax + RH_B_NODES - RH_NODE_SIZE + RH_N_SP], r9
	je .Lreused
.Lreap:
	mov qword ptr [rsp + E_TARGET], rcx
.Lreap_one:
	mov rax, qword ptr [r10 + RH_B_DEPTH]
	cmp rax, qword ptr [rsp + E_TARGET]
	jbe .Lpool
	mov esi, RH_KIND_UNWOUND
	call .Lpop_node
	test rdi, rdi
	jz .Lreap_one
	add qword ptr [r10 + RH_B_HEAD], 1
	jmp .Lreap_one

	// A tail call from a hooked function: its return is the caller's,
	// whose node must be on top with this frame.
.Lentry_tail:
	mov rcx, qword ptr [r10 + RH_B_DEPTH]
	test rcx, rcx
	jz .Lentry_tail_lost
	shl rcx, 5
	cmp qword ptr [r10 + rcx + RH_B_NODES - RH_NODE_SIZE + RH_N_SP], r9
	jne .Lentry_tail_lost
	mov r8, qword ptr [r10 + rcx + RH_B_NODES - RH_NODE_SIZE + RH_N_RET]

.Lpool:				// rcx = pools + (sites[site] & RH_SITE_POOL_MASK) * RH_POOL_SIZE
	mov eax, dword ptr [rsp + E_SITE]
	mov rcx, qword ptr [r11 + RH_H_SITES]
	mov ecx, dword ptr [rcx + rax * 8]	// bits 0-31 (zero-extended)
	shl rcx, 5
	add rcx, qword ptr [r11 + RH_H_POOLS]
	mov eax, 1
	lock xadd qword ptr [rcx + RH_P_ACTIVE], rax
	cmp rax, qword ptr [rcx + RH_P_MAX]
	jae .Lentry_pool_full
	mov rax, qword ptr [r10 + RH_B_DEPTH]
	cmp rax, qword ptr [r10 + RH_B_NODES_MAX]
	jae .Lentry_depth_full

	rdtsc
	shl rdx, 32
	or rax, rdx
	mov qword ptr [rsp + E_TSC], rax
	call .Lring_reserve
	test rdi, rdi
	jz .Lentry_dropped
	mov eax, dword ptr [rsp + E_SITE]
	shl rax, 32
	or rax, RH_KIND_ENTRY
	mov qword ptr [rdi + RH_R_KIND], rax
	mov rax, qword ptr [rsp + E_TSC]
	mov qword ptr [rdi + RH_R_TSC], rax
	mov qword ptr [rdi + RH_R_SP], r9
	mov qword ptr [rdi + RH_R_RET], r8
	mov rax, qword ptr [rsp + E_RDI]
	mov qword ptr [rdi + RH_R_REGS + 0], rax
	mov rax, qword ptr [rsp + E_RSI]
	mov qword ptr [rdi + RH_R_REGS + 8], rax
	mov rax, qword ptr [rsp + E_RDX]
	mov qword ptr [rdi + RH_R_REGS + 16], rax
	mov rax, qword ptr [rsp + E_RCX]
	mov qword ptr [rdi + RH_R_REGS + 24], rax
	mov rax, qword ptr [rsp + E_R8]
	mov qword ptr [rdi + RH_R_REGS + 32], rax
	mov rax, qword ptr [rsp + E_R9]
	mov qword ptr [rdi + RH_R_REGS + 40], rax
	xor eax, eax
	mov qword ptr [rdi + RH_R_REGS + 48], rax
	mov qword ptr [rdi + RH_R_REGS + 56], rax
	movq rax, xmm0
	mov qword ptr [rdi + RH_R_FP], rax
	mov rax, qword ptr [r10 + RH_B_DEPTH]
	mov qword ptr [rdi + RH_R_DEPTH], rax
	mov eax, dword ptr [rsp + E_SITE]
	mov rcx, qword ptr [r11 + RH_H_SITES]
	test byte ptr [rcx + rax * 8 + 4], CAPTURE_ARGS	// the capture mask
	jnz .Lcapture
	call .Lstamp_entry
	add qword ptr [r10 + RH_B_HEAD], 1	// a plain store: x86 keeps store order

.Lpush_node:
	mov rcx, qword ptr [r10 + RH_B_DEPTH]
	shl rcx, 5
	lea rcx, [r10 + rcx + RH_B_NODES]
	mov qword ptr [rcx + RH_N_SP], r9
	mov qword ptr [rcx + RH_N_RET], r8
	mov eax, dword ptr [rsp + E_SITE]
	mov qword ptr [rcx + RH_N_SITE], rax
	mov rax, qword ptr [rsp + E_TSC]
	mov qword ptr [rcx + RH_N_TSC], rax
	add qword ptr [r10 + RH_B_DEPTH], 1
	// Hijack the return (after a tail call the slot already holds this).
	lea rax, [rip + .Lret]
	mov qword ptr [r9], rax
.Lentry_done:
	mov qword ptr [r10 + RH_B_BUSY], 0
.Lentry_out:
	add rsp, E_LOCALS
	RESTORE_GPRS
	ret

	// STRING records after the ENTRY one (unpublished: E_N records so far).
.Lcapture:
	movzx eax, byte ptr [rcx + rax * 8 + 4]
	and eax, CAPTURE_ARGS
	mov qword ptr [rsp + E_MASK], rax
	mov qword ptr [rsp + E_N], 1
.Lcap_next:
	mov rax, qword ptr [rsp + E_MASK]
	test rax, rax
	jz .Lcap_publish
	bsf rcx, rax
	btr rax, rcx
	mov qword ptr [rsp + E_MASK], rax
	lea rax, [rip + .Lcap_regs]
	movzx eax, byte ptr [rax + rcx]
	mov rsi, qword ptr [rsp + rax]		// the saved argument register
	test rsi, rsi
	jz .Lcap_next
	mov qword ptr [rsp + E_IDX], rcx
	mov qword ptr [rsp + E_PTR], rsi
	mov rdx, qword ptr [rsp + E_N]
	call .Lring_reserve_n
	test rdi, rdi
	jz .Lcap_next			// dropped (counted)
	mov eax, dword ptr [rsp + E_SITE]
	shl rax, 32
	or rax, RH_KIND_STRING
	mov qword ptr [rdi + RH_R_KIND], rax
	mov rax, qword ptr [rsp + E_IDX]
	mov qword ptr [rdi + RH_R_TSC], rax
	mov rsi, qword ptr [rsp + E_PTR]
	mov qword ptr [rdi + RH_R_SP], rsi
	call .Lread_string
	mov qword ptr [rdi + RH_R_RET], rax
	add qword ptr [rsp + E_N], 1
	jmp .Lcap_next
.Lcap_publish:
	call .Lstamp_entry
	mov rax, qword ptr [rsp + E_N]
	add qword ptr [r10 + RH_B_HEAD], rax	// once, after every record
	jmp .Lpush_node

	// The ENTRY record was dropped: so is each STRING it would have had.
.Lentry_dropped:
	mov eax, dword ptr [rsp + E_SITE]
	mov rcx, qword ptr [r11 + RH_H_SITES]
	movzx eax, byte ptr [rcx + rax * 8 + 4]
	and eax, CAPTURE_ARGS
	jz .Lpush_node
	lea rdx, [rip + .Lcap_regs]
1:	bsf rcx, rax
	btr rax, rcx
	movzx ecx, byte ptr [rdx + rcx]
	cmp qword ptr [rsp + rcx], 0
	je 2f
	add qword ptr [r10 + RH_B_DROPPED], 1
	lock add qword ptr [r11 + RH_H_DROPPED], 1
2:	test eax, eax
	jnz 1b
	jmp .Lpush_node

.Lentry_nothread:
	lock add qword ptr [r11 + RH_H_MISSED_NOTHREAD], 1
	jmp .Lentry_out
.Lentry_busy:			// busy stays the interrupted recorder's
	lock add qword ptr [r11 + RH_H_MISSED_BUSY], 1
	jmp .Lentry_out
.Lentry_tail_lost:
	lock add qword ptr [r11 + RH_H_MISSED_BUSY], 1
	jmp .Lentry_done
.Lentry_pool_full:
	lock sub qword ptr [rcx + RH_P_ACTIVE], 1
	lock add qword ptr [rcx + RH_P_NMISSED], 1
	jmp .Lentry_done
.Lentry_depth_full:
	lock sub qword ptr [rcx + RH_P_ACTIVE], 1
	add qword ptr [r10 + RH_B_MISSED_DEPTH], 1
	jmp .Lentry_done

// The return path. The slot at [frame] (the hijacked return address, spent)
// receives the real one, so the final ret leaves rsp = frame + 8.
#define R_R11 0
#define R_RDX 48
#define R_RAX 64
#define R_FRAME 72

	.balign 16, 0xcc
.Lret:
	sub rsp, 8
	SAVE_GPRS
	lea r9, [rsp + R_FRAME]
	mov r11, qword ptr [rip + .Larena]
	call .Lfind_block
	test r10, r10
	jz .Lnomatch
	mov qword ptr [r10 + RH_B_BUSY], 1
.Lret_dead:			// top nodes below the frame: unwound past
	mov rcx, qword ptr [r10 + RH_B_DEPTH]
	test rcx, rcx
	jz .Lnomatch_busy
	shl rcx, 5
	cmp qword ptr [r10 + rcx + RH_B_NODES - RH_NODE_SIZE + RH_N_SP], r9
	je .Lret_exit
	ja .Lnomatch_busy
	mov esi, RH_KIND_UNWOUND
	call .Lpop_node
	test rdi, rdi
	jz .Lret_dead
	add qword ptr [r10 + RH_B_HEAD], 1
	jmp .Lret_dead
.Lret_exit:			// every top node at the frame, innermost first
	mov esi, RH_KIND_EXIT
	call .Lpop_node
	mov r8, rax
	test rdi, rdi
	jz .Lret_next
	mov rax, qword ptr [rsp + R_RAX]
	mov qword ptr [rdi + RH_R_REGS + 0], rax
	mov rax, qword ptr [rsp + R_RDX]
	mov qword ptr [rdi + RH_R_REGS + 8], rax
	movq rax, xmm0
	mov qword ptr [rdi + RH_R_FP], rax
	add qword ptr [r10 + RH_B_HEAD], 1
.Lret_next:
	mov rcx, qword ptr [r10 + RH_B_DEPTH]
	test rcx, rcx
	jz .Lret_done
	shl rcx, 5
	cmp qword ptr [r10 + rcx + RH_B_NODES - RH_NODE_SIZE + RH_N_SP], r9
	je .Lret_exit
.Lret_done:
	mov qword ptr [r9], r8
	mov qword ptr [r10 + RH_B_BUSY], 0
	RESTORE_GPRS
	ret

.Lnomatch_busy:
	mov qword ptr [r10 + RH_B_BUSY], 0
.Lnomatch:
	lock add qword ptr [r11 + RH_H_NOMATCH], 1
	RESTORE_GPRS
	lea rsp, [rsp + 8]
	jmp .Lnomatch_trap

// find_block: r10 = the calling thread's block, or 0 (r11 = arena).
// Probes the thread table as recorder.h says.
.Lfind_block:
	test byte ptr [rip + .Lflags], 1	// RH_FLAG_FSGSBASE
	jz 1f
	rdfsbase rax
	jmp 2f
1:	mov rax, qword ptr fs:[0]
2:	test rax, rax			// no thread pointer yet (the dynamic linker's
	jz 5f				// start): no block; 0 would match an empty slot
	mov rdx, rax
	shr rdx, 6
	mov rcx, rax
	shr rcx, 18
	xor rdx, rcx
	mov rsi, qword ptr [r11 + RH_H_THREAD_MASK]
	mov rdi, qword ptr [r11 + RH_H_THREADS]
	lea rcx, [rsi + 1]
3:	and rdx, rsi
	mov r10, rdx
	shl r10, 4
	add r10, rdi
	cmp qword ptr [r10 + RH_T_KEY], rax
	je 4f
	cmp qword ptr [r10 + RH_T_KEY], 0
	je 5f
	inc rdx
	dec rcx
	jnz 3b
5:	xor r10d, r10d
	ret
4:	mov r10, qword ptr [r10 + RH_T_BLOCK]
	ret

// ring_reserve: rdi = the next free record of this thread's ring, or 0 when
// the record is dropped (counted). Waits while a live tracer drains.
// ring_reserve_n: the same after rdx records reserved but not yet published
// (head + rdx is the slot; rdx survives the syscalls). The tracer frees no
// more than head - tail, so when rdx alone fills the ring (> mask) waiting
// could never end: the record is dropped.
// head is ours; tail is the tracer's (x86 loads are not reordered with
// later stores, so the slot is not written before tail said it is free).
.Lring_reserve:
	xor edx, edx
.Lring_reserve_n:
	mov rax, qword ptr [r10 + RH_B_HEAD]
	add rax, rdx
	mov rcx, rax
	sub rcx, qword ptr [r10 + RH_B_TAIL]
	mov rsi, qword ptr [r10 + RH_B_RING_MASK]
	cmp rcx, rsi
	ja 1f
	and rax, rsi
	shl rax, 7
	mov rdi, qword ptr [r10 + RH_B_RING]
	add rdi, rax
	ret
1:	cmp rdx, rsi
	ja 3f
	cmp qword ptr [r11 + RH_H_CONSUMER], 0
	je 3f
	mov rdi, qword ptr [r11 + RH_H_TRACER_PID]
	xor esi, esi
	mov eax, 62			// kill(pid, 0)
	syscall
	mov r11, qword ptr [rip + .Larena]
	cmp rax, -3			// -ESRCH: the tracer is gone
	je 2f
	// Sleep until the tracer frees room (recorder.h, FULL RING): say so,
	// then look at tail again after a full barrier, and sleep on the value seen.
	mov qword ptr [r10 + RH_B_WAITING], 1
	mfence
	mov rcx, qword ptr [r10 + RH_B_TAIL]
	mov rax, qword ptr [r10 + RH_B_HEAD]
	add rax, rdx
	sub rax, rcx
	cmp rax, qword ptr [r10 + RH_B_RING_MASK]
	jbe .Lring_reserve_n		// room already
	push rdx
	push r10
	push RH_WAIT_NS			// the timeout: {tv_sec = 0, tv_nsec}
	push 0
	lea rdi, [r10 + RH_B_TAIL]
	xor esi, esi			// FUTEX_WAIT (shared: the tracer wakes it)
	mov edx, ecx			// tail's low 32 bits, as seen
	mov r10, rsp
	mov eax, 202			// futex()
	syscall
	add rsp, 16
	pop r10
	pop rdx
	mov r11, qword ptr [rip + .Larena]
	jmp .Lring_reserve_n
2:	mov qword ptr [r11 + RH_H_CONSUMER], 0
3:	add qword ptr [r10 + RH_B_DROPPED], 1
	lock add qword ptr [r11 + RH_H_DROPPED], 1
	xor edi, edi
	ret

// stamp_entry: the entry's clock, read again just before its records are
// published, into the ENTRY record (at head: not published yet) and E_TSC
// (the node's): a wait for room in the ring, or a captured string's system
// calls, are not the call's time. Clobbers rax rcx rdx.
.Lstamp_entry:
	rdtsc
	shl rdx, 32
	or rax, rdx
	mov qword ptr [rsp + 8 + E_TSC], rax
	mov rcx, qword ptr [r10 + RH_B_HEAD]
	and rcx, qword ptr [r10 + RH_B_RING_MASK]
	shl rcx, 7			// RH_RECORD_SIZE
	add rcx, qword ptr [r10 + RH_B_RING]
	mov qword ptr [rcx + RH_R_TSC], rax
	ret

// pop_node (esi = the record's kind): pops the top node, releases its pool
// and fills a record for it, regs and fp zero, not yet published. Returns
// rax = the node's return address, rdi = the record or 0 (dropped).
.Lpop_node:
	push rsi
	mov rcx, qword ptr [r10 + RH_B_DEPTH]
	dec rcx
	mov qword ptr [r10 + RH_B_DEPTH], rcx
	shl rcx, 5
	lea rcx, [r10 + rcx + RH_B_NODES]
	push rcx
	mov rax, qword ptr [rcx + RH_N_SITE]
	mov rdx, qword ptr [r11 + RH_H_SITES]
	mov eax, dword ptr [rdx + rax * 8]	// the pool: bits 0-31
	shl rax, 5
	add rax, qword ptr [r11 + RH_H_POOLS]
	lock sub qword ptr [rax + RH_P_ACTIVE], 1
	rdtsc				// the clock before any wait for room: waiting is not the call's time
	shl rdx, 32
	or rax, rdx
	push rax
	call .Lring_reserve
	pop rdx
	pop rcx
	pop rsi
	test rdi, rdi
	jz 1f
	mov rax, qword ptr [rcx + RH_N_SITE]
	shl rax, 32
	or rax, rsi
	mov qword ptr [rdi + RH_R_KIND], rax
	mov qword ptr [rdi + RH_R_TSC], rdx
	mov rax, qword ptr [rcx + RH_N_SP]
	mov qword ptr [rdi + RH_R_SP], rax
	xor eax, eax
	mov qword ptr [rdi + RH_R_REGS + 0], rax
	mov qword ptr [rdi + RH_R_REGS + 8], rax
	mov qword ptr [rdi + RH_R_REGS + 16], rax
	mov qword ptr [rdi + RH_R_REGS + 24], rax
	mov qword ptr [rdi + RH_R_REGS + 32], rax
	mov qword ptr [rdi + RH_R_REGS + 40], rax
	mov qword ptr [rdi + RH_R_REGS + 48], rax
	mov qword ptr [rdi + RH_R_REGS + 56], rax
	mov qword ptr [rdi + RH_R_FP], rax
	mov rax, qword ptr [r10 + RH_B_DEPTH]
	mov qword ptr [rdi + RH_R_DEPTH], rax
1:	mov rax, qword ptr [rcx + RH_N_RET]
	test rdi, rdi
	jz 2f
	mov qword ptr [rdi + RH_R_RET], rax
2:	ret

// read_string (rdi = a STRING record, rsi = the pointer): reads the string's
// bytes into the record at R_REGS with process_vm_readv on our own pid, as
// the top comment says; rax = the bytes read (0..RH_STRING_MAX). Keeps rdi,
// r8, r9, r10; r11 = the arena again; clobbers rcx rdx rsi.
#define S_IOV 0        /* local iovec {base, len}, then the remote one */
#define S_PTR 32
#define S_REC 40
.Lread_string:
	push r8
	push r9
	push r10
	push rdi
	push rsi
	sub rsp, 32
	mov eax, esi
	and eax, 4095
	mov edx, 4096
	sub edx, eax			// bytes to the page end
	mov eax, RH_STRING_MAX
	cmp rdx, rax
	cmova rdx, rax
	lea rax, [rdi + RH_R_REGS]
	mov qword ptr [rsp + S_IOV], rax
	mov qword ptr [rsp + S_IOV + 8], rdx
	mov qword ptr [rsp + S_IOV + 16], rsi
	mov qword ptr [rsp + S_IOV + 24], rdx
	call .Lvm_read
	test rax, rax
	jle 3f				// nothing read (-EFAULT...)
	mov rdx, qword ptr [rsp + S_IOV + 8]
	cmp rax, rdx
	jne 4f				// short: the bytes read
	cmp rdx, RH_STRING_MAX
	jae 4f
	mov rcx, qword ptr [rsp + S_IOV]
	xor esi, esi
1:	cmp byte ptr [rcx + rsi], 0	// a NUL: done
	je 4f
	inc rsi
	cmp rsi, rdx
	jb 1b
	add qword ptr [rsp + S_IOV], rdx	// the rest, from the next page
	add qword ptr [rsp + S_IOV + 16], rdx
	mov eax, RH_STRING_MAX
	sub rax, rdx
	mov qword ptr [rsp + S_IOV + 8], rax
	mov qword ptr [rsp + S_IOV + 24], rax
	call .Lvm_read
	test rax, rax
	jg 2f
	xor eax, eax			// a failure there keeps the first part
2:	mov rdx, qword ptr [rsp + S_IOV]
	sub rdx, qword ptr [rsp + S_REC]
	sub rdx, RH_R_REGS		// the first part's length
	add rax, rdx
	jmp 4f
3:	xor eax, eax
4:	add rsp, 32
	pop rsi
	pop rdi
	pop r10
	pop r9
	pop r8
	mov r11, qword ptr [rip + .Larena]
	ret

// vm_read: process_vm_readv(pid, the local iovec, 1, the remote one, 1, 0)
// with the iovecs at read_string's S_IOV (+8 here: our return address).
.Lvm_read:
	mov r11, qword ptr [rip + .Larena]
	mov rdi, qword ptr [r11 + RH_H_PID]
	lea rsi, [rsp + 8 + S_IOV]
	mov edx, 1
	lea r10, [rsp + 8 + S_IOV + 16]
	mov r8d, 1
	xor r9d, r9d
	mov eax, 310			// process_vm_readv
	syscall
	ret

// The capture bits' registers: their offsets in the entry's stack.
.Lcap_regs:
	.byte E_RDI, E_RSI, E_RDX, E_RCX, E_R8, E_R9

	.balign 8, 0xcc
.Larena:
	.quad 0
.Lflags:
	.quad 0
	.globl rethook_recorder_x86_64_end
	.hidden rethook_recorder_x86_64_end
rethook_recorder_x86_64_end:
.Lend:

// The offsets fast_recorder() reports: entry, ret, arena, flags.
	.balign 8
	.globl rethook_recorder_x86_64_offsets
	.hidden rethook_recorder_x86_64_offsets
rethook_recorder_x86_64_offsets:
	.quad .Lentry - .Lstart
	.quad .Lret - .Lstart
	.quad .Larena - .Lstart
	.quad .Lflags - .Lstart

	.section .note.GNU-stack, "", @progbits
