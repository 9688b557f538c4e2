// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the vCPU handle: the run loop, kicks, port I/O, events and
 * state calls.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/unaligned.h>

#include "revirt-arch.h"

#define REVIRT_RFLAGS_DF	(1ull << 10)
#define REVIRT_SEG_ES		0
#define REVIRT_SEG_DS		3
#define REVIRT_SEG_FS		4
#define REVIRT_SEG_GS		5
#define REVIRT_RCX		1
#define REVIRT_RSI		6
#define REVIRT_RDI		7

/* Interrupt the vCPU's RUN, wherever it is (see REVIRT_KICK). */
static void revirt_kick(struct revirt_vcpu *v)
{
	int cpu;

	WRITE_ONCE(v->kicked, true);
	/* Pairs with the barrier after the vCPU publishes its CPU. */
	smp_mb();
	cpu = READ_ONCE(v->cpu);
	/* Any interrupt ends guest mode; the run loop then sees kicked. */
	if (cpu >= 0 && cpu != raw_smp_processor_id())
		smp_send_reschedule(cpu);
}

static u64 revirt_addr_mask(u8 addr_size)
{
	return addr_size == 8 ? ~0ull : (1ull << (addr_size * 8)) - 1;
}

/* Add delta to a register as an addr_size-wide one (string I/O). */
static void revirt_gpr_add(struct revirt_vcpu *v, int reg, u8 addr_size,
			   s64 delta)
{
	u64 mask = revirt_addr_mask(addr_size);

	v->gpr[reg] = (v->gpr[reg] & ~mask) | ((v->gpr[reg] + delta) & mask);
}

/*
 * Move one string I/O element to or from seg:reg, through the guest's
 * page tables.  In 64-bit mode ES and DS have no base; outside it the
 * linear address wraps at 4 GiB.
 */
static int revirt_string_rw(struct revirt_vcpu *v, int seg, int reg,
			    void *buf, bool write)
{
	struct revirt_cpu_mode m;
	u64 gla = v->gpr[reg] & revirt_addr_mask(v->io.addr_size);

	revirt_arch->cpu_mode(v, &m);
	if (!((m.efer & EFER_LMA) && m.cs_l))
		gla = (u32)(gla + revirt_arch->seg_base(v, seg));
	else if (seg == REVIRT_SEG_FS || seg == REVIRT_SEG_GS)
		gla += revirt_arch->seg_base(v, seg);
	return revirt_guest_linear_rw(v, gla, buf, v->io.size, write);
}

/*
 * INS/OUTS: the segment OUTS reads from (DS unless overridden) and, when
 * the exit did not say (SVM without decode assists, QEMU's among them),
 * the address size, from the instruction's prefixes.  Returns the
 * segment, or a negative errno.
 */
