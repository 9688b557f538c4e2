/*
 * revirt-kvm: the revirt driver ABI implemented over Linux KVM, in the
 * calling process.  Handles are small integers of this library's own, not
 * file descriptors; calls follow revirt-abi.h exactly.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef REVIRT_KVM_H
#define REVIRT_KVM_H

#include <stdint.h>

/*
 * Open the system handle on /dev/kvm.  Returns the handle or
 *   -ENOENT  no /dev/kvm
 *   -EACCES  no permission to open it
 *   -ENOTSUP KVM lacks what the driver needs (API 12, user memory,
 *            immediate exit, XSAVE)
 * The driver interrupts a running vCPU with the real-time signal
 * REVIRT_KVM_KICK_SIGNAL, which it installs a no-op handler for.  It
 * blocks that signal in every thread that calls REVIRT_RUN and unblocks it
 * only inside KVM_RUN (KVM_SET_SIGNAL_MASK, with the rest of the thread's
 * mask as it is at each REVIRT_RUN), so a kick never interrupts the VMM's
 * own system calls, whatever signal mask its threads have.
 */
int revirt_kvm_open(void);

/*
 * KVM never frees a vCPU id: a vCPU created with the vcpu_id of a closed
 * one takes over the closed one's KVM vCPU, put back in the reset state.
 * KVM then accepts REVIRT_SET_CPUID only with the table the old vCPU had
 * when it last ran (-EINVAL otherwise).
 */

/* A call of revirt-abi.h on a handle of this library. */
int revirt_kvm_call(int handle, uint32_t request, void *arg);

/* Close a handle.  Returns 0, or -EBADF if it is not open. */
int revirt_kvm_close(int handle);

#define REVIRT_KVM_KICK_SIGNAL (SIGRTMIN + 1)

#endif /* REVIRT_KVM_H */
