// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the MSRs no VMCB field holds, kept in software as KVM keeps
 * them: MTRRs (storage only: nested paging ignores the guest's memory
 * types), MISC_ENABLE, TSC_AUX (the backend loads it for RDTSCP),
 * ARCH_CAPABILITIES (read-only for the guest), TSC_ADJUST (the backend
 * moves the TSC with it) and the machine-check architecture (MCG_* and the banks, so that a VMM can write
 * a machine-check record before it injects #MC).  The guest's RDMSR and
 * WRMSR and the VMM's state calls both come here.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/kernel.h>
#include <asm/cpufeature.h>
#include <asm/mce.h>
#include <asm/msr-index.h>
#include <asm/mtrr.h>

#include "revirt-int.h"

#define MTRR_CAP_VALUE		(0x500 | REVIRT_MTRR_VAR)	/* WC, fixed */
#define MTRR_TYPES_VALID	0x73	/* UC WC WT WP WB: types 0 1 4 5 6 */
#define MTRR_DEF_TYPE_BITS	0xcffull	/* type, FE, E */
#define MTRR_MASK_VALID		(1ull << 11)
/* What a VMM may ask for in MCG_CAP: banks and MCG_CTL, as KVM on SVM. */
#define MCG_CAP_OFFERED		(MCG_CTL_P | REVIRT_MCE_BANKS)
#define MSR_MC_END(banks)	(MSR_IA32_MC0_CTL + 4 * (banks))
/* The MISC_ENABLE a vCPU starts with (KVM's): no BTS, no PEBS. */
#define MISC_ENABLE_RESET	(MSR_IA32_MISC_ENABLE_BTS_UNAVAIL | \
				 MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL)

static const u32 revirt_mtrr_fixed_msrs[REVIRT_MTRR_FIXED] = {
	MSR_MTRRfix64K_00000, MSR_MTRRfix16K_80000, MSR_MTRRfix16K_A0000,
	MSR_MTRRfix4K_C0000, MSR_MTRRfix4K_C8000, MSR_MTRRfix4K_D0000,
	MSR_MTRRfix4K_D8000, MSR_MTRRfix4K_E0000, MSR_MTRRfix4K_E8000,
	MSR_MTRRfix4K_F0000, MSR_MTRRfix4K_F8000,
};

/*
 * ARCH_CAPABILITIES as KVM makes it up for its guests: the host's, and
 * each "not affected" bit the host's CPU deserves (an AMD CPU has no such
 * MSR, but its guests read one).
 */
static u64 revirt_arch_capabilities(void)
{
	u64 caps = 0;

	if (boot_cpu_has(X86_FEATURE_ARCH_CAPABILITIES))
		rdmsrl_safe(MSR_IA32_ARCH_CAPABILITIES, &caps);
	caps |= ARCH_CAP_PSCHANGE_MC_NO;
	if (!boot_cpu_has_bug(X86_BUG_L1TF))
		caps |= ARCH_CAP_SKIP_VMENTRY_L1DFLUSH;
	if (!boot_cpu_has_bug(X86_BUG_CPU_MELTDOWN))
		caps |= ARCH_CAP_RDCL_NO;
	if (!boot_cpu_has_bug(X86_BUG_SPEC_STORE_BYPASS))
		caps |= ARCH_CAP_SSB_NO;
	if (!boot_cpu_has_bug(X86_BUG_MDS))
		caps |= ARCH_CAP_MDS_NO;
	if (!boot_cpu_has(X86_FEATURE_RTM))
		caps &= ~ARCH_CAP_TAA_NO;
	else if (!boot_cpu_has_bug(X86_BUG_TAA))
		caps |= ARCH_CAP_TAA_NO;
	return caps & ~ARCH_CAP_FB_CLEAR_CTRL;
}

/* The guest's TSC_AUX exists with RDTSCP, which the host must have. */
bool revirt_has_tsc_aux(void)
{
	return boot_cpu_has(X86_FEATURE_RDTSCP);
}

/* Append the MSRs kept here to REVIRT_GET_SUPPORTED_MSRS's list. */
void revirt_msr_indices(struct revirt_msr_index_list *l)
{
	unsigned int i;

	l->indices[l->count++] = MSR_MTRRdefType;
	for (i = 0; i < REVIRT_MTRR_FIXED; i++)
		l->indices[l->count++] = revirt_mtrr_fixed_msrs[i];
	for (i = 0; i < 2 * REVIRT_MTRR_VAR; i++)
		l->indices[l->count++] = MTRRphysBase_MSR(0) + i;
	l->indices[l->count++] = MSR_IA32_MISC_ENABLE;
	l->indices[l->count++] = MSR_IA32_ARCH_CAPABILITIES;
	if (revirt_has_tsc_aux())
		l->indices[l->count++] = MSR_TSC_AUX;
	l->indices[l->count++] = MSR_IA32_MCG_CAP;
	l->indices[l->count++] = MSR_IA32_MCG_STATUS;
	l->indices[l->count++] = MSR_IA32_MCG_CTL;
}

