/*
 * revirt test firmware for MSR state: a 64 KiB -bios image, real mode only.
 * On every boot it reads PAT, MTRRdefType, MTRRfix64K_00000,
 * MTRRphysBase0/Mask0, MISC_ENABLE and TSC_AUX (if RDTSCP is there) into
 * RAM.  On the first boot it then writes them, reads them back, and waits
 * for the test to set R_GO (the test migrates the VM in between) before it
 * reads them once more.  Then it arms an #MC handler (IVT entry 18,
 * CR4.MCE) and halts with interrupts off; the handler counts machine
 * checks, saves MC1_STATUS and clears it and MCG_STATUS.
 * RAM at 0x500: "MSRT", boot count, R_GO, stage (0x10 * boot + step),
 * machine checks, MC1_STATUS seen, RDTSCP present; the MSR values of
 * each boot at 0x540 + 0x40 * (boot - 1), after R_GO at 0x600.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define RESULTS     0x500
#define R_BOOTS     (RESULTS + 4)
#define R_GO        (RESULTS + 8)
#define R_STAGE     (RESULTS + 12)
#define R_MCES      (RESULTS + 16)
#define R_MC1_STATUS (RESULTS + 24)
#define R_RDTSCP    (RESULTS + 32)
#define R_BOOT_MSRS (RESULTS + 0x40)
#define R_AFTER     (RESULTS + 0x100)
#define CMOS_BOOTS  0x7e
#define NR_MSRS     7

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7000, %sp

    mov $CMOS_BOOTS, %al
    out %al, $0x70
    in $0x71, %al
    inc %al
    mov %al, %bl
    mov $CMOS_BOOTS, %al
    out %al, $0x70
    mov %bl, %al
    out %al, $0x71

    movl $0x5452534d, (RESULTS)     /* "MSRT" */
    mov %bl, (R_BOOTS)

    /* TSC_AUX exists with RDTSCP (CPUID 0x80000001 EDX bit 27). */
    movl $0, (R_RDTSCP)
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb 1f
    mov $0x80000001, %eax
    cpuid
    bt $27, %edx
    jnc 1f
    movl $1, (R_RDTSCP)
1:
    /* This boot's values: at reset on boot 2. */
    mov (R_BOOTS), %al
    dec %al
    mov $0x40, %cl
    mul %cl
    add $R_BOOT_MSRS, %ax
    mov %ax, %di
    call read_msrs
    cmpb $1, (R_BOOTS)
    jne idle

    mov $msr_values, %si
    mov $NR_MSRS, %bp
2:
    mov %cs:(%si), %ecx
    mov %cs:4(%si), %eax
    mov %cs:8(%si), %edx
    cmp $0xc0000103, %ecx
    jne 3f
    cmpl $0, (R_RDTSCP)
    je 4f
3:
    wrmsr
4:
    add $12, %si
    dec %bp
    jnz 2b

    movl $0x11, (R_STAGE)
5:
    cmpl $1, (R_GO)
    jne 5b
    mov $R_AFTER, %di
    call read_msrs

idle:
    /* #MC: IVT entry 18 and CR4.MCE */
    movw $mc_handler, (18 * 4)
    movw %cs, (18 * 4 + 2)
    mov %cr4, %eax
    or $0x40, %eax
    mov %eax, %cr4
    xor %eax, %eax
    mov (R_BOOTS), %al
    shl $4, %eax
    add $2, %eax
    mov %eax, (R_STAGE)
6:
    cli
    hlt
    jmp 6b

/* Read the MSRs of msr_values to 8-byte slots at %di. */
read_msrs:
    mov $msr_values, %si
    mov $NR_MSRS, %bp
1:
    mov %cs:(%si), %ecx
    xor %eax, %eax
    xor %edx, %edx
    cmp $0xc0000103, %ecx
    jne 2f
    cmpl $0, (R_RDTSCP)
    je 3f
2:
    rdmsr
3:
    mov %eax, (%di)
    mov %edx, 4(%di)
    add $8, %di
    add $12, %si
    dec %bp
    jnz 1b
    ret

mc_handler:
    push %eax
    push %ecx
    push %edx
    incl (R_MCES)
    mov $0x405, %ecx                /* MC1_STATUS */
    rdmsr
    mov %eax, (R_MC1_STATUS)
    mov %edx, (R_MC1_STATUS + 4)
    xor %eax, %eax
    xor %edx, %edx
    wrmsr                           /* handled: MC1_STATUS 0 */
    mov $0x17a, %ecx                /* MCG_STATUS: MCIP off */
    wrmsr
    pop %edx
    pop %ecx
    pop %eax
    iret

/* MSR, value low, value high: what boot 1 writes (the test knows them). */
    .p2align 2
msr_values:
    .long 0x277, 0x00070106, 0x00070106     /* PAT: entry 1 WC */
    .long 0x2ff, 0x00000c06, 0              /* MTRRdefType: E, FE, WB */
    .long 0x250, 0x06060606, 0x05050505     /* MTRRfix64K_00000 */
    .long 0x200, 0x80000000, 0              /* MTRRphysBase0: UC */
    .long 0x201, 0x80000800, 0xff           /* MTRRphysMask0: 2 GiB, V */
    .long 0x1a0, 0x00000000, 0              /* MISC_ENABLE: no fast strings */
    .long 0xc0000103, 0x12345678, 0         /* TSC_AUX */

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