static int revirt_io_prefixes(struct revirt_vcpu *v)
{
	static const u8 seg_prefix[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
	struct revirt_cpu_mode m;
	u64 rip = revirt_arch->rip(v);
	u64 len = v->io.next_rip - rip;
	bool long64, asize_prefix = false;
	int seg = REVIRT_SEG_DS;
	u8 bytes[15];
	u64 i;
	int j, r;

	revirt_arch->cpu_mode(v, &m);
	long64 = (m.efer & EFER_LMA) && m.cs_l;
	if (!len || len > sizeof(bytes))
		return -EINVAL;
	r = revirt_guest_linear_rw(v, revirt_rip_linear(v, 0), bytes, len,
				   false);
	if (r)
		return r;
	for (i = 0; i < len - 1; i++) {
		for (j = 0; j < ARRAY_SIZE(seg_prefix); j++)
			if (bytes[i] == seg_prefix[j])
				seg = j;
		if (bytes[i] == 0x67)
			asize_prefix = true;
	}
	if (!v->io.addr_size) {
		if (long64)
			v->io.addr_size = asize_prefix ? 4 : 8;
		else
			v->io.addr_size = m.cs_db != asize_prefix ? 4 : 2;
	}
	/* 64-bit mode ignores ES, CS, SS and DS overrides. */
	if (long64 && seg != REVIRT_SEG_FS && seg != REVIRT_SEG_GS)
		seg = REVIRT_SEG_DS;
	return seg;
}

/*
 * After one element of INS/OUTS: step rSI or rDI, count rCX down, and
 * leave RIP on the instruction while a REP has elements left.
 */
static void revirt_string_step(struct revirt_vcpu *v, int reg)
{
	s64 step = revirt_arch->rflags(v) & REVIRT_RFLAGS_DF ?
		   -(s64)v->io.size : v->io.size;

	revirt_gpr_add(v, reg, v->io.addr_size, step);
	if (v->io.rep) {
		revirt_gpr_add(v, REVIRT_RCX, v->io.addr_size, -1);
		if (v->gpr[REVIRT_RCX] & revirt_addr_mask(v->io.addr_size))
			return;
	}
	revirt_arch->set_rip(v, v->io.next_rip);
}

static void revirt_exit_internal(struct revirt_run *run, u32 suberror,
				 u32 ndata, u64 d0, u64 d1)
{
	run->exit_reason = REVIRT_EXIT_INTERNAL_ERROR;
	memset(&run->internal, 0, sizeof(run->internal));
	run->internal.suberror = suberror;
	run->internal.ndata = ndata;
	run->internal.data[0] = d0;
	run->internal.data[1] = d1;
}

/* Finish the IN (or INS element) of the last exit with the VMM's data. */
static int revirt_io_complete(struct revirt_vcpu *v)
{
	struct revirt_run *run = v->run;
	u64 mask;
	int r;

	if (!v->io.active)
		return 0;
	v->io.active = false;
	if (!v->io.string) {
		mask = v->io.size == 4 ? 0xffffffffull :
		       (1ull << (v->io.size * 8)) - 1;
		v->gpr[0] = v->io.size == 4 ? 0 : v->gpr[0] & ~mask;
		v->gpr[0] |= get_unaligned((u32 *)run->io_data) & mask;
		revirt_arch->set_rip(v, v->io.next_rip);
		return 0;
	}
	r = revirt_string_rw(v, REVIRT_SEG_ES, REVIRT_RDI, run->io_data, true);
	if (r)
		return r;
	revirt_string_step(v, REVIRT_RDI);
	return 0;
}

/*
 * An IOIO exit: OUT data goes to the run area now, an IN completes at the
 * next RUN.  String I/O moves one element per exit.
 */
static bool revirt_handle_io(struct revirt_vcpu *v, struct revirt_exit *x)
{
	struct revirt_run *run = v->run;
	int seg, r;

	v->io = (struct revirt_io_pending){
		.in = x->io.in, .string = x->io.string, .size = x->io.size,
		.addr_size = x->io.addr_size, .rep = x->io.rep,
		.next_rip = x->io.next_rip,
	};
	seg = v->io.string ? revirt_io_prefixes(v) : REVIRT_SEG_DS;
	if (seg < 0) {
		revirt_exit_internal(run, REVIRT_INTERNAL_EMULATION, 2,
				     x->io.port, seg);
		return true;
	}
	if (v->io.string && v->io.rep &&
	    !(v->gpr[REVIRT_RCX] & revirt_addr_mask(v->io.addr_size))) {
		/* REP with rCX = 0 moves nothing. */
		revirt_arch->set_rip(v, v->io.next_rip);
		return false;
	}
	run->exit_reason = REVIRT_EXIT_IO;
	memset(&run->io, 0, sizeof(run->io));
	run->io.port = x->io.port;
	run->io.size = x->io.size;
	run->io.direction = x->io.in ? REVIRT_IO_IN : REVIRT_IO_OUT;
	run->io.count = 1;
	if (x->io.in) {
		v->io.active = true;
		return true;
	}
	if (!x->io.string) {
		memcpy(run->io_data, &v->gpr[0], x->io.size);
		revirt_arch->set_rip(v, x->io.next_rip);
		return true;
	}
	r = revirt_string_rw(v, seg, REVIRT_RSI, run->io_data, false);
	if (r) {
		revirt_exit_internal(run, REVIRT_INTERNAL_EMULATION, 2,
				     x->io.port, r);
		return true;
	}
	revirt_string_step(v, REVIRT_RSI);
	return true;
}

/* A nested page fault: a first touch, MMIO, or an error. */
static bool revirt_handle_npf(struct revirt_vcpu *v, struct revirt_exit *x)
{
	int r = revirt_vm_fault(v->vm, x->npf.gpa, x->npf.write, x->npf.fetch);

	if (!r)
		return false;
	if ((r == -ENOENT || r == -EACCES) && !x->npf.fetch)
		return revirt_mmio_fault(v, x->npf.gpa);
	/* Code outside RAM cannot run; the VMM's memory gone is an error. */
	revirt_exit_internal(v->run, r == -ENOENT || r == -EACCES ?
			     REVIRT_INTERNAL_EMULATION : REVIRT_INTERNAL_OTHER,
			     2, x->npf.gpa, r);
	return true;
}

/* Act on one exit; true when RUN returns with it. */
static bool revirt_handle(struct revirt_vcpu *v, struct revirt_exit *x)
{
	struct revirt_run *run = v->run;

	switch (x->kind) {
	case REVIRT_X_RESUME:
		return false;
	case REVIRT_X_IO:
		return revirt_handle_io(v, x);
	case REVIRT_X_NPF:
		return revirt_handle_npf(v, x);
	case REVIRT_X_HLT:
		run->exit_reason = REVIRT_EXIT_HLT;
		return true;
	case REVIRT_X_IRQ_WINDOW:
		if (!READ_ONCE(run->request_interrupt_window))
			return false;
		run->exit_reason = REVIRT_EXIT_IRQ_WINDOW;
		return true;
	case REVIRT_X_SHUTDOWN:
		run->exit_reason = REVIRT_EXIT_SHUTDOWN;
		memset(&run->shutdown, 0, sizeof(run->shutdown));
		return true;
	case REVIRT_X_ENTRY_FAILED:
		revirt_exit_internal(run, REVIRT_INTERNAL_ENTRY, 1,
				     x->data[0], 0);
		return true;
	case REVIRT_X_DEBUG:
		revirt_debug_exit(v, x);
		return true;
	default:
		revirt_exit_internal(run, REVIRT_INTERNAL_OTHER, 2,
				     x->data[0], x->data[1]);
		return true;
	}
}

/* Enter the guest once, unless a kick, signal or reschedule is due. */
static bool revirt_enter_once(struct revirt_vcpu *v)
{
	preempt_disable();
	WRITE_ONCE(v->cpu, smp_processor_id());
	/* Pairs with revirt_kick(): it sees our CPU, or we see kicked. */
	smp_mb();
	local_irq_disable();
	if (READ_ONCE(v->kicked) || signal_pending(current) ||
	    need_resched()) {
		local_irq_enable();
		WRITE_ONCE(v->cpu, -1);
		preempt_enable();
		return false;
	}
	/*
	 * With interrupts off, as KVM does: a softirq's kernel_fpu_begin()
	 * between this and VMRUN would leave the guest the kernel's FPU
	 * registers otherwise.
	 */
	if (test_thread_flag(TIF_NEED_FPU_LOAD))
		switch_fpu_return();
	revirt_arch->enter(v);
	/* The interrupt that ended guest mode, if any, is handled here. */
	local_irq_enable();
	WRITE_ONCE(v->cpu, -1);
	preempt_enable();
	return true;
}

static void revirt_run_loop(struct revirt_vcpu *v)
{
	struct revirt_run *run = v->run;
	struct revirt_exit x;

	for (;;) {
		if (revirt_debug_step_exit(v))
			return;
		if (READ_ONCE(v->kicked) || signal_pending(current)) {
			WRITE_ONCE(v->kicked, false);
			run->exit_reason = REVIRT_EXIT_INTERRUPTED;
			return;
		}
		cond_resched();
		revirt_arch->set_irq_window(v,
				READ_ONCE(run->request_interrupt_window));
		if (!revirt_enter_once(v))
			continue;
		v->has_run = true;
		revirt_arch->handle_exit(v, &x);
		if (revirt_handle(v, &x))
			return;
	}
}

static int revirt_run_checks(struct revirt_run *run)
{
	int i;

	if (READ_ONCE(run->request_interrupt_window) > 1)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(run->reserved_in); i++)
		if (READ_ONCE(run->reserved_in[i]))
			return -EINVAL;
	return 0;
}

