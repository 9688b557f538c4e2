// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the guest's FPU: the FPU state class (the FXSAVE image),
 * XCR0 and the XSAVE area (REVIRT_FEATURE_XSAVE), and CPUID leaf 0xD.
 *
 * The state lives in the vCPU's guest fpstate (the kernel's API for KVM):
 * it is in the CPU's registers during REVIRT_RUN, and the kernel's own
 * copy functions convert it to and from the standard (non-compacted)
 * XSAVE format.  The guest gets x87, SSE and AVX (the components of the
 * host's XCR0 among those): the CPU runs them for the guest once XCR0 is
 * the guest's, which the backend loads around each entry.
 *
 * Copyright (c) 2026 The revirt developers
 */

#define pr_fmt(fmt) "revirt: " fmt

#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#include <asm/fpu/types.h>
#include <asm/fpu/xcr.h>
#include <asm/processor.h>
#include <asm/unaligned.h>

#include "revirt-arch.h"

/* The components a guest may have (others need state the module lacks). */
#define REVIRT_XCR0_GUEST	(XFEATURE_MASK_FP | XFEATURE_MASK_SSE | \
				 XFEATURE_MASK_YMM)
#define REVIRT_XSAVE_LEGACY	512	/* the FXSAVE region */
#define REVIRT_XSAVE_HDR	512	/* XSTATE_BV, XCOMP_BV, reserved */
#define REVIRT_XSAVE_HDR_SIZE	64
#define REVIRT_XSAVE_MIN	(REVIRT_XSAVE_HDR + REVIRT_XSAVE_HDR_SIZE)
/*
 * The size caps announce: at least a page, as QEMU's XSAVE image helpers
 * (and KVM's struct kvm_xsave) use.
 */
#define REVIRT_XSAVE_CAPS_MIN	4096u

/* The FXSAVE layout's fields. */
#define FX_FCW		0
#define FX_MXCSR	24
#define FX_MXCSR_MASK	28
#define FX_ST0		32
#define FX_XMM0		160
#define FX_XMM_END	416
#define FX_FCW_INIT	0x037f
#define MXCSR_INIT	0x1f80

/* CPUID bits the guest gets with XSAVE. */
#define CPUID_1_ECX_FMA		(1u << 12)
#define CPUID_1_ECX_XSAVE	(1u << 26)
#define CPUID_1_ECX_OSXSAVE	(1u << 27)
#define CPUID_1_ECX_AVX		(1u << 28)
#define CPUID_1_ECX_F16C	(1u << 29)
#define CPUID_7_EBX_AVX2	(1u << 5)
#define CPUID_D1_EAX_XSAVEOPT	(1u << 0)

u64 revirt_host_xcr0;
u64 revirt_xcr0_supported;
static u32 revirt_xsave_offset[64], revirt_xsave_csize[64];

void revirt_xsave_init(void)
{
	u32 ecx, edx;
	int i;

	if (!boot_cpu_has(X86_FEATURE_XSAVE) ||
	    !boot_cpu_has(X86_FEATURE_OSXSAVE))
		return;
	revirt_host_xcr0 = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	if ((revirt_host_xcr0 & XFEATURE_MASK_FPSSE) != XFEATURE_MASK_FPSSE ||
	    boot_cpu_data.cpuid_level < 0xd)
		return;
	for (i = 2; i < 64; i++)
		if (revirt_host_xcr0 & REVIRT_XCR0_GUEST & BIT_ULL(i))
			cpuid_count(0xd, i, &revirt_xsave_csize[i],
				    &revirt_xsave_offset[i], &ecx, &edx);
	revirt_xcr0_supported = revirt_host_xcr0 & REVIRT_XCR0_GUEST;
}

/* The standard-format size of the components of xcr0. */
static u32 revirt_xsave_size(u64 xcr0)
{
	u32 size = REVIRT_XSAVE_MIN;
	int i;

	for (i = 2; i < 64; i++)
		if (xcr0 & BIT_ULL(i))
			size = max(size, revirt_xsave_offset[i] +
					 revirt_xsave_csize[i]);
	return size;
}

u32 revirt_xsave_caps_size(void)
{
	if (!revirt_xcr0_supported)
		return 0;
	return max(REVIRT_XSAVE_CAPS_MIN,
		   revirt_xsave_size(revirt_xcr0_supported));
}

