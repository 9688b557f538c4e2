// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: the module, /dev/revirt and the system handle (discovery,
 * VM creation).
 *
 * Copyright (c) 2026 The revirt developers
 */

#define pr_fmt(fmt) "revirt: " fmt

#include <linux/cpuhotplug.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>

#include "revirt-arch.h"

const struct revirt_arch_ops *revirt_arch = &revirt_svm_ops;
static int revirt_cpuhp_state;

/*
 * CPUID bits a guest may see: those the hardware runs for it and those
 * whose MSRs revirt-msr.c keeps (MTRR, MCE, MCA, RDTSCP's TSC_AUX, and
 * TSC_ADJUST and ARCH_CAPABILITIES, added below as KVM adds them); no
 * x2APIC.  By leaf and register.  XSAVE, AVX and leaf 0xD come with
 * REVIRT_FEATURE_XSAVE (revirt-xsave.c).
 */
struct revirt_cpuid_allow {
	u32 function;
	u32 eax, ebx, ecx, edx;
};

#define ALL 0xffffffffu
static const struct revirt_cpuid_allow revirt_cpuid_allowed[] = {
	/* EDX: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA
	 * CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 HTT; ECX: SSE3 PCLMUL
	 * SSSE3 CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES RDRAND.  EBX: APIC id
	 * and counts. */
	{ 1, ALL, ALL, 0x42d82203, 0x178bfbff },
	/* EBX: FSGSBASE BMI1 SMEP BMI2 ERMS RDSEED ADX SMAP CLFLUSHOPT SHA */
	{ 7, 0, 0x209c0389, 0, 0 },
	{ 0x80000000, ALL, ALL, ALL, ALL },
	/* ECX: LAHF ABM SSE4A MISALIGNSSE PREFETCHW; EDX: as leaf 1 plus
	 * SYSCALL NX MMXEXT FFXSR 1G pages RDTSCP LM */
	{ 0x80000001, ALL, 0, 0x000001e1, 0x2fd3fbff },
	{ 0x80000002, ALL, ALL, ALL, ALL },
	{ 0x80000003, ALL, ALL, ALL, ALL },
	{ 0x80000004, ALL, ALL, ALL, ALL },
	{ 0x80000005, ALL, ALL, ALL, ALL },
	{ 0x80000006, ALL, ALL, ALL, ALL },
	{ 0x80000008, ALL, 0, 0, 0 },
};
#undef ALL

#define REVIRT_CPUID_1_ECX_HYPERVISOR	(1u << 31)

static void revirt_cpuid_add(struct revirt_cpuid_table *t,
			     const struct revirt_cpuid_allow *a, u32 max_basic,
			     u32 max_ext)
{
	struct revirt_cpuid_entry *e = &t->entries[t->count];
	u32 f = a->function;

	if ((f < 0x80000000 && f > max_basic) ||
	    (f >= 0x80000000 && f > max_ext))
		return;
	e->function = f;
	cpuid_count(f, 0, &e->eax, &e->ebx, &e->ecx, &e->edx);
	e->eax &= a->eax;
	e->ebx &= a->ebx;
	e->ecx &= a->ecx;
	e->edx &= a->edx;
	if (f == 7)
		e->flags = REVIRT_CPUID_FLAG_INDEXED;
	if (f == 1)
		e->ecx |= REVIRT_CPUID_1_ECX_HYPERVISOR;
	/* What the module emulates whatever the host has (revirt-msr.c). */
	if (f == 7) {
		e->ebx |= 1u << (X86_FEATURE_TSC_ADJUST & 31);
		e->edx |= 1u << (X86_FEATURE_ARCH_CAPABILITIES & 31);
	}
	/* A fact about the CPU the guest runs on, as KVM tells it. */
	if (f == 0x80000008 && !boot_cpu_has_bug(X86_BUG_SPEC_STORE_BYPASS))
		e->ebx |= 1u << (X86_FEATURE_AMD_SSB_NO & 31);
	t->count++;
}

