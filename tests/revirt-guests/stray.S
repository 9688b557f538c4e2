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

/* The jump lands at RAM_BASE + STRAY_OFFSET. */
#define STRAY_TARGET 0xe0000000
#define STRAY_OFFSET (STRAY_TARGET - RAM_BASE)

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    enter_flat32 STRAY_OFFSET

    flat_gdt

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
