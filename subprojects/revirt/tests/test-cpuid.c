/*
 * The guest's CPUID: what a driver answers from the table REVIRT_SET_CPUID
 * gave it, as KVM answers (QEMU's CPU models rely on it): a missing leaf
 * or sub-leaf reads as zeros; leaf 0xB gives every sub-leaf its number in
 * ECX and the x2APIC id in EDX; on an Intel model a leaf above the highest
 * of its range is the highest basic leaf.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include "rk-test.h"

/* CPUID for each (EAX, ECX) pair at cpuid_in, results from 0x2000. */
GUEST_PROGRAM(cpuid_prog,
    "xor %ax, %ax\n mov %ax, %ds\n"
    "mov $(0x1000 + (cpuid_in - cpuid_prog_start)), %si\n"
    "mov $0x2000, %di\n"
    "1: mov (%si), %eax\n mov 4(%si), %ecx\n"
    "cmp $0xffffffff, %eax\n je 2f\n"
    "cpuid\n"
    "mov %eax, (%di)\n mov %ebx, 4(%di)\n mov %ecx, 8(%di)\n"
    "mov %edx, 12(%di)\n"
    "add $8, %si\n add $16, %di\n jmp 1b\n"
    "2: hlt\n"
    "cpuid_in: .long 0xb, 0, 0xb, 5, 3, 0, 0x20, 0, 0x20, 5, 0x80000009, 0\n"
    ".long 0xffffffff, 0\n");

enum { Q_B0, Q_B5, Q_3, Q_20, Q_20_5, Q_80000009, QUERIES };

typedef struct {
    uint32_t eax, ebx, ecx, edx;
} Regs;

static const Regs leaf_b0 = { 1, 1, 0x100, 7 };
static const Regs zeros;

static void table_add(struct revirt_cpuid_table *c, uint32_t fn,
                      uint32_t index, bool indexed, Regs r)
{
    c->entries[c->count++] = (struct revirt_cpuid_entry) {
        .function = fn, .index = index,
        .flags = indexed ? REVIRT_CPUID_FLAG_INDEXED : 0,
        .eax = r.eax, .ebx = r.ebx, .ecx = r.ecx, .edx = r.edx,
    };
}

/* Leaves 0 (highest 0xB), 0xB.0, 0xB.1 and 0x80000000, then the queries. */
static void run_queries(bool amd, Regs out[QUERIES])
{
    g_autofree struct revirt_cpuid_table *c =
        g_new0(struct revirt_cpuid_table, 1);
    RkTestVm t;

    /* "AuthenticAMD" or "GenuineIntel" in EBX, EDX, ECX */
    table_add(c, 0, 0, false, amd ?
              (Regs) { 0xb, 0x68747541, 0x444d4163, 0x69746e65 } :
              (Regs) { 0xb, 0x756e6547, 0x6c65746e, 0x49656e69 });
    table_add(c, 0xb, 0, true, leaf_b0);
    table_add(c, 0xb, 1, true, (Regs) { 4, 2, 0x201, 7 });
    table_add(c, 0x80000000, 0, false, (Regs) { 0x80000008, 0, 0, 0 });

    rk_test_vm_init(&t);
    g_assert(rk_call(t.vcpu, REVIRT_SET_CPUID, c) == 0);
    rk_test_load(&t, cpuid_prog_start, cpuid_prog_end);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_HLT);
    memcpy(out, t.ram + 0x2000, QUERIES * sizeof(Regs));
    rk_test_vm_destroy(&t);
}

static void assert_regs(const Regs *got, const Regs *want)
{
    g_assert(got->eax == want->eax && got->ebx == want->ebx &&
             got->ecx == want->ecx && got->edx == want->edx);
}

static void test_cpuid_amd(void)
{
    Regs out[QUERIES];

    run_queries(true, out);
    assert_regs(&out[Q_B0], &leaf_b0);
    assert_regs(&out[Q_B5], &(Regs) { 0, 0, 5, 7 });
    assert_regs(&out[Q_3], &zeros);
    assert_regs(&out[Q_20], &zeros);
    assert_regs(&out[Q_20_5], &zeros);
    assert_regs(&out[Q_80000009], &zeros);
}

static void test_cpuid_intel(void)
{
    Regs out[QUERIES];

    run_queries(false, out);
    assert_regs(&out[Q_B0], &leaf_b0);
    assert_regs(&out[Q_B5], &(Regs) { 0, 0, 5, 7 });
    assert_regs(&out[Q_3], &zeros);
    /* Above the range: leaf 0xB, at the sub-leaf asked for. */
    assert_regs(&out[Q_20], &leaf_b0);
    assert_regs(&out[Q_20_5], &(Regs) { 0, 0, 5, 7 });
    assert_regs(&out[Q_80000009], &leaf_b0);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/cpuid/amd", test_cpuid_amd);
    g_test_add_func("/revirt-kvm/cpuid/intel", test_cpuid_intel);
    return g_test_run();
}
