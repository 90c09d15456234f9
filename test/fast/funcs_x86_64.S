// Functions the harness hooks where the exact bytes matter, and the callers
// that see exactly what a hooked call does to registers and the stack.
	.intel_syntax noprefix
	.text

#define FUNC(name) .globl name; .type name, @function; .p2align 4; name:
#define END(name) .size name, . - name

// rh_call(fn, io): calls fn with io[0..5] in rdi..r9 and xmm0 = io[10];
// io[6] = the callee's frame (sp at its first instruction), io[7] = the
// return address it got; after: io[8] = rax, io[9] = rdx, io[10] = xmm0.
FUNC(rh_call)
	push rbx
	mov rbx, rsi
	mov r11, rdi
	mov rdi, [rbx]
	mov rsi, [rbx + 8]
	mov rdx, [rbx + 16]
	mov rcx, [rbx + 24]
	mov r8, [rbx + 32]
	mov r9, [rbx + 40]
	movq xmm0, [rbx + 80]
	lea rax, [rsp - 8]
	mov [rbx + 48], rax
	lea rax, [rip + 1f]
	mov [rbx + 56], rax
	call r11
1:	mov [rbx + 64], rax
	mov [rbx + 72], rdx
	movq [rbx + 80], xmm0
	pop rbx
	ret
END(rh_call)

// rh_torture: hooked. Stores every register it was entered with into
// rh_seen_entry (rax rbx rcx rdx rsi rdi rbp r8..r15), then returns with
// each register = 0x1111 * (its index + 1) and xmm0 = 2.5.
// Its first instruction is rip-relative (relocated into the stub).
FUNC(rh_torture)
	mov [rip + rh_seen_entry], rax
	lea rax, [rip + rh_seen_entry]
	mov [rax + 8], rbx
	mov [rax + 16], rcx
	mov [rax + 24], rdx
	mov [rax + 32], rsi
	mov [rax + 40], rdi
	mov [rax + 48], rbp
	mov [rax + 56], r8
	mov [rax + 64], r9
	mov [rax + 72], r10
	mov [rax + 80], r11
	mov [rax + 88], r12
	mov [rax + 96], r13
	mov [rax + 104], r14
	mov [rax + 112], r15
	mov rax, 0x1111
	mov rbx, 0x2222
	mov rcx, 0x3333
	mov rdx, 0x4444
	mov rsi, 0x5555
	mov rdi, 0x6666
	mov rbp, 0x7777
	mov r8, 0x8888
	mov r9, 0x9999
	mov r10, 0xaaaa
	mov r11, 0xbbbb
	mov r12, 0xcccc
	mov r13, 0xdddd
	mov r14, 0xeeee
	mov r15, 0xffff
	movq xmm0, [rip + rh_two_and_half]
	ret
END(rh_torture)

// rh_call_torture(): sets every register to 0x100 + its index (rdi..r9 are
// the 6 args), calls rh_torture, stores what came back into rh_seen_exit,
// and rh_torture_frame / rh_torture_ret what the call used.
FUNC(rh_call_torture)
	push rbx
	push rbp
	push r12
	push r13
	push r14
	push r15
	sub rsp, 8
	lea rax, [rsp - 8]
	mov [rip + rh_torture_frame], rax
	lea rax, [rip + 1f]
	mov [rip + rh_torture_ret], rax
	mov rax, 0x100
	mov rbx, 0x101
	mov rcx, 0x102
	mov rdx, 0x103
	mov rsi, 0x104
	mov rdi, 0x105
	mov rbp, 0x106
	mov r8, 0x107
	mov r9, 0x108
	mov r10, 0x109
	mov r11, 0x10a
	mov r12, 0x10b
	mov r13, 0x10c
	mov r14, 0x10d
	mov r15, 0x10e
	call rh_torture
1:	mov [rip + rh_seen_exit], rax
	lea rax, [rip + rh_seen_exit]
	mov [rax + 8], rbx
	mov [rax + 16], rcx
	mov [rax + 24], rdx
	mov [rax + 32], rsi
	mov [rax + 40], rdi
	mov [rax + 48], rbp
	mov [rax + 56], r8
	mov [rax + 64], r9
	mov [rax + 72], r10
	mov [rax + 80], r11
	mov [rax + 88], r12
	mov [rax + 96], r13
	mov [rax + 104], r14
	mov [rax + 112], r15
	lea rax, [rsp - 8]
	mov [rip + rh_torture_sp_after], rax
	add rsp, 8
	pop r15
	pop r14
	pop r13
	pop r12
	pop rbp
	pop rbx
	ret
END(rh_call_torture)

// Tail call: rh_tail_a(x) jumps to rh_tail_b(x + 1) = 2 * (x + 101).
FUNC(rh_tail_a)
	mov rax, rdi
	add rdi, 1
	jmp rh_tail_b
END(rh_tail_a)

FUNC(rh_tail_b)
	lea rax, [rdi + 100]
	add rax, rax
	ret
END(rh_tail_b)

// A short jcc and a rip-relative load in the displaced bytes:
// rh_ripjcc(x) = x < 0 ? -1 : x + rh_k.
FUNC(rh_ripjcc)
	test edi, edi
	js 1f
	mov rax, [rip + rh_k]
	add rax, rdi
	ret
1:	mov rax, -1
	ret
END(rh_ripjcc)

// endbr64 first (the patch goes after it): rh_endbr(a, b) = a + b + 7.
FUNC(rh_endbr)
	endbr64
	lea rax, [rdi + rsi]
	add rax, 7
	ret
END(rh_endbr)

// A call first (emulated in the stub): rh_callfirst(x) = 2x + 1; the callee
// stores the return address it saw in rh_callee_saw.
FUNC(rh_callfirst)
	call rh_double
	add rax, 1
	ret
END(rh_callfirst)

FUNC(rh_double)
	mov rax, [rsp]
	mov [rip + rh_callee_saw], rax
	lea rax, [rdi + rdi]
	ret
END(rh_double)

// An empty function, twice: one hooked, one not (the benchmark).
FUNC(rh_empty_hooked)
	mov eax, 0
	ret
END(rh_empty_hooked)

FUNC(rh_empty_cap)
	mov eax, 0
	ret
END(rh_empty_cap)

FUNC(rh_empty_plain)
	mov eax, 0
	ret
END(rh_empty_plain)

// rh_fake_return(addr): "returns" into addr with rsp as at our entry, as a
// hooked function's ret would; a trap handler resumes at rh_trap_resume.
FUNC(rh_fake_return)
	lea r11, [rip + 1f]
	mov [rip + rh_trap_resume], r11
	mov [rip + rh_trap_sp], rsp
	push rdi
	ret
1:	ret
END(rh_fake_return)

	.data
	.p2align 3
	.globl rh_seen_entry, rh_seen_exit, rh_torture_frame, rh_torture_ret, rh_torture_sp_after
	.globl rh_k, rh_callee_saw, rh_trap_resume, rh_trap_sp
rh_seen_entry: .fill 15, 8, 0
rh_seen_exit: .fill 15, 8, 0
rh_torture_frame: .quad 0
rh_torture_ret: .quad 0
rh_torture_sp_after: .quad 0
rh_k: .quad 1000
rh_callee_saw: .quad 0
rh_trap_resume: .quad 0
rh_trap_sp: .quad 0
rh_two_and_half: .double 2.5

	.section .note.GNU-stack, "", @progbits
