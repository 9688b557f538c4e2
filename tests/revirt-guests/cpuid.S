/*
 * revirt test firmware that reads CPUID: a 64 KiB -bios image that, in
 * real mode, executes CPUID for sub-leaves 0-7 of the leaves 0x0-0x21,
 * 0x40000000-0x40000021 and 0x80000000-0x80000021, and stores EAX, EBX,
 * ECX and EDX of each at 0x10000 in that order.  "CPID" at 0x500 says it
 * is done.  The test compares what the guest saw under each accelerator.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define DONE        0x500
#define LEAF        0x600           /* the leaf being read */
#define SUBLEAF     0x604
#define LEFT        0x608           /* leaves left in this range */
#define LEAVES      0x22            /* per range */
#define SUBLEAVES   8
#define OUT_SEG     0x1000

    .code16
    .text
    .globl _start
_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7000, %sp
    mov $OUT_SEG, %ax
    mov %ax, %es
    xor %di, %di
    mov $ranges, %si
next_range:
    movl %cs:(%si), %eax
    cmpl $0xffffffff, %eax
    je done
    movl %eax, (LEAF)
    movl $LEAVES, (LEFT)
next_leaf:
    movl $0, (SUBLEAF)
next_subleaf:
    movl (LEAF), %eax
    movl (SUBLEAF), %ecx
    cpuid
    movl %eax, %es:(%di)
    movl %ebx, %es:4(%di)
    movl %ecx, %es:8(%di)
    movl %edx, %es:12(%di)
    add $16, %di
    incl (SUBLEAF)
    cmpl $SUBLEAVES, (SUBLEAF)
    jne next_subleaf
    incl (LEAF)
    decl (LEFT)
    jnz next_leaf
    add $4, %si
    jmp next_range
done:
    movl $0x44495043, (DONE)        /* "CPID" */
1:  hlt
    jmp 1b

    .p2align 2
ranges:
    .long 0, 0x40000000, 0x80000000, 0xffffffff

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