/* MCG_CAP as set: the banks and MCG_CTL reset as the ABI says. */
static void mce_configure(struct revirt_msr_state *m, u64 cap)
{
	unsigned int i;

	m->mcg_cap = cap;
	m->mcg_status = 0;
	m->mcg_ctl = cap & MCG_CTL_P ? ~0ull : 0;
	memset(m->mce_banks, 0, sizeof(m->mce_banks));
	for (i = 0; i < REVIRT_MCE_BANKS; i++)
		m->mce_banks[4 * i] = ~0ull;	/* MCi_CTL */
}

void revirt_msr_vcpu_init(struct revirt_vcpu *v)
{
	v->msr.misc_enable = MISC_ENABLE_RESET;
	v->msr.arch_capabilities = revirt_arch_capabilities();
	mce_configure(&v->msr, MCG_CAP_OFFERED);
}

/* Where MSR index keeps its value here, or NULL. */
static u64 *msr_slot(struct revirt_msr_state *m, u32 index)
{
	u32 banks = m->mcg_cap & MCG_BANKCNT_MASK;
	unsigned int i;

	for (i = 0; i < REVIRT_MTRR_FIXED; i++)
		if (index == revirt_mtrr_fixed_msrs[i])
			return &m->mtrr_fixed[i];
	if (index >= MTRRphysBase_MSR(0) &&
	    index < MTRRphysBase_MSR(REVIRT_MTRR_VAR))
		return &m->mtrr_var[index - MTRRphysBase_MSR(0)];
	if (index >= MSR_IA32_MC0_CTL && index < MSR_MC_END(banks))
		return &m->mce_banks[index - MSR_IA32_MC0_CTL];
	switch (index) {
	case MSR_MTRRdefType: return &m->mtrr_def_type;
	case MSR_IA32_MISC_ENABLE: return &m->misc_enable;
	case MSR_IA32_ARCH_CAPABILITIES: return &m->arch_capabilities;
	case MSR_TSC_AUX: return revirt_has_tsc_aux() ? &m->tsc_aux : NULL;
	case MSR_IA32_MCG_CAP: return &m->mcg_cap;
	case MSR_IA32_MCG_STATUS: return &m->mcg_status;
	case MSR_IA32_MCG_CTL: return &m->mcg_ctl;
	default: return NULL;
	}
}

/* Is index one of the MSRs kept here (the banks of this vCPU's MCG_CAP)? */
bool revirt_msr_kept(struct revirt_vcpu *v, u32 index)
{
	return msr_slot(&v->msr, index);
}

static bool mtrr_types_valid(u64 value, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++)
		if (!(MTRR_TYPES_VALID & (1u << min_t(u8, value >> (8 * i), 7))))
			return false;
	return true;
}

/* The guest's physical address width, from its CPUID (36 without it). */
static u64 guest_phys_mask(struct revirt_vcpu *v)
{
	struct revirt_cpuid_entry *e = revirt_cpuid_find(v->cpuid, 0x80000008,
							 0);
	unsigned int bits = e && (e->eax & 0xff) ? e->eax & 0xff : 36;

	return GENMASK_ULL(min(bits, 52u) - 1, 0);
}

/* A value the CPU takes for an MTRR (else WRMSR is #GP), as KVM checks. */
static bool mtrr_valid(struct revirt_vcpu *v, u32 index, u64 value)
{
	u64 page_bits = guest_phys_mask(v) & PAGE_MASK;
	bool mask;

	if (index == MSR_MTRRdefType)
		return !(value & ~MTRR_DEF_TYPE_BITS) &&
		       mtrr_types_valid(value, 1);
	if (index < MTRRphysBase_MSR(0) ||
	    index >= MTRRphysBase_MSR(REVIRT_MTRR_VAR))
		return mtrr_types_valid(value, 8);	/* fixed ranges */
	mask = (index - MTRRphysBase_MSR(0)) % 2;
	if (mask)
		return !(value & ~(page_bits | MTRR_MASK_VALID));
	return !(value & ~(page_bits | 0xff)) && mtrr_types_valid(value, 1);
}

