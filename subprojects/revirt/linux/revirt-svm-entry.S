/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt.ko: one SVM guest entry.
 *
 * void revirt_svm_vmrun(u64 *gpr, u64 vmcb_pa, u64 host_save_pa)
 *
 * gpr[16] holds the guest's registers by encoding number; RAX and RSP
 * live in the VMCB and are skipped here.  The caller has run CLGI and
 * VMSAVE of the host's state to host_save_pa.  VMLOAD puts the guest's FS,
 * GS, TR, LDTR, KernelGSBase and syscall MSRs in place right before VMRUN,
 * and the host's come back right after it, before any C code can use
 * the kernel's GS base.
 */

#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/nospec-branch.h>

#define GPR(n) (n * 8)


SYM_FUNC_START(revirt_svm_vmrun)
	push %rbp
	mov %rsp, %rbp
	push %r15
	push %r14
	push %r13
	push %r12
	push %rbx
	push %rdx		/* host_save_pa */
	push %rdi		/* gpr */

	mov %rsi, %rax		/* VMLOAD/VMRUN/VMSAVE take the VMCB in RAX */
	mov GPR(1)(%rdi), %rcx
	mov GPR(2)(%rdi), %rdx
	mov GPR(3)(%rdi), %rbx
	mov GPR(5)(%rdi), %rbp
	mov GPR(6)(%rdi), %rsi
	mov GPR(8)(%rdi), %r8
	mov GPR(9)(%rdi), %r9
	mov GPR(10)(%rdi), %r10
	mov GPR(11)(%rdi), %r11
	mov GPR(12)(%rdi), %r12
	mov GPR(13)(%rdi), %r13
	mov GPR(14)(%rdi), %r14
	mov GPR(15)(%rdi), %r15
	mov GPR(7)(%rdi), %rdi

	vmload %rax
	vmrun %rax
	vmsave %rax

	/* RAX and RSP are the host's again (VMRUN saved them). */
	push %rdi
	mov 8(%rsp), %rdi	/* gpr */
	mov %rcx, GPR(1)(%rdi)
	mov %rdx, GPR(2)(%rdi)
	mov %rbx, GPR(3)(%rdi)
	mov %rbp, GPR(5)(%rdi)
	mov %rsi, GPR(6)(%rdi)
	mov %r8, GPR(8)(%rdi)
	mov %r9, GPR(9)(%rdi)
	mov %r10, GPR(10)(%rdi)
	mov %r11, GPR(11)(%rdi)
	mov %r12, GPR(12)(%rdi)
	mov %r13, GPR(13)(%rdi)
	mov %r14, GPR(14)(%rdi)
	mov %r15, GPR(15)(%rdi)
	pop %rax
	mov %rax, GPR(7)(%rdi)

	pop %rdi		/* gpr */
	pop %rax		/* host_save_pa */
	vmload %rax

	/* The guest must not steer the host's return predictions. */
	FILL_RETURN_BUFFER %rax, RSB_CLEAR_LOOPS, X86_FEATURE_RETPOLINE

	/* Leave no guest values in registers the C code may read. */
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d

	pop %rbx
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	pop %rbp
	RET
SYM_FUNC_END(revirt_svm_vmrun)
