/*
 * revirt test boot sector: SeaBIOS loads it at 0x7c00; it prints one line
 * to COM1, leaves a marker in RAM at 0x520 and halts.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

    .code16
    .text
    .globl _start
_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    mov $msg, %si
    mov $(msg_end - msg), %cx
    mov $0x3f8, %dx
    rep outsb
    movl $0x4b4f5342, (0x520)   /* "BSOK" */
1:  hlt
    jmp 1b
msg:
    .ascii "revirt boot sector ok\n"
msg_end:
    .org 510
    .word 0xaa55