static void cpuid_append(struct revirt_cpuid_table *t, u32 fn, u32 idx,
			 u32 eax, u32 ebx, u32 ecx, u32 edx)
{
	if (t->count >= REVIRT_MAX_CPUID_ENTRIES)
		return;
	t->entries[t->count++] = (struct revirt_cpuid_entry){
		.function = fn, .index = idx,
		.flags = REVIRT_CPUID_FLAG_INDEXED,
		.eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
	};
}

/*
 * The supported table's XSAVE bits: leaf 1's XSAVE (OSXSAVE is the
 * guest's CR4, filled in at its CPUID), AVX and what runs on its state,
 * and leaf 0xD: the XCR0 bits, sizes and offsets of the components.
 */
void revirt_xsave_supported_cpuid(struct revirt_cpuid_table *t)
{
	struct revirt_cpuid_entry *e;
	u32 eax, ebx, ecx, edx;
	u32 size;
	int i;

	if (!revirt_xcr0_supported)
		return;
	e = revirt_cpuid_find(t, 1, 0);
	if (e) {
		u32 want = CPUID_1_ECX_XSAVE;

		if (revirt_xcr0_supported & XFEATURE_MASK_YMM)
			want |= CPUID_1_ECX_AVX | CPUID_1_ECX_FMA |
				CPUID_1_ECX_F16C;
		e->ecx |= cpuid_ecx(1) & want;
	}
	e = revirt_cpuid_find(t, 7, 0);
	if (e && (revirt_xcr0_supported & XFEATURE_MASK_YMM))
		e->ebx |= cpuid_ebx(7) & CPUID_7_EBX_AVX2;

	size = revirt_xsave_size(revirt_xcr0_supported);
	cpuid_append(t, 0xd, 0, (u32)revirt_xcr0_supported, size, size,
		     revirt_xcr0_supported >> 32);
	cpuid_count(0xd, 1, &eax, &ebx, &ecx, &edx);
	cpuid_append(t, 0xd, 1, eax & CPUID_D1_EAX_XSAVEOPT, 0, 0, 0);
	for (i = 2; i < 64; i++)
		if (revirt_xcr0_supported & BIT_ULL(i))
			cpuid_append(t, 0xd, i, revirt_xsave_csize[i],
				     revirt_xsave_offset[i], 0, 0);
}

/*
 * The guest's CPUID, where it depends on the guest's state: OSXSAVE is
 * CR4's, and leaf 0xD's EBX is the size of what XCR0 enables now.
 */
void revirt_xsave_cpuid_fixup(struct revirt_vcpu *v, u32 fn, u32 idx,
			      u64 cr4, struct revirt_cpuid_entry *e)
{
	if (fn == 1 && (e->ecx & CPUID_1_ECX_XSAVE)) {
		e->ecx &= ~CPUID_1_ECX_OSXSAVE;
		if (cr4 & X86_CR4_OSXSAVE)
			e->ecx |= CPUID_1_ECX_OSXSAVE;
	}
	if (fn == 0xd && idx == 0 && revirt_xcr0_supported && e->eax)
		e->ebx = revirt_xsave_size(v->xcr0);
}

/*
 * What XSETBV and SET_XSAVE accept: x87 always, nothing outside the
 * mask, SSE with AVX, the three AVX-512 components together and with
 * AVX, both MPX components or neither.
 */
bool revirt_xcr0_valid(u64 xcr0, u64 mask)
{
	u64 avx512 = XFEATURE_MASK_OPMASK | XFEATURE_MASK_ZMM_Hi256 |
		     XFEATURE_MASK_Hi16_ZMM;
	u64 mpx = XFEATURE_MASK_BNDREGS | XFEATURE_MASK_BNDCSR;

	if (!(xcr0 & XFEATURE_MASK_FP) || (xcr0 & ~mask))
		return false;
	if ((xcr0 & XFEATURE_MASK_YMM) && !(xcr0 & XFEATURE_MASK_SSE))
		return false;
	if ((xcr0 & avx512) &&
	    ((xcr0 & avx512) != avx512 || !(xcr0 & XFEATURE_MASK_YMM)))
		return false;
	if ((xcr0 & mpx) && (xcr0 & mpx) != mpx)
		return false;
	return true;
}

