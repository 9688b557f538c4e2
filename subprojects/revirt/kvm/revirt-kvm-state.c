/*
 * revirt-kvm: vCPU state get/set by class, over KVM's state ioctls.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "revirt-kvm-int.h"

#define RK_MSR_IA32_TSC 0x10

/* The ABI's register, segment and table layouts are KVM's. */
_Static_assert(sizeof(struct revirt_regs) == sizeof(struct kvm_regs),
               "revirt_regs layout");
_Static_assert(sizeof(struct revirt_segment) == sizeof(struct kvm_segment),
               "revirt_segment layout");
_Static_assert(offsetof(struct revirt_segment, unusable) ==
               offsetof(struct kvm_segment, unusable), "revirt_segment layout");
_Static_assert(sizeof(struct revirt_dtable) == sizeof(struct kvm_dtable),
               "revirt_dtable layout");

#define RK_SREGS_CLASSES \
    (REVIRT_STATE_SEGMENTS | REVIRT_STATE_CONTROL | REVIRT_STATE_DTABLES)

static const uint64_t rk_all_classes =
    REVIRT_STATE_REGS | RK_SREGS_CLASSES | REVIRT_STATE_FPU |
    REVIRT_STATE_MSRS | REVIRT_STATE_EVENTS | REVIRT_STATE_DEBUGREGS |
    REVIRT_STATE_TSC;

static void rk_sregs_to_state(const struct kvm_sregs *s, uint64_t classes,
                              struct revirt_vcpu_state *st)
{
    if (classes & REVIRT_STATE_SEGMENTS) {
        memcpy(&st->segments.cs, &s->cs, sizeof(s->cs));
        memcpy(&st->segments.ds, &s->ds, sizeof(s->ds));
        memcpy(&st->segments.es, &s->es, sizeof(s->es));
        memcpy(&st->segments.fs, &s->fs, sizeof(s->fs));
        memcpy(&st->segments.gs, &s->gs, sizeof(s->gs));
        memcpy(&st->segments.ss, &s->ss, sizeof(s->ss));
        memcpy(&st->segments.tr, &s->tr, sizeof(s->tr));
        memcpy(&st->segments.ldt, &s->ldt, sizeof(s->ldt));
    }
    if (classes & REVIRT_STATE_DTABLES) {
        memcpy(&st->dtables.gdt, &s->gdt, sizeof(s->gdt));
        memcpy(&st->dtables.idt, &s->idt, sizeof(s->idt));
    }
    if (classes & REVIRT_STATE_CONTROL) {
        st->control.cr0 = s->cr0;
        st->control.cr2 = s->cr2;
        st->control.cr3 = s->cr3;
        st->control.cr4 = s->cr4;
        st->control.cr8 = s->cr8;
        st->control.efer = s->efer;
        st->control.apic_base = s->apic_base;
    }
}

static void rk_state_to_sregs(const struct revirt_vcpu_state *st,
                              struct kvm_sregs *s)
{
    if (st->classes & REVIRT_STATE_SEGMENTS) {
        memcpy(&s->cs, &st->segments.cs, sizeof(s->cs));
        memcpy(&s->ds, &st->segments.ds, sizeof(s->ds));
        memcpy(&s->es, &st->segments.es, sizeof(s->es));
        memcpy(&s->fs, &st->segments.fs, sizeof(s->fs));
        memcpy(&s->gs, &st->segments.gs, sizeof(s->gs));
        memcpy(&s->ss, &st->segments.ss, sizeof(s->ss));
        memcpy(&s->tr, &st->segments.tr, sizeof(s->tr));
        memcpy(&s->ldt, &st->segments.ldt, sizeof(s->ldt));
    }
    if (st->classes & REVIRT_STATE_DTABLES) {
        memcpy(&s->gdt, &st->dtables.gdt, sizeof(s->gdt));
        memcpy(&s->idt, &st->dtables.idt, sizeof(s->idt));
    }
    if (st->classes & REVIRT_STATE_CONTROL) {
        s->cr0 = st->control.cr0;
        s->cr2 = st->control.cr2;
        s->cr3 = st->control.cr3;
        s->cr4 = st->control.cr4;
        s->cr8 = st->control.cr8;
        s->efer = st->control.efer;
        s->apic_base = st->control.apic_base;
    }
}