int revirt_get_supported_cpuid(struct revirt_cpuid_table *t)
{
	u32 max_basic = min(cpuid_eax(0), revirt_xcr0_supported ? 0xdu : 7u);
	u32 max_ext = min(cpuid_eax(0x80000000), 0x80000008u);
	unsigned int i;
	u32 unused;

	memset(t, 0, sizeof(*t));
	/* Leaf 0: the highest leaf we describe, and the vendor. */
	t->entries[0].function = 0;
	cpuid(0, &unused, &t->entries[0].ebx, &t->entries[0].ecx,
	      &t->entries[0].edx);
	t->entries[0].eax = max_basic;
	t->count = 1;
	for (i = 0; i < ARRAY_SIZE(revirt_cpuid_allowed); i++)
		revirt_cpuid_add(t, &revirt_cpuid_allowed[i], max_basic,
				 max_ext);
	revirt_xsave_supported_cpuid(t);
	return 0;
}

/*
 * A CPUID table's entry for leaf fn, sub-leaf idx, or NULL (also for no
 * table: a vCPU before REVIRT_SET_CPUID).
 */
struct revirt_cpuid_entry *revirt_cpuid_find(struct revirt_cpuid_table *t,
					     u32 fn, u32 idx)
{
	u32 i;

	for (i = 0; t && i < t->count && i < REVIRT_MAX_CPUID_ENTRIES; i++) {
		struct revirt_cpuid_entry *e = &t->entries[i];

		if (e->function == fn &&
		    (!(e->flags & REVIRT_CPUID_FLAG_INDEXED) || e->index == idx))
			return e;
	}
	return NULL;
}

static bool cpuid_vendor_amd(const struct revirt_cpuid_entry *leaf0)
{
	/* "AuthenticAMD", "HygonGenuine" */
	return (leaf0->ebx == 0x68747541 && leaf0->ecx == 0x444d4163 &&
		leaf0->edx == 0x69746e65) ||
	       (leaf0->ebx == 0x6f677948 && leaf0->ecx == 0x656e6975 &&
		leaf0->edx == 0x6e65476e);
}

/*
 * A leaf above the highest of its range on a CPU model that is not AMD's
 * is the highest basic leaf, as Intel CPUs answer (and KVM): its fn, or
 * fn itself.
 */
static u32 cpuid_in_range(struct revirt_cpuid_table *t, u32 fn)
{
	struct revirt_cpuid_entry *basic = revirt_cpuid_find(t, 0, 0);
	struct revirt_cpuid_entry *range;

	if (!basic || cpuid_vendor_amd(basic))
		return fn;
	if (fn >= 0x40000000 && fn <= 0x4fffffff)
		range = revirt_cpuid_find(t, fn & 0xffffff00, 0);
	else if (fn >= 0xc0000000)
		range = revirt_cpuid_find(t, 0xc0000000, 0);
	else
		range = revirt_cpuid_find(t, fn & 0x80000000, 0);
	return range && fn <= range->eax ? fn : basic->eax;
}

/*
 * The guest's CPUID(fn, idx) from the vCPU's table, as KVM answers it: a
 * leaf or sub-leaf the table lacks reads as zeros, except that leaves 0xB
 * and 0x1F, once they exist, give every sub-leaf its number in ECX and the
 * x2APIC id in EDX.  Returns the leaf answered (see cpuid_in_range()).
 */
u32 revirt_cpuid_guest(struct revirt_vcpu *v, u32 fn, u32 idx,
		       struct revirt_cpuid_entry *out)
{
	struct revirt_cpuid_entry *e, *topology;

	memset(out, 0, sizeof(*out));
	e = revirt_cpuid_find(v->cpuid, fn, idx);
	if (!e) {
		fn = cpuid_in_range(v->cpuid, fn);
		e = revirt_cpuid_find(v->cpuid, fn, idx);
	}
	if (e) {
		*out = *e;
	} else if (fn == 0xb || fn == 0x1f) {
		topology = revirt_cpuid_find(v->cpuid, fn, 1);
		if (topology) {
			out->ecx = idx & 0xff;
			out->edx = topology->edx;
		}
	}
	return fn;
}

/* The backend's classes, and the FPU, which the common code does. */
u64 revirt_state_classes(void)
{
	return revirt_arch->state_classes | REVIRT_STATE_FPU;
}

