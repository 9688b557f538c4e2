/*
 * revirt test firmware for dirty logging: a 64 KiB -bios image that keeps
 * rewriting guest RAM, for migration tests.  Real mode only.
 *
 * Pass n (n = 1, 2, ...) visits the first and the last dword of each of
 * the 112 pages at 0x30000 .. 0x9ffff (PVM runs real-mode memory accesses
 * slowly, so one pass writes every page but not every byte): it counts an
 * error if the dword does not hold n - 1, what pass n - 1 wrote there, and
 * writes n; then it stores n as the pass count.  A migration that loses
 * a write the guest made makes the guest on the destination count errors,
 * wherever in a pass it was migrated.
 * RAM at 0x500: "DRTY", pass count, errors.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define RESULTS     0x500
#define R_PASSES    (RESULTS + 4)
#define R_ERRORS    (RESULTS + 8)
#define AREA_SEG    0x3000      /* the area: 0x30000 ... */
#define AREA_END    0xa000      /* ... up to 0xa0000, 4 KiB a step */

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7000, %sp
    movl $0, (R_PASSES)
    movl $0, (R_ERRORS)
    movl $0x59545244, (RESULTS)     /* "DRTY" */

    xor %ebx, %ebx                  /* what the last pass wrote */
pass:
    mov %ebx, %edx
    inc %edx                        /* what this pass writes */
    mov $AREA_SEG, %cx
page:
    mov %cx, %es
    xor %di, %di
dword:
    cmp %es:(%di), %ebx
    je 1f
    incl (R_ERRORS)
1:  mov %edx, %es:(%di)
    add $0xffc, %di
    cmp $0x1000, %di
    jb dword
    add $0x100, %cx
    cmp $AREA_END, %cx
    jb page
    mov %edx, (R_PASSES)
    mov %edx, %ebx
    jmp pass

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
