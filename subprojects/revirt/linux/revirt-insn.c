// SPDX-License-Identifier: GPL-2.0
/*
 * revirt-insn: decode and emulate the x86 instructions that touch MMIO.
 * See revirt-insn.h for how the module drives it.
 *
 * Only what firmware and Linux use on MMIO is decoded: MOV in all its
 * widths and directions, MOVZX/MOVSX/MOVSXD, the two-operand ALU forms,
 * TEST, XCHG, NOT/NEG/INC/DEC, and MOVS/STOS/LODS.  Everything else is
 * -EOPNOTSUPP, for the module to report as an emulation failure.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include "revirt-insn.h"

/* RFLAGS bits */
#define FL_CF	0x0001ULL
#define FL_PF	0x0004ULL
#define FL_AF	0x0010ULL
#define FL_ZF	0x0040ULL
#define FL_SF	0x0080ULL
#define FL_DF	0x0400ULL
#define FL_OF	0x0800ULL
#define FL_STATUS (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

/* REX.B and REX.X only extend addressing registers: the fault gives that */
#define REX_R	0x4
#define REX_W	0x8

/* What the decoder has read so far. */
struct decoder {
	const u8 *bytes;
	unsigned int len;
	unsigned int pos;
	u8 mode;
	u8 rex;
	bool opsize;		/* 0x66 */
	bool addrsize;		/* 0x67 */
	u8 modrm_reg;		/* ModRM 5:3: register or /digit */
};

static u64 width_mask(unsigned int width)
{
	return width >= 8 ? ~0ULL : (1ULL << (width * 8)) - 1;
}

static u64 sign_bit(unsigned int width)
{
	return 1ULL << (width * 8 - 1);
}

static u64 sign_extend(u64 val, unsigned int width)
{
	u64 sign = sign_bit(width);

	return ((val & width_mask(width)) ^ sign) - sign;
}

/* ---- decoding ---------------------------------------------------- */

static int fetch(struct decoder *d, u8 *byte)
{
	if (d->pos >= d->len)
		return -EINVAL;
	*byte = d->bytes[d->pos++];
	return 0;
}

/* A little-endian immediate or displacement of n bytes. */
static int fetch_le(struct decoder *d, unsigned int n, u64 *val)
{
	unsigned int i;
	u8 byte;
	int ret;

	*val = 0;
	for (i = 0; i < n; i++) {
		ret = fetch(d, &byte);
		if (ret)
			return ret;
		*val |= (u64)byte << (i * 8);
	}
	return 0;
}

static int skip(struct decoder *d, unsigned int n)
{
	u64 unused;

	return fetch_le(d, n, &unused);
}

static bool is_segment_prefix(u8 byte, u8 *seg)
{
	switch (byte) {
	case 0x26:
		*seg = REVIRT_INSN_SEG_ES;
		return true;
	case 0x2e:
		*seg = REVIRT_INSN_SEG_CS;
		return true;
	case 0x36:
		*seg = REVIRT_INSN_SEG_SS;
		return true;
	case 0x3e:
		*seg = REVIRT_INSN_SEG_DS;
		return true;
	case 0x64:
		*seg = REVIRT_INSN_SEG_FS;
		return true;
	case 0x65:
		*seg = REVIRT_INSN_SEG_GS;
		return true;
	}
	return false;
}

/*
 * Read the prefixes and return the first opcode byte in *op.  A REX
 * prefix counts only right before the opcode: a legacy prefix after it
 * makes the CPU ignore it.
 */
static int decode_prefixes(struct decoder *d, struct revirt_insn *insn,
			   u8 *op)
{
	u8 byte;
	int ret;

	for (;;) {
		ret = fetch(d, &byte);
		if (ret)
			return ret;
		if (d->mode == REVIRT_INSN_MODE64 && (byte & 0xf0) == 0x40) {
			d->rex = byte;
			continue;
		}
		if (byte == 0x66)
			d->opsize = true;
		else if (byte == 0x67)
			d->addrsize = true;
		else if (byte == 0xf0)
			insn->lock = true;
		else if (byte == 0xf2 || byte == 0xf3)
			insn->rep = true;
		else if (!is_segment_prefix(byte, &insn->seg))
			break;
		d->rex = 0;
	}
	*op = byte;
	return 0;
}