/*
 * The FPU class is the legacy area of KVM's XSAVE image, which has the
 * FXSAVE layout; KVM_GET_FPU does not report MXCSR on every kernel.
 */
#define RK_XSTATE_BV_OFFSET 512
#define RK_XSTATE_X87_SSE   3ull

static int rk_fpu_get(int fd, struct revirt_fpu *fpu)
{
    struct kvm_xsave *xsave = malloc(sizeof(*xsave));
    int ret;

    if (!xsave) {
        return -ENOMEM;
    }
    ret = rk_ioctl(fd, KVM_GET_XSAVE, xsave);
    if (ret == 0) {
        memcpy(fpu->fxsave, xsave->region, sizeof(fpu->fxsave));
    }
    free(xsave);
    return ret;
}

static int rk_fpu_set(int fd, const struct revirt_fpu *fpu)
{
    struct kvm_xsave *xsave = malloc(sizeof(*xsave));
    uint64_t xstate_bv;
    int ret;

    if (!xsave) {
        return -ENOMEM;
    }
    ret = rk_ioctl(fd, KVM_GET_XSAVE, xsave);
    if (ret == 0) {
        uint8_t *region = (uint8_t *)xsave->region;

        memcpy(region, fpu->fxsave, sizeof(fpu->fxsave));
        /* Mark x87 and SSE state as present, or the CPU ignores it. */
        memcpy(&xstate_bv, region + RK_XSTATE_BV_OFFSET, sizeof(xstate_bv));
        xstate_bv |= RK_XSTATE_X87_SSE;
        memcpy(region + RK_XSTATE_BV_OFFSET, &xstate_bv, sizeof(xstate_bv));
        ret = rk_ioctl(fd, KVM_SET_XSAVE, xsave);
    }
    free(xsave);
    return ret;
}

/* KVM_GET_MSRS / KVM_SET_MSRS on a list; -EINVAL unless all were done. */
static int rk_kvm_msrs(struct rk_vcpu *vcpu, unsigned long request,
                       struct revirt_msr *entries, uint32_t count)
{
    struct kvm_msrs *msrs;
    int ret;

    msrs = calloc(1, sizeof(*msrs) + count * sizeof(msrs->entries[0]));
    if (!msrs) {
        return -ENOMEM;
    }
    msrs->nmsrs = count;
    for (uint32_t i = 0; i < count; i++) {
        msrs->entries[i].index = entries[i].index;
        msrs->entries[i].data = entries[i].value;
    }
    ret = rk_ioctl(vcpu->vcpu_fd, request, msrs);
    if (ret >= 0 && (uint32_t)ret != count) {
        ret = -EINVAL;
    }
    if (ret >= 0 && request == KVM_GET_MSRS) {
        for (uint32_t i = 0; i < count; i++) {
            entries[i].value = msrs->entries[i].data;
        }
    }
    free(msrs);
    return ret < 0 ? ret : 0;
}

#define RK_MSR_MCG_CAP      0x179
#define RK_MSR_MCG_STATUS   0x17a
#define RK_MSR_MC0_CTL      0x400
#define RK_MCG_BANKS_MASK   0xffull

/*
 * MCG_CAP is read-only in KVM: setting it is KVM_X86_SETUP_MCE, which also
 * sets MCG_CTL and every MCi_CTL to all ones; the ABI wants the rest of
 * the banks and MCG_STATUS cleared as well.
 */
