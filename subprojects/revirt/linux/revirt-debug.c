// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: guest debugging (REVIRT_SET_GUEST_DEBUG, REVIRT_EXIT_DEBUG),
 * the parts every backend shares: the call's checks, the debug exits in
 * the run area, and the single-step exit after an instruction the driver
 * emulated (the CPU never ran it, so no trap flag stops after it).
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/string.h>
#include <linux/uaccess.h>

#include "revirt-arch.h"

#define REVIRT_DEBUG_ALL	(REVIRT_DEBUG_SINGLESTEP | REVIRT_DEBUG_SW_BP | \
				 REVIRT_DEBUG_HW_BP)
/* DR7: L0-G3, LE, GE, the R/W and LEN fields; bit 10 reads as 1. */
#define REVIRT_DR7_BITS		0xffff03ffull
#define REVIRT_DR6_BS		(1ull << 14)
#define REVIRT_SEG_CS		1

/* REVIRT_SET_GUEST_DEBUG, with the vCPU's run lock held. */
int revirt_debug_set(struct revirt_vcpu *v, void __user *argp)
{
	struct revirt_guest_debug d;
	struct revirt_debug *dbg = &v->debug;

	if (copy_from_user(&d, argp, sizeof(d)))
		return -EFAULT;
	if (d.reserved || (d.flags & ~REVIRT_DEBUG_ALL))
		return -EINVAL;
	if (!(d.flags & REVIRT_DEBUG_HW_BP) &&
	    (d.dr[0] || d.dr[1] || d.dr[2] || d.dr[3] || d.dr7))
		return -EINVAL;
	dbg->flags = d.flags;
	memcpy(dbg->dr, d.dr, sizeof(dbg->dr));
	/* Reserved bits as the hardware wants them; GD is not the VMM's. */
	dbg->dr7 = d.flags & REVIRT_DEBUG_HW_BP ?
		   (d.dr7 & REVIRT_DR7_BITS) | REVIRT_DR7_FIXED : 0;
	if (!(d.flags & REVIRT_DEBUG_SINGLESTEP))
		dbg->step_done = false;
	revirt_arch->set_guest_debug(v);
	return 0;
}

static u64 revirt_debug_pc(struct revirt_vcpu *v)
{
	return revirt_arch->seg_base(v, REVIRT_SEG_CS) + revirt_arch->rip(v);
}

/*
 * Before an entry: if an emulated instruction ended the step, RUN
 * returns its single-step exit instead (true).
 */
bool revirt_debug_step_exit(struct revirt_vcpu *v)
{
	struct revirt_exit x = { .kind = REVIRT_X_DEBUG };

	if (!v->debug.step_done)
		return false;
	v->debug.step_done = false;
	if (!(v->debug.flags & REVIRT_DEBUG_SINGLESTEP))
		return false;
	x.debug.exception = 1;
	x.debug.pc = revirt_debug_pc(v);
	x.debug.dr6 = REVIRT_DR6_FIXED | REVIRT_DR6_BS;
	x.debug.dr7 = revirt_arch->dr7(v);
	revirt_debug_exit(v, &x);
	return true;
}

void revirt_debug_exit(struct revirt_vcpu *v, const struct revirt_exit *x)
{
	struct revirt_run *run = v->run;

	run->exit_reason = REVIRT_EXIT_DEBUG;
	memset(&run->debug, 0, sizeof(run->debug));
	run->debug.exception = x->debug.exception;
	run->debug.pc = x->debug.pc;
	run->debug.dr6 = x->debug.dr6;
	run->debug.dr7 = x->debug.dr7;
	/* The one #BP REVIRT_INJECT accepts: this INT3's, given back. */
	v->debug.int3_exit = x->debug.exception == 3;
}
