// SPDX-License-Identifier: GPL-2.0
/*
 * revirt-gpt-walk: the guest's page tables walked in software, as the
 * CPU walks them.  See revirt-gpt-walk.h.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include "revirt-gpt-walk.h"

#define PTE_P		(1ULL << 0)
#define PTE_RW		(1ULL << 1)
#define PTE_US		(1ULL << 2)
#define PTE_A		(1ULL << 5)
#define PTE_D		(1ULL << 6)
#define PTE_PS		(1ULL << 7)
#define PTE_NX		(1ULL << 63)

/* bits hi..lo set */
#define BITS(hi, lo)	((~0ULL >> (63 - (hi))) & ~((1ULL << (lo)) - 1))

#define MAX_LEVELS	5

struct walk {
	const struct revirt_gpt_ctx *ctx;
	unsigned int levels;	/* 2 (32-bit), 3 (PAE), 4, 5 */
	unsigned int esize;	/* entry bytes: 4 or 8 */
	unsigned int bits;	/* index bits per level: 10 or 9 */
	u64 entry[MAX_LEVELS + 1];	/* by level, 1 is the PTE */
	u64 entry_gpa[MAX_LEVELS + 1];
	bool rw, us, nx;	/* what all the levels allow */
};

/* Physical address bits the guest CPU has. */
static u64 phys_mask(const struct revirt_gpt_ctx *ctx)
{
	return BITS(ctx->maxphyaddr - 1, 0);
}

static unsigned int level_shift(const struct walk *w, unsigned int level)
{
	return 12 + w->bits * (level - 1);
}

/* The PAE paging's PDPTE: no permission bits, and no large pages. */
static bool is_pae_pdpte(const struct walk *w, unsigned int level)
{
	return w->ctx->paging == REVIRT_GPT_PAE && level == 3;
}

/* A 32-bit 4M PDE carries physical bits 39:32 in its bits 20:13. */
static u64 pse36_reserved(const struct revirt_gpt_ctx *ctx)
{
	u64 rsvd = 1ULL << 21;

	if (ctx->maxphyaddr < 40)
		rsvd |= BITS(20, 13 + ctx->maxphyaddr - 32);
	return rsvd;
}

/* Bits of entry e at level that must be 0. */
static u64 reserved_bits(const struct walk *w, unsigned int level, u64 e)
{
	const struct revirt_gpt_ctx *ctx = w->ctx;
	u64 rsvd = 0;

	if (w->esize == 4)
		return (level == 2 && (e & PTE_PS) && ctx->pse) ?
		       pse36_reserved(ctx) : 0;

	if (ctx->maxphyaddr < 52)
		rsvd |= BITS(51, ctx->maxphyaddr);
	if (!ctx->nxe)
		rsvd |= PTE_NX;
	if (is_pae_pdpte(w, level))
		rsvd |= PTE_NX | BITS(8, 5) | BITS(2, 1);
	else if (level >= 4)
		rsvd |= PTE_PS;			/* no 512G pages */
	else if ((e & PTE_PS) && level == 3)
		rsvd |= BITS(29, 13);		/* 1G page: address bits */
	else if ((e & PTE_PS) && level == 2)
		rsvd |= BITS(20, 13);		/* 2M page */
	return rsvd;
}

/* Whether e maps a page at level (4K at 1; 4M, 2M or 1G above). */
static bool is_leaf(const struct walk *w, unsigned int level, u64 e)
{
	if (level == 1)
		return true;
	if (!(e & PTE_PS))
		return false;
	if (w->esize == 4)
		return w->ctx->pse;	/* without CR4.PSE, PS is ignored */
	return level <= 3;		/* the others were reserved */
}

/* The physical address e points to: a table or a page of level. */
static u64 entry_address(const struct walk *w, unsigned int level, u64 e)
{
	bool large = level > 1 && is_leaf(w, level, e);

	if (w->esize == 4) {
		if (large)
			return (e & 0xffc00000) | (((e >> 13) & 0xff) << 32);
		return e & 0xfffff000;
	}
	if (large)
		return e & phys_mask(w->ctx) &
		       ~BITS(level_shift(w, level) - 1, 0);
	return e & phys_mask(w->ctx) & ~0xfffULL;
}

static u64 table_base(const struct walk *w)
{
	const struct revirt_gpt_ctx *ctx = w->ctx;

	switch (ctx->paging) {
	case REVIRT_GPT_32:
		return ctx->cr3 & 0xfffff000;
	case REVIRT_GPT_PAE:
		return ctx->cr3 & 0xffffffe0;	/* 32-byte aligned PDPT */
	default:
		return ctx->cr3 & phys_mask(ctx) & ~0xfffULL;
	}
}

static bool access_allowed(const struct walk *w, unsigned int access)
{
	if ((access & REVIRT_GPT_USER) && !w->us)
		return false;
	/* supervisor writes ignore R/W while CR0.WP is clear */
	if ((access & REVIRT_GPT_WRITE) && !w->rw &&
	    ((access & REVIRT_GPT_USER) || w->ctx->wp))
		return false;
	if ((access & REVIRT_GPT_FETCH) && w->nx)
		return false;
	return true;
}

