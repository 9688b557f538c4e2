// SPDX-License-Identifier: GPL-2.0
/*
 * revirt.ko: SVM nested page tables (the x86 long-mode format, 4 KiB
 * leaves only), built a page at a time as the guest touches memory.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/msr.h>

#include "revirt-svm.h"

#define NPT_P		(1ull << 0)
#define NPT_RW		(1ull << 1)
#define NPT_US		(1ull << 2)	/* nested walks are user accesses */
#define NPT_A		(1ull << 5)
#define NPT_D		(1ull << 6)
#define NPT_NX		(1ull << 63)
#define NPT_ADDR	0x000ffffffffff000ull
#define NPT_TABLE	(NPT_P | NPT_RW | NPT_US | NPT_A)
#define NPT_LEVELS	4

static unsigned int npt_index(u64 gpa, int level)
{
	return (gpa >> (PAGE_SHIFT + 9 * level)) & 511;
}

static u64 *npt_table(u64 entry)
{
	return __va(entry & NPT_ADDR);
}

/* The leaf entry for gpa, allocating the tables above it if asked. */
static u64 *npt_walk(struct revirt_vm *vm, u64 gpa, bool alloc)
{
	u64 *table = to_svm_vm(vm)->npt_root;
	int level;

	for (level = NPT_LEVELS - 1; level > 0; level--) {
		u64 *e = &table[npt_index(gpa, level)];

		if (!(*e & NPT_P)) {
			unsigned long page;

			if (!alloc)
				return NULL;
			page = get_zeroed_page(GFP_KERNEL_ACCOUNT);
			if (!page)
				return ERR_PTR(-ENOMEM);
			WRITE_ONCE(*e, __pa(page) | NPT_TABLE);
		}
		table = npt_table(*e);
	}
	return &table[npt_index(gpa, 0)];
}

int revirt_svm_npt_set(struct revirt_vm *vm, u64 gpa, u64 pfn, u32 prot)
{
	u64 *pte = npt_walk(vm, gpa, true);

	if (IS_ERR(pte))
		return PTR_ERR(pte);
	WRITE_ONCE(*pte, (pfn << PAGE_SHIFT) | NPT_P | NPT_US | NPT_A | NPT_D |
		   (prot & REVIRT_PROT_WRITE ? NPT_RW : 0) |
		   (prot & REVIRT_PROT_EXEC ? 0 : NPT_NX));
	return 0;
}

/*
 * Keep only the bits of keep in the leaves of [start, end) under table,
 * which maps from base: 0 clears them, ~NPT_RW write-protects them.
 */
static void npt_range_level(u64 *table, int level, u64 base, u64 start,
			    u64 end, u64 keep)
{
	u64 span = 1ull << (PAGE_SHIFT + 9 * level);
	unsigned int i = start > base ? (start - base) / span : 0;

	for (; i < 512; i++) {
		u64 lo = base + i * span;

		if (lo >= end)
			break;
		if (!(table[i] & NPT_P))
			continue;
		if (level == 0)
			WRITE_ONCE(table[i], table[i] & keep);
		else
			npt_range_level(npt_table(table[i]), level - 1, lo,
					start, end, keep);
	}
}

void revirt_svm_npt_clear(struct revirt_vm *vm, u64 gpa, u64 size)
{
	npt_range_level(to_svm_vm(vm)->npt_root, NPT_LEVELS - 1, 0, gpa,
			gpa + size, 0);
}

/* Dirty logging: guest writes to [gpa, gpa + size) fault again. */
void revirt_svm_npt_protect(struct revirt_vm *vm, u64 gpa, u64 size)
{
	npt_range_level(to_svm_vm(vm)->npt_root, NPT_LEVELS - 1, 0, gpa,
			gpa + size, ~NPT_RW);
}

/*
 * After npt_clear or npt_protect: every vCPU flushes its translations before it enters
 * again, and any vCPU in the guest now is made to leave (the IPI waits
 * for it), so no one uses a cleared entry once this returns.
 */
void revirt_svm_npt_flush(struct revirt_vm *vm)
{
	atomic64_inc(&to_svm_vm(vm)->npt_gen);
	kick_all_cpus_sync();
}

static void npt_free_level(u64 *table, int level)
{
	unsigned int i;

	if (level > 0)
		for (i = 0; i < 512; i++)
			if (table[i] & NPT_P)
				npt_free_level(npt_table(table[i]), level - 1);
	free_page((unsigned long)table);
}

int revirt_svm_vm_init(struct revirt_vm *vm)
{
	struct revirt_svm_vm *s;
	u64 tsc = rdtsc();
	int i;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	s->npt_root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!s->npt_root) {
		kfree(s);
		return -ENOMEM;
	}
	/* The guest's TSC starts at 0 with the VM. */
	for (i = 0; i < REVIRT_MAX_VCPUS; i++)
		s->tsc_offset[i] = -tsc;
	vm->arch = s;
	return 0;
}

void revirt_svm_vm_free(struct revirt_vm *vm)
{
	struct revirt_svm_vm *s = to_svm_vm(vm);

	npt_free_level(s->npt_root, NPT_LEVELS - 1);
	kfree(s);
}
