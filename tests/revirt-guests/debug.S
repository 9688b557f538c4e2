/*
 * revirt test firmware for guest debugging: a 64 KiB -bios image for the
 * lab's gdb test (tests/lab/gdb-check.py).  In flat 32-bit mode it runs a
 * fixed sequence at known labels, where gdb breaks (INT3 and debug
 * registers), single-steps, watches a write and changes a register and a
 * word of memory; then the guest runs an INT3 of its own, which must reach
 * its own #BP handler with the return address after the INT3.  On COM1:
 *   CHECK guest int3 return=ok          (or return=bad FAIL)
 *   CHECK guest ebx=XXXXXXXX mem=XXXXXXXX   (what gdb wrote)
 * and it stops at `finish`.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define COM1        0x3f8
#define LIN(x)      (RAM_BASE + (x))
#define BP_GATE     (3 * 8)

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
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $0x7000, %esp

    /* IDT entry 3: a 32-bit interrupt gate to bp_handler. */
    mov $LIN(bp_handler), %eax
    mov %ax, LIN(idt) + BP_GATE
    movw $0x08, LIN(idt) + BP_GATE + 2
    movw $0x8e00, LIN(idt) + BP_GATE + 4
    shr $16, %eax
    mov %ax, LIN(idt) + BP_GATE + 6
    lidt LIN(idt_desc)

    xor %ebx, %ebx
    mov $0x1234abcd, %ecx
sw_bp:                          /* gdb: break; reads ecx */
    inc %ecx
step1:                          /* gdb: stepi, stepi */
    inc %ecx
step2:
    nop
hw_bp:                          /* gdb: hbreak; reads and writes */
    nop
    movl $0x11223344, LIN(watch_word)   /* gdb: watch */
after_watch:
    int3                        /* the guest's own */
after_int3:
    cmpl $LIN(after_int3), LIN(bp_return)
    je 1f
    mov $LIN(msg_int3_bad), %esi
    mov $(msg_int3_bad_end - msg_int3_bad), %ecx
    jmp 2f
1:
    mov $LIN(msg_int3_ok), %esi
    mov $(msg_int3_ok_end - msg_int3_ok), %ecx
2:
    call print

    mov $LIN(msg_ebx), %esi
    mov $(msg_ebx_end - msg_ebx), %ecx
    call print
    mov %ebx, %eax
    call print_hex
    mov $LIN(msg_mem), %esi
    mov $(msg_mem_end - msg_mem), %ecx
    call print
    mov LIN(data_word), %eax
    call print_hex
    mov $'\n', %al
    call putc
finish:                         /* gdb: break, then quits QEMU */
    cli
    hlt
    jmp finish

/* #BP: note where the guest goes back to. */
bp_handler:
    push %eax
    mov 4(%esp), %eax
    mov %eax, LIN(bp_return)
    pop %eax
    iret

/* Print %ecx bytes at %esi. */
print:
    lodsb
    call putc
    loop print
    ret

/* Print %eax as 8 hex digits. */
print_hex:
    mov %eax, %edx
    mov $8, %ecx
1:
    rol $4, %edx
    mov %dl, %al
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '0' - 10), %al
2:
    call putc
    loop 1b
    ret

putc:
    push %edx
    mov $COM1, %dx
    out %al, %dx
    pop %edx
    ret

msg_int3_ok:
    .ascii "CHECK guest int3 return=ok\n"
msg_int3_ok_end:
msg_int3_bad:
    .ascii "CHECK guest int3 return=bad FAIL\n"
msg_int3_bad_end:
msg_ebx:
    .ascii "CHECK guest ebx="
msg_ebx_end:
msg_mem:
    .ascii " mem="
msg_mem_end:

    .p2align 2
data_word:                      /* gdb reads it, then writes it */
    .long 0xfeedface
watch_word:
    .long 0
bp_return:
    .long 0

    .p2align 3
idt:
    .fill 4, 8, 0
idt_desc:
    .word 4 * 8 - 1
    .long LIN(idt)

    flat_gdt

    .code16
    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
