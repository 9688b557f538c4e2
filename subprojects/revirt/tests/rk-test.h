/*
 * Helpers for the revirt-kvm driver tests: a VM with guest RAM at 0 and one
 * vCPU in real mode, and guest programs assembled from source in the test.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef RK_TEST_H
#define RK_TEST_H

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "revirt/revirt-abi.h"
#include "revirt-kvm.h"

/*
 * A real-mode guest program, assembled by the compiler from the test's own
 * source: GUEST_PROGRAM(name, "asm lines") gives name_start[]/name_end[].
 */
#define GUEST_PROGRAM(name, body) \
    extern const uint8_t name##_start[], name##_end[]; \
    __asm__(".pushsection .rodata\n" \
            #name "_start:\n.code16\n" body "\n.code64\n" \
            #name "_end:\n.popsection\n")

#define RK_TEST_CODE_GPA 0x1000     /* where programs are loaded and start */
#define RK_TEST_RAM_SIZE 0x10000    /* guest RAM mapped at gpa 0 */

/*
 * The driver under test: revirt-kvm in this process, or with
 * REVIRT_TEST_DRIVER=native the kernel's /dev/revirt through ioctl(2).
 * The same tests, with the same expectations, check both.
 */
int rk_open(void);
int rk_call(int handle, uint32_t request, void *arg);
int rk_close(int handle);
bool rk_native(void);

/*
 * g_test_init, then check that the driver under test exists.  When it
 * does not (no /dev/kvm, or no /dev/revirt), add one test that is skipped
 * with the reason and return false: the caller adds no tests of its own.
 */
bool rk_test_init(int *argc, char ***argv);

/*
 * Skip the current test (g_test_skip) unless the driver offers every
 * feature, state class or exit named; returns false when skipped.
 */
bool rk_test_need(uint64_t features, uint64_t classes, uint64_t exits);

typedef struct RkTestVm {
    int sys, vm, vcpu;
    struct revirt_caps caps;
    uint8_t *ram;
    struct revirt_run *run;
} RkTestVm;

/* Open the driver, create a VM with RAM at 0 and a real-mode vCPU. */
void rk_test_vm_init(RkTestVm *t);
void rk_test_vm_destroy(RkTestVm *t);

/* Copy a program to RK_TEST_CODE_GPA and point CS:IP at it. */
void rk_test_load(RkTestVm *t, const uint8_t *start, const uint8_t *end);

/* Point a vCPU's CS:IP at RK_TEST_CODE_GPA, with clear registers. */
void rk_test_set_entry(int vcpu);

/* Another vCPU of t's VM, with its run area in *run. */
int rk_test_vcpu_new(RkTestVm *t, uint32_t vcpu_id, struct revirt_run **run);
void rk_test_vcpu_free(RkTestVm *t, int vcpu, struct revirt_run *run);

/* Run the vCPU once and return the exit reason. */
uint32_t rk_test_run(RkTestVm *t);

/* Run and expect an OUT of one byte to port; return the byte. */
uint8_t rk_test_expect_outb(RkTestVm *t, uint16_t port);

/* Anonymous, page-aligned host memory. */
void *rk_test_alloc(size_t size);
void rk_test_free(void *p, size_t size);

#endif /* RK_TEST_H */
