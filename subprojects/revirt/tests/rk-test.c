/*
 * Helpers for the revirt-kvm driver tests.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rk-test.h"

bool rk_native(void)
{
    const char *d = g_getenv("REVIRT_TEST_DRIVER");

    return d && !strcmp(d, "native");
}

int rk_open(void)
{
    int fd;

    if (!rk_native()) {
        return revirt_kvm_open();
    }
    fd = open("/dev/revirt", O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void rk_test_no_driver(gconstpointer reason)
{
    g_test_skip(reason);
}

bool rk_test_init(int *argc, char ***argv)
{
    int sys;

    g_test_init(argc, argv, NULL);
    sys = rk_open();
    if (sys == -ENOENT) {
        g_test_add_data_func("/revirt/driver-present",
                             rk_native() ? "no native driver: no /dev/revirt"
                                         : "no revirt-kvm: no /dev/kvm",
                             rk_test_no_driver);
        return false;
    }
    if (sys >= 0) {
        rk_close(sys);
    }
    return true;
}

int rk_call(int handle, uint32_t request, void *arg)
{
    int r;

    if (!rk_native()) {
        return revirt_kvm_call(handle, request, arg);
    }
    r = ioctl(handle, request, arg);
    return r < 0 ? -errno : r;
}

int rk_close(int handle)
{
    if (!rk_native()) {
        return revirt_kvm_close(handle);
    }
    return close(handle) < 0 ? -errno : 0;
}

bool rk_test_need(uint64_t features, uint64_t classes, uint64_t exits)
{
    struct revirt_caps caps;
    int sys = rk_open();

    g_assert(sys >= 0);
    g_assert(rk_call(sys, REVIRT_GET_CAPS, &caps) == 0);
    rk_close(sys);
    if ((caps.features & features) != features ||
        (caps.state_classes & classes) != classes ||
        (caps.exits & exits) != exits) {
        g_test_skip("the driver lacks a feature, state class or exit "
                    "this test needs");
        return false;
    }
    return true;
}

void *rk_test_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    g_assert(p != MAP_FAILED);
    return p;
}

void rk_test_free(void *p, size_t size)
{
    munmap(p, size);
}

void rk_test_vm_init(RkTestVm *t)
{
    struct revirt_vm_create vc = { 0 };
    struct revirt_memory_map map;

    memset(t, 0, sizeof(*t));
    t->sys = rk_open();
    g_assert(t->sys >= 0);
    g_assert(rk_call(t->sys, REVIRT_GET_CAPS, &t->caps) == 0);
    g_assert(t->caps.api_version == REVIRT_API_VERSION);

    t->vm = rk_call(t->sys, REVIRT_CREATE_VM, &vc);
    g_assert(t->vm >= 0);

    t->ram = rk_test_alloc(RK_TEST_RAM_SIZE);
    map = (struct revirt_memory_map) {
        .gpa = 0, .size = RK_TEST_RAM_SIZE, .hva = (uintptr_t)t->ram,
        .prot = REVIRT_PROT_READ | REVIRT_PROT_WRITE | REVIRT_PROT_EXEC,
    };
    g_assert(rk_call(t->vm, REVIRT_MAP_MEMORY, &map) == 0);

    t->vcpu = rk_test_vcpu_new(t, 0, &t->run);
}

void rk_test_vm_destroy(RkTestVm *t)
{
    rk_test_vcpu_free(t, t->vcpu, t->run);
    g_assert(rk_close(t->vm) == 0);
    g_assert(rk_close(t->sys) == 0);
    rk_test_free(t->ram, RK_TEST_RAM_SIZE);
}

int rk_test_vcpu_new(RkTestVm *t, uint32_t vcpu_id, struct revirt_run **run)
{
    struct revirt_vcpu_create cc;
    int vcpu;

    *run = rk_test_alloc(t->caps.run_area_size);
    cc = (struct revirt_vcpu_create) {
        .vcpu_id = vcpu_id, .run_area = (uintptr_t)*run,
        .run_area_size = t->caps.run_area_size,
    };
    vcpu = rk_call(t->vm, REVIRT_CREATE_VCPU, &cc);
    g_assert(vcpu >= 0);
    return vcpu;
}

void rk_test_vcpu_free(RkTestVm *t, int vcpu, struct revirt_run *run)
{
    g_assert(rk_close(vcpu) == 0);
    rk_test_free(run, t->caps.run_area_size);
}

void rk_test_load(RkTestVm *t, const uint8_t *start, const uint8_t *end)
{
    g_assert((end - start) < (RK_TEST_RAM_SIZE - RK_TEST_CODE_GPA));
    memcpy(t->ram + RK_TEST_CODE_GPA, start, end - start);
    rk_test_set_entry(t->vcpu);
}

void rk_test_set_entry(int vcpu)
{
    struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);

    st->classes = REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS;
    g_assert(rk_call(vcpu, REVIRT_GET_STATE, st) == 0);
    st->segments.cs.selector = 0;
    st->segments.cs.base = 0;
    memset(&st->regs, 0, sizeof(st->regs));
    st->regs.rip = RK_TEST_CODE_GPA;
    st->regs.rsp = 0x800;
    st->regs.rflags = 2;
    g_assert(rk_call(vcpu, REVIRT_SET_STATE, st) == 0);
    g_free(st);
}

uint32_t rk_test_run(RkTestVm *t)
{
    g_assert(rk_call(t->vcpu, REVIRT_RUN, NULL) == 0);
    return t->run->exit_reason;
}

uint8_t rk_test_expect_outb(RkTestVm *t, uint16_t port)
{
    g_assert(rk_test_run(t) == REVIRT_EXIT_IO);
    g_assert(t->run->io.direction == REVIRT_IO_OUT);
    g_assert(t->run->io.port == port);
    g_assert(t->run->io.size == 1);
    g_assert(t->run->io.count == 1);
    return t->run->io_data[0];
}
