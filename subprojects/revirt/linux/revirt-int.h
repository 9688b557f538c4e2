/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt.ko: objects shared by the handle, memory and vCPU code.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_INT_H
#define REVIRT_INT_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <asm/fpu/api.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/types.h>

#include "revirt/revirt-abi.h"
#include "revirt-insn.h"

/* The ABI's -ENOTSUP is userspace's ENOTSUP, which is EOPNOTSUPP on Linux. */
#define ENOTSUP			EOPNOTSUPP

#define REVIRT_MAX_VCPUS	64
#define REVIRT_GPA_BITS		40	/* four NPT levels cover 48; QEMU asks less */
#define REVIRT_RUN_AREA_SIZE	PAGE_ALIGN(sizeof(struct revirt_run))
#define REVIRT_RUN_PAGES	(REVIRT_RUN_AREA_SIZE >> PAGE_SHIFT)

/* One REVIRT_MAP_MEMORY range. */
struct revirt_map {
	struct list_head node;		/* vm->maps, sorted by gpa */
	u64 gpa;
	u64 size;
	u64 hva;
	u32 prot;
	/*
	 * Dirty logging: a bit per page, written since logging started or
	 * since the page was last reported; NULL when the map does not log.
	 */
	unsigned long *dirty;
};

struct revirt_vm {
	struct kref ref;		/* the VM handle and each vCPU */
	struct mm_struct *mm;		/* the VMM's (mmgrab): pages come from it */
	struct mutex lock;		/* maps, pages, the NPT, vcpus[] */
	struct list_head maps;
	struct xarray pages;		/* gfn -> pinned struct page */
	struct revirt_vcpu *vcpus[REVIRT_MAX_VCPUS];
	void *arch;			/* the backend's (NPT root, ...) */
};

/* DR6 and DR7 at reset: the bits that always read as 1. */
#define REVIRT_DR6_FIXED	0xffff0ff0ull
#define REVIRT_DR7_FIXED	0x400ull

#define REVIRT_MTRR_FIXED	11	/* fixed-range MTRRs */
#define REVIRT_MTRR_VAR		8	/* variable-range MTRR pairs */
#define REVIRT_MCE_BANKS	32	/* machine-check banks offered */

/* The MSRs kept in software (revirt-msr.c). */
struct revirt_msr_state {
	u64 mtrr_def_type;
	u64 mtrr_fixed[REVIRT_MTRR_FIXED];
	u64 mtrr_var[2 * REVIRT_MTRR_VAR];	/* base, mask, base, ... */
	u64 misc_enable;
	u64 arch_capabilities;
	u64 tsc_aux;
	u64 tsc_adjust;		/* the backend's: it moves the TSC */
	u64 mcg_cap, mcg_status, mcg_ctl;
	u64 mce_banks[4 * REVIRT_MCE_BANKS];	/* CTL STATUS ADDR MISC */
};

/* Events the VMM made pending and the guest has not taken yet. */
struct revirt_pending {
	bool extint;
	u8 extint_vector;
	bool nmi;
	bool exception;
	u8 exception_vector;
	bool exception_has_error;
	u32 exception_error;
	/* The #BP of the guest's INT3 at RIP: delivered as if it ran. */
	bool exception_int3;
};

/* REVIRT_SET_GUEST_DEBUG's setting, and what the debugger is owed. */
struct revirt_debug {
	u32 flags;			/* REVIRT_DEBUG_*; 0: off */
	u64 dr[4];			/* with HW_BP */
	u64 dr7;
	bool step_done;		/* an emulated instruction ended the step */
	bool int3_exit;		/* the last exit was a guest INT3 */
};

