/*
 * revirt-kvm: a real-mode program runs to its expected exits, and injected
 * interrupts and NMIs reach its handlers.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "rk-test.h"

GUEST_PROGRAM(io_prog,
    "xor %ax, %ax\n mov %ax, %ds\n mov %ax, %es\n cld\n"
    "mov $0x42, %al\n out %al, $0x10\n"
    "mov $(0x1000 + (io_msg - io_prog_start)), %si\n"
    "mov $5, %cx\n mov $0x11, %dx\n rep outsb\n"
    "in $0x12, %al\n out %al, $0x10\n"
    "mov $0x2000, %di\n mov $4, %cx\n mov $0x13, %dx\n rep insb\n"
    "mov $0x99, %al\n out %al, $0x10\n"
    "hlt\n"
    "io_msg: .ascii \"hello\"\n");

static void test_io_exits(void)
{
    uint8_t out[5];
    uint32_t got = 0;
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, io_prog_start, io_prog_end);

    g_assert(rk_test_expect_outb(&t, 0x10) == 0x42);

    /* rep outsb: one or more exits that carry the string in order */
    while (got < 5) {
        g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
        g_assert(t.run->io.port == 0x11);
        g_assert(t.run->io.direction == REVIRT_IO_OUT);
        g_assert(t.run->io.size == 1);
        g_assert(t.run->io.count >= 1);
        g_assert((got + t.run->io.count) <= 5);
        memcpy(out + got, t.run->io_data, t.run->io.count);
        got += t.run->io.count;
    }
    g_assert(!memcmp(out, "hello", 5));

    /* in: the value the VMM supplies reaches AL */
    g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
    g_assert(t.run->io.port == 0x12);
    g_assert(t.run->io.direction == REVIRT_IO_IN);
    t.run->io_data[0] = 0x5a;
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x5a);

    /* rep insb: the VMM's bytes land in guest memory, in order */
    for (got = 0; got < 4; got += t.run->io.count) {
        g_assert(rk_test_run(&t) == REVIRT_EXIT_IO);
        g_assert(t.run->io.port == 0x13);
        g_assert(t.run->io.direction == REVIRT_IO_IN);
        g_assert(t.run->io.count >= 1);
        g_assert((got + t.run->io.count) <= 4);
        memcpy(t.run->io_data, "abcd" + got, t.run->io.count);
    }
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x99);
    g_assert(!memcmp(t.ram + 0x2000, "abcd", 4));

    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    rk_test_vm_destroy(&t);
}

/* Handlers for vector 0x20 and NMI write a marker; the main loop halts. */
GUEST_PROGRAM(irq_prog,
    "xor %ax, %ax\n mov %ax, %ds\n"
    "movw $(0x1000 + (irq_handler - irq_prog_start)), (0x20 * 4)\n"
    "movw $0, (0x20 * 4 + 2)\n"
    "movw $(0x1000 + (nmi_handler - irq_prog_start)), (2 * 4)\n"
    "movw $0, (2 * 4 + 2)\n"
    "sti\n"
    "1: hlt\n jmp 1b\n"
    "irq_handler: mov $0xee, %al\n out %al, $0x10\n iret\n"
    "nmi_handler: mov $0xdd, %al\n out %al, $0x10\n iret\n");

static void test_inject(void)
{
    struct revirt_event irq = { .type = REVIRT_EVENT_EXTINT, .vector = 0x20 };
    struct revirt_event nmi = { .type = REVIRT_EVENT_NMI };
    struct revirt_event bad = { .type = 99 };
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, irq_prog_start, irq_prog_end);

    /* Before the first run the vCPU cannot take an interrupt. */
    g_assert(rk_call(t.vcpu, REVIRT_INJECT, &irq) == -EBUSY);
    g_assert(rk_call(t.vcpu, REVIRT_INJECT, &bad) == -EINVAL);

    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    g_assert(t.run->if_flag == 1);
    g_assert(t.run->ready_for_interrupt == 1);
    g_assert(rk_call(t.vcpu, REVIRT_INJECT, &irq) == 0);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0xee);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);

    g_assert(rk_call(t.vcpu, REVIRT_INJECT, &nmi) == 0);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0xdd);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    rk_test_vm_destroy(&t);
}

/*
 * An interrupt window requested while IF=0 opens once the guest sets IF,
 * even when it then only computes and makes no other exit.
 */
GUEST_PROGRAM(window_prog,
    "cli\n mov $1, %al\n out %al, $0x10\n"
    "sti\n 1: jmp 1b\n");

static void test_irq_window(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, window_prog_start, window_prog_end);
    g_assert(rk_test_expect_outb(&t, 0x10) == 1);
    g_assert(t.run->ready_for_interrupt == 0);
    t.run->request_interrupt_window = 1;
    g_assert(rk_test_run(&t) == REVIRT_EXIT_IRQ_WINDOW);
    g_assert(t.run->if_flag == 1);
    g_assert(t.run->ready_for_interrupt == 1);
    rk_test_vm_destroy(&t);
}

/*
 * A triple fault: in flat 32-bit mode with no IDT, turn on paging with an
 * empty page directory, so the next fetch faults and nothing can handle it.
 */
GUEST_PROGRAM(shutdown_prog,
    "cli\n lgdt (0x1000 + (tf_gdtr - shutdown_prog_start))\n"
    "mov %cr0, %eax\n or $1, %eax\n mov %eax, %cr0\n"
    "ljmpl $0x08, $(0x1000 + (tf_pm32 - shutdown_prog_start))\n"
    ".code32\n tf_pm32: mov $0x10, %ax\n mov %ax, %ds\n mov %ax, %ss\n"
    "lidt (0x1000 + (tf_idtr - shutdown_prog_start))\n"
    "mov $0x8000, %eax\n mov %eax, %cr3\n"
    "mov %cr0, %eax\n or $0x80000000, %eax\n mov %eax, %cr0\n nop\n"
    ".p2align 3\n tf_gdt: .quad 0\n"
    ".quad 0x00cf9a000000ffff\n .quad 0x00cf92000000ffff\n"
    "tf_gdtr: .word 23\n .long 0x1000 + (tf_gdt - shutdown_prog_start)\n"
    "tf_idtr: .word 0\n .long 0\n .code16\n");

/* Fetching code from a gpa with no mapping is an error the VMM must see. */
GUEST_PROGRAM(fetch_prog, "ljmp $0x2000, $0\n");

static void test_internal_error(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, fetch_prog_start, fetch_prog_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERNAL_ERROR);
    g_assert(t.run->internal.suberror == REVIRT_INTERNAL_EMULATION);
    rk_test_vm_destroy(&t);
}

static void test_shutdown(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, shutdown_prog_start, shutdown_prog_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_SHUTDOWN);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/run/io-exits", test_io_exits);
    g_test_add_func("/revirt-kvm/run/inject", test_inject);
    g_test_add_func("/revirt-kvm/run/irq-window", test_irq_window);
    g_test_add_func("/revirt-kvm/run/shutdown", test_shutdown);
    g_test_add_func("/revirt-kvm/run/internal-error", test_internal_error);
    return g_test_run();
}
