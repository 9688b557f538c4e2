/*
 * revirt benchmark firmware (scripts/bench.sh): a 64 KiB -bios image
 * that times, with RDTSC, in flat 32-bit mode:
 *   pio         "out %al, $0x80" (QEMU's port 0x80 ignores it);
 *   mmio-read   a 32-bit read of the HPET's ID register (0xfed00000);
 *   mmio-write  a 32-bit write to it (read-only: QEMU ignores it);
 *   hlt         the local APIC timer armed one-shot for 1 count (a
 *               TMICT write), STI; HLT, its interrupt, EOI and IRET;
 *   compute     an arithmetic loop in registers, no exit;
 * each N times in a row, and prints one line each to COM1:
 *   BENCH <name> n=<N, hex> tsc=<TSC ticks for all N, hex>
 * then "CHECK bench ..." lines (the timer interrupts taken, the compute
 * loop's result), "INFO bench interrupts-before-hlt=<hex>" (see below)
 * and "CHECK done", and powers off through the PIIX4's
 * ACPI registers as Linux does.  Any exception prints
 * "CHECK bench exception FAIL" and powers off.
 * No output while it measures: the serial port is an exit too.
 * RAM at 0x500: "BNCH", timer interrupts, TSC, interrupts before HLT.
 *
 * The timer interrupt must not come between STI and HLT (STI's shadow),
 * but it can in the lab: QEMU 7.2's TCG, the lab's L0, does not load the
 * interrupt shadow (VMCB int_state) at VMRUN, so when L1's hypervisor
 * takes an exit there and re-enters with the interrupt pending, L2 takes
 * it before the HLT, which then waits for good.  The handler counts such
 * an interrupt and returns past the HLT: the wake-up it stood for came.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define N_PIO       20000
#define N_MMIO      20000
#define N_HLT       3000
#define N_COMPUTE   100000000

#define RESULTS     0x500
#define R_TICKS     (RESULTS + 4)   /* timer interrupts taken */
#define R_T0        (RESULTS + 8)   /* TSC at the start of a loop */
#define R_EARLY     (RESULTS + 16)  /* timer interrupts taken at the HLT */
#define IDT         0x1000          /* 256 gates */
#define STACK_TOP   0x7000
#define COM1        0x3f8
#define LAPIC       0xfee00000
#define HPET        0xfed00000
#define TIMER_VEC   0x30
#define PM_BASE     0x600           /* the PIIX4's ACPI I/O, as SeaBIOS */
#define PIIX4_PM    0x80000b00      /* PCI config address of 00:01.3 */
#define LIN(x)      (RAM_BASE + (x))

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    /* Mask both PICs: QEMU's PIT ticks from reset on, through LINT0. */
    mov $0xff, %al
    out %al, $0x21
    out %al, $0xa1
    enter_flat32 flat

    .code32
flat:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $STACK_TOP, %esp
    movl $0x484e4342, (RESULTS)     /* "BNCH" */
    movl $0, (R_TICKS)
    movl $0, (R_EARLY)

    /* 256 gates: 0-31 to fault, the timer's to timer_isr, others IRET. */
    xor %ebx, %ebx
1:  mov $LIN(ignore_isr), %eax
    cmp $32, %ebx
    jae 2f
    mov $LIN(fault), %eax
2:  cmp $TIMER_VEC, %ebx
    jne 3f
    mov $LIN(timer_isr), %eax
3:  mov %ax, IDT(, %ebx, 8)
    movw $0x08, IDT + 2(, %ebx, 8)
    movw $0x8e00, IDT + 4(, %ebx, 8)
    shr $16, %eax
    mov %ax, IDT + 6(, %ebx, 8)
    inc %ebx
    cmp $256, %ebx
    jb 1b
    lidt LIN(idt_desc)

    /* The local APIC on (spurious vector 0xff), its timer one-shot. */
    movl $0x1ff, (LAPIC + 0xf0)
    movl $0xb, (LAPIC + 0x3e0)      /* divide by 1 */
    movl $TIMER_VEC, (LAPIC + 0x320)

    call start_clock
    mov $N_PIO, %ecx
1:  out %al, $0x80
    dec %ecx
    jnz 1b
    mov $LIN(name_pio), %esi
    mov $N_PIO, %ebx
    call report

    call start_clock
    mov $N_MMIO, %ecx
1:  mov (HPET), %eax
    dec %ecx
    jnz 1b
    mov $LIN(name_mmio_read), %esi
    mov $N_MMIO, %ebx
    call report

    call start_clock
    mov $N_MMIO, %ecx
1:  mov %eax, (HPET)
    dec %ecx
    jnz 1b
    mov $LIN(name_mmio_write), %esi
    mov $N_MMIO, %ebx
    call report

    /*
     * STI's shadow covers HLT: an interrupt that came before is taken
     * once HLT has begun, never before it (no lost wake-up).
     */
    call start_clock
    mov $N_HLT, %ecx
