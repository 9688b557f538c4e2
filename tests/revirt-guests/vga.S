/*
 * revirt test firmware for the display: a 64 KiB -bios image, real mode
 * only.  It programs the VGA for mode 13h (320x200, 256 colours, chain 4:
 * the frame buffer is RAM at 0xa0000) by its registers, fills the screen
 * with colour 4 (red), and when the test sets R_GO, with colour 1 (blue).
 * RAM at 0x500: "VGA3", R_GO, stage (1: red, 2: blue).
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define RESULTS     0x500
#define R_GO        (RESULTS + 4)
#define R_STAGE     (RESULTS + 8)
#define RED         4
#define BLUE        1

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    xor %ax, %ax
    mov %ax, %ss
    mov $0x7000, %sp
    mov %ax, %es
    movl $0, %es:(R_GO)
    movl $0, %es:(R_STAGE)
    movl $0x33414756, %es:(RESULTS) /* "VGA3" */
    mov %cs, %ax
    mov %ax, %ds

    mov $0x3c2, %dx                 /* miscellaneous output */
    mov $0x63, %al
    out %al, %dx
    mov $0x3c4, %dx                 /* sequencer */
    mov $seq, %si
    mov $(crtc - seq), %cx
    call indexed
    mov $0x3d4, %dx                 /* CRTC, unlocked at reset */
    mov $crtc, %si
    mov $(gc - crtc), %cx
    call indexed
    mov $0x3ce, %dx                 /* graphics controller */
    mov $gc, %si
    mov $(ac - gc), %cx
    call indexed
    mov $0x3da, %dx                 /* attribute controller: index mode */
    in %dx, %al
    mov $0x3c0, %dx
    mov $ac, %si
    xor %bl, %bl
1:  mov %bl, %al
    out %al, %dx
    lodsb
    out %al, %dx
    inc %bl
    cmp $(ac_end - ac), %bl
    jb 1b
    mov $0x20, %al                  /* palette address source: display on */
    out %al, %dx
    mov $0x3c8, %dx                 /* DAC: colours 1 and 4 */
    mov $BLUE, %al
    out %al, %dx
    inc %dx
    mov $0, %al
    out %al, %dx
    out %al, %dx
    mov $42, %al
    out %al, %dx
    dec %dx
    mov $RED, %al
    out %al, %dx
    inc %dx
    mov $42, %al
    out %al, %dx
    mov $0, %al
    out %al, %dx
    out %al, %dx

    mov $(RED * 0x101), %ax
    call fill
    xor %ax, %ax
    mov %ax, %ds
    movl $1, (R_STAGE)
2:  cmpl $0, (R_GO)
    je 2b
    mov $(BLUE * 0x101), %ax
    call fill
    movl $2, (R_STAGE)
3:  cli
    hlt
    jmp 3b

/* Write %cx registers from %ds:%si through index port %dx, data %dx + 1. */
indexed:
    xor %bl, %bl
1:  mov %bl, %al
    out %al, %dx
    inc %dx
    lodsb
    out %al, %dx
    dec %dx
    inc %bl
    loop 1b
    ret

/* Fill the 64 KiB at 0xa0000 with %ax. */
fill:
    push %es
    mov $0xa000, %cx
    mov %cx, %es
    xor %di, %di
    mov $0x8000, %cx
    cld
    rep stosw
    pop %es
    ret

seq:
    .byte 0x03, 0x01, 0x0f, 0x00, 0x0e
crtc:
    .byte 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f
    .byte 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
    .byte 0x9c, 0x0e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff
gc:
    .byte 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff
ac:
    .byte 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
    .byte 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
    .byte 0x41, 0x00, 0x0f, 0x00, 0x00
ac_end:

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
