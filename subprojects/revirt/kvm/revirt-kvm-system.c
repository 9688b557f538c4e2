/*
 * revirt-kvm: the system handle (discovery, VM creation) over /dev/kvm.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <cpuid.h>
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

/* CPUID bits this driver cannot give a guest, see rk_cpuid_filter(). */
#define RK_CPUID_1_ECX_VMX          (1u << 5)
#define RK_CPUID_1_ECX_X2APIC       (1u << 21)
#define RK_CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define RK_CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define RK_CPUID_80000001_ECX_SVM   (1u << 2)
#define RK_CPUID_HYPERVISOR_BASE    0x40000000u
#define RK_CPUID_HYPERVISOR_END     0x4fffffffu

/*
 * KVM's supported CPUID, less what needs KVM's own interfaces: x2APIC and
 * the TSC-deadline timer need its in-kernel APIC (revirt-kvm has none),
 * VMX and SVM its nested state, and leaves 0x4000xxxx describe KVM's
 * paravirtual interface.  The hypervisor bit is just a bit: allow it.
 * Returns false for an entry to drop.
 */
static bool rk_cpuid_filter(struct revirt_cpuid_entry *e)
{
    if (e->function >= RK_CPUID_HYPERVISOR_BASE &&
        e->function <= RK_CPUID_HYPERVISOR_END) {
        return false;
    }
    if (e->function == 1) {
        e->ecx &= ~(RK_CPUID_1_ECX_VMX | RK_CPUID_1_ECX_X2APIC |
                    RK_CPUID_1_ECX_TSC_DEADLINE);
        e->ecx |= RK_CPUID_1_ECX_HYPERVISOR;
    } else if (e->function == 0x80000001) {
        e->ecx &= ~RK_CPUID_80000001_ECX_SVM;
    }
    return true;
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
        for (uint32_t i = 0; i < cpuid->nent; i++) {
            struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
            struct revirt_cpuid_entry *r = &out->entries[out->count];

            r->function = e->function;
            r->index = e->index;
            r->flags = (e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ?
                       REVIRT_CPUID_FLAG_INDEXED : 0;
            r->eax = e->eax;
            r->ebx = e->ebx;
            r->ecx = e->ecx;
            r->edx = e->edx;
            if (rk_cpuid_filter(r)) {
                out->count++;
            } else {
                memset(r, 0, sizeof(*r));
            }
        }
    }
    free(cpuid);
    return ret;
}

/*
 * KVM's and Hyper-V's paravirtual MSRs: the guest finds them through
 * hypervisor CPUID leaves revirt does not offer (see rk_cpuid_filter), and
 * some are counters that move on their own (Hyper-V's reference time).
 */
static bool rk_msr_paravirt(uint32_t index)
{
    return index == 0x11 || index == 0x12 ||        /* old kvmclock */
           (index >= 0x40000000 && index <= 0x400000ff) || /* Hyper-V */
           (index >= 0x4b564d00 && index <= 0x4b564dff);   /* KVM */
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
        for (uint32_t i = 0; i < list->nmsrs; i++) {
            if (!rk_msr_paravirt(list->indices[i])) {
                out->indices[out->count++] = list->indices[i];
            }
        }
    }
    free(list);
    return ret;
}

#define RK_SVM_MCG_CAP_BITS 0x1ffull   /* svm_setup_mce() */

/* Is the host's KVM the SVM one (an AMD or Hygon CPU)? */
static bool rk_host_is_svm(void)
{
    unsigned int eax, ebx, ecx, edx;

    __cpuid(0, eax, ebx, ecx, edx);
    /* "AuthenticAMD" and "HygonGenuine": EBX is "Auth" or "Hygo". */
    return ebx == 0x68747541 || ebx == 0x6f677948;
}

/* CPUID.(function, index 0).reg of the supported table, 0 if absent. */
static uint32_t rk_supported_cpuid_reg(int kvm_fd, uint32_t function, int reg)
{
    struct revirt_cpuid_table *table = malloc(sizeof(*table));
    uint32_t value = 0;

    if (table && rk_get_supported_cpuid(kvm_fd, table) == 0) {
        for (uint32_t i = 0; i < table->count; i++) {
            struct revirt_cpuid_entry *e = &table->entries[i];

            if (e->function == function && e->index == 0) {
                value = (&e->eax)[reg];
            }
        }
    }
    free(table);
    return value;
}

#define RK_CPUID_EDX 3
#define RK_CPUID_ECX 2
#define RK_CPUID_1_EDX_MTRR   (1u << 12)
#define RK_CPUID_1_ECX_XSAVE  (1u << 26)

