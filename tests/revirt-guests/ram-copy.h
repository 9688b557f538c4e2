/*
 * For the -bios test guests: run the 64 KiB image from a copy in RAM,
 * because PVM hosts cannot run 32-bit code from ROM.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define RAM_SEG     0x2000
#define RAM_BASE    0x20000

/* In real mode at the reset vector: copy the image, go on at @label. */
.macro run_from_ram label
    cli
    cld
    mov $0xf000, %ax
    mov %ax, %ds
    mov $RAM_SEG, %ax
    mov %ax, %es
    xor %si, %si
    xor %di, %di
    mov $0x8000, %cx
    rep movsw
    ljmp $RAM_SEG, $\label
.endm