static int rk_mcg_cap_set(struct rk_vcpu *vcpu, uint64_t value)
{
    uint64_t offered = vcpu->vm->mcg_cap;
    uint32_t banks = value & RK_MCG_BANKS_MASK;
    struct revirt_msr clear[1 + 3 * RK_MCG_BANKS_MASK];
    uint32_t n = 0;
    int ret;

    if (!offered) {
        return -EINVAL;
    }
    if (vcpu->has_run) {
        struct revirt_msr cap = { .index = RK_MSR_MCG_CAP };

        ret = rk_kvm_msrs(vcpu, KVM_GET_MSRS, &cap, 1);
        return ret < 0 ? ret : cap.value == value ? 0 : -EINVAL;
    }
    if (!banks || banks > (offered & RK_MCG_BANKS_MASK) ||
        (value & ~RK_MCG_BANKS_MASK & ~offered)) {
        return -EINVAL;
    }
    ret = rk_ioctl(vcpu->vcpu_fd, KVM_X86_SETUP_MCE, &value);
    if (ret < 0) {
        return ret;
    }
    vcpu->mce_setup = true;
    clear[n++] = (struct revirt_msr) { .index = RK_MSR_MCG_STATUS };
    for (uint32_t i = 0; i < banks; i++) {
        for (uint32_t j = 1; j < 4; j++) {
            clear[n++] = (struct revirt_msr) {
                .index = RK_MSR_MC0_CTL + 4 * i + j,
            };
        }
    }
    return rk_kvm_msrs(vcpu, KVM_SET_MSRS, clear, n);
}

/* REVIRT_STATE_MSRS: KVM's MSRs, with MCG_CAP as the ABI defines it. */
static int rk_msrs(struct rk_vcpu *vcpu, unsigned long request,
                   struct revirt_msr *entries, uint32_t count)
{
    struct revirt_msr rest[REVIRT_MAX_STATE_MSRS];
    uint32_t n = 0;
    int ret;