static int revirt_vcpu_run(struct revirt_vcpu *v)
{
	struct revirt_run *run = v->run;
	int r;

	r = revirt_run_checks(run);
	if (r)
		return r;
	v->debug.int3_exit = false;
	r = revirt_io_complete(v);
	if (r) {
		revirt_exit_internal(run, REVIRT_INTERNAL_EMULATION, 1, r, 0);
	} else if (!revirt_mmio_complete(v)) {
		/* (else the rest of an MMIO instruction exits again) */
		fpu_swap_kvm_fpstate(&v->fpu, true);
		revirt_run_loop(v);
		fpu_swap_kvm_fpstate(&v->fpu, false);
	}
	memset(run->reserved_out, 0, sizeof(run->reserved_out));
	revirt_arch->fill_run(v, run);
	v->ready = run->ready_for_interrupt;
	run->apic_base = v->apic_base;
	return 0;
}

static int revirt_inject_check(const struct revirt_event *e)
{
	if (e->flags & ~REVIRT_EVENT_FLAG_ERROR_CODE)
		return -EINVAL;
	switch (e->type) {
	case REVIRT_EVENT_EXTINT:
		return e->error_code || e->flags || e->vector > 255 ?
		       -EINVAL : 0;
	case REVIRT_EVENT_NMI:
		return e->vector || e->error_code || e->flags ? -EINVAL : 0;
	case REVIRT_EVENT_EXCEPTION:
		if (e->vector > 31 ||
		    (!(e->flags & REVIRT_EVENT_FLAG_ERROR_CODE) &&
		     e->error_code))
			return -EINVAL;
		/*
		 * #BP and #OF only come from INT3 and INTO (a #BP right
		 * after an INT3's debug exit: see revirt_inject()).
		 */
		return e->vector == 3 || e->vector == 4 ? -ENOTSUP : 0;
	default:
		return -EINVAL;
	}
}

