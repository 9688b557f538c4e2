// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: MMIO.  A guest access to a gpa with no RAM behind it (or a
 * write to a read-only map) ends in a nested page fault that gives only
 * the gpa.  The ABI's v1 contract has the driver decode the instruction:
 * fetch it through the guest's page tables (revirt-gpt-walk), decode and
 * emulate it (revirt-insn), one REVIRT_EXIT_MMIO per access.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/kernel.h>
#include <asm/processor.h>
#include <asm/processor-flags.h>

#include "revirt-arch.h"
#include "revirt-gpt-walk.h"

#define SEG_CS	1

struct revirt_mmio_ctx {
	struct revirt_vcpu *v;
	struct revirt_gpt_ctx gpt;
	bool user;
};

static int mmio_pt_read(void *opaque, u64 gpa, u64 *val, unsigned int len)
{
	struct revirt_vcpu *v = opaque;

	*val = 0;
	return revirt_guest_rw(v->vm, gpa, val, len, false);
}

static void mmio_ctx_init(struct revirt_vcpu *v, struct revirt_mmio_ctx *c,
			  const struct revirt_cpu_mode *m)
{
	u8 paging = REVIRT_GPT_NONE;

	if (m->cr0 & X86_CR0_PG) {
		if (m->efer & EFER_LMA)
			paging = m->cr4 & X86_CR4_LA57 ? REVIRT_GPT_LONG5 :
							 REVIRT_GPT_LONG4;
		else
			paging = m->cr4 & X86_CR4_PAE ? REVIRT_GPT_PAE :
							REVIRT_GPT_32;
	}
	/* No update callback: emulated accesses set no accessed/dirty bits. */
	*c = (struct revirt_mmio_ctx){
		.v = v,
		.gpt = {
			.paging = paging,
			.maxphyaddr = boot_cpu_data.x86_phys_bits,
			.pse = m->cr4 & X86_CR4_PSE,
			.wp = m->cr0 & X86_CR0_WP,
			.nxe = m->efer & EFER_NX,
			.cr3 = m->cr3,
			.read = mmio_pt_read,
			.opaque = v,
		},
		.user = m->cpl == 3,
	};
}

/*
 * Guest linear to physical, one page at a time: len bytes from gla must
 * not cross a page (the callers split).  A guest page fault is not
 * emulated: it is an error here.
 */
static int mmio_translate(struct revirt_mmio_ctx *c, u64 gla,
			  unsigned int access, u64 *gpa)
{
	u32 error;
	int r;

	if (c->user)
		access |= REVIRT_GPT_USER;
	r = revirt_gpt_walk(&c->gpt, gla, access, gpa, &error);
	return r > 0 ? -EFAULT : r;
}

/*
 * Read or write guest memory by linear address, RAM only: -ENOENT where
 * it meets MMIO, whose gpa goes to *mmio_gpa.
 */