1:  movl $1, (LAPIC + 0x380)        /* TMICT: fire after 1 count */
    sti
hlt_insn:
    hlt
    cli
    dec %ecx
    jnz 1b
    mov $LIN(name_hlt), %esi
    mov $N_HLT, %ebx
    call report

    call start_clock
    mov $N_COMPUTE, %ecx
    mov $1, %eax
    mov $0x9e3779b9, %ebx
1:  imul $0x2c1b3c6d, %eax, %eax
    add %ecx, %eax
    xor %eax, %ebx
    rol $7, %ebx
    add %ebx, %eax
    dec %ecx
    jnz 1b
    push %eax
    mov $LIN(name_compute), %esi
    mov $N_COMPUTE, %ebx
    call report

    mov $LIN(msg_sum), %esi
    call puts
    pop %eax
    call hex32
    mov $LIN(msg_ticks), %esi
    call puts
    mov (R_TICKS), %eax
    call hex32
    mov $LIN(msg_ok), %esi
    cmpl $N_HLT, (R_TICKS)
    je 1f
    mov $LIN(msg_fail), %esi
1:  call puts
    mov $LIN(msg_early), %esi
    call puts
    mov (R_EARLY), %eax
    call hex32
    mov $LIN(msg_done), %esi
    call puts

/*
 * ACPI power-off: the PIIX4's PM registers at PM_BASE (PMBA), enabled
 * (PMREGMISC), then SLP_EN with SLP_TYP 0 in PM1_CNT (S5 in QEMU).
 */
poweroff:
    mov $0xcf8, %dx
    mov $(PIIX4_PM + 0x40), %eax
    out %eax, %dx
    mov $0xcfc, %dx
    mov $(PM_BASE | 1), %eax
    out %eax, %dx
    mov $0xcf8, %dx
    mov $(PIIX4_PM + 0x80), %eax
    out %eax, %dx
    mov $0xcfc, %dx
    mov $1, %al
    out %al, %dx
    mov $(PM_BASE + 4), %dx
    mov $0x2000, %ax
    out %ax, %dx
1:  cli
    hlt
    jmp 1b

timer_isr:
    incl (R_TICKS)
    cmpl $LIN(hlt_insn), (%esp)     /* taken before the HLT (see above)? */
    jne 1f
    incl (R_EARLY)
    incl (%esp)                     /* then past it */
1:  movl $0, (LAPIC + 0xb0)         /* EOI */
ignore_isr:
    iret

fault:
    mov $LIN(msg_fault), %esi
    call puts
    jmp poweroff

start_clock:
    rdtsc
    mov %eax, (R_T0)
    mov %edx, (R_T0 + 4)
    ret

/* "BENCH <name at ESI> n=<EBX> tsc=<TSC now - R_T0>\n" */
report:
    rdtsc
    sub (R_T0), %eax
    sbb (R_T0 + 4), %edx
    push %eax
    push %edx
    push %esi
    mov $LIN(msg_bench), %esi
    call puts
    pop %esi
    call puts
    mov $LIN(msg_n), %esi
    call puts
    mov %ebx, %eax
    call hex32
    mov $LIN(msg_tsc), %esi
    call puts
    pop %eax
    call hex32
    pop %eax
    call hex32
    mov $LIN(msg_nl), %esi
    jmp puts

/* The NUL-terminated string at ESI to COM1. */
puts:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret

/* EAX as 8 hex digits to COM1. */
hex32:
    mov $COM1, %dx
    mov $8, %ecx
1:  rol $4, %eax
    push %eax
    and $0xf, %al
    add $'0', %al
    cmp $'9', %al
    jbe 2f
    add $('a' - '9' - 1), %al
2:  out %al, %dx
    pop %eax
    dec %ecx
    jnz 1b
    ret

idt_desc:
    .word 256 * 8 - 1
    .long IDT

msg_bench:      .asciz "BENCH "
name_pio:       .asciz "pio"
name_mmio_read: .asciz "mmio-read"
name_mmio_write: .asciz "mmio-write"
name_hlt:       .asciz "hlt"
name_compute:   .asciz "compute"
msg_n:          .asciz " n="
msg_tsc:        .asciz " tsc="
msg_nl:         .asciz "\n"
msg_sum:        .asciz "CHECK bench compute result="
msg_ticks:      .asciz "\nCHECK bench timer-interrupts="
msg_ok:         .asciz " ok\n"
msg_fail:       .asciz " FAIL\n"
msg_early:      .asciz "INFO bench interrupts-before-hlt="
msg_done:       .asciz "\nCHECK done\n"
msg_fault:      .asciz "CHECK bench exception FAIL\n"

    flat_gdt

    .org 0xfff0
    .code16
    ljmp $0xf000, $_start
    .org 0x10000