static int revirt_inject(struct revirt_vcpu *v, void __user *argp)
{
	struct revirt_pending *p = &v->pending;
	struct revirt_event e;
	int r;

	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	r = revirt_inject_check(&e);
	/* The guest's INT3, given back after its debug exit. */
	if (r == -ENOTSUP && e.vector == 3 && v->debug.int3_exit)
		r = 0;
	if (r)
		return r;
	switch (e.type) {
	case REVIRT_EVENT_EXTINT:
		if (!v->ready || p->extint)
			return -EBUSY;
		p->extint = true;
		p->extint_vector = e.vector;
		break;
	case REVIRT_EVENT_NMI:
		if (p->nmi)
			return -EBUSY;
		p->nmi = true;
		break;
	default:
		if (p->exception)
			return -EBUSY;
		p->exception = true;
		p->exception_vector = e.vector;
		p->exception_has_error = e.flags & REVIRT_EVENT_FLAG_ERROR_CODE;
		p->exception_error = e.error_code;
		p->exception_int3 = e.vector == 3;
		v->debug.int3_exit = false;
	}
	return 0;
}

#define REVIRT_STATE_ALL	((REVIRT_STATE_TSC << 1) - 1)

static bool revirt_seg_reserved(const struct revirt_segments *s)
{
	const struct revirt_segment *seg[] = { &s->cs, &s->ds, &s->es, &s->fs,
					       &s->gs, &s->ss, &s->tr, &s->ldt };
	int i;

	for (i = 0; i < ARRAY_SIZE(seg); i++)
		if (seg[i]->reserved)
			return true;
	return false;
}

static bool revirt_dtable_reserved(const struct revirt_dtable *d)
{
	return d->reserved[0] || d->reserved[1] || d->reserved[2];
}

/* The reserved fields of a state call, checked before anything else. */
static int revirt_state_check(const struct revirt_vcpu_state *st, bool set)
{
	const struct revirt_events *e = &st->events;
	u32 i;

	if (st->flags)
		return -EINVAL;
	if (st->classes & REVIRT_STATE_MSRS) {
		if (st->msrs.reserved)
			return -EINVAL;
		for (i = 0; i < min_t(u32, st->msrs.count,
				      REVIRT_MAX_STATE_MSRS); i++)
			if (st->msrs.entries[i].reserved)
				return -EINVAL;
	}
	if (!set)
		return 0;
	if ((st->classes & REVIRT_STATE_SEGMENTS) &&
	    revirt_seg_reserved(&st->segments))
		return -EINVAL;
	if ((st->classes & REVIRT_STATE_DTABLES) &&
	    (revirt_dtable_reserved(&st->dtables.gdt) ||
	     revirt_dtable_reserved(&st->dtables.idt)))
		return -EINVAL;
	if ((st->classes & REVIRT_STATE_EVENTS) &&
	    (e->reserved[0] || e->reserved[1] || e->reserved[2] ||
	     e->reserved[3]))
		return -EINVAL;
	return 0;
}