/* A new vCPU: XCR0 = 1, its mask the supported table's. */
void revirt_xsave_vcpu_init(struct revirt_vcpu *v)
{
	v->xcr0 = XFEATURE_MASK_FP;
	v->xcr0_mask = revirt_xcr0_supported | XFEATURE_MASK_FP;
}

/* SET_CPUID: the mask is the new table's leaf 0xD (x87 at least). */
void revirt_xsave_set_cpuid(struct revirt_vcpu *v)
{
	struct revirt_cpuid_entry *e = revirt_cpuid_find(v->cpuid, 0xd, 0);
	u64 bits = e ? ((u64)e->edx << 32) | e->eax : 0;

	v->xcr0_mask = (bits & revirt_xcr0_supported) | XFEATURE_MASK_FP;
	if (!revirt_xcr0_valid(v->xcr0, v->xcr0_mask))
		v->xcr0 = XFEATURE_MASK_FP;
}

/*
 * The components a vCPU's area holds: x87 and SSE, which every x86-64 CPU
 * has (FXSAVE saves them), and those of its XCR0 mask.
 */
static u64 revirt_area_mask(struct revirt_vcpu *v)
{
	return v->xcr0_mask | XFEATURE_MASK_FPSSE;
}

/*
 * The guest's fpstate as a standard-format area, in a zeroed buffer of
 * at least the kernel's uabi size: the components of mask, each one not
 * in XSTATE_BV in its initial state.
 */
static u8 *revirt_fpstate_get(struct revirt_vcpu *v, u64 mask,
			      unsigned int *len)
{
	unsigned int size = max(v->fpu.uabi_size, revirt_xsave_caps_size());
	u8 *buf = kvzalloc(size, GFP_KERNEL_ACCOUNT);

	if (!buf)
		return NULL;
	fpu_copy_guest_fpstate_to_uabi(&v->fpu, buf, v->fpu.uabi_size, mask,
				       0);
	*len = size;
	return buf;
}

static u64 xstate_bv(const u8 *area)
{
	return get_unaligned((const u64 *)(area + REVIRT_XSAVE_HDR));
}

static void set_xstate_bv(u8 *area, u64 bv)
{
	put_unaligned(bv, (u64 *)(area + REVIRT_XSAVE_HDR));
}

/*
 * Put x87 and SSE in their initial state where XSTATE_BV says so, as
 * XRSTOR would (MXCSR is initialized only with neither SSE nor AVX),
 * then mark both present: the kernel takes them from the area.
 */
static void revirt_legacy_init(u8 *area)
{
	u64 bv = xstate_bv(area);

	if (!(bv & XFEATURE_MASK_FP)) {
		memset(area, 0, FX_MXCSR);
		memset(area + FX_ST0, 0, FX_XMM0 - FX_ST0);
		put_unaligned((u16)FX_FCW_INIT, (u16 *)(area + FX_FCW));
	}
	if (!(bv & XFEATURE_MASK_SSE)) {
		memset(area + FX_XMM0, 0, FX_XMM_END - FX_XMM0);
		if (!(bv & XFEATURE_MASK_YMM))
			put_unaligned((u32)MXCSR_INIT,
				      (u32 *)(area + FX_MXCSR));
	}
	set_xstate_bv(area, bv | XFEATURE_MASK_FPSSE);
}

/* Load a standard-format area (XSTATE_BV within revirt_area_mask()). */
static int revirt_fpstate_set(struct revirt_vcpu *v, u8 *area,
			      const u8 *cur)
{
	u32 pkru = 0;

	revirt_legacy_init(area);
	/* MXCSR_MASK is the CPU's, read-only. */
	memcpy(area + FX_MXCSR_MASK, cur + FX_MXCSR_MASK, 4);
	/* The software-available bytes of the FXSAVE region hold nothing. */
	memset(area + FX_XMM_END, 0, REVIRT_XSAVE_LEGACY - FX_XMM_END);
	return fpu_copy_uabi_to_guest_fpstate(&v->fpu, area,
					      revirt_area_mask(v), &pkru);
}

/*
 * The FPU class is the FXSAVE image, the legacy region of the XSAVE
 * area: a SET changes x87 and SSE and leaves the other components be.
 */