struct revirt_vcpu {
	struct revirt_vm *vm;
	u32 id;
	struct mutex run_lock;		/* RUN and state calls: -EBUSY when held */
	struct revirt_run *run;		/* the VMM's run area, pinned, vmap'd */
	struct page *run_pages[REVIRT_RUN_PAGES];
	bool kicked;			/* a kick the next RUN answers */
	int cpu;			/* where RUN is, -1 when not in RUN */
	bool has_run;
	bool ready;			/* run->ready_for_interrupt, last exit */
	/* An IN, or string I/O, the VMM completes at the next RUN. */
	struct revirt_io_pending {
		bool active;
		bool in;
		bool string;
		u8 size;
		u8 addr_size;
		bool rep;
		u64 next_rip;
	} io;
	struct revirt_pending pending;
	struct revirt_debug debug;
	/* The MMIO instruction being emulated, between its exits. */
	struct revirt_mmio_pending {
		bool active;		/* a read is out: complete at RUN */
		struct revirt_insn_emu emu;
		struct revirt_insn_access acc;
	} mmio;
	struct revirt_cpuid_table *cpuid;	/* SET_CPUID's; NULL: none */
	u64 xcr0;			/* the guest's XCR0 */
	u64 xcr0_mask;			/* the XCR0 bits it may set */
	u64 apic_base;
	struct revirt_msr_state msr;
	struct fpu_guest fpu;
	u64 gpr[16];			/* by encoding: RAX RCX RDX RBX RSP ... */
	void *arch;			/* the backend's (VMCB, ...) */
};

/* Exits the backend leaves to the common code (enum revirt_exit_kind). */
enum revirt_exit_kind {
	REVIRT_X_RESUME,	/* handled: enter the guest again */
	REVIRT_X_IO,
	REVIRT_X_NPF,		/* a nested page fault */
	REVIRT_X_HLT,
	REVIRT_X_IRQ_WINDOW,
	REVIRT_X_SHUTDOWN,
	REVIRT_X_ENTRY_FAILED,
	REVIRT_X_DEBUG,		/* a #DB or #BP the debugger intercepts */
	REVIRT_X_UNHANDLED,	/* data[] says what */
};

struct revirt_exit {
	enum revirt_exit_kind kind;
	union {
		struct {
			u16 port;
			u8 size;
			u8 addr_size;	/* 2, 4, 8: string I/O's rSI/rDI/rCX */
			bool in;
			bool string;
			bool rep;
			u64 next_rip;
		} io;
		struct {
			u64 gpa;
			bool write;
			bool fetch;
		} npf;
		struct {
			u32 exception;
			u64 pc, dr6, dr7;
		} debug;
		u64 data[4];
	};
};

/* revirt-vm.c */
extern const struct file_operations revirt_vm_fops;
int revirt_vm_create(void);
void revirt_vm_put(struct revirt_vm *vm);
int revirt_vm_fault(struct revirt_vm *vm, u64 gpa, bool write, bool fetch);
int revirt_guest_rw(struct revirt_vm *vm, u64 gpa, void *buf,
		    unsigned int len, bool write);

/* What the instruction emulator needs of the CPU's mode. */
struct revirt_cpu_mode {
	u64 cr0, cr3, cr4, efer;
	u8 cpl;
	bool cs_db, cs_l;
};

/* revirt-mmio.c: 0 to go on, 1 when RUN returns (run area filled). */
int revirt_mmio_fault(struct revirt_vcpu *v, u64 gpa);
int revirt_mmio_complete(struct revirt_vcpu *v);
int revirt_guest_linear_rw(struct revirt_vcpu *v, u64 gla, void *buf,
			   unsigned int len, bool write);
u64 revirt_rip_linear(struct revirt_vcpu *v, u64 offset);

/* revirt-debug.c: guest debugging, the parts no backend differs in. */
int revirt_debug_set(struct revirt_vcpu *v, void __user *argp);
bool revirt_debug_step_exit(struct revirt_vcpu *v);
void revirt_debug_exit(struct revirt_vcpu *v, const struct revirt_exit *x);

/*
 * The driver emulated an instruction (moved RIP past it): while
 * single-stepping that is the step, and RUN returns before the next entry.
 */
static inline void revirt_debug_insn_done(struct revirt_vcpu *v)
{
	if (v->debug.flags & REVIRT_DEBUG_SINGLESTEP)
		v->debug.step_done = true;
}

