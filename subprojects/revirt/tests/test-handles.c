/*
 * revirt-kvm: closed handles, handles of the wrong kind and bad creation
 * arguments fail cleanly with the documented errors.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include "rk-test.h"

static void test_wrong_kind(void)
{
    struct revirt_memory_map m = { .gpa = 0, .size = 0x1000, .prot = 7 };
    struct revirt_vm_create vc = { 0 };
    struct revirt_caps caps;
    RkTestVm t;

    rk_test_vm_init(&t);
    g_assert(rk_call(t.vm, REVIRT_RUN, NULL) == -ENOTTY);
    g_assert(rk_call(t.sys, REVIRT_MAP_MEMORY, &m) == -ENOTTY);
    g_assert(rk_call(t.vcpu, REVIRT_GET_CAPS, &caps) == -ENOTTY);
    g_assert(rk_call(t.vcpu, REVIRT_CREATE_VM, &vc) == -ENOTTY);
    g_assert(rk_call(t.sys, 0xdeadbeef, NULL) == -ENOTTY);
    rk_test_vm_destroy(&t);
}

static void test_closed(void)
{
    struct revirt_caps caps;
    RkTestVm t;

    rk_test_vm_init(&t);
    g_assert(rk_call(-1, REVIRT_GET_CAPS, &caps) == -EBADF);
    g_assert(rk_call(1 << 30, REVIRT_GET_CAPS, &caps) == -EBADF);
    g_assert(rk_close(-1) == -EBADF);
    rk_test_vm_destroy(&t);

    /* rk_test_vm_destroy closed all three. */
    g_assert(rk_call(t.sys, REVIRT_GET_CAPS, &caps) == -EBADF);
    g_assert(rk_call(t.vcpu, REVIRT_RUN, NULL) == -EBADF);
    g_assert(rk_call(t.vcpu, REVIRT_KICK, NULL) == -EBADF);
    g_assert(rk_close(t.vm) == -EBADF);
}

GUEST_PROGRAM(out_prog, "mov $0x5a, %al\n out %al, $0x10\n hlt\n");

static void test_vcpu_outlives_vm_handle(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, out_prog_start, out_prog_end);
    g_assert(rk_close(t.vm) == 0);
    g_assert(rk_test_expect_outb(&t, 0x10) == 0x5a);
    g_assert(rk_close(t.vcpu) == 0);
    g_assert(rk_close(t.sys) == 0);
    rk_test_free(t.run, t.caps.run_area_size);
    rk_test_free(t.ram, RK_TEST_RAM_SIZE);
}

static void test_bad_create(void)
{
    struct revirt_vm_create vc = { .flags = 1 };
    struct revirt_vcpu_create cc;
    void *area;
    RkTestVm t;

    rk_test_vm_init(&t);
    g_assert(rk_call(t.sys, REVIRT_CREATE_VM, &vc) == -EINVAL);
    area = rk_test_alloc(t.caps.run_area_size);
    cc = (struct revirt_vcpu_create) {
        .vcpu_id = 0, .run_area = (uintptr_t)area,
        .run_area_size = t.caps.run_area_size,
    };
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EEXIST);
    cc.vcpu_id = t.caps.max_vcpus;
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    cc.vcpu_id = 1;
    cc.run_area_size = 16;
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    cc.run_area_size = t.caps.run_area_size;
    cc.run_area += 8;
    g_assert(rk_call(t.vm, REVIRT_CREATE_VCPU, &cc) == -EINVAL);
    rk_test_free(area, t.caps.run_area_size);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/handles/wrong-kind", test_wrong_kind);
    g_test_add_func("/revirt-kvm/handles/closed", test_closed);
    g_test_add_func("/revirt-kvm/handles/vcpu-outlives-vm-handle",
                    test_vcpu_outlives_vm_handle);
    g_test_add_func("/revirt-kvm/handles/bad-create", test_bad_create);
    return g_test_run();
}