    if (count > REVIRT_MAX_STATE_MSRS) {
        return -EINVAL;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (entries[i].index == RK_MSR_MCG_CAP && !vcpu->vm->mcg_cap) {
            return -EINVAL;
        }
        if (entries[i].index == RK_MSR_MCG_CAP && request == KVM_SET_MSRS) {
            ret = rk_mcg_cap_set(vcpu, entries[i].value);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        rest[n++] = entries[i];
    }
    ret = n ? rk_kvm_msrs(vcpu, request, rest, n) : 0;
    if (ret < 0 || request != KVM_GET_MSRS) {
        return ret;
    }
    for (uint32_t i = 0; i < count; i++) {
        entries[i].value = rest[i].value;
        /* Before setup and the first run, MCG_CAP shows what is offered. */
        if (entries[i].index == RK_MSR_MCG_CAP && !vcpu->has_run &&
            !vcpu->mce_setup) {
            entries[i].value = vcpu->vm->mcg_cap;
        }
    }
    return 0;
}

/*
 * KVM before Linux 6.8 takes a TSC written within a second of what it
 * expects from the VM's last write (its own 0 at vCPU creation included)
 * as a try to keep vCPUs in step, and keeps the old offset: a guest
 * migrated into a VM created just after its source would see its TSC go
 * back.  So the first non-zero value of a new setting (the last write was
 * 0, or a second ago) goes in as an offset, KVM_VCPU_TSC_OFFSET; the
 * other vCPUs' values go through the MSR, which KVM matches to it to keep
 * them in step.  0 (reset) always goes through the MSR, for the same
 * reason.
 */
static int rk_tsc_set(struct rk_vcpu *vcpu, uint64_t tsc)
{
    struct rk_vm *vm = vcpu->vm;
    struct revirt_msr msr = { .index = RK_MSR_IA32_TSC, .value = tsc };
    uint64_t offset;
    struct kvm_device_attr attr = {
        .group = KVM_VCPU_TSC_CTRL,
        .attr = KVM_VCPU_TSC_OFFSET,
        .addr = (uintptr_t)&offset,
    };
    struct timespec now;
    int64_t now_ns;
    int ret;

    clock_gettime(CLOCK_MONOTONIC, &now);
    now_ns = now.tv_sec * 1000000000ll + now.tv_nsec;
    pthread_mutex_lock(&vm->lock);
    if (tsc && (!vm->tsc_last_value ||
                now_ns - vm->tsc_last_ns > 1000000000ll) &&
        rk_ioctl(vcpu->vcpu_fd, KVM_HAS_DEVICE_ATTR, &attr) == 0) {
        offset = tsc - __builtin_ia32_rdtsc();
        ret = rk_ioctl(vcpu->vcpu_fd, KVM_SET_DEVICE_ATTR, &attr);
    } else {
        ret = rk_msrs(vcpu, KVM_SET_MSRS, &msr, 1);
    }
    if (ret == 0) {
        vm->tsc_last_value = tsc;
        vm->tsc_last_ns = now_ns;
    }
    pthread_mutex_unlock(&vm->lock);
    return ret;
}

static int rk_check_classes(const struct revirt_vcpu_state *st)
{
    if (st->flags) {
        return -EINVAL;
    }
    if (st->classes & ~rk_all_classes) {
        return -ENOTSUP;
    }
    if ((st->classes & REVIRT_STATE_MSRS) &&
        st->msrs.count > REVIRT_MAX_STATE_MSRS) {
        return -EINVAL;
    }
    return 0;
}

int rk_state_get(struct rk_vcpu *vcpu, struct revirt_vcpu_state *st)
{
    uint64_t classes = st->classes;
    int fd = vcpu->vcpu_fd;
    int ret = rk_check_classes(st);

    if (ret == 0 && (classes & REVIRT_STATE_REGS)) {
        ret = rk_ioctl(fd, KVM_GET_REGS, &st->regs);
    }
    if (ret == 0 && (classes & RK_SREGS_CLASSES)) {
        struct kvm_sregs sregs;

        ret = rk_ioctl(fd, KVM_GET_SREGS, &sregs);
        if (ret == 0) {
            rk_sregs_to_state(&sregs, classes, st);
        }
    }
    if (ret == 0 && (classes & REVIRT_STATE_FPU)) {
        ret = rk_fpu_get(fd, &st->fpu);
    }
    if (ret == 0 && (classes & REVIRT_STATE_MSRS)) {
        ret = rk_msrs(vcpu, KVM_GET_MSRS, st->msrs.entries, st->msrs.count);
    }
    if (ret == 0 && (classes & REVIRT_STATE_TSC)) {
        struct revirt_msr tsc = { .index = RK_MSR_IA32_TSC };

        ret = rk_msrs(vcpu, KVM_GET_MSRS, &tsc, 1);
        st->tsc = tsc.value;
    }
    if (ret == 0 && (classes & REVIRT_STATE_DEBUGREGS)) {
        struct kvm_debugregs dbg;

        ret = rk_ioctl(fd, KVM_GET_DEBUGREGS, &dbg);
        if (ret == 0) {
            memcpy(st->debugregs.dr, dbg.db, sizeof(dbg.db));
            st->debugregs.dr6 = dbg.dr6;
            st->debugregs.dr7 = dbg.dr7;
        }
    }
    if (ret == 0 && (classes & REVIRT_STATE_EVENTS)) {
        struct kvm_vcpu_events ev;

        ret = rk_ioctl(fd, KVM_GET_VCPU_EVENTS, &ev);
        if (ret == 0) {
            memset(&st->events, 0, sizeof(st->events));
            st->events.exception_pending = ev.exception.injected;
            st->events.exception_vector = ev.exception.nr;
            st->events.exception_has_error_code = ev.exception.has_error_code;
            st->events.exception_error_code = ev.exception.error_code;
            st->events.interrupt_pending = ev.interrupt.injected;
            st->events.interrupt_vector = ev.interrupt.nr;
            /* SVM has one shadow bit, which KVM reports as STI | MOV SS. */
            st->events.interrupt_shadow = !!ev.interrupt.shadow;
            st->events.nmi_pending = ev.nmi.pending;
            st->events.nmi_masked = ev.nmi.masked;
        }
    }
    return ret;
}

int rk_state_set(struct rk_vcpu *vcpu, const struct revirt_vcpu_state *st)
{
    uint64_t classes = st->classes;
    int fd = vcpu->vcpu_fd;
    int ret = rk_check_classes(st);

    if (ret == 0 && (classes & RK_SREGS_CLASSES)) {
        struct kvm_sregs sregs;

        ret = rk_ioctl(fd, KVM_GET_SREGS, &sregs);
        if (ret == 0) {
            rk_state_to_sregs(st, &sregs);
            ret = rk_ioctl(fd, KVM_SET_SREGS, &sregs);
        }
    }
    if (ret == 0 && (classes & REVIRT_STATE_REGS)) {
        ret = rk_ioctl(fd, KVM_SET_REGS, (void *)&st->regs);
    }
    if (ret == 0 && (classes & REVIRT_STATE_FPU)) {
        ret = rk_fpu_set(fd, &st->fpu);
    }
    if (ret == 0 && (classes & REVIRT_STATE_MSRS)) {
        ret = rk_msrs(vcpu, KVM_SET_MSRS, (struct revirt_msr *)st->msrs.entries,
                      st->msrs.count);
    }
    if (ret == 0 && (classes & REVIRT_STATE_TSC)) {
        ret = rk_tsc_set(vcpu, st->tsc);
    }
    if (ret == 0 && (classes & REVIRT_STATE_DEBUGREGS)) {
        struct kvm_debugregs dbg = {
            .dr6 = st->debugregs.dr6,
            .dr7 = st->debugregs.dr7,
        };

        memcpy(dbg.db, st->debugregs.dr, sizeof(dbg.db));
        ret = rk_ioctl(fd, KVM_SET_DEBUGREGS, &dbg);
    }
    if (ret == 0 && (classes & REVIRT_STATE_EVENTS)) {
        struct kvm_vcpu_events ev;

        ret = rk_ioctl(fd, KVM_GET_VCPU_EVENTS, &ev);
        if (ret == 0) {
            ev.exception.injected = st->events.exception_pending;
            ev.exception.pending = 0;
            ev.exception.nr = st->events.exception_vector;
            ev.exception.has_error_code = st->events.exception_has_error_code;
            ev.exception.error_code = st->events.exception_error_code;
            ev.interrupt.injected = st->events.interrupt_pending;
            ev.interrupt.nr = st->events.interrupt_vector;
            ev.interrupt.soft = 0;
            ev.interrupt.shadow = st->events.interrupt_shadow ?
                                  KVM_X86_SHADOW_INT_MOV_SS : 0;
            ev.nmi.pending = st->events.nmi_pending;
            ev.nmi.masked = st->events.nmi_masked;
            ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
                       KVM_VCPUEVENT_VALID_SHADOW;
            ret = rk_ioctl(fd, KVM_SET_VCPU_EVENTS, &ev);
        }
    }
    if (ret == 0 && (classes & (REVIRT_STATE_REGS | REVIRT_STATE_SEGMENTS))) {
        ret = rk_debug_state_changed(vcpu);
    }
    return ret;
}

/*
 * XCR0 and the XSAVE area: KVM_GET/SET_XCRS and KVM_GET_XSAVE(2)/SET_XSAVE,
 * whose buffer is the standard-format XSAVE area the ABI describes.
 */
#define RK_FXSAVE_MXCSR     24
#define RK_FXSAVE_ST0       32
#define RK_FXSAVE_XMM0      160
#define RK_XSTATE_X87       1ull
#define RK_XSTATE_SSE       2ull
#define RK_XSTATE_AVX       4ull

static int rk_xsave_check(struct rk_vcpu *vcpu, const struct revirt_xsave *x)
{
    const struct revirt_caps *caps = &vcpu->vm->caps;

    if (!(caps->features & REVIRT_FEATURE_XSAVE)) {
        return -ENOTSUP;
    }
    if (x->size != caps->xsave_size || x->flags || !x->area ||
        x->reserved[0] || x->reserved[1] || x->reserved[2] ||
        x->reserved[3]) {
        return -EINVAL;
    }
    return 0;
}

/* KVM's buffer: at least a struct kvm_xsave, which KVM_GET_XSAVE fills. */
static uint8_t *rk_xsave_buf(struct rk_vcpu *vcpu, size_t *len)
{
    *len = vcpu->vm->caps.xsave_size;
    if (*len < sizeof(struct kvm_xsave)) {
        *len = sizeof(struct kvm_xsave);
    }
    return calloc(1, *len);
}

static int rk_xcr0_get(struct rk_vcpu *vcpu, uint64_t *xcr0)
{
    struct kvm_xcrs xcrs;
    int ret = rk_ioctl(vcpu->vcpu_fd, KVM_GET_XCRS, &xcrs);

    *xcr0 = RK_XSTATE_X87;
    for (uint32_t i = 0; ret == 0 && i < xcrs.nr_xcrs; i++) {
        if (xcrs.xcrs[i].xcr == 0) {
            *xcr0 = xcrs.xcrs[i].value;
        }
    }
    return ret;
}

static int rk_xcr0_set(struct rk_vcpu *vcpu, uint64_t xcr0)
{
    struct kvm_xcrs xcrs = {
        .nr_xcrs = 1,
        .xcrs[0] = { .xcr = 0, .value = xcr0 },
    };

    return rk_ioctl(vcpu->vcpu_fd, KVM_SET_XCRS, &xcrs);
}

int rk_xsave_get(struct rk_vcpu *vcpu, struct revirt_xsave *x)
{
    size_t len;
    uint8_t *buf;
    int ret = rk_xsave_check(vcpu, x);

    if (ret < 0) {
        return ret;
    }
    buf = rk_xsave_buf(vcpu, &len);
    if (!buf) {
        return -ENOMEM;
    }
    ret = rk_ioctl(vcpu->vcpu_fd, len > sizeof(struct kvm_xsave) ?
                   KVM_GET_XSAVE2 : KVM_GET_XSAVE, buf);
    if (ret == 0) {
        ret = rk_xcr0_get(vcpu, &x->xcr0);
    }
    if (ret == 0) {
        memcpy((void *)(uintptr_t)x->area, buf, x->size);
    }
    free(buf);
    return ret;
}

/*
 * KVM takes the legacy region as it is whatever XSTATE_BV says; the ABI
 * wants x87 and SSE in their initial state when their bits are clear.
 */
static void rk_xsave_init_legacy(uint8_t *buf)
{
    uint64_t xstate_bv;

    memcpy(&xstate_bv, buf + RK_XSTATE_BV_OFFSET, sizeof(xstate_bv));
    if (!(xstate_bv & RK_XSTATE_X87)) {
        memset(buf, 0, RK_FXSAVE_MXCSR);
        memset(buf + RK_FXSAVE_ST0, 0, RK_FXSAVE_XMM0 - RK_FXSAVE_ST0);
        buf[0] = 0x7f;              /* FCW 0x037f */
        buf[1] = 0x03;
    }
    if (!(xstate_bv & RK_XSTATE_SSE)) {
        memset(buf + RK_FXSAVE_XMM0, 0, 16 * 16);
        if (!(xstate_bv & RK_XSTATE_AVX)) {
            uint32_t mxcsr = 0x1f80;

            memcpy(buf + RK_FXSAVE_MXCSR, &mxcsr, sizeof(mxcsr));
        }
    }
    xstate_bv |= RK_XSTATE_X87_SSE;
    memcpy(buf + RK_XSTATE_BV_OFFSET, &xstate_bv, sizeof(xstate_bv));
}

int rk_xsave_set(struct rk_vcpu *vcpu, const struct revirt_xsave *x)
{
    uint64_t old_xcr0;
    size_t len;
    uint8_t *buf;
    int ret = rk_xsave_check(vcpu, x);

    if (ret < 0) {
        return ret;
    }
    buf = rk_xsave_buf(vcpu, &len);
    if (!buf) {
        return -ENOMEM;
    }
    memcpy(buf, (void *)(uintptr_t)x->area, x->size);
    rk_xsave_init_legacy(buf);
    ret = rk_xcr0_get(vcpu, &old_xcr0);
    if (ret == 0) {
        ret = rk_xcr0_set(vcpu, x->xcr0);
    }
    if (ret == 0) {
        ret = rk_ioctl(vcpu->vcpu_fd, KVM_SET_XSAVE, buf);
        if (ret < 0) {
            rk_xcr0_set(vcpu, old_xcr0);    /* a failed SET changes nothing */
        }
    }
    free(buf);
    return ret;
}
