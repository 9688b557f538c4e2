/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt-gpt-walk: translate a guest linear address to a guest-physical
 * one through the guest's own page tables, as the CPU would, for the
 * module's instruction fetch and for string operands in guest RAM.
 *
 * Paging modes: none (CR0.PG=0), 32-bit with 4K pages and, with CR4.PSE,
 * 4M pages (PSE-36 high address bits too), PAE with 4K/2M pages, and
 * 4- and 5-level long mode with 4K/2M/1G pages.  Checked as the CPU does:
 * present, reserved bits (above MAXPHYADDR, NX without EFER.NXE, PS where
 * it is not allowed), R/W with CR0.WP, U/S, NX.  SMEP, SMAP and
 * protection keys are not checked.
 *
 * Plain C for both the kernel module and a userspace test.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_GPT_WALK_H
#define REVIRT_GPT_WALK_H

#include "revirt-insn-compat.h"

enum revirt_gpt_paging {
	REVIRT_GPT_NONE,	/* CR0.PG=0: linear is physical */
	REVIRT_GPT_32,		/* CR0.PG, not CR4.PAE */
	REVIRT_GPT_PAE,		/* CR4.PAE, not EFER.LMA */
	REVIRT_GPT_LONG4,	/* EFER.LMA (also compatibility mode) */
	REVIRT_GPT_LONG5,	/* EFER.LMA and CR4.LA57 */
};

/* What the access is, as the #PF error code has it. */
#define REVIRT_GPT_WRITE	(1u << 1)
#define REVIRT_GPT_USER		(1u << 2)	/* CPL 3 */
#define REVIRT_GPT_FETCH	(1u << 4)

/* #PF error code bits beyond those */
#define REVIRT_GPT_PF_PRESENT	(1u << 0)
#define REVIRT_GPT_PF_RSVD	(1u << 3)

struct revirt_gpt_ctx {
	u8 paging;		/* enum revirt_gpt_paging */
	u8 maxphyaddr;		/* the guest CPU's, 32..52 */
	bool pse;		/* CR4.PSE: 4M pages in 32-bit paging */
	bool wp;		/* CR0.WP: supervisor writes obey R/W */
	bool nxe;		/* EFER.NXE: bit 63 is NX, else reserved */
	u64 cr3;
	/* Read an entry, len 4 or 8 bytes, little-endian. */
	int (*read)(void *opaque, u64 gpa, u64 *val, unsigned int len);
	/*
	 * Optional: set the accessed and dirty bits, replacing old by new in
	 * an entry if it still holds old (a cmpxchg: other vCPUs may be
	 * changing the tables).  A negative errno (-EAGAIN when it changed)
	 * ends the walk with that error; the caller may walk again.
	 */
	int (*update)(void *opaque, u64 gpa, u64 old, u64 new,
		      unsigned int len);
	void *opaque;
};

enum {
	REVIRT_GPT_OK = 0,
	REVIRT_GPT_PAGE_FAULT = 1,	/* #PF with *error, CR2 = gla */
	REVIRT_GPT_NONCANONICAL = 2,	/* inject #GP (or #SS for stack) */
};

/*
 * Translate gla for an access of kind access (REVIRT_GPT_* bits).
 * Returns REVIRT_GPT_OK with *gpa, a positive REVIRT_GPT_* fault, or the
 * negative errno a callback returned (a table outside guest RAM, say).
 * The accessed bits of the entries used, and the dirty bit of the last
 * one for a write, are set through ctx->update on success.
 */
int revirt_gpt_walk(const struct revirt_gpt_ctx *ctx, u64 gla,
		    unsigned int access, u64 *gpa, u32 *error);

#endif /* REVIRT_GPT_WALK_H */
