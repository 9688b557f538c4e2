/* SPDX-License-Identifier: GPL-2.0 */
/*
 * revirt-insn: decode and emulate the x86 instructions that touch MMIO.
 *
 * A guest access to a guest-physical address with no RAM behind it ends in
 * a nested page fault.  Without decode assists the module has only the
 * fault's GPA, so it fetches the instruction's bytes, decodes them here
 * and emulates the instruction one MMIO access at a time, each access an
 * exit to the VMM (REVIRT_EXIT_MMIO):
 *
 *	revirt_insn_decode(bytes, n, mode, &insn);
 *	r = revirt_insn_start(&emu, &insn, gpa, &regs, &ops, &acc);
 *	while (r == REVIRT_INSN_ACCESS) {
 *		exit to the VMM with acc; on a write, stop here: the
 *		instruction has retired (regs are final);
 *		on a read, the VMM fills acc.data before the next run, then
 *		r = revirt_insn_complete(&emu, &regs, &ops, &acc);
 *	}
 *	r is REVIRT_INSN_DONE or a negative errno.
 *
 * So a read-modify-write form (ADD to memory, XCHG) is two exits, a read
 * then a write; after the read the next run goes straight to the write
 * exit without entering the guest.  Register effects of an instruction
 * that reads happen in revirt_insn_complete(), with the registers as they
 * are then.
 *
 * String instructions (MOVS, STOS, LODS) do one element per
 * revirt_insn_start(): with a REP prefix RCX is decremented and RIP stays
 * on the instruction until the count reaches 0, so the guest executes it
 * again and the next element faults again.  Their operands are found from
 * RSI/RDI and the segment bases; the fault's GPA is not used, and each
 * operand goes through ops, which either accesses guest RAM or says that
 * the address is MMIO (the other operand may be RAM or MMIO).
 *
 * A non-string operand is one access at the fault's GPA, never split:
 * one that straddles a page boundary from RAM into MMIO would be wrong,
 * but guests do not make unaligned MMIO accesses across pages.
 *
 * Plain C for both the kernel module and a userspace test.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_INSN_H
#define REVIRT_INSN_H

#include "revirt-insn-compat.h"

#define REVIRT_INSN_MAX_LEN	15	/* the architectural limit */

/* The code segment's default sizes, which the caller knows from CS. */
enum revirt_insn_mode {
	REVIRT_INSN_MODE16,	/* real, vm86, 16-bit protected: CS.D=0 */
	REVIRT_INSN_MODE32,	/* 32-bit protected or compat: CS.D=1 */
	REVIRT_INSN_MODE64,	/* 64-bit mode: EFER.LMA and CS.L */
};

enum revirt_insn_op {
	REVIRT_INSN_MOV_STORE,	/* mem = reg or imm */
	REVIRT_INSN_MOV_LOAD,	/* reg = mem, extended by insn.ext */
	REVIRT_INSN_ALU_MEM,	/* mem = mem alu (reg or imm) */
	REVIRT_INSN_ALU_REG,	/* reg = reg alu mem */
	REVIRT_INSN_XCHG,	/* reg <-> mem */
	REVIRT_INSN_MOVS,	/* ES:[rDI] = seg:[rSI] */
	REVIRT_INSN_STOS,	/* ES:[rDI] = rAX */
	REVIRT_INSN_LODS,	/* rAX = seg:[rSI] */
};

/* The first eight are the x86 encoding's own numbers (opcode bits 5:3). */
enum revirt_insn_alu {
	REVIRT_INSN_ALU_ADD,
	REVIRT_INSN_ALU_OR,
	REVIRT_INSN_ALU_ADC,
	REVIRT_INSN_ALU_SBB,
	REVIRT_INSN_ALU_AND,
	REVIRT_INSN_ALU_SUB,
	REVIRT_INSN_ALU_XOR,
	REVIRT_INSN_ALU_CMP,	/* SUB that only sets flags */
	REVIRT_INSN_ALU_TEST,	/* AND that only sets flags */
	REVIRT_INSN_ALU_NOT,	/* the four one-operand forms */
	REVIRT_INSN_ALU_NEG,
	REVIRT_INSN_ALU_INC,
	REVIRT_INSN_ALU_DEC,
};

enum revirt_insn_ext {
	REVIRT_INSN_EXT_NONE,	/* MOV: upper bits kept (8, 16) */
	REVIRT_INSN_EXT_ZERO,	/* MOVZX */
	REVIRT_INSN_EXT_SIGN,	/* MOVSX, MOVSXD */
};

