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
static int rk_msrs(struct rk_vcpu *vcpu, unsigned long request,
                   struct revirt_msr *entries, uint32_t count)
{
    struct kvm_msrs *msrs;
    int ret;

    if (count > REVIRT_MAX_STATE_MSRS) {
        return -EINVAL;
    }
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
            st->events.interrupt_shadow = ev.interrupt.shadow;
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
        struct revirt_msr tsc = { .index = RK_MSR_IA32_TSC, .value = st->tsc };

        ret = rk_msrs(vcpu, KVM_SET_MSRS, &tsc, 1);
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
            ev.interrupt.shadow = st->events.interrupt_shadow;
            ev.nmi.pending = st->events.nmi_pending;
            ev.nmi.masked = st->events.nmi_masked;
            ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
                       KVM_VCPUEVENT_VALID_SHADOW;
            ret = rk_ioctl(fd, KVM_SET_VCPU_EVENTS, &ev);
        }
    }
    return ret;
}