/* revirt-vcpu.c */
int revirt_vcpu_create(struct revirt_vm *vm, void __user *argp);

/* revirt-xsave.c: the guest's FPU, XCR0 and XSAVE area, CPUID leaf 0xD. */
extern u64 revirt_host_xcr0;	/* 0 when the host has no XSAVE */
extern u64 revirt_xcr0_supported;	/* 0 without REVIRT_FEATURE_XSAVE */
void revirt_xsave_init(void);
u32 revirt_xsave_caps_size(void);
void revirt_xsave_supported_cpuid(struct revirt_cpuid_table *t);
void revirt_xsave_cpuid_fixup(struct revirt_vcpu *v, u32 fn, u32 idx,
			      u64 cr4, struct revirt_cpuid_entry *e);
void revirt_xsave_vcpu_init(struct revirt_vcpu *v);
void revirt_xsave_set_cpuid(struct revirt_vcpu *v);
bool revirt_xcr0_valid(u64 xcr0, u64 mask);
int revirt_fpu_get(struct revirt_vcpu *v, struct revirt_fpu *f);
int revirt_fpu_set(struct revirt_vcpu *v, const struct revirt_fpu *f);
int revirt_xsave_call(struct revirt_vcpu *v, unsigned int cmd,
		      void __user *argp);

/*
 * XCR0 around a guest entry, with interrupts (and GIF) off: the guest's
 * while CR4.OSXSAVE lets it use XCR0, the host's the rest of the time.
 * revirt_xcr0_guest() returns what it loaded, for revirt_xcr0_host().
 */
static inline u64 revirt_xcr0_guest(struct revirt_vcpu *v, bool osxsave)
{
	u64 xcr0 = osxsave && revirt_xcr0_supported ? v->xcr0 :
		   revirt_host_xcr0;

	if (xcr0 != revirt_host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, xcr0);
	return xcr0;
}

/*
 * After the exit.  Hardware intercepts XSETBV, so XCR0 is still what was
 * loaded; QEMU's emulated SVM (the lab's L0) does not, and a guest's
 * XSETBV there changes XCR0 directly: keep what the guest set.
 */
static inline bool revirt_xcr0_host(struct revirt_vcpu *v, u64 loaded)
{
	u64 now;

	if (!revirt_host_xcr0)
		return false;
	now = xgetbv(XCR_XFEATURE_ENABLED_MASK);
	if (now != revirt_host_xcr0)
		xsetbv(XCR_XFEATURE_ENABLED_MASK, revirt_host_xcr0);
	if (now == loaded || !revirt_xcr0_supported)
		return false;
	v->xcr0 = revirt_xcr0_valid(now & v->xcr0_mask, v->xcr0_mask) ?
		  now & v->xcr0_mask : XFEATURE_MASK_FP;
	return true;
}

/* revirt-msr.c: MTRRs, MISC_ENABLE, TSC_AUX, machine check. */
bool revirt_has_tsc_aux(void);
void revirt_msr_indices(struct revirt_msr_index_list *l);
void revirt_msr_vcpu_init(struct revirt_vcpu *v);
bool revirt_msr_kept(struct revirt_vcpu *v, u32 index);
bool revirt_guest_has_tsc_adjust(struct revirt_vcpu *v);
int revirt_msr_get(struct revirt_vcpu *v, u32 index, u64 *value, bool guest);
int revirt_msr_set(struct revirt_vcpu *v, u32 index, u64 value, bool guest);

/* revirt-main.c */
u64 revirt_state_classes(void);
extern const struct revirt_arch_ops *revirt_arch;
int revirt_get_supported_cpuid(struct revirt_cpuid_table *t);
struct revirt_cpuid_entry *revirt_cpuid_find(struct revirt_cpuid_table *t,
					     u32 fn, u32 idx);
u32 revirt_cpuid_guest(struct revirt_vcpu *v, u32 fn, u32 idx,
		       struct revirt_cpuid_entry *out);

#endif /* REVIRT_INT_H */