/* Operand and address sizes from the mode, 0x66, 0x67 and REX.W. */
static void decode_sizes(struct decoder *d, struct revirt_insn *insn,
			 u8 *opsize)
{
	bool mode16 = d->mode == REVIRT_INSN_MODE16;

	*opsize = (mode16 != d->opsize) ? 2 : 4;
	if (d->rex & REX_W)
		*opsize = 8;

	if (d->mode == REVIRT_INSN_MODE64)
		insn->addr_size = d->addrsize ? 4 : 8;
	else
		insn->addr_size = (mode16 != d->addrsize) ? 2 : 4;
}

/*
 * Read ModRM and whatever addressing bytes follow it.  Only their length
 * matters: the fault gives the address.
 */
static int decode_modrm(struct decoder *d, struct revirt_insn *insn)
{
	unsigned int mod, base, disp;
	u8 modrm, sib;
	int ret;

	ret = fetch(d, &modrm);
	if (ret)
		return ret;
	mod = modrm >> 6;
	base = modrm & 7;
	d->modrm_reg = (modrm >> 3) & 7;
	if (mod == 3)
		return -EOPNOTSUPP;	/* a register: nothing to emulate */

	if (insn->addr_size == 2) {
		/* [bp+si]..[bx]; rm 6 without a displacement is [disp16] */
		if (mod == 1)
			disp = 1;
		else
			disp = (mod == 2 || base == 6) ? 2 : 0;
		return skip(d, disp);
	}

	if (base == 4) {
		ret = fetch(d, &sib);
		if (ret)
			return ret;
		base = sib & 7;
	}
	if (mod == 1)
		disp = 1;
	else	/* base 5 without a displacement is disp32 or RIP+disp32 */
		disp = (mod == 2 || base == 5) ? 4 : 0;
	return skip(d, disp);
}

/* The ModRM reg field as the register operand of the given width. */
static void set_reg_operand(struct decoder *d, struct revirt_insn *insn)
{
	insn->reg = d->modrm_reg | ((d->rex & REX_R) ? 8 : 0);
	/* Without any REX, byte registers 4..7 are AH, CH, DH, BH. */
	if (insn->reg_width == 1 && !d->rex && insn->reg >= 4) {
		insn->reg -= 4;
		insn->reg_high8 = true;
	}
}

/* ModRM whose reg field is the register operand. */
static int decode_modrm_reg(struct decoder *d, struct revirt_insn *insn)
{
	int ret = decode_modrm(d, insn);

	if (ret)
		return ret;
	set_reg_operand(d, insn);
	return 0;
}

static void set_width(struct revirt_insn *insn, u8 width)
{
	insn->width = width;
	insn->reg_width = width;
}

/* An immediate of the operand's width, at most 4 bytes, sign-extended. */
static int decode_imm(struct decoder *d, struct revirt_insn *insn,
		      unsigned int width)
{
	int ret;

	if (width > 4)
		width = 4;
	ret = fetch_le(d, width, &insn->imm);
	insn->imm = sign_extend(insn->imm, width);
	insn->has_imm = true;
	return ret;
}

/* 00..3B: ALU r/m,r (even bit 1 clear) and ALU r,r/m (bit 1 set). */
static int decode_alu(struct decoder *d, struct revirt_insn *insn, u8 op,
		      u8 opsize)
{
	set_width(insn, (op & 1) ? opsize : 1);
	insn->alu = op >> 3;
	if (op & 2) {
		insn->op = REVIRT_INSN_ALU_REG;
		insn->access = REVIRT_INSN_READ;
	} else {
		insn->op = REVIRT_INSN_ALU_MEM;
		insn->access = REVIRT_INSN_READ;
		if (insn->alu != REVIRT_INSN_ALU_CMP)
			insn->access |= REVIRT_INSN_WRITE;
	}
	return decode_modrm_reg(d, insn);
}

