/*
 * revirt-kvm: guest debugging, REVIRT_SET_GUEST_DEBUG over
 * KVM_SET_GUEST_DEBUG, and KVM's debug exits as REVIRT_EXIT_DEBUG.
 *
 * KVM already behaves as the ABI says: single-step with a trap flag the
 * guest cannot see, INT3 and #DB intercepts, the VMM's debug registers in
 * the hardware while the guest keeps its own.  The driver does not ask for
 * KVM_GUESTDBG_BLOCKIRQ: with a userspace irqchip the VMM injects, so it
 * decides.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <string.h>

#include "revirt-kvm-int.h"

#define RK_DEBUG_FLAGS (REVIRT_DEBUG_SINGLESTEP | REVIRT_DEBUG_SW_BP | \
                        REVIRT_DEBUG_HW_BP)

int rk_vcpu_set_guest_debug(struct rk_vcpu *vcpu,
                            const struct revirt_guest_debug *dbg)
{
    struct kvm_guest_debug kdbg;
    int ret;

    if (!(vcpu->vm->caps.features & REVIRT_FEATURE_GUEST_DEBUG)) {
        return -ENOTSUP;
    }
    if (!(dbg->flags & REVIRT_DEBUG_HW_BP) &&
        (dbg->dr[0] || dbg->dr[1] || dbg->dr[2] || dbg->dr[3] || dbg->dr7)) {
        return -EINVAL;
    }

    memset(&kdbg, 0, sizeof(kdbg));
    if (dbg->flags) {
        kdbg.control = KVM_GUESTDBG_ENABLE;
    }
    if (dbg->flags & REVIRT_DEBUG_SINGLESTEP) {
        kdbg.control |= KVM_GUESTDBG_SINGLESTEP;
    }
    if (dbg->flags & REVIRT_DEBUG_SW_BP) {
        kdbg.control |= KVM_GUESTDBG_USE_SW_BP;
    }
    if (dbg->flags & REVIRT_DEBUG_HW_BP) {
        kdbg.control |= KVM_GUESTDBG_USE_HW_BP;
        memcpy(kdbg.arch.debugreg, dbg->dr, sizeof(dbg->dr));
        kdbg.arch.debugreg[7] = dbg->dr7;
    }
    ret = rk_ioctl(vcpu->vcpu_fd, KVM_SET_GUEST_DEBUG, &kdbg);
    if (ret == 0) {
        vcpu->guest_debug = kdbg;
    }
    return ret;
}

/*
 * KVM steps with a trap flag it adds to RFLAGS only while RIP is where
 * stepping was set up: a KVM_SET_REGS elsewhere (the VMM putting back
 * the state it read after the last step) drops it.  Set it up again there.
 */
int rk_debug_state_changed(struct rk_vcpu *vcpu)
{
    if (!(vcpu->guest_debug.control & KVM_GUESTDBG_SINGLESTEP)) {
        return 0;
    }
    return rk_ioctl(vcpu->vcpu_fd, KVM_SET_GUEST_DEBUG, &vcpu->guest_debug);
}

void rk_translate_debug_exit(struct rk_vcpu *vcpu)
{
    const struct kvm_debug_exit_arch *arch = &vcpu->kvm_run->debug.arch;
    struct revirt_run *run = vcpu->run;

    run->exit_reason = REVIRT_EXIT_DEBUG;
    run->debug.exception = arch->exception;
    run->debug.reserved = 0;
    run->debug.pc = arch->pc;
    run->debug.dr6 = arch->dr6;
    run->debug.dr7 = arch->dr7;
    /* The one #BP REVIRT_INJECT accepts: the guest's own INT3, given back. */
    vcpu->int3_exit = arch->exception == 3;
}

bool rk_debug_flags_ok(const void *arg)
{
    const struct revirt_guest_debug *dbg = arg;

    return !(dbg->flags & ~RK_DEBUG_FLAGS) && !dbg->reserved;
}