static int mmio_linear_rw(struct revirt_mmio_ctx *c, u64 gla, void *buf,
			  unsigned int len, unsigned int access, u64 *mmio_gpa)
{
	while (len) {
		unsigned int n = min_t(u64, len, PAGE_SIZE - (gla & ~PAGE_MASK));
		u64 gpa;
		int r = mmio_translate(c, gla, access, &gpa);

		if (!r)
			r = revirt_guest_rw(c->v->vm, gpa, buf, n,
					    access & REVIRT_GPT_WRITE);
		if (r == -ENOENT && mmio_gpa)
			*mmio_gpa = gpa;
		if (r)
			return r;
		gla += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Guest memory by linear address, as the vCPU sees it now (string I/O). */
int revirt_guest_linear_rw(struct revirt_vcpu *v, u64 gla, void *buf,
			   unsigned int len, bool write)
{
	struct revirt_cpu_mode m;
	struct revirt_mmio_ctx c;

	revirt_arch->cpu_mode(v, &m);
	mmio_ctx_init(v, &c, &m);
	return mmio_linear_rw(&c, gla, buf, len, write ? REVIRT_GPT_WRITE : 0,
			      NULL);
}

/* String operands: RAM is done here, MMIO becomes an access. */
static int mmio_op(void *opaque, u64 gla, void *buf, unsigned int len,
		   u64 *gpa, unsigned int access)
{
	struct revirt_mmio_ctx *c = opaque;
	bool crosses = (gla & ~PAGE_MASK) + len > PAGE_SIZE;
	int r = mmio_linear_rw(c, gla, buf, len, access, gpa);

	/* An element that is MMIO only in part is not emulated. */
	if (r == -ENOENT)
		return crosses ? -EOPNOTSUPP : REVIRT_INSN_ACCESS;
	return r;
}

static int mmio_op_read(void *opaque, u64 gla, void *buf, unsigned int len,
			u64 *gpa)
{
	return mmio_op(opaque, gla, buf, len, gpa, 0);
}

static int mmio_op_write(void *opaque, u64 gla, const void *buf,
			 unsigned int len, u64 *gpa)
{
	return mmio_op(opaque, gla, (void *)buf, len, gpa, REVIRT_GPT_WRITE);
}

static void mmio_regs_get(struct revirt_vcpu *v, struct revirt_insn_regs *r)
{
	int seg;

	memcpy(r->gpr, v->gpr, sizeof(r->gpr));
	r->rip = revirt_arch->rip(v);
	r->rflags = revirt_arch->rflags(v);
	for (seg = 0; seg < ARRAY_SIZE(r->seg_base); seg++)
		r->seg_base[seg] = revirt_arch->seg_base(v, seg);
}

static void mmio_regs_put(struct revirt_vcpu *v,
			  const struct revirt_insn_regs *r)
{
	memcpy(v->gpr, r->gpr, sizeof(v->gpr));
	if (r->rip != revirt_arch->rip(v))
		revirt_arch->set_rip(v, r->rip);
	revirt_arch->set_rflags(v, r->rflags);
}

static enum revirt_insn_mode mmio_insn_mode(const struct revirt_cpu_mode *m)
{
	if ((m->efer & EFER_LMA) && m->cs_l)
		return REVIRT_INSN_MODE64;
	return m->cs_db ? REVIRT_INSN_MODE32 : REVIRT_INSN_MODE16;
}

/*
 * The linear address of the byte at CS:RIP + offset, where instructions
 * are fetched: outside 64-bit mode CS's base applies, in 32 bits.
 */
u64 revirt_rip_linear(struct revirt_vcpu *v, u64 offset)
{
	struct revirt_cpu_mode m;
	u64 rip = revirt_arch->rip(v) + offset;

	revirt_arch->cpu_mode(v, &m);
	if (mmio_insn_mode(&m) == REVIRT_INSN_MODE64)
		return rip;
	return (u32)(rip + revirt_arch->seg_base(v, SEG_CS));
}

/* Fetch up to 15 bytes at CS:RIP; as many as are in RAM. */
static int mmio_fetch(struct revirt_vcpu *v, struct revirt_mmio_ctx *c,
		      u8 *bytes)
{
	u64 gla = revirt_rip_linear(v, 0);
	unsigned int n = REVIRT_INSN_MAX_LEN, first;

	first = min_t(u64, n, PAGE_SIZE - (gla & ~PAGE_MASK));
	if (mmio_linear_rw(c, gla, bytes, first, REVIRT_GPT_FETCH, NULL))
		return -EFAULT;
	/* The rest on the next page, if it is there. */
	if (first < n &&
	    mmio_linear_rw(c, gla + first, bytes + first, n - first,
			   REVIRT_GPT_FETCH, NULL))
		return first;
	return n;
}

static void mmio_exit_internal(struct revirt_vcpu *v, int err, u64 gpa)
{
	struct revirt_run *run = v->run;

	run->exit_reason = REVIRT_EXIT_INTERNAL_ERROR;
	memset(&run->internal, 0, sizeof(run->internal));
	run->internal.suberror = REVIRT_INTERNAL_EMULATION;
	run->internal.ndata = 3;
	run->internal.data[0] = gpa;
	run->internal.data[1] = err;
	run->internal.data[2] = revirt_arch->rip(v);
}

/* After start or complete: an access exits, DONE goes on in the guest. */
static int mmio_result(struct revirt_vcpu *v, int r, u64 gpa)
{
	struct revirt_insn_access *acc = &v->mmio.acc;
	struct revirt_run *run = v->run;

	if (r < 0) {
		mmio_exit_internal(v, r, gpa);
		return 1;
	}
	if (r == REVIRT_INSN_DONE)
		return 0;
	v->mmio.active = !acc->is_write;
	run->exit_reason = REVIRT_EXIT_MMIO;
	memset(&run->mmio, 0, sizeof(run->mmio));
	run->mmio.gpa = acc->gpa;
	run->mmio.len = acc->len;
	run->mmio.is_write = acc->is_write;
	if (acc->is_write)
		memcpy(run->mmio.data, acc->data, sizeof(run->mmio.data));
	return 1;
}

int revirt_mmio_fault(struct revirt_vcpu *v, u64 gpa)
{
	struct revirt_insn_ops ops = { mmio_op_read, mmio_op_write, NULL };
	struct revirt_insn_regs regs;
	struct revirt_cpu_mode m;
	struct revirt_mmio_ctx c;
	struct revirt_insn insn;
	u8 bytes[REVIRT_INSN_MAX_LEN];
	int n, r;

	revirt_arch->cpu_mode(v, &m);
	mmio_ctx_init(v, &c, &m);
	ops.opaque = &c;
	n = mmio_fetch(v, &c, bytes);
	if (n < 0)
		return mmio_result(v, n, gpa);
	r = revirt_insn_decode(bytes, n, mmio_insn_mode(&m), &insn);
	if (r)
		return mmio_result(v, r, gpa);
	mmio_regs_get(v, &regs);
	r = revirt_insn_start(&v->mmio.emu, &insn, gpa, &regs, &ops,
			      &v->mmio.acc);
	if (r >= 0)
		mmio_regs_put(v, &regs);
	return mmio_result(v, r, gpa);
}

/* At RUN: the VMM's data for the read of the last exit. */
int revirt_mmio_complete(struct revirt_vcpu *v)
{
	struct revirt_insn_ops ops = { mmio_op_read, mmio_op_write, NULL };
	struct revirt_insn_regs regs;
	struct revirt_cpu_mode m;
	struct revirt_mmio_ctx c;
	int r;

	if (!v->mmio.active)
		return 0;
	v->mmio.active = false;
	revirt_arch->cpu_mode(v, &m);
	mmio_ctx_init(v, &c, &m);
	ops.opaque = &c;
	memcpy(v->mmio.acc.data, v->run->mmio.data, sizeof(v->mmio.acc.data));
	mmio_regs_get(v, &regs);
	r = revirt_insn_complete(&v->mmio.emu, &regs, &ops, &v->mmio.acc);
	if (r >= 0)
		mmio_regs_put(v, &regs);
	return mmio_result(v, r, v->mmio.acc.gpa);
}