static int revirt_state_call(struct revirt_vcpu *v, void __user *argp,
			     bool set)
{
	struct revirt_vcpu_state *st;
	int r;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	r = -EFAULT;
	if (copy_from_user(st, argp, sizeof(*st)))
		goto out;
	r = revirt_state_check(st, set);
	if (r)
		goto out;
	r = -ENOTSUP;
	if (st->classes & ~(REVIRT_STATE_ALL & revirt_state_classes()))
		goto out;
	if (set) {
		r = revirt_arch->set_state(v, st);
		if (!r && (st->classes & REVIRT_STATE_FPU))
			r = revirt_fpu_set(v, &st->fpu);
	} else {
		r = revirt_arch->get_state(v, st);
		if (!r && (st->classes & REVIRT_STATE_FPU))
			r = revirt_fpu_get(v, &st->fpu);
		if (!r && copy_to_user(argp, st, sizeof(*st)))
			r = -EFAULT;
	}
out:
	kfree(st);
	return r;
}

static int revirt_set_cpuid(struct revirt_vcpu *v, void __user *argp)
{
	struct revirt_cpuid_table *t;
	u32 i;

	t = kmalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	if (copy_from_user(t, argp, sizeof(*t))) {
		kfree(t);
		return -EFAULT;
	}
	for (i = 0; i < min_t(u32, t->count, REVIRT_MAX_CPUID_ENTRIES); i++)
		if (t->entries[i].reserved ||
		    (t->entries[i].flags & ~REVIRT_CPUID_FLAG_INDEXED))
			goto inval;
	if (t->flags || t->count > REVIRT_MAX_CPUID_ENTRIES)
		goto inval;
	if (v->has_run) {
		kfree(t);
		return -EBUSY;
	}
	kfree(v->cpuid);
	v->cpuid = t;
	revirt_xsave_set_cpuid(v);
	return 0;
inval:
	kfree(t);
	return -EINVAL;
}

/* The calls that need the vCPU to themselves (-EBUSY while it runs). */
static long revirt_vcpu_locked_call(struct revirt_vcpu *v, unsigned int cmd,
				    void __user *argp)
{
	long r;

	if (!mutex_trylock(&v->run_lock))
		return -EBUSY;
	switch (cmd) {
	case REVIRT_RUN:
		r = revirt_vcpu_run(v);
		break;
	case REVIRT_GET_STATE:
		r = revirt_state_call(v, argp, false);
		break;
	case REVIRT_SET_STATE:
		r = revirt_state_call(v, argp, true);
		break;
	case REVIRT_SET_CPUID:
		r = revirt_set_cpuid(v, argp);
		break;
	case REVIRT_INJECT:
		r = revirt_inject(v, argp);
		break;
	case REVIRT_GET_XSAVE:
	case REVIRT_SET_XSAVE:
		r = revirt_xsave_call(v, cmd, argp);
		break;
	case REVIRT_SET_GUEST_DEBUG:
		r = revirt_debug_set(v, argp);
		break;
	default:
		r = -ENOTTY;
	}
	mutex_unlock(&v->run_lock);
	return r;
}

static long revirt_vcpu_ioctl(struct file *f, unsigned int cmd,
			      unsigned long arg)
{
	struct revirt_vcpu *v = f->private_data;
	void __user *argp = (void __user *)arg;

	if (current->mm != v->vm->mm)
		return -EIO;
	switch (cmd) {
	case REVIRT_KICK:
		revirt_kick(v);
		return 0;
	case REVIRT_RUN:
	case REVIRT_GET_STATE:
	case REVIRT_SET_STATE:
	case REVIRT_SET_CPUID:
	case REVIRT_INJECT:
	case REVIRT_GET_XSAVE:
	case REVIRT_SET_XSAVE:
	case REVIRT_SET_GUEST_DEBUG:
		return revirt_vcpu_locked_call(v, cmd, argp);
	default:
		return -ENOTTY;
	}
}

/* Every close(2) of the handle kicks: a RUN in another thread returns. */
static int revirt_vcpu_flush(struct file *f, fl_owner_t id)
{
	revirt_kick(f->private_data);
	return 0;
}

