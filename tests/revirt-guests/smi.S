/*
 * revirt test firmware that sends itself an SMI: a 64 KiB -bios image
 * that runs from a copy in RAM, enters flat 32-bit mode, enables the
 * local APIC and writes an SMI-to-self to its ICR, then leaves "SMI!" at
 * 0x500 and halts with interrupts off.  revirt has no SMM: it must drop
 * the SMI and let the vCPU idle, with QMP answering.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define DONE            0x500
#define LAPIC           0xfee00000
#define ICR_SMI_SELF    0x00040200  /* destination "self", mode SMI */

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    enter_flat32 flat

    .code32
flat:
    mov $0x10, %ax
    mov %ax, %ds
    movl $0x1ff, (LAPIC + 0xf0)
    movl $0, (LAPIC + 0x310)
    movl $ICR_SMI_SELF, (LAPIC + 0x300)
    movl $0x21494d53, (DONE)        /* "SMI!" */
1:  cli
    hlt
    jmp 1b
    .code16

    flat_gdt

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