int revirt_fpu_get(struct revirt_vcpu *v, struct revirt_fpu *f)
{
	unsigned int len;
	u8 *buf = revirt_fpstate_get(v, XFEATURE_MASK_FPSSE, &len);

	if (!buf)
		return -ENOMEM;
	memcpy(f->fxsave, buf, sizeof(f->fxsave));
	kvfree(buf);
	return 0;
}

int revirt_fpu_set(struct revirt_vcpu *v, const struct revirt_fpu *f)
{
	unsigned int len;
	u8 *cur, *buf;
	int r = -ENOMEM;

	cur = revirt_fpstate_get(v, revirt_area_mask(v), &len);
	buf = kvzalloc(len, GFP_KERNEL_ACCOUNT);
	if (cur && buf) {
		memcpy(buf, cur, len);
		memcpy(buf, f->fxsave, sizeof(f->fxsave));
		set_xstate_bv(buf, xstate_bv(cur) | XFEATURE_MASK_FPSSE);
		r = revirt_fpstate_set(v, buf, cur);
	}
	kvfree(cur);
	kvfree(buf);
	return r;
}

static int revirt_xsave_check(const struct revirt_xsave *x)
{
	if (x->flags || x->reserved[0] || x->reserved[1] || x->reserved[2] ||
	    x->reserved[3])
		return -EINVAL;
	if (!revirt_xcr0_supported)
		return -ENOTSUP;
	return x->size == revirt_xsave_caps_size() ? 0 : -EINVAL;
}

static int revirt_xsave_get(struct revirt_vcpu *v, struct revirt_xsave *x)
{
	unsigned int len;
	u8 *buf = revirt_fpstate_get(v, revirt_area_mask(v), &len);
	u32 end = revirt_xsave_size(v->xcr0_mask);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	/* XSAVE writes nothing else: no software bytes, no other state. */
	memset(buf + FX_XMM_END, 0, REVIRT_XSAVE_LEGACY - FX_XMM_END);
	memset(buf + REVIRT_XSAVE_HDR + 8, 0, REVIRT_XSAVE_HDR_SIZE - 8);
	set_xstate_bv(buf, xstate_bv(buf) & revirt_area_mask(v));
	memset(buf + end, 0, len - end);
	if (copy_to_user(u64_to_user_ptr(x->area), buf, x->size))
		r = -EFAULT;
	x->xcr0 = v->xcr0;
	kvfree(buf);
	return r;
}

static int revirt_xsave_set(struct revirt_vcpu *v,
			    const struct revirt_xsave *x)
{
	u32 end = revirt_xsave_size(v->xcr0_mask);
	unsigned int len;
	u8 *cur, *buf = NULL;
	int r = -ENOMEM;
	int i;

	cur = revirt_fpstate_get(v, revirt_area_mask(v), &len);
	if (!cur)
		goto out;
	buf = kvzalloc(len, GFP_KERNEL_ACCOUNT);
	if (!buf)
		goto out;
	r = -EFAULT;
	if (copy_from_user(buf, u64_to_user_ptr(x->area), x->size))
		goto out;
	r = -EINVAL;
	if (!revirt_xcr0_valid(x->xcr0, v->xcr0_mask) ||
	    (xstate_bv(buf) & ~revirt_area_mask(v)))
		goto out;
	for (i = 8; i < REVIRT_XSAVE_HDR_SIZE; i++)
		if (buf[REVIRT_XSAVE_HDR + i])
			goto out;
	/* Bytes past the last component are ignored. */
	memset(buf + end, 0, len - end);
	/* The kernel checks MXCSR's reserved bits; nothing changes then. */
	r = revirt_fpstate_set(v, buf, cur);
	if (!r)
		v->xcr0 = x->xcr0;
out:
	kvfree(cur);
	kvfree(buf);
	return r;
}

/* REVIRT_GET_XSAVE, REVIRT_SET_XSAVE, with the vCPU's run_lock held. */
int revirt_xsave_call(struct revirt_vcpu *v, unsigned int cmd,
		      void __user *argp)
{
	struct revirt_xsave x;
	int r;

	if (copy_from_user(&x, argp, sizeof(x)))
		return -EFAULT;
	r = revirt_xsave_check(&x);
	if (r)
		return r;
	if (cmd == REVIRT_SET_XSAVE)
		return revirt_xsave_set(v, &x);
	r = revirt_xsave_get(v, &x);
	if (!r && copy_to_user(argp, &x, sizeof(x)))
		r = -EFAULT;
	return r;
}
