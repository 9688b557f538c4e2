/*
 * revirt-kvm: the system handle (discovery, VM creation) over /dev/kvm.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "revirt-kvm.h"
#include "revirt-kvm-int.h"

/*
 * Where KVM keeps the pages it needs for real mode on Intel hosts (an EPT
 * identity map and a TSS): the addresses QEMU's KVM accelerator uses.
 */
#define RK_PRIVATE_GPA   0xfeffc000ull
#define RK_PRIVATE_SIZE  0x4000ull

static void rk_kick_handler(int sig)
{
    /* Nothing to do: the signal only makes KVM_RUN return -EINTR. */
}

static void rk_install_kick_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = rk_kick_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(REVIRT_KVM_KICK_SIGNAL, &sa, NULL);
}

static int rk_get_supported_cpuid(int kvm_fd, struct revirt_cpuid_table *out)
{
    struct kvm_cpuid2 *cpuid;
    int nent = REVIRT_MAX_CPUID_ENTRIES;
    int ret;

    cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
    if (!cpuid) {
        return -ENOMEM;
    }
    cpuid->nent = nent;
    ret = rk_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
    if (ret == 0) {
        memset(out, 0, sizeof(*out));
        out->count = cpuid->nent;
        for (uint32_t i = 0; i < cpuid->nent; i++) {
            struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
            struct revirt_cpuid_entry *r = &out->entries[i];

            r->function = e->function;
            r->index = e->index;
            r->flags = (e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ?
                       REVIRT_CPUID_FLAG_INDEXED : 0;
            r->eax = e->eax;
            r->ebx = e->ebx;
            r->ecx = e->ecx;
            r->edx = e->edx;
        }
    }
    free(cpuid);
    return ret;
}

int rk_get_supported_msrs(int kvm_fd, struct revirt_msr_index_list *out)
{
    struct kvm_msr_list *list;
    int ret;

    list = calloc(1, sizeof(*list) + REVIRT_MAX_MSR_INDICES * sizeof(uint32_t));
    if (!list) {
        return -ENOMEM;
    }
    list->nmsrs = REVIRT_MAX_MSR_INDICES;
    ret = rk_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
    if (ret == 0) {
        memset(out, 0, sizeof(*out));
        out->count = list->nmsrs;
        memcpy(out->indices, list->indices, list->nmsrs * sizeof(uint32_t));
    }
    free(list);
    return ret;
}

static uint32_t rk_gpa_bits(int kvm_fd)
{
    struct revirt_cpuid_table *table = malloc(sizeof(*table));
    uint32_t bits = 36;         /* what CPUs without leaf 0x80000008 have */

    if (table && rk_get_supported_cpuid(kvm_fd, table) == 0) {
        for (uint32_t i = 0; i < table->count; i++) {
            if (table->entries[i].function == 0x80000008 &&
                (table->entries[i].eax & 0xff)) {
                bits = table->entries[i].eax & 0xff;
            }
        }
    }
    free(table);
    return bits;
}

static int rk_check(int kvm_fd, long cap)
{
    int ret = rk_ioctl(kvm_fd, KVM_CHECK_EXTENSION, (void *)cap);

    return ret < 0 ? 0 : ret;
}

static void rk_fill_caps(struct rk_system *sys)
{
    struct revirt_caps *caps = &sys->caps;
    int fd = sys->kvm_fd;
    int max_vcpus = rk_check(fd, KVM_CAP_MAX_VCPUS);

    memset(caps, 0, sizeof(*caps));
    caps->api_version = REVIRT_API_VERSION;
    caps->max_vcpus = max_vcpus ? max_vcpus : rk_check(fd, KVM_CAP_NR_VCPUS);
    caps->gpa_bits = rk_gpa_bits(fd);
    caps->run_area_size = (sizeof(struct revirt_run) + REVIRT_PAGE_SIZE - 1) &
                          ~(REVIRT_PAGE_SIZE - 1);
    caps->state_classes = REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS |
                          REVIRT_STATE_CONTROL | REVIRT_STATE_DTABLES |
                          REVIRT_STATE_FPU | REVIRT_STATE_MSRS |
                          REVIRT_STATE_EVENTS | REVIRT_STATE_DEBUGREGS |
                          REVIRT_STATE_TSC;
    caps->exits = (1ull << REVIRT_EXIT_IO) | (1ull << REVIRT_EXIT_MMIO) |
                  (1ull << REVIRT_EXIT_HLT) | (1ull << REVIRT_EXIT_IRQ_WINDOW) |
                  (1ull << REVIRT_EXIT_SHUTDOWN) |
                  (1ull << REVIRT_EXIT_INTERRUPTED) |
                  (1ull << REVIRT_EXIT_INTERNAL_ERROR) |
                  (1ull << REVIRT_EXIT_TPR_WRITE);
    caps->features = REVIRT_FEATURE_NMI;
    if (rk_check(fd, KVM_CAP_READONLY_MEM)) {
        caps->features |= REVIRT_FEATURE_READONLY_MEM;
    }
    if (rk_check(fd, KVM_CAP_SET_TSS_ADDR)) {
        caps->private_gpa = RK_PRIVATE_GPA;
        caps->private_size = RK_PRIVATE_SIZE;
    }
}

int revirt_kvm_open(void)
{
    static pthread_once_t kick_handler_once = PTHREAD_ONCE_INIT;
    struct rk_system *sys;
    int fd, ret;

    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT || errno == ENXIO || errno == ENODEV ?
               -ENOENT : -errno;
    }
    if (rk_ioctl(fd, KVM_GET_API_VERSION, NULL) != KVM_API_VERSION ||
        !rk_check(fd, KVM_CAP_USER_MEMORY) ||
        !rk_check(fd, KVM_CAP_IMMEDIATE_EXIT) ||
        !rk_check(fd, KVM_CAP_XSAVE)) {
        close(fd);
        return -ENOTSUP;
    }
    sys = calloc(1, sizeof(*sys));
    if (!sys) {
        close(fd);
        return -ENOMEM;
    }
    sys->obj.kind = RK_SYSTEM;
    sys->kvm_fd = fd;
    sys->vcpu_mmap_size = rk_ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
    if (sys->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
        rk_system_free(sys);
        return -ENOTSUP;
    }
    rk_fill_caps(sys);
    pthread_once(&kick_handler_once, rk_install_kick_handler);

    ret = rk_handle_new(&sys->obj);
    if (ret < 0) {
        rk_system_free(sys);
    }
    return ret;
}

int rk_system_call(struct rk_system *sys, uint32_t request, void *arg)
{
    switch (request) {
    case REVIRT_GET_CAPS:
        memcpy(arg, &sys->caps, sizeof(sys->caps));
        return 0;
    case REVIRT_GET_SUPPORTED_CPUID:
        return rk_get_supported_cpuid(sys->kvm_fd, arg);
    case REVIRT_GET_SUPPORTED_MSRS:
        return rk_get_supported_msrs(sys->kvm_fd, arg);
    case REVIRT_CREATE_VM: {
        struct rk_vm *vm;
        int ret;

        vm = rk_vm_new(sys, &ret);
        if (!vm) {
            return ret;
        }
        ret = rk_handle_new(&vm->obj);
        if (ret < 0) {
            rk_vm_free(vm);
        }
        return ret;
    }
    default:
        return -ENOTTY;
    }
}

void rk_system_free(struct rk_system *sys)
{
    close(sys->kvm_fd);
    free(sys);
}