/* 80, 81, 82, 83: ALU r/m,imm with /digit as the operation. */
static int decode_alu_imm(struct decoder *d, struct revirt_insn *insn,
			  u8 op, u8 opsize)
{
	int ret;

	set_width(insn, (op & 1) ? opsize : 1);
	ret = decode_modrm(d, insn);
	if (ret)
		return ret;
	insn->op = REVIRT_INSN_ALU_MEM;
	insn->alu = d->modrm_reg;
	insn->access = REVIRT_INSN_READ;
	if (insn->alu != REVIRT_INSN_ALU_CMP)
		insn->access |= REVIRT_INSN_WRITE;
	/* 83 is a byte sign-extended to the operand size */
	return decode_imm(d, insn, op == 0x81 ? opsize : 1);
}

/* F6/F7 /0 TEST r/m,imm, /2 NOT, /3 NEG; FE/FF /0 INC, /1 DEC. */
static int decode_group(struct decoder *d, struct revirt_insn *insn,
			u8 op, u8 opsize)
{
	static const u8 f6_alu[8] = { REVIRT_INSN_ALU_TEST, 0xff,
		REVIRT_INSN_ALU_NOT, REVIRT_INSN_ALU_NEG,
		0xff, 0xff, 0xff, 0xff };
	static const u8 fe_alu[8] = { REVIRT_INSN_ALU_INC,
		REVIRT_INSN_ALU_DEC, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	int ret;

	set_width(insn, (op & 1) ? opsize : 1);
	ret = decode_modrm(d, insn);
	if (ret)
		return ret;
	insn->op = REVIRT_INSN_ALU_MEM;
	insn->alu = (op >= 0xfe) ? fe_alu[d->modrm_reg] : f6_alu[d->modrm_reg];
	if (insn->alu == 0xff)
		return -EOPNOTSUPP;	/* MUL, DIV, CALL, JMP, PUSH... */
	if (insn->alu == REVIRT_INSN_ALU_TEST) {
		insn->access = REVIRT_INSN_READ;
		return decode_imm(d, insn, insn->width);
	}
	insn->access = REVIRT_INSN_READ | REVIRT_INSN_WRITE;
	return 0;
}

/* 88, 89 store; 8A, 8B load. */
static int decode_mov(struct decoder *d, struct revirt_insn *insn, u8 op,
		      u8 opsize)
{
	set_width(insn, (op & 1) ? opsize : 1);
	if (op & 2) {
		insn->op = REVIRT_INSN_MOV_LOAD;
		insn->access = REVIRT_INSN_READ;
	} else {
		insn->op = REVIRT_INSN_MOV_STORE;
		insn->access = REVIRT_INSN_WRITE;
	}
	return decode_modrm_reg(d, insn);
}

/* C6/C7 /0: MOV r/m,imm (other /digits are XABORT/XBEGIN). */
static int decode_mov_imm(struct decoder *d, struct revirt_insn *insn,
			  u8 op, u8 opsize)
{
	int ret;

	set_width(insn, (op & 1) ? opsize : 1);
	ret = decode_modrm(d, insn);
	if (ret)
		return ret;
	if (d->modrm_reg)
		return -EOPNOTSUPP;
	insn->op = REVIRT_INSN_MOV_STORE;
	insn->access = REVIRT_INSN_WRITE;
	return decode_imm(d, insn, insn->width);
}

/* A0..A3: MOV between rAX and an address as wide as the address size. */
static int decode_moffs(struct decoder *d, struct revirt_insn *insn, u8 op,
			u8 opsize)
{
	set_width(insn, (op & 1) ? opsize : 1);
	insn->reg = REVIRT_INSN_RAX;
	if (op & 2) {
		insn->op = REVIRT_INSN_MOV_STORE;
		insn->access = REVIRT_INSN_WRITE;
	} else {
		insn->op = REVIRT_INSN_MOV_LOAD;
		insn->access = REVIRT_INSN_READ;
	}
	return skip(d, insn->addr_size);
}

/* A4/A5 MOVS, AA/AB STOS, AC/AD LODS: no ModRM. */
static int decode_string(struct revirt_insn *insn, u8 op, u8 opsize)
{
	set_width(insn, (op & 1) ? opsize : 1);
	insn->reg = REVIRT_INSN_RAX;
	switch (op & ~1) {
	case 0xa4:
		insn->op = REVIRT_INSN_MOVS;
		insn->access = REVIRT_INSN_READ | REVIRT_INSN_WRITE;
		break;
	case 0xaa:
		insn->op = REVIRT_INSN_STOS;
		insn->access = REVIRT_INSN_WRITE;
		break;
	default:
		insn->op = REVIRT_INSN_LODS;
		insn->access = REVIRT_INSN_READ;
		break;
	}
	return 0;
}

/* 0F B6/B7 MOVZX, 0F BE/BF MOVSX, 63 MOVSXD: loads that extend. */
static int decode_movx(struct decoder *d, struct revirt_insn *insn,
		       u8 width, u8 ext, u8 opsize)
{
	insn->op = REVIRT_INSN_MOV_LOAD;
	insn->access = REVIRT_INSN_READ;
	insn->width = width;
	insn->reg_width = opsize;
	insn->ext = ext;
	return decode_modrm_reg(d, insn);
}

static int decode_0f(struct decoder *d, struct revirt_insn *insn, u8 opsize)
{
	u8 op;
	int ret;

	ret = fetch(d, &op);
	if (ret)
		return ret;
	switch (op) {
	case 0xb6:
	case 0xb7:
		return decode_movx(d, insn, op - 0xb5, REVIRT_INSN_EXT_ZERO,
				   opsize);
	case 0xbe:
	case 0xbf:
		return decode_movx(d, insn, op - 0xbd, REVIRT_INSN_EXT_SIGN,
				   opsize);
	}
	return -EOPNOTSUPP;
}

static int decode_opcode(struct decoder *d, struct revirt_insn *insn, u8 op,
			 u8 opsize)
{
	bool mode64 = d->mode == REVIRT_INSN_MODE64;

	/* 00..3F: x0..x3 of each row are the ALU forms with ModRM */
	if (op < 0x40 && (op & 7) < 4)
		return decode_alu(d, insn, op, opsize);
	if ((op >= 0x80 && op <= 0x83) && !(op == 0x82 && mode64))
		return decode_alu_imm(d, insn, op, opsize);
	if (op >= 0x88 && op <= 0x8b)
		return decode_mov(d, insn, op, opsize);
	if (op >= 0xa0 && op <= 0xa3)
		return decode_moffs(d, insn, op, opsize);
	if ((op >= 0xa4 && op <= 0xa5) || (op >= 0xaa && op <= 0xad))
		return decode_string(insn, op, opsize);

	switch (op) {
	case 0x0f:
		return decode_0f(d, insn, opsize);
	case 0x63:	/* MOVSXD; ARPL outside 64-bit mode */
		if (!mode64)
			return -EOPNOTSUPP;
		return decode_movx(d, insn, opsize == 8 ? 4 : opsize,
				   REVIRT_INSN_EXT_SIGN, opsize);
	case 0x84:
	case 0x85:	/* TEST r/m,r: an ALU_MEM that does not write */
		set_width(insn, (op & 1) ? opsize : 1);
		insn->op = REVIRT_INSN_ALU_MEM;
		insn->alu = REVIRT_INSN_ALU_TEST;
		insn->access = REVIRT_INSN_READ;
		return decode_modrm_reg(d, insn);
	case 0x86:
	case 0x87:
		set_width(insn, (op & 1) ? opsize : 1);
		insn->op = REVIRT_INSN_XCHG;
		insn->access = REVIRT_INSN_READ | REVIRT_INSN_WRITE;
		return decode_modrm_reg(d, insn);
	case 0xc6:
	case 0xc7:
		return decode_mov_imm(d, insn, op, opsize);
	case 0xf6:
	case 0xf7:
	case 0xfe:
	case 0xff:
		return decode_group(d, insn, op, opsize);
	}
	return -EOPNOTSUPP;
}

/* LOCK is only allowed on read-modify-write forms; elsewhere it is #UD. */
static bool lock_ok(const struct revirt_insn *insn)
{
	return insn->op == REVIRT_INSN_XCHG ||
	       (insn->op == REVIRT_INSN_ALU_MEM &&
		(insn->access & REVIRT_INSN_WRITE));
}

int revirt_insn_decode(const u8 *bytes, unsigned int len,
		       enum revirt_insn_mode mode, struct revirt_insn *insn)
{
	struct decoder d = {
		.bytes = bytes,
		.len = len < REVIRT_INSN_MAX_LEN ? len : REVIRT_INSN_MAX_LEN,
		.mode = mode,
	};
	u8 op, opsize;
	int ret;

	memset(insn, 0, sizeof(*insn));
	insn->mode = mode;
	insn->seg = REVIRT_INSN_SEG_DS;

	ret = decode_prefixes(&d, insn, &op);
	if (ret)
		return ret;
	decode_sizes(&d, insn, &opsize);
	ret = decode_opcode(&d, insn, op, opsize);
	if (ret)
		return ret;
	if (insn->lock && !lock_ok(insn))
		return -EOPNOTSUPP;
	if (insn->op != REVIRT_INSN_MOVS && insn->op != REVIRT_INSN_STOS &&
	    insn->op != REVIRT_INSN_LODS)
		insn->rep = false;	/* F2/F3 are hints there, not REP */
	insn->len = d.pos;
	return 0;
}

/* ---- arithmetic -------------------------------------------------- */

static bool parity_even(u64 val)
{
	u8 b = val;

	b ^= b >> 4;
	b ^= b >> 2;
	b ^= b >> 1;
	return !(b & 1);
}

/* ZF, SF and PF of a result. */
static u64 flags_zsp(u64 res, unsigned int width)
{
	u64 flags = 0;

	if (!(res & width_mask(width)))
		flags |= FL_ZF;
	if (res & sign_bit(width))
		flags |= FL_SF;
	if (parity_even(res))
		flags |= FL_PF;
	return flags;
}

/* a + b + carry, with CF, OF and AF of the addition in *flags. */
static u64 do_add(u64 a, u64 b, u64 carry, unsigned int width, u64 *flags)
{
	u64 mask = width_mask(width);
	u64 res = (a + b + carry) & mask;

	*flags = (a ^ b ^ res) & FL_AF;
	if (res < a || (carry && res == a))
		*flags |= FL_CF;
	if (~(a ^ b) & (a ^ res) & sign_bit(width))
		*flags |= FL_OF;
	return res;
}

/* a - b - borrow, likewise. */
static u64 do_sub(u64 a, u64 b, u64 borrow, unsigned int width, u64 *flags)
{
	u64 mask = width_mask(width);
	u64 res = (a - b - borrow) & mask;

	*flags = (a ^ b ^ res) & FL_AF;
	if (a < b || (borrow && a == b))
		*flags |= FL_CF;
	if ((a ^ b) & (a ^ res) & sign_bit(width))
		*flags |= FL_OF;
	return res;
}

/*
 * Compute a alu b at width and update the status flags in *rflags as the
 * CPU does.  The logic operations clear CF and OF, and AF too: it is
 * undefined for them, and Intel CPUs and QEMU's TCG clear it.
 */
static u64 alu(u8 op, u64 a, u64 b, unsigned int width, u64 *rflags)
{
	u64 cf = *rflags & FL_CF;
	u64 flags = 0;
	u64 res;

	a &= width_mask(width);
	b &= width_mask(width);
	switch (op) {
	case REVIRT_INSN_ALU_ADD:
	case REVIRT_INSN_ALU_ADC:
		res = do_add(a, b, op == REVIRT_INSN_ALU_ADC ? cf : 0, width,
			     &flags);
		break;
	case REVIRT_INSN_ALU_SUB:
	case REVIRT_INSN_ALU_SBB:
	case REVIRT_INSN_ALU_CMP:
		res = do_sub(a, b, op == REVIRT_INSN_ALU_SBB ? cf : 0, width,
			     &flags);
		break;
	case REVIRT_INSN_ALU_OR:
		res = a | b;
		break;
	case REVIRT_INSN_ALU_XOR:
		res = a ^ b;
		break;
	case REVIRT_INSN_ALU_NOT:	/* the one that changes no flags */
		return ~a & width_mask(width);
	case REVIRT_INSN_ALU_NEG:
		res = do_sub(0, a, 0, width, &flags);
		break;
	case REVIRT_INSN_ALU_INC:	/* INC and DEC leave CF alone */
		res = do_add(a, 1, 0, width, &flags);
		flags = (flags & ~FL_CF) | cf;
		break;
	case REVIRT_INSN_ALU_DEC:
		res = do_sub(a, 1, 0, width, &flags);
		flags = (flags & ~FL_CF) | cf;
		break;
	default:	/* AND, TEST */
		res = a & b;
		break;
	}
	*rflags = (*rflags & ~FL_STATUS) | flags | flags_zsp(res, width);
	return res;
}

/* ---- registers and accesses -------------------------------------- */

static u64 reg_read(const struct revirt_insn_regs *regs, u8 reg,
		    bool high8, unsigned int width)
{
	if (high8)
		return (regs->gpr[reg] >> 8) & 0xff;
	return regs->gpr[reg] & width_mask(width);
}

/* Write a register as the CPU does: 32-bit writes clear bits 63:32. */
static void reg_write(struct revirt_insn_regs *regs, u8 reg, bool high8,
		      unsigned int width, u64 val)
{
	u64 *r = &regs->gpr[reg];

	if (high8)
		*r = (*r & ~0xff00ULL) | ((val & 0xff) << 8);
	else if (width == 4)
		*r = (u32)val;
	else
		*r = (*r & ~width_mask(width)) | (val & width_mask(width));
}

static u64 operand_reg(const struct revirt_insn *insn,
		       const struct revirt_insn_regs *regs)
{
	return reg_read(regs, insn->reg, insn->reg_high8, insn->reg_width);
}

static void set_operand_reg(const struct revirt_insn *insn,
			    struct revirt_insn_regs *regs, u64 val)
{
	reg_write(regs, insn->reg, insn->reg_high8, insn->reg_width, val);
}

static u64 source_value(const struct revirt_insn *insn,
			const struct revirt_insn_regs *regs)
{
	return insn->has_imm ? insn->imm : operand_reg(insn, regs);
}

static void val_to_bytes(u64 val, u8 *buf, unsigned int width)
{
	unsigned int i;

	for (i = 0; i < width; i++)
		buf[i] = val >> (i * 8);
}

static u64 bytes_to_val(const u8 *buf, unsigned int width)
{
	u64 val = 0;
	unsigned int i;

	for (i = 0; i < width; i++)
		val |= (u64)buf[i] << (i * 8);
	return val;
}

static void set_access(struct revirt_insn_access *acc, u64 gpa,
		       unsigned int width, bool is_write, u64 val)
{
	memset(acc, 0, sizeof(*acc));
	acc->gpa = gpa;
	acc->len = width;
	acc->is_write = is_write;
	if (is_write)
		val_to_bytes(val, acc->data, width);
}

/* Move RIP past the instruction; it wraps as wide as the code segment. */
static void retire(const struct revirt_insn *insn,
		   struct revirt_insn_regs *regs)
{
	u64 rip = regs->rip + insn->len;

	if (insn->mode == REVIRT_INSN_MODE16)
		rip &= 0xffff;
	else if (insn->mode == REVIRT_INSN_MODE32)
		rip &= 0xffffffff;
	regs->rip = rip;
}

/* ---- string instructions ----------------------------------------- */

/* Update rSI/rDI/rCX only as wide as the address size. */
static void addr_reg_write(struct revirt_insn_regs *regs, u8 reg,
			   unsigned int addr_size, u64 val)
{
	reg_write(regs, reg, false, addr_size, val);
}

static u64 string_linear(const struct revirt_insn *insn,
			 const struct revirt_insn_regs *regs, u8 seg, u8 reg)
{
	u64 base = regs->seg_base[seg];
	u64 la;

	/* 64-bit mode ignores the bases of all but FS and GS */
	if (insn->mode == REVIRT_INSN_MODE64 && seg < REVIRT_INSN_SEG_FS)
		base = 0;
	la = base + (regs->gpr[reg] & width_mask(insn->addr_size));
	return insn->mode == REVIRT_INSN_MODE64 ? la : (u32)la;
}

static u64 string_count(const struct revirt_insn *insn,
			const struct revirt_insn_regs *regs)
{
	return regs->gpr[REVIRT_INSN_RCX] & width_mask(insn->addr_size);
}

/*
 * One element done: step rSI/rDI by DF, count down a REP, and leave RIP
 * on the instruction while elements are left, so that it runs again.
 */
static void string_retire(const struct revirt_insn *insn,
			  struct revirt_insn_regs *regs)
{
	u64 step = (regs->rflags & FL_DF) ? -(u64)insn->width : insn->width;
	u64 count;

	if (insn->op != REVIRT_INSN_STOS)
		addr_reg_write(regs, REVIRT_INSN_RSI, insn->addr_size,
			       regs->gpr[REVIRT_INSN_RSI] + step);
	if (insn->op != REVIRT_INSN_LODS)
		addr_reg_write(regs, REVIRT_INSN_RDI, insn->addr_size,
			       regs->gpr[REVIRT_INSN_RDI] + step);
	if (insn->rep) {
		count = string_count(insn, regs) - 1;
		addr_reg_write(regs, REVIRT_INSN_RCX, insn->addr_size, count);
		if (count)
			return;
	}
	retire(insn, regs);
}

/* Store val at ES:rDI, to RAM through ops or as an MMIO write. */
static int string_store(struct revirt_insn_emu *emu,
			struct revirt_insn_regs *regs,
			const struct revirt_insn_ops *ops,
			struct revirt_insn_access *acc, u64 val)
{
	const struct revirt_insn *insn = &emu->insn;
	u64 dst = string_linear(insn, regs, REVIRT_INSN_SEG_ES,
				REVIRT_INSN_RDI);
	u8 buf[8];
	u64 gpa;
	int ret;

	val_to_bytes(val, buf, insn->width);
	ret = ops->write(ops->opaque, dst, buf, insn->width, &gpa);
	if (ret < 0)
		return ret;
	string_retire(insn, regs);
	if (ret == REVIRT_INSN_ACCESS) {
		set_access(acc, gpa, insn->width, true, val);
		return REVIRT_INSN_ACCESS;
	}
	return REVIRT_INSN_DONE;
}

/* What MOVS and LODS do with the element they have read. */
static int string_loaded(struct revirt_insn_emu *emu,
			 struct revirt_insn_regs *regs,
			 const struct revirt_insn_ops *ops,
			 struct revirt_insn_access *acc, u64 val)
{
	const struct revirt_insn *insn = &emu->insn;

	if (insn->op == REVIRT_INSN_MOVS)
		return string_store(emu, regs, ops, acc, val);
	reg_write(regs, REVIRT_INSN_RAX, false, insn->width, val);
	string_retire(insn, regs);
	return REVIRT_INSN_DONE;
}

static int string_start(struct revirt_insn_emu *emu,
			struct revirt_insn_regs *regs,
			const struct revirt_insn_ops *ops,
			struct revirt_insn_access *acc)
{
	const struct revirt_insn *insn = &emu->insn;
	u64 src, gpa;
	u8 buf[8];
	int ret;

	/* REP with rCX 0 does nothing; a guest will not fault on it */
	if (insn->rep && !string_count(insn, regs)) {
		retire(insn, regs);
		return REVIRT_INSN_DONE;
	}
	if (insn->op == REVIRT_INSN_STOS)
		return string_store(emu, regs, ops, acc,
				    reg_read(regs, REVIRT_INSN_RAX, false,
					     insn->width));

	src = string_linear(insn, regs, insn->seg, REVIRT_INSN_RSI);
	ret = ops->read(ops->opaque, src, buf, insn->width, &gpa);
	if (ret < 0)
		return ret;
	if (ret == REVIRT_INSN_ACCESS) {
		set_access(acc, gpa, insn->width, false, 0);
		emu->pending = true;
		return REVIRT_INSN_ACCESS;
	}
	return string_loaded(emu, regs, ops, acc,
			     bytes_to_val(buf, insn->width));
}

/* ---- emulation --------------------------------------------------- */

int revirt_insn_start(struct revirt_insn_emu *emu,
		      const struct revirt_insn *insn, u64 gpa,
		      struct revirt_insn_regs *regs,
		      const struct revirt_insn_ops *ops,
		      struct revirt_insn_access *acc)
{
	emu->insn = *insn;
	emu->gpa = gpa;
	emu->pending = false;

	switch (insn->op) {
	case REVIRT_INSN_MOVS:
	case REVIRT_INSN_STOS:
	case REVIRT_INSN_LODS:
		return string_start(emu, regs, ops, acc);
	case REVIRT_INSN_MOV_STORE:
		set_access(acc, gpa, insn->width, true,
			   source_value(insn, regs));
		retire(insn, regs);
		return REVIRT_INSN_ACCESS;
	}
	/* every other form reads its operand first */
	set_access(acc, gpa, insn->width, false, 0);
	emu->pending = true;
	return REVIRT_INSN_ACCESS;
}

static void complete_load(const struct revirt_insn *insn,
			  struct revirt_insn_regs *regs, u64 val)
{
	if (insn->ext == REVIRT_INSN_EXT_SIGN)
		val = sign_extend(val, insn->width);
	set_operand_reg(insn, regs, val);
}

static void complete_alu_reg(const struct revirt_insn *insn,
			     struct revirt_insn_regs *regs, u64 val)
{
	u64 res = alu(insn->alu, operand_reg(insn, regs), val, insn->width,
		      &regs->rflags);

	if (insn->alu != REVIRT_INSN_ALU_CMP)
		set_operand_reg(insn, regs, res);
}

/* mem = mem alu src: returns whether there is a result to write. */
static bool complete_alu_mem(const struct revirt_insn *insn,
			     struct revirt_insn_regs *regs, u64 *val)
{
	*val = alu(insn->alu, *val, source_value(insn, regs), insn->width,
		   &regs->rflags);
	return insn->access & REVIRT_INSN_WRITE;
}

int revirt_insn_complete(struct revirt_insn_emu *emu,
			 struct revirt_insn_regs *regs,
			 const struct revirt_insn_ops *ops,
			 struct revirt_insn_access *acc)
{
	const struct revirt_insn *insn = &emu->insn;
	u64 val, old;

	if (!emu->pending)
		return -EINVAL;
	emu->pending = false;
	val = bytes_to_val(acc->data, insn->width);

	switch (insn->op) {
	case REVIRT_INSN_MOVS:
	case REVIRT_INSN_LODS:
		return string_loaded(emu, regs, ops, acc, val);
	case REVIRT_INSN_MOV_LOAD:
		complete_load(insn, regs, val);
		break;
	case REVIRT_INSN_ALU_REG:
		complete_alu_reg(insn, regs, val);
		break;
	case REVIRT_INSN_ALU_MEM:
		if (!complete_alu_mem(insn, regs, &val))
			break;
		set_access(acc, emu->gpa, insn->width, true, val);
		retire(insn, regs);
		return REVIRT_INSN_ACCESS;
	case REVIRT_INSN_XCHG:
		old = operand_reg(insn, regs);
		set_operand_reg(insn, regs, val);
		set_access(acc, emu->gpa, insn->width, true, old);
		retire(insn, regs);
		return REVIRT_INSN_ACCESS;
	default:
		return -EINVAL;
	}
	retire(insn, regs);
	return REVIRT_INSN_DONE;
}