static int revirt_get_caps(void __user *argp)
{
	struct revirt_caps caps = {
		.api_version = REVIRT_API_VERSION,
		.max_vcpus = REVIRT_MAX_VCPUS,
		.gpa_bits = REVIRT_GPA_BITS,
		.run_area_size = REVIRT_RUN_AREA_SIZE,
		.state_classes = revirt_state_classes(),
		.exits = (1ull << REVIRT_EXIT_IO) | (1ull << REVIRT_EXIT_HLT) |
			 (1ull << REVIRT_EXIT_IRQ_WINDOW) |
			 (1ull << REVIRT_EXIT_SHUTDOWN) |
			 (1ull << REVIRT_EXIT_INTERRUPTED) |
			 (1ull << REVIRT_EXIT_MMIO) |
			 (1ull << REVIRT_EXIT_INTERNAL_ERROR) |
			 (1ull << REVIRT_EXIT_DEBUG),
		.features = REVIRT_FEATURE_READONLY_MEM |
			    REVIRT_FEATURE_NOEXEC_MEM | REVIRT_FEATURE_NMI |
			    REVIRT_FEATURE_DIRTY_LOG |
			    REVIRT_FEATURE_GUEST_DEBUG |
			    (revirt_xcr0_supported ? REVIRT_FEATURE_XSAVE : 0),
		.xsave_size = revirt_xsave_caps_size(),
	};

	return copy_to_user(argp, &caps, sizeof(caps)) ? -EFAULT : 0;
}

static int revirt_get_cpuid(void __user *argp)
{
	struct revirt_cpuid_table *t = kzalloc(sizeof(*t), GFP_KERNEL);
	int r;

	if (!t)
		return -ENOMEM;
	r = revirt_get_supported_cpuid(t);
	if (!r && copy_to_user(argp, t, sizeof(*t)))
		r = -EFAULT;
	kfree(t);
	return r;
}

static int revirt_get_msrs(void __user *argp)
{
	struct revirt_msr_index_list *l = kzalloc(sizeof(*l), GFP_KERNEL);
	int r = 0;

	if (!l)
		return -ENOMEM;
	revirt_arch->msr_indices(l);
	if (copy_to_user(argp, l, sizeof(*l)))
		r = -EFAULT;
	kfree(l);
	return r;
}

static int revirt_create_vm(void __user *argp)
{
	struct revirt_vm_create c;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.reserved)
		return -EINVAL;
	return revirt_vm_create();
}

static long revirt_sys_ioctl(struct file *f, unsigned int cmd,
			     unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case REVIRT_GET_CAPS:
		return revirt_get_caps(argp);
	case REVIRT_GET_SUPPORTED_CPUID:
		return revirt_get_cpuid(argp);
	case REVIRT_GET_SUPPORTED_MSRS:
		return revirt_get_msrs(argp);
	case REVIRT_CREATE_VM:
		return revirt_create_vm(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations revirt_sys_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = revirt_sys_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice revirt_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "revirt",
	.fops = &revirt_sys_fops,
	.mode = 0666,
};

static int __init revirt_init(void)
{
	int r;

	r = revirt_arch->probe();
	if (r)
		return r;
	revirt_xsave_init();
	r = revirt_arch->init();
	if (r)
		return r;
	/* Turns virtualization on on every online CPU, and on new ones. */
	r = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "revirt:online",
			      revirt_arch->cpu_on, revirt_arch->cpu_off);
	if (r < 0)
		goto out_arch;
	revirt_cpuhp_state = r;
	r = misc_register(&revirt_misc);
	if (r)
		goto out_cpuhp;
	pr_info("/dev/revirt on %s\n", revirt_arch->name);
	return 0;

out_cpuhp:
	cpuhp_remove_state(revirt_cpuhp_state);
out_arch:
	revirt_arch->exit();
	return r;
}

static void __exit revirt_exit(void)
{
	misc_deregister(&revirt_misc);
	cpuhp_remove_state(revirt_cpuhp_state);
	revirt_arch->exit();
}

module_init(revirt_init);
module_exit(revirt_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("revirt: the revirt driver ABI on AMD SVM with nested paging");