#define RK_MSR_MCG_CAP        0x179
#define RK_MSR_MTRR_DEF_TYPE  0x2ff
#define RK_MSR_MTRR_PHYS_BASE 0x200
#define RK_NR_VAR_MTRR        8

static int rk_msr_list_add(struct revirt_msr_index_list *list, uint32_t index)
{
    for (uint32_t i = 0; i < list->count; i++) {
        if (list->indices[i] == index) {
            return 0;
        }
    }
    if (list->count == REVIRT_MAX_MSR_INDICES) {
        return -E2BIG;
    }
    list->indices[list->count++] = index;
    return 0;
}

/*
 * MSRs KVM emulates for every vCPU without listing them in
 * KVM_GET_MSR_INDEX_LIST: MCG_CAP (configured with KVM_X86_SETUP_MCE) and,
 * when the CPU has MTRRs, the MTRRs QEMU's KVM code migrates.
 */
static int rk_add_unlisted_msrs(struct rk_system *sys,
                                struct revirt_msr_index_list *list)
{
    static const uint32_t fixed_mtrrs[] = {
        0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d,
        0x26e, 0x26f,
    };
    int ret = 0;

    if (sys->mcg_cap) {
        ret = rk_msr_list_add(list, RK_MSR_MCG_CAP);
    }
    if (rk_supported_cpuid_reg(sys->kvm_fd, 1, RK_CPUID_EDX) &
        RK_CPUID_1_EDX_MTRR) {
        ret = ret ? ret : rk_msr_list_add(list, RK_MSR_MTRR_DEF_TYPE);
        for (size_t i = 0; i < sizeof(fixed_mtrrs) / sizeof(fixed_mtrrs[0]);
             i++) {
            ret = ret ? ret : rk_msr_list_add(list, fixed_mtrrs[i]);
        }
        for (uint32_t i = 0; i < 2 * RK_NR_VAR_MTRR; i++) {
            ret = ret ? ret : rk_msr_list_add(list, RK_MSR_MTRR_PHYS_BASE + i);
        }
    }
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

static bool rk_listed(const char *variable, const char *what)
{
    const char *list = getenv(variable);
    size_t len = strlen(what);

    while (list && *list) {
        if (!strncmp(list, what, len) && (list[len] == ',' || !list[len])) {
            return true;
        }
        list = strchr(list, ',');
        list = list ? list + 1 : NULL;
    }
    return false;
}

bool rk_hidden(const char *what)
{
    return rk_listed("REVIRT_KVM_HIDE", what);
}

bool rk_broken(const char *what)
{
    return rk_listed("REVIRT_KVM_BREAK", what);
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
    if (rk_broken("run-area-size")) {
        caps->run_area_size = 0;
    }
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
    /* XCR0 exists for the guest only if the host offers XSAVE. */
    if (rk_check(fd, KVM_CAP_XCRS) &&
        (rk_supported_cpuid_reg(fd, 1, RK_CPUID_ECX) & RK_CPUID_1_ECX_XSAVE)) {
        uint32_t size = rk_check(fd, KVM_CAP_XSAVE2);

        caps->features |= REVIRT_FEATURE_XSAVE;
        caps->xsave_size = size > sizeof(struct kvm_xsave) ?
                           size : sizeof(struct kvm_xsave);
    }
    sys->mcg_cap = 0;
    if (rk_check(fd, KVM_CAP_MCE) > 0) {
        uint64_t supported;

        if (rk_ioctl(fd, KVM_X86_GET_MCE_CAP_SUPPORTED, &supported) == 0) {
            sys->mcg_cap = (supported & ~0xffull) |
                           (uint8_t)rk_check(fd, KVM_CAP_MCE);
        }
        /* KVM on SVM keeps only bits 8:0 of what it is set up with. */
        if (sys->svm) {
            sys->mcg_cap &= RK_SVM_MCG_CAP_BITS;
        }
    }
    if (rk_check(fd, KVM_CAP_READONLY_MEM)) {
        caps->features |= REVIRT_FEATURE_READONLY_MEM;
    }
    /* KVM always logs dirty pages; hiding it tests a VMM without it. */
    if (!rk_hidden("dirty-log")) {
        caps->features |= REVIRT_FEATURE_DIRTY_LOG;
    }
    if (rk_check(fd, KVM_CAP_SET_GUEST_DEBUG) && !rk_hidden("guest-debug")) {
        caps->features |= REVIRT_FEATURE_GUEST_DEBUG;
        caps->exits |= 1ull << REVIRT_EXIT_DEBUG;
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
    sys->svm = rk_host_is_svm();
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
    case REVIRT_GET_SUPPORTED_MSRS: {
        int ret = rk_get_supported_msrs(sys->kvm_fd, arg);

        return ret < 0 ? ret : rk_add_unlisted_msrs(sys, arg);
    }
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
