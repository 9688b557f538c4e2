/*
 * revirt-kvm: event injection.
 *
 * KVM's own event state is what "pending" means: an event is pending from
 * REVIRT_INJECT (or a SET_STATE of the events class) until the guest has
 * taken it, and KVM_GET_VCPU_EVENTS reports exactly that.  An entry that
 * exits before the delivery completes re-queues the event, and a run that
 * returns INTERRUPTED before entering the guest leaves it queued.  KVM_NMI
 * would queue a second NMI and, with a userspace irqchip, KVM_INTERRUPT
 * replaces a queued interrupt, so both are refused here while one is
 * pending.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>

#include "revirt-kvm-int.h"

#define RK_BP_VECTOR 3
#define RK_OF_VECTOR 4

static int rk_inject_exception(struct rk_vcpu *vcpu,
                               const struct revirt_event *ev,
                               struct kvm_vcpu_events *events)
{
    if (events->exception.injected || events->exception.pending) {
        return -EBUSY;
    }
    events->exception.injected = 1;
    events->exception.nr = ev->vector;
    events->exception.has_error_code =
        !!(ev->flags & REVIRT_EVENT_FLAG_ERROR_CODE);
    events->exception.error_code = ev->error_code;
    events->flags = 0;
    return rk_ioctl(vcpu->vcpu_fd, KVM_SET_VCPU_EVENTS, events);
}

int rk_vcpu_inject(struct rk_vcpu *vcpu, const struct revirt_event *ev)
{
    struct kvm_interrupt irq = { .irq = ev->vector };
    struct kvm_vcpu_events events;
    int ret;

    /* Flags and unused fields are checked in revirt-kvm-check.c. */
    switch (ev->type) {
    case REVIRT_EVENT_EXTINT:
    case REVIRT_EVENT_EXCEPTION:
        if (ev->vector > (ev->type == REVIRT_EVENT_EXTINT ? 255 : 31)) {
            return -EINVAL;
        }
        break;
    case REVIRT_EVENT_NMI:
        break;
    default:
        return -EINVAL;
    }
    if (ev->type == REVIRT_EVENT_EXCEPTION &&
        (ev->vector == RK_BP_VECTOR || ev->vector == RK_OF_VECTOR) &&
        !(ev->vector == RK_BP_VECTOR && vcpu->int3_exit)) {
        /*
         * KVM takes these for the software exceptions of INT3 and INTO:
         * it needs the instruction at RIP (it finds the length there), and
         * hides them from KVM_GET_VCPU_EVENTS, so a second one would
         * replace the first.  Right after a guest INT3 exit, RIP is at that
         * INT3: the #BP given back is exactly what KVM expects.
         */
        return -ENOTSUP;
    }

    ret = rk_ioctl(vcpu->vcpu_fd, KVM_GET_VCPU_EVENTS, &events);
    if (ret < 0) {
        return ret;
    }
    switch (ev->type) {
    case REVIRT_EVENT_EXTINT:
        if (!vcpu->run->ready_for_interrupt || events.interrupt.injected) {
            return -EBUSY;
        }
        return rk_ioctl(vcpu->vcpu_fd, KVM_INTERRUPT, &irq);
    case REVIRT_EVENT_NMI:
        if (events.nmi.pending || events.nmi.injected) {
            return -EBUSY;
        }
        return rk_ioctl(vcpu->vcpu_fd, KVM_NMI, NULL);
    default:
        return rk_inject_exception(vcpu, ev, &events);
    }
}