static void revirt_vcpu_free(struct revirt_vcpu *v)
{
	if (v->arch)
		revirt_arch->vcpu_free(v);
	fpu_free_guest_fpstate(&v->fpu);
	if (v->run)
		vunmap(v->run);
	unpin_user_pages_dirty_lock(v->run_pages, REVIRT_RUN_PAGES, true);
	kfree(v->cpuid);
	kfree(v);
}

static int revirt_vcpu_release(struct inode *inode, struct file *f)
{
	struct revirt_vcpu *v = f->private_data;
	struct revirt_vm *vm = v->vm;
	u32 id = v->id;

	/* Free first: the id is reusable once the slot is empty. */
	revirt_vcpu_free(v);
	mutex_lock(&vm->lock);
	vm->vcpus[id] = NULL;
	mutex_unlock(&vm->lock);
	revirt_vm_put(vm);
	return 0;
}

static const struct file_operations revirt_vcpu_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = revirt_vcpu_ioctl,
	.flush = revirt_vcpu_flush,
	.release = revirt_vcpu_release,
	.llseek = noop_llseek,
};

/* Pin the VMM's run area and map it for the kernel. */
static int revirt_vcpu_map_run(struct revirt_vcpu *v, u64 uaddr)
{
	int n;

	n = pin_user_pages_fast(uaddr, REVIRT_RUN_PAGES,
				FOLL_WRITE | FOLL_LONGTERM, v->run_pages);
	if (n != REVIRT_RUN_PAGES) {
		if (n > 0)
			unpin_user_pages(v->run_pages, n);
		memset(v->run_pages, 0, sizeof(v->run_pages));
		return -EINVAL;
	}
	v->run = vmap(v->run_pages, REVIRT_RUN_PAGES, VM_MAP, PAGE_KERNEL);
	return v->run ? 0 : -ENOMEM;
}

static struct revirt_vcpu *revirt_vcpu_alloc(struct revirt_vm *vm,
					     const struct revirt_vcpu_create *c)
{
	struct revirt_vcpu *v;
	int r;

	v = kzalloc(sizeof(*v), GFP_KERNEL_ACCOUNT);
	if (!v)
		return ERR_PTR(-ENOMEM);
	v->vm = vm;
	v->id = c->vcpu_id;
	v->cpu = -1;
	mutex_init(&v->run_lock);
	revirt_xsave_vcpu_init(v);
	revirt_msr_vcpu_init(v);
	if (!fpu_alloc_guest_fpstate(&v->fpu)) {
		kfree(v);
		return ERR_PTR(-ENOMEM);
	}
	r = revirt_vcpu_map_run(v, c->run_area);
	if (!r)
		r = revirt_arch->vcpu_init(v);
	if (r) {
		if (!v->run_pages[0]) {
			fpu_free_guest_fpstate(&v->fpu);
			kfree(v);
		} else {
			v->arch = NULL;
			revirt_vcpu_free(v);
		}
		return ERR_PTR(r);
	}
	return v;
}

int revirt_vcpu_create(struct revirt_vm *vm, void __user *argp)
{
	struct revirt_vcpu_create c;
	struct revirt_vcpu *v;
	int fd;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.vcpu_id >= REVIRT_MAX_VCPUS ||
	    !IS_ALIGNED(c.run_area, PAGE_SIZE) ||
	    c.run_area_size < REVIRT_RUN_AREA_SIZE)
		return -EINVAL;
	v = revirt_vcpu_alloc(vm, &c);
	if (IS_ERR(v))
		return PTR_ERR(v);

	mutex_lock(&vm->lock);
	if (vm->vcpus[c.vcpu_id]) {
		mutex_unlock(&vm->lock);
		revirt_vcpu_free(v);
		return -EEXIST;
	}
	vm->vcpus[c.vcpu_id] = v;
	kref_get(&vm->ref);
	mutex_unlock(&vm->lock);

	fd = anon_inode_getfd("revirt-vcpu", &revirt_vcpu_fops, v,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		mutex_lock(&vm->lock);
		vm->vcpus[c.vcpu_id] = NULL;
		mutex_unlock(&vm->lock);
		revirt_vcpu_free(v);
		revirt_vm_put(vm);
	}
	return fd;
}