static int page_fault(const struct walk *w, unsigned int access, u32 bits,
		      u32 *error)
{
	u32 id = 0;

	/* I/D is only reported where NX exists */
	if ((access & REVIRT_GPT_FETCH) && w->esize == 8 && w->ctx->nxe)
		id = REVIRT_GPT_FETCH;
	*error = bits | id |
		 (access & (REVIRT_GPT_WRITE | REVIRT_GPT_USER));
	return REVIRT_GPT_PAGE_FAULT;
}

/* Set A in every entry used and, for a write, D in the last one. */
static int set_accessed(const struct walk *w, unsigned int leaf,
			unsigned int access)
{
	const struct revirt_gpt_ctx *ctx = w->ctx;
	unsigned int level;
	u64 old, new;
	int ret;

	if (!ctx->update)
		return 0;
	for (level = w->levels; level >= leaf; level--) {
		if (is_pae_pdpte(w, level))
			continue;		/* it has no A bit */
		old = w->entry[level];
		new = old | PTE_A;
		if (level == leaf && (access & REVIRT_GPT_WRITE))
			new |= PTE_D;
		if (new == old)
			continue;
		ret = ctx->update(ctx->opaque, w->entry_gpa[level], old, new,
				  w->esize);
		if (ret)
			return ret;
	}
	return 0;
}

/* Read the entry for gla at level from the table at base. */
static int read_entry(struct walk *w, unsigned int level, u64 base, u64 gla)
{
	unsigned int index_mask = (1u << w->bits) - 1;
	u64 index = (gla >> level_shift(w, level)) & index_mask;
	u64 gpa = base + index * w->esize;
	int ret;

	w->entry_gpa[level] = gpa;
	ret = w->ctx->read(w->ctx->opaque, gpa, &w->entry[level], w->esize);
	if (w->esize == 4)
		w->entry[level] &= 0xffffffff;
	return ret;
}

/* Note what an entry on the way allows. */
static void accumulate(struct walk *w, unsigned int level, u64 e)
{
	if (is_pae_pdpte(w, level))
		return;
	w->rw &= !!(e & PTE_RW);
	w->us &= !!(e & PTE_US);
	if (w->esize == 8 && w->ctx->nxe)
		w->nx |= !!(e & PTE_NX);
}

static int walk_tables(struct walk *w, u64 gla, unsigned int access,
		       u64 *gpa, u32 *error)
{
	unsigned int level;
	u64 base = table_base(w), e = 0;
	int ret;

	w->rw = w->us = true;
	w->nx = false;
	for (level = w->levels; level >= 1; level--) {
		ret = read_entry(w, level, base, gla);
		if (ret)
			return ret;
		e = w->entry[level];
		if (!(e & PTE_P))
			return page_fault(w, access, 0, error);
		if (e & reserved_bits(w, level, e))
			return page_fault(w, access, REVIRT_GPT_PF_PRESENT |
					  REVIRT_GPT_PF_RSVD, error);
		accumulate(w, level, e);
		base = entry_address(w, level, e);
		if (is_leaf(w, level, e))
			break;
	}
	if (!access_allowed(w, access))
		return page_fault(w, access, REVIRT_GPT_PF_PRESENT, error);
	ret = set_accessed(w, level, access);
	if (ret)
		return ret;
	*gpa = base | (gla & BITS(level_shift(w, level) - 1, 0));
	return REVIRT_GPT_OK;
}

static bool is_canonical(u64 gla, unsigned int bits)
{
	s64 high = (s64)gla >> (bits - 1);

	return high == 0 || high == -1;
}

int revirt_gpt_walk(const struct revirt_gpt_ctx *ctx, u64 gla,
		    unsigned int access, u64 *gpa, u32 *error)
{
	struct walk w = { .ctx = ctx, .esize = 8, .bits = 9 };

	*error = 0;
	if (ctx->maxphyaddr < 32 || ctx->maxphyaddr > 52)
		return -EINVAL;
	switch (ctx->paging) {
	case REVIRT_GPT_NONE:
		*gpa = (u32)gla;
		return REVIRT_GPT_OK;
	case REVIRT_GPT_32:
		w.levels = 2;
		w.esize = 4;
		w.bits = 10;
		gla = (u32)gla;
		break;
	case REVIRT_GPT_PAE:
		w.levels = 3;
		gla = (u32)gla;
		break;
	case REVIRT_GPT_LONG4:
		w.levels = 4;
		break;
	default:
		w.levels = 5;
		break;
	}
	if (w.esize == 8 && w.levels >= 4 &&
	    !is_canonical(gla, level_shift(&w, w.levels) + w.bits))
		return REVIRT_GPT_NONCANONICAL;
	return walk_tables(&w, gla, access, gpa, error);
}
