/*
 * revirt test firmware: a 64 KiB -bios image that starts at the reset
 * vector in real mode and reports to COM1 what it saw:
 *   - port I/O, including rep outsb (every message)
 *   - flat 32-bit mode: RAM above 1 MiB, MMIO to the local APIC and the
 *     IOAPIC, and writes to the firmware that must not stick: a ROM
 *     ignores them; a CFI flash (-drive if=pflash) answers a read-ID
 *     command and goes back to its contents, which it serves in romd
 *     mode; then back to real mode
 *   - PIT timer interrupts through the PIC, with HLT between ticks
 *   - a triple fault on the first boot, which must reset the machine so
 *     that it boots a second time (boots are counted in CMOS)
 *   - on the second boot, INIT and SIPI to the other CPUs (-smp), which
 *     check in from the RAM copy of this image
 *   - at the end, halted with interrupts off, an NMI handler that counts
 *     the NMIs the test injects (through LINT1 of the boot CPU)
 * Results also go to RAM at 0x500 for the test to read; the last CPU
 * state is left in registers for the test to read back: EBX = 0x600df00d
 * on the boot CPU, EBX = 0xa9000000 + APIC ID on the others.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

/* Results: "RVRT", boots, ticks, ram sum, ioapic, rom, fw id, cpus, done */
#define RESULTS     0x500
#define R_BOOTS     (RESULTS + 4)
#define R_TICKS     (RESULTS + 8)
#define R_RAM_SUM   (RESULTS + 12)
#define R_IOAPIC    (RESULTS + 16)
#define R_ROM_OK    (RESULTS + 20)
#define R_FW_ID     (RESULTS + 24)
#define R_APS       (RESULTS + 28)  /* APs checked in */
#define R_APS_WANT  (RESULTS + 30)
#define R_DONE      (RESULTS + 32)  /* "DONE" */
#define R_NMIS      (RESULTS + 36)  /* NMIs taken, by any CPU */
#define CMOS_BOOTS  0x7d
#define CMOS_APS    0x5f            /* QEMU's pc machine: CPUs - 1 */
#define LAPIC       0xfee00000
#define AP_SIPI_VECTOR  0x21        /* the AP code at RAM_BASE + 0x1000 */
#define COM1        0x3f8
#define PRINT(msg) mov $msg, %si; mov $(msg##_end - msg), %cx; call puts

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
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
    mov %bl, (R_BOOTS)
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
    call smp_test
    movw $nmi_handler, (2 * 4)
    movw $RAM_SEG, (2 * 4 + 2)
    PRINT(msg_done)
    movl $0x454e4f44, (R_DONE)
    mov $0x600df00d, %ebx
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
    movw $0, (R_TICKS)
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
    cmpw $10, (R_TICKS)
    jb 1b
    cli
    mov $0xff, %al
    out %al, $0x21
    PRINT(msg_pit)
    ret

nmi_handler:
    lock incw (R_NMIS)
    iret

pit_irq:
    push %ax
    incw (R_TICKS)
    mov $0x20, %al
    out %al, $0x20
    pop %ax
    iret

/* Run the flat 32-bit function at image offset BP, then back to real mode. */
call32:
    lgdtl %cs:gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $(RAM_BASE + 1f)
    .code32
1:  mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    movzwl %sp, %esp
    movzwl %bp, %ebp
    add $RAM_BASE, %ebp
    call *%ebp
    ljmp $0x18, $2f
    .code16
2:  mov $0x20, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr0, %eax
    and $~1, %eax
    mov %eax, %cr0
    ljmp $RAM_SEG, $3f
3:  xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    ret

pm_test:
    mov $pm_checks, %bp
    call call32
    PRINT(msg_ram)
    mov (R_RAM_SUM), %eax
    call print_hex
    PRINT(msg_ioapic)
    mov (R_IOAPIC), %eax
    call print_hex
    PRINT(msg_fw_id)
    mov (R_FW_ID), %eax
    call print_hex
    cmpb $1, (R_ROM_OK)
    jne 1f
    PRINT(msg_rom_ok)
    ret
1:  PRINT(msg_rom_bad)
    ret

    .code32
pm_checks:
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
    mov %edx, (R_RAM_SUM)

    /*
     * MMIO above 1 MiB: enable the local APIC and let PIC interrupts
     * through LINT0 (ExtINT), as SeaBIOS does; read the IOAPIC version.
     */
    movl $0x1ff, (LAPIC + 0xf0)
    movl $0x700, (LAPIC + 0x350)
    movl $1, 0xfec00000
    mov 0xfec00010, %eax
    mov %eax, (R_IOAPIC)

    /*
     * The firmware at 4 GiB - 64 KiB.  Send it a CFI read-ID command: a
     * ROM ignores it and still reads as this image, a flash answers with
     * its ID.  Then a read-array command, which must not stick in a ROM
     * and takes a flash back to serving its contents.
     */
    movb $0x90, 0xffff0000
    mov 0xffff0000, %eax
    mov %eax, (R_FW_ID)
    movb $0xff, (0xffff0000 + rom_byte)
    cmpb $0x5a, (0xffff0000 + rom_byte)
    sete (R_ROM_OK)
    ret
    .code16

/* Start the other CPUs with INIT and SIPI; count them as they check in. */
smp_test:
    mov $CMOS_APS, %al
    out %al, $0x70
    in $0x71, %al
    xor %ah, %ah
    mov %ax, (R_APS_WANT)
    movw $0, (R_APS)
    mov $smp_start, %bp
    call call32
    PRINT(msg_cpus)
    movzwl (R_APS), %eax
    inc %eax
    call print_hex
    ret

    .code32
smp_start:
    movl $0x1ff, (LAPIC + 0xf0)
    movl $0x400, (LAPIC + 0x360)        /* LINT1: NMI, as SeaBIOS sets it */
    movl $0, (LAPIC + 0x310)
    movl $0x000c4500, (LAPIC + 0x300)   /* INIT to all but self */
    mov $0x10000, %ecx
1:  loop 1b
    movl $(0x000c4600 | AP_SIPI_VECTOR), (LAPIC + 0x300)
    /* Wait for every AP, for a few seconds at most. */
    mov $0x4000000, %ecx
2:  mov (R_APS), %ax
    cmp (R_APS_WANT), %ax
    je 3f
    pause
    loop 2b
3:  ret
    .code16

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

msg_fw_id:  .ascii "firmware id "
msg_fw_id_end:
msg_cpus:   .ascii "cpus "
msg_cpus_end:
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

/* The other CPUs start here, in real mode, at CS = AP_SIPI_VECTOR << 8. */
    .org 0x1000
ap_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov $1, %eax
    cpuid
    shr $24, %ebx
    add $0xa9000000, %ebx
    lock incw (R_APS)
1:  hlt
    jmp 1b

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