/* Segment registers in the encoding's order, as in revirt_insn_regs. */
enum revirt_insn_seg {
	REVIRT_INSN_SEG_ES,
	REVIRT_INSN_SEG_CS,
	REVIRT_INSN_SEG_SS,
	REVIRT_INSN_SEG_DS,
	REVIRT_INSN_SEG_FS,
	REVIRT_INSN_SEG_GS,
};

/* insn.access: what the instruction does to its memory operand(s). */
#define REVIRT_INSN_READ	(1u << 0)
#define REVIRT_INSN_WRITE	(1u << 1)

/* General-purpose register numbers, as in the encoding. */
enum {
	REVIRT_INSN_RAX, REVIRT_INSN_RCX, REVIRT_INSN_RDX, REVIRT_INSN_RBX,
	REVIRT_INSN_RSP, REVIRT_INSN_RBP, REVIRT_INSN_RSI, REVIRT_INSN_RDI,
};

struct revirt_insn {
	u8 op;			/* enum revirt_insn_op */
	u8 alu;			/* enum revirt_insn_alu, for ALU_* */
	u8 mode;		/* enum revirt_insn_mode it was decoded in */
	u8 len;			/* bytes, prefixes included */
	u8 width;		/* memory operand (string element): 1 2 4 8 */
	u8 reg_width;		/* > width for MOVZX/MOVSX */
	u8 addr_size;		/* 2 4 8: the rSI/rDI/rCX used */
	u8 reg;			/* register operand: 0 (rAX)..15 */
	bool reg_high8;		/* reg 0..3 means AH, CH, DH, BH */
	bool has_imm;		/* the source is imm, not reg */
	u8 ext;			/* enum revirt_insn_ext, for MOV_LOAD */
	bool rep;		/* F3 or F2 on a string instruction */
	bool lock;
	u8 seg;			/* enum revirt_insn_seg: string source */
	u8 access;		/* REVIRT_INSN_READ | REVIRT_INSN_WRITE */
	u64 imm;		/* sign-extended to 64 bits */
};

/*
 * Decode one instruction from up to len bytes (more than
 * REVIRT_INSN_MAX_LEN are ignored).  Returns 0, -EINVAL if the bytes end
 * before the instruction does, or -EOPNOTSUPP for anything that is not a
 * memory-operand form revirt_insn_start() emulates (including register
 * operands, and LOCK where the CPU would raise #UD).
 */
int revirt_insn_decode(const u8 *bytes, unsigned int len,
		       enum revirt_insn_mode mode, struct revirt_insn *insn);

/* The guest state an instruction reads and changes. */
struct revirt_insn_regs {
	u64 gpr[16];		/* RAX RCX RDX RBX RSP RBP RSI RDI R8.. */
	u64 rip;
	u64 rflags;
	u64 seg_base[6];	/* enum revirt_insn_seg; string operands only */
};

/* One MMIO access, the fields of struct revirt_exit_mmio. */
struct revirt_insn_access {
	u64 gpa;
	u32 len;		/* the operand's width */
	bool is_write;
	u8 data[8];		/* little-endian; the VMM fills a read's */
};

/*
 * String operands: read or write len bytes at a guest linear address.
 * Return 0 when done in guest RAM, REVIRT_INSN_ACCESS with *gpa set and
 * nothing done when the address is MMIO, or a negative errno (a guest page
 * fault, say), which the emulator returns with no guest state changed.
 */
struct revirt_insn_ops {
	int (*read)(void *opaque, u64 gla, void *buf, unsigned int len,
		    u64 *gpa);
	int (*write)(void *opaque, u64 gla, const void *buf, unsigned int len,
		     u64 *gpa);
	void *opaque;
};

/* The emulation of one instruction, kept between exits. */
struct revirt_insn_emu {
	struct revirt_insn insn;
	u64 gpa;		/* the fault's, for the one-operand forms */
	bool pending;		/* a read is out: complete() next */
};

enum {
	REVIRT_INSN_DONE = 0,	/* no access left: step retired */
	REVIRT_INSN_ACCESS = 1,	/* do *acc; a read, then complete */
};

/*
 * Emulate insn, whose memory operand faulted at gpa.  A write access it
 * returns is the instruction's last act: regs are already final.
 */
int revirt_insn_start(struct revirt_insn_emu *emu,
		      const struct revirt_insn *insn, u64 gpa,
		      struct revirt_insn_regs *regs,
		      const struct revirt_insn_ops *ops,
		      struct revirt_insn_access *acc);

/* Go on after the read access in *acc, with acc->data filled in. */
int revirt_insn_complete(struct revirt_insn_emu *emu,
			 struct revirt_insn_regs *regs,
			 const struct revirt_insn_ops *ops,
			 struct revirt_insn_access *acc);

#endif /* REVIRT_INSN_H */
