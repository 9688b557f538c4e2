/*
 * revirt test firmware: a 64 KiB -bios image that starts at the reset
 * vector in real mode and reports to COM1 what it saw:
 *   - port I/O, including rep outsb (every message)
 *   - flat 32-bit mode: RAM above 1 MiB, MMIO to the local APIC and the
 *     IOAPIC, and a write to the firmware ROM that must not stick; then
 *     back to real mode
 *   - PIT timer interrupts through the PIC, with HLT between ticks
 *   - a triple fault on the first boot, which must reset the machine so
 *     that it boots a second time (boots are counted in CMOS)
 * Results also go to RAM at 0x500 for the test to read.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define RESULTS     0x500   /* "RVRT", boots, ticks, ram sum, ioapic, rom */
#define CMOS_BOOTS  0x7d
#define COM1        0x3f8
/* The image runs from a RAM copy: PVM hosts cannot run 32-bit code in ROM. */
#define RAM_SEG     0x2000
#define RAM_BASE    0x20000
#define PRINT(msg) mov $msg, %si; mov $(msg##_end - msg), %cx; call puts

    .code16
    .text
    .globl _start
_start:
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
    ljmp $RAM_SEG, $in_ram
in_ram:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7000, %sp

    /* Count boots in CMOS, which a reset keeps. */
    mov $CMOS_BOOTS, %al
    out %al, $0x70
    in $0x71, %al
    inc %al
    mov %al, %bl
    mov $CMOS_BOOTS, %al
    out %al, $0x70
    mov %bl, %al
    out %al, $0x71

    movl $0x54525652, (RESULTS)
    mov %bl, (RESULTS + 4)
    PRINT(msg_boot)
    xor %eax, %eax
    mov %bl, %al
    call print_hex
    cmp $1, %bl
    jne finish

    call pm_test
    call pit_test
    PRINT(msg_tf)
    jmp triple_fault

finish:
    PRINT(msg_done)
1:  cli
    hlt
    jmp 1b

/* Print CX bytes at CS:SI to COM1 with one rep outsb. */
puts:
    mov $COM1, %dx
    rep outsb %cs:(%si), (%dx)
    ret

/* Print EAX as 8 hex digits and a newline. */
print_hex:
    mov $COM1, %dx
    mov $8, %cx
1:  rol $4, %eax
    push %eax
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '9' - 1), %al
2:  out %al, %dx
    pop %eax
    loop 1b
    mov $'\n', %al
    out %al, %dx
    ret

/* Ten PIT ticks at 100 Hz through the PIC, halting between them. */
pit_test:
    movw $pit_irq, (8 * 4)
    movw $RAM_SEG, (8 * 4 + 2)
    movw $0, (RESULTS + 8)
    mov $0x11, %al              /* master PIC: vectors 8-15, IRQ0 only */
    out %al, $0x20
    mov $0x08, %al
    out %al, $0x21
    mov $0x04, %al
    out %al, $0x21
    mov $0x01, %al
    out %al, $0x21
    mov $0xfe, %al
    out %al, $0x21
    mov $0x34, %al              /* PIT channel 0, mode 2, 11932 = 100 Hz */
    out %al, $0x43
    mov $(11932 & 0xff), %al
    out %al, $0x40
    mov $(11932 >> 8), %al
    out %al, $0x40
    sti
1:  hlt
    cmpw $10, (RESULTS + 8)
    jb 1b
    cli
    mov $0xff, %al
    out %al, $0x21
    PRINT(msg_pit)
    ret

pit_irq:
    push %ax
    incw (RESULTS + 8)
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

/* Flat 32-bit mode and back. */
pm_test:
    lgdtl %cs:gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $(RAM_BASE + pm32)

    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    movzwl %sp, %esp

    /* RAM at 2 MiB: write 1024 words, sum them back. */
    mov $0x200000, %edi
    xor %ecx, %ecx
1:  mov %ecx, %eax
    imul $0x9e3779b9, %eax
    mov %eax, (%edi, %ecx, 4)
    inc %ecx
    cmp $1024, %ecx
    jb 1b
    xor %ecx, %ecx
    xor %edx, %edx
2:  add (%edi, %ecx, 4), %edx
    inc %ecx
    cmp $1024, %ecx
    jb 2b
    mov %edx, (RESULTS + 12)

    /*
     * MMIO above 1 MiB: enable the local APIC and let PIC interrupts
     * through LINT0 (ExtINT), as SeaBIOS does; read the IOAPIC version.
     */
    movl $0x1ff, 0xfee000f0
    movl $0x700, 0xfee00350
    movl $1, 0xfec00000
    mov 0xfec00010, %eax
    mov %eax, (RESULTS + 16)

    /* The firmware ROM (at 4 GiB - 64 KiB) must ignore writes. */
    mov (0xffff0000 + rom_byte), %al
    mov %al, %bl
    not %al
    mov %al, (0xffff0000 + rom_byte)
    mov (0xffff0000 + rom_byte), %al
    cmp %al, %bl
    sete %al
    mov %al, (RESULTS + 20)

    ljmp $0x18, $pm16

    .code16
pm16:
    mov $0x20, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr0, %eax
    and $~1, %eax
    mov %eax, %cr0
    ljmp $RAM_SEG, $rm_again
rm_again:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    PRINT(msg_ram)
    mov (RESULTS + 12), %eax
    call print_hex
    PRINT(msg_ioapic)
    mov (RESULTS + 16), %eax
    call print_hex
    cmpb $1, (RESULTS + 20)
    jne 1f
    PRINT(msg_rom_ok)
    ret
1:  PRINT(msg_rom_bad)
    ret

/*
 * A triple fault: flat 32-bit mode, no IDT, paging on with an empty page
 * directory, so the next fetch faults and nothing can handle it.
 */
triple_fault:
    xor %ax, %ax
    mov $0x8000, %di
    mov $2048, %cx
    rep stosw
    lgdtl %cs:gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $(RAM_BASE + tf32)
    .code32
tf32:
    mov $0x10, %ax
    mov %ax, %ds
    lidt (RAM_BASE + null_idt)
    mov $0x8000, %eax
    mov %eax, %cr3
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    nop
    .code16

    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: flat 32-bit data */
    .quad 0x00009a020000ffff    /* 0x18: 16-bit code at RAM_BASE */
    .quad 0x000092000000ffff    /* 0x20: 16-bit data at 0 */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long RAM_BASE + gdt
null_idt:
    .word 0
    .long 0
rom_byte:
    .byte 0x5a

msg_boot:   .ascii "revirt-test boot "
msg_boot_end:
msg_pit:    .ascii "pit ticks ok\n"
msg_pit_end:
msg_ram:    .ascii "ram sum "
msg_ram_end:
msg_ioapic: .ascii "ioapic version "
msg_ioapic_end:
msg_rom_ok: .ascii "rom read-only\n"
msg_rom_ok_end:
msg_rom_bad: .ascii "rom WRITABLE\n"
msg_rom_bad_end:
msg_tf:     .ascii "triple fault\n"
msg_tf_end:
msg_done:   .ascii "done\n"
msg_done_end:

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