static bool guest_has_tsc_aux(struct revirt_vcpu *v)
{
	struct revirt_cpuid_entry *e = revirt_cpuid_find(v->cpuid, 0x80000001,
							 0);

	return e && (e->edx & (1u << (X86_FEATURE_RDTSCP & 31)));
}

/* The guest may write TSC_ADJUST when its CPUID says it has it. */
bool revirt_guest_has_tsc_adjust(struct revirt_vcpu *v)
{
	struct revirt_cpuid_entry *e = revirt_cpuid_find(v->cpuid, 7, 0);

	return e && (e->ebx & (1u << (X86_FEATURE_TSC_ADJUST & 31)));
}

/*
 * RDMSR of an MSR kept here.  -ENOENT: not one of them; -EINVAL: the
 * guest's RDMSR takes #GP.
 */
int revirt_msr_get(struct revirt_vcpu *v, u32 index, u64 *value, bool guest)
{
	struct revirt_msr_state *m = &v->msr;
	u64 *slot = msr_slot(m, index);

	if (index == MSR_MTRRcap && guest) {
		*value = MTRR_CAP_VALUE;
		return 0;
	}
	if (!slot)
		return -ENOENT;
	if (guest && ((index == MSR_IA32_MCG_CTL && !(m->mcg_cap & MCG_CTL_P)) ||
		      (index == MSR_TSC_AUX && !guest_has_tsc_aux(v))))
		return -EINVAL;
	*value = *slot;
	return 0;
}

/* MCG_CAP from the VMM: the configuration, once, before the first run. */
static int mcg_cap_set(struct revirt_vcpu *v, u64 value)
{
	u32 banks = value & MCG_BANKCNT_MASK;

	if (v->has_run)
		return value == v->msr.mcg_cap ? 0 : -EINVAL;
	if (!banks || banks > REVIRT_MCE_BANKS ||
	    (value & ~MCG_BANKCNT_MASK & ~MCG_CAP_OFFERED))
		return -EINVAL;
	mce_configure(&v->msr, value);
	return 0;
}

/* A bank MSR's write, as KVM takes it from the guest. */
static bool mce_bank_write_ok(u32 index, u64 value)
{
	switch ((index - MSR_IA32_MC0_CTL) % 4) {
	case 0:
		/*
		 * MCi_CTL: 0 or all ones.  Linux clears bit 10 of bank 4
		 * (the K8 GART erratum) and UnixWare bit 0 of bank 1.
		 */
		return !value || (value | (1ull << 10) | 1) == ~0ull;
	case 1:
		/* MCi_STATUS: only cleared, without HWCR.McStatusWrEn. */
		return !value;
	default:
		return true;
	}
}

/* WRMSR of an MSR kept here: -ENOENT, or -EINVAL (#GP for the guest). */
int revirt_msr_set(struct revirt_vcpu *v, u32 index, u64 value, bool guest)
{
	struct revirt_msr_state *m = &v->msr;
	u64 *slot = msr_slot(m, index);

	if (index == MSR_MTRRcap)
		return guest ? -EINVAL : -ENOENT;
	if (!slot)
		return -ENOENT;
	if (index == MSR_IA32_MCG_CAP)
		return guest ? -EINVAL : mcg_cap_set(v, value);
	if (index == MSR_IA32_ARCH_CAPABILITIES && guest)
		return -EINVAL;
	if ((index == MSR_MTRRdefType ||
	     (index >= MSR_MTRRfix64K_00000 && index <= MSR_MTRRfix4K_F8000) ||
	     (index >= MTRRphysBase_MSR(0) &&
	      index < MTRRphysBase_MSR(REVIRT_MTRR_VAR))) &&
	    !mtrr_valid(v, index, value))
		return -EINVAL;
	if (index == MSR_IA32_MCG_CTL &&
	    ((!(m->mcg_cap & MCG_CTL_P) && (guest || value)) ||
	     (value && value != ~0ull)))
		return -EINVAL;
	if (guest && index >= MSR_IA32_MC0_CTL &&
	    index < MSR_MC_END(REVIRT_MCE_BANKS) &&
	    !mce_bank_write_ok(index, value))
		return -EINVAL;
	if (index == MSR_TSC_AUX) {
		if (guest && !guest_has_tsc_aux(v))
			return -EINVAL;
		value = (u32)value;	/* AMD ignores bits 63:32 */
	}
	*slot = value;
	return 0;
}
