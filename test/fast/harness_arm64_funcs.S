// Test functions for the arm64 fast-mode harness, in assembly so that their
// first instructions are exactly the cases the planner relocates, plus
// rh_call, which calls a function with every register set from a CallCtx and
// saves every register it returns with (harness_arm64.h has the layout).

#define IN 0
#define IN_D0 248
#define IN_NZCV 256
#define OUT 264
#define OUT_D0 512
#define OUT_NZCV 520
#define CALL_SP 528
#define CALL_RET 536

	.text
	.balign 16

// void rh_call(void* fn, CallCtx* ctx): x0-x15, x16/x17 (canaries), x19-x29,
// d0 and NZCV from ctx->in; then `blr` (x30 = fn); everything after it into
// ctx->out. ctx->sp / ctx->ret: the frame and the return address fn gets.
	.globl rh_call
	.type rh_call, %function
rh_call:
	stp	x29, x30, [sp, #-176]!
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	str	x1, [sp, #160]
	mov	x30, x0
	mov	x9, sp
	str	x9, [x1, #CALL_SP]
	adr	x9, 1f
	str	x9, [x1, #CALL_RET]
	ldr	x9, [x1, #IN_NZCV]
	msr	nzcv, x9
	ldr	d0, [x1, #IN_D0]
	ldp	x2, x3, [x1, #(IN + 16)]
	ldp	x4, x5, [x1, #(IN + 32)]
	ldp	x6, x7, [x1, #(IN + 48)]
	ldp	x8, x9, [x1, #(IN + 64)]
	ldp	x10, x11, [x1, #(IN + 80)]
	ldp	x12, x13, [x1, #(IN + 96)]
	ldp	x14, x15, [x1, #(IN + 112)]
	ldp	x16, x17, [x1, #(IN + 128)]
	ldp	x19, x20, [x1, #(IN + 152)]
	ldp	x21, x22, [x1, #(IN + 168)]
	ldp	x23, x24, [x1, #(IN + 184)]
	ldp	x25, x26, [x1, #(IN + 200)]
	ldp	x27, x28, [x1, #(IN + 216)]
	ldr	x29, [x1, #(IN + 232)]
	ldr	x0, [x1, #IN]
	ldr	x1, [x1, #(IN + 8)]
	blr	x30
1:	stp	x0, x1, [sp, #-16]!
	ldr	x0, [sp, #(16 + 160)]
	mrs	x1, nzcv
	str	x1, [x0, #OUT_NZCV]
	str	d0, [x0, #OUT_D0]
	stp	x2, x3, [x0, #(OUT + 16)]
	stp	x4, x5, [x0, #(OUT + 32)]
	stp	x6, x7, [x0, #(OUT + 48)]
	stp	x8, x9, [x0, #(OUT + 64)]
	stp	x10, x11, [x0, #(OUT + 80)]
	stp	x12, x13, [x0, #(OUT + 96)]
	stp	x14, x15, [x0, #(OUT + 112)]
	stp	x16, x17, [x0, #(OUT + 128)]
	stp	x18, x19, [x0, #(OUT + 144)]
	stp	x20, x21, [x0, #(OUT + 160)]
	stp	x22, x23, [x0, #(OUT + 176)]
	stp	x24, x25, [x0, #(OUT + 192)]
	stp	x26, x27, [x0, #(OUT + 208)]
	stp	x28, x29, [x0, #(OUT + 224)]
	str	x30, [x0, #(OUT + 240)]
	ldp	x2, x3, [sp], #16
	stp	x2, x3, [x0, #OUT]
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldp	x29, x30, [sp], #176
	ret
	.size rh_call, .-rh_call

// probe: saves x0-x30, sp, NZCV and d0 as it finds them into probe_seen,
// returns x0 = x0 + ... + x7, x1..x15 = 0x1001..0x100f, d0 = 2.5,
// NZCV = 0x60000000; x19-x29 untouched. First instruction: a plain store.
	.globl probe
	.type probe, %function
probe:
	str	x0, [sp, #-16]!
	adrp	x0, probe_seen
	add	x0, x0, :lo12:probe_seen
	stp	x1, x2, [x0, #8]
	stp	x3, x4, [x0, #24]
	stp	x5, x6, [x0, #40]
	stp	x7, x8, [x0, #56]
	stp	x9, x10, [x0, #72]
	stp	x11, x12, [x0, #88]
	stp	x13, x14, [x0, #104]
	stp	x15, x16, [x0, #120]
	stp	x17, x18, [x0, #136]
	stp	x19, x20, [x0, #152]
	stp	x21, x22, [x0, #168]
	stp	x23, x24, [x0, #184]
	stp	x25, x26, [x0, #200]
	stp	x27, x28, [x0, #216]
	stp	x29, x30, [x0, #232]
	ldr	x1, [sp], #16
	str	x1, [x0]
	mov	x1, sp
	str	x1, [x0, #248]
	mrs	x1, nzcv
	str	x1, [x0, #256]
	str	d0, [x0, #264]
	ldp	x1, x2, [x0, #0]
	add	x1, x1, x2
	ldp	x2, x3, [x0, #16]
	add	x1, x1, x2
	add	x1, x1, x3
	ldp	x2, x3, [x0, #32]
	add	x1, x1, x2
	add	x1, x1, x3
	ldp	x2, x3, [x0, #48]
	add	x1, x1, x2
	add	x0, x1, x3
	mov	x1, #0x1001
	mov	x2, #0x1002
	mov	x3, #0x1003
	mov	x4, #0x1004
	mov	x5, #0x1005
	mov	x6, #0x1006
	mov	x7, #0x1007
	mov	x8, #0x1008
	mov	x9, #0x1009
	mov	x10, #0x100a
	mov	x11, #0x100b
	mov	x12, #0x100c
	mov	x13, #0x100d
	mov	x14, #0x100e
	mov	x15, #0x100f
	fmov	d0, #2.5
	mov	x16, #0x60000000
	msr	nzcv, x16
	ret
	.size probe, .-probe

// First instruction PC-relative: adrp, adr, ldr (literal) x / w / sw / d
// (f_ldrd returns x16 as it found it after the load).
	.globl f_adrp
	.type f_adrp, %function
f_adrp:
	adrp	x0, rh_data
	add	x0, x0, :lo12:rh_data
	ldr	x0, [x0]
	ret
	.size f_adrp, .-f_adrp

	.globl f_adr
	.type f_adr, %function
f_adr:
	adr	x0, 1f
	ldr	x0, [x0]
	ret
	.balign 8
1:	.quad 0x0123456789abcdef
	.size f_adr, .-f_adr

	.globl f_ldrx
	.type f_ldrx, %function
f_ldrx:
	ldr	x0, 1f
	ret
	.balign 4	// 4- not 8-aligned on purpose
	nop
1:	.quad 0x1122334455667788
	.size f_ldrx, .-f_ldrx

	.globl f_ldrw
	.type f_ldrw, %function
f_ldrw:
	ldr	w0, 1f
	ret
1:	.word 0x80000001
	.size f_ldrw, .-f_ldrw

	.globl f_ldrsw
	.type f_ldrsw, %function
f_ldrsw:
	ldrsw	x0, 1f
	ret
1:	.word 0x80000001
	.size f_ldrsw, .-f_ldrsw

	.globl f_ldrd
	.type f_ldrd, %function
f_ldrd:
	ldr	d0, 1f
	mov	x0, x16		// the relocated load must keep x16
	ret
	.balign 8
1:	.double 6.25
	.size f_ldrd, .-f_ldrd

// First instruction a conditional branch: on the caller's flags, x0, a bit.
	.globl f_bcond
	.type f_bcond, %function
f_bcond:
	b.eq	1f
	mov	x0, #1
	ret
1:	mov	x0, #2
	ret
	.size f_bcond, .-f_bcond

	.globl f_cbz
	.type f_cbz, %function
f_cbz:
	cbz	x0, 1f
	mov	x0, #10
	ret
1:	mov	x0, #20
	ret
	.size f_cbz, .-f_cbz

	.globl f_tbnz
	.type f_tbnz, %function
f_tbnz:
	tbnz	x0, #40, 1f
	mov	x0, #30
	ret
1:	mov	x0, #40
	ret
	.size f_tbnz, .-f_tbnz

// Tail calls: tail_a adds 100 and branches to tail_b; f_thunk is only a `b`.
	.globl tail_b
	.type tail_b, %function
tail_b:
	add	x0, x0, #1
	ret
	.size tail_b, .-tail_b

	.globl tail_a
	.type tail_a, %function
tail_a:
	add	x0, x0, #100
	b	tail_b
	.size tail_a, .-tail_a

	.globl f_thunk
	.type f_thunk, %function
f_thunk:
	b	tail_b
	.size f_thunk, .-f_thunk

// Landing pads and return-address signing kept in place. g_* are position
// independent: the harness also copies them into a BTI-guarded page.
	.globl g_bti
	.type g_bti, %function
g_bti:
	hint	#34		// bti c
	add	x0, x0, #77
	ret
	.size g_bti, .-g_bti

	.globl g_paci
	.type g_paci, %function
g_paci:
	hint	#25		// paciasp
	stp	x29, x30, [sp, #-16]!
	add	x0, x0, #5
	ldp	x29, x30, [sp], #16
	hint	#29		// autiasp
	ret
	.size g_paci, .-g_paci

	.globl g_pacib
	.type g_pacib, %function
g_pacib:
	hint	#27		// pacibsp
	stp	x29, x30, [sp, #-16]!
	add	x0, x0, #6
	ldp	x29, x30, [sp], #16
	hint	#31		// autibsp
	ret
	.size g_pacib, .-g_pacib

	.globl g_bti_paci
	.type g_bti_paci, %function
g_bti_paci:
	hint	#34		// bti c
	hint	#25		// paciasp
	stp	x29, x30, [sp, #-16]!
	add	x0, x0, #7
	ldp	x29, x30, [sp], #16
	hint	#29		// autiasp
	ret
	.size g_bti_paci, .-g_bti_paci

// Not a landing pad: called indirectly in a guarded page, it must fault.
	.globl g_nopad
	.type g_nopad, %function
g_nopad:
	add	x0, x0, #1
	ret
	.size g_nopad, .-g_nopad

// The benchmark's empty functions: one hooked, one not.
	.globl f_empty
	.type f_empty, %function
f_empty:
	add	x0, x0, #0
	ret
	.size f_empty, .-f_empty

	.globl f_empty_plain
	.type f_empty_plain, %function
f_empty_plain:
	add	x0, x0, #0
	ret
	.size f_empty_plain, .-f_empty_plain

// uint64_t pac_sign(uint64_t p): p signed with key A, modifier 0 (pacia1716:
// a NOP without PAuth), to see whether PAC is live.
	.globl pac_sign
	.type pac_sign, %function
pac_sign:
	mov	x17, x0
	mov	x16, #0
	hint	#8		// pacia1716
	mov	x0, x17
	ret
	.size pac_sign, .-pac_sign

	.data
	.balign 8
	.globl rh_data
rh_data:
	.quad 0x1234567890
	.globl probe_seen
probe_seen:
	.space 8 * 34

	.section .note.GNU-stack, "", %progbits
