/*
 * revirt test firmware that strays: a 64 KiB -bios image that runs from
 * a copy in RAM, enters flat 32-bit mode and jumps to 0xe0000000, an
 * unassigned address in the PCI hole.  A hardware accelerator cannot run
 * code from MMIO, so revirt must stop the VM with an error and keep QMP
 * answering.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define STRAY_TARGET 0xe0000000

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    lgdtl %cs:gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $STRAY_TARGET

    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: flat 32-bit code */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long RAM_BASE + gdt

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
