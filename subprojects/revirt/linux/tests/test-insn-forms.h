/*
 * The instruction forms test-insn.c checks, each assembled by the
 * toolchain in test-insn.c's top-level asm between the labels declared
 * here, and what else that asm defines.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef TEST_INSN_FORMS_H
#define TEST_INSN_FORMS_H

#include <stdint.h>

#include "revirt-insn.h"

/*
 * Fixed addresses, so that moffs forms can name them: the MMIO page, and
 * a page of "guest RAM" for the other operand of string instructions.
 * Operands sit in the middle so negative displacements and DF=1 fit.
 */
#define MMIO_PAGE   0x20000000UL
#define RAM_PAGE    0x20010000UL
#define M           (MMIO_PAGE + 0x800)
#define M_STR       "0x20000800"
#define R           (RAM_PAGE + 0x800)
#define PAGE_SIZE   4096

/* A third MMIO page in .bss, for RIP-relative forms. */
extern uint8_t rip_page[];

/* What the native runner loads before the instruction and stores after. */
typedef struct NativeState {
    uint64_t gpr[16];           /* RSP is not loaded: it is the stack */
    uint64_t rflags;
    uint64_t code;              /* the form's first byte */
} NativeState;

void native_run(NativeState *s);

/* How a form's address registers are set up. */
enum {
    SET_PLAIN,      /* RBX, RBP, R12, R13 = M */
    SET_INDEX,      /* and index registers RSI = 3, R9 = 5, RDI = -2 */
    SET_FS,         /* RBX = M - FS base */
    SET_GS,         /* RBX = M - GS base */
};

#define R_ (REVIRT_INSN_READ)
#define W_ (REVIRT_INSN_WRITE)
#define RW (REVIRT_INSN_READ | REVIRT_INSN_WRITE)

/* The two-operand ALU forms of one operation; access is its memory one. */
#define ALU_FORMS(X, op, acc) \
    X(op##_mr8, SET_PLAIN, 1, acc, #op " %cl,(%rbx)") \
    X(op##_mrh, SET_PLAIN, 1, acc, #op " %ah,(%rbx)") \
    X(op##_mr16, SET_PLAIN, 2, acc, #op " %dx,(%rbx)") \
    X(op##_mr32, SET_PLAIN, 4, acc, #op " %esi,(%rbx)") \
    X(op##_mr64, SET_PLAIN, 8, acc, #op " %r9,(%rbx)") \
    X(op##_rm8, SET_PLAIN, 1, R_, #op " (%rbx),%al") \
    X(op##_rmh, SET_PLAIN, 1, R_, #op " (%rbx),%dh") \
    X(op##_rm8x, SET_PLAIN, 1, R_, #op " (%rbx),%r11b") \
    X(op##_rm16, SET_PLAIN, 2, R_, #op " (%rbx),%r10w") \
    X(op##_rm32, SET_PLAIN, 4, R_, #op " (%rbx),%edi") \
    X(op##_rm64, SET_PLAIN, 8, R_, #op " (%rbx),%rax") \
    X(op##_i8, SET_PLAIN, 1, acc, #op "b $0x81,(%rbx)") \
    X(op##_i16, SET_PLAIN, 2, acc, #op "w $0x1234,(%rbx)") \
    X(op##_i32, SET_PLAIN, 4, acc, #op "l $0x80000001,(%rbx)") \
    X(op##_i64, SET_PLAIN, 8, acc, #op "q $-0x7fffffff,(%rbx)") \
    X(op##_is16, SET_PLAIN, 2, acc, #op "w $-3,(%rbx)") \
    X(op##_is32, SET_PLAIN, 4, acc, #op "l $0x7f,(%rbx)") \
    X(op##_is64, SET_PLAIN, 8, acc, #op "q $-1,(%rbx)")

#define UNARY_FORMS(X, op) \
    X(op##_8, SET_PLAIN, 1, RW, #op "b (%rbx)") \
    X(op##_16, SET_PLAIN, 2, RW, #op "w (%rbx)") \
    X(op##_32, SET_PLAIN, 4, RW, #op "l (%rbx)") \
    X(op##_64, SET_PLAIN, 8, RW, #op "q (%rbx)") \
    X(op##_lock, SET_PLAIN, 4, RW, "lock " #op "l (%rbx)")

/*
 * The 64-bit forms run natively: X(name, setup, width, access, text).
 */
#define EXEC_FORMS(X) \
    /* 88, 89: MOV r/m,r in every width, high-byte and REX registers */ \
    X(mov_st_al, SET_PLAIN, 1, W_, "mov %al,(%rbx)") \
    X(mov_st_ah, SET_PLAIN, 1, W_, "mov %ah,(%rbx)") \
    X(mov_st_ch, SET_PLAIN, 1, W_, "mov %ch,0x1(%rbx)") \
    X(mov_st_dh, SET_PLAIN, 1, W_, "mov %dh,(%rbx)") \
    X(mov_st_bh, SET_PLAIN, 1, W_, "mov %bh,(%rbp)") \
    X(mov_st_sil, SET_PLAIN, 1, W_, "mov %sil,(%rbx)") \
    X(mov_st_dil, SET_PLAIN, 1, W_, "mov %dil,(%rbx)") \
    X(mov_st_r9b, SET_PLAIN, 1, W_, "mov %r9b,(%rbx)") \
    X(mov_st_r15b, SET_PLAIN, 1, W_, "mov %r15b,(%r12)") \
    X(mov_st_ax, SET_PLAIN, 2, W_, "mov %ax,(%rbx)") \
    X(mov_st_r10w, SET_PLAIN, 2, W_, "mov %r10w,(%rbx)") \
    X(mov_st_eax, SET_PLAIN, 4, W_, "mov %eax,(%rbx)") \
    X(mov_st_esi, SET_PLAIN, 4, W_, "mov %esi,(%rbx)") \
    X(mov_st_r11d, SET_PLAIN, 4, W_, "mov %r11d,(%r13)") \
    X(mov_st_rax, SET_PLAIN, 8, W_, "mov %rax,(%rbx)") \
    X(mov_st_rdi, SET_PLAIN, 8, W_, "mov %rdi,(%rbx)") \
    X(mov_st_r8, SET_PLAIN, 8, W_, "mov %r8,(%rbx)") \
    X(mov_st_r14, SET_PLAIN, 8, W_, "mov %r14,-0x8(%rbx)") \
    X(mov_st_66w, SET_PLAIN, 8, W_, "data16 mov %rcx,(%rbx)") \
    /* 8A, 8B: MOV r,r/m */ \
    X(mov_ld_al, SET_PLAIN, 1, R_, "mov (%rbx),%al") \
    X(mov_ld_ah, SET_PLAIN, 1, R_, "mov (%rbx),%ah") \
    X(mov_ld_ch, SET_PLAIN, 1, R_, "mov (%rbx),%ch") \
    X(mov_ld_bh, SET_PLAIN, 1, R_, "mov (%rbx),%bh") \
    X(mov_ld_sil, SET_PLAIN, 1, R_, "mov (%rbx),%sil") \
    X(mov_ld_r8b, SET_PLAIN, 1, R_, "mov (%rbx),%r8b") \
    X(mov_ld_ax, SET_PLAIN, 2, R_, "mov (%rbx),%ax") \
    X(mov_ld_r15w, SET_PLAIN, 2, R_, "mov (%rbx),%r15w") \
    X(mov_ld_eax, SET_PLAIN, 4, R_, "mov (%rbx),%eax") \
    X(mov_ld_r9d, SET_PLAIN, 4, R_, "mov (%rbx),%r9d") \
    X(mov_ld_rax, SET_PLAIN, 8, R_, "mov (%rbx),%rax") \
    X(mov_ld_rdx, SET_PLAIN, 8, R_, "mov (%rbx),%rdx") \
    X(mov_ld_r14, SET_PLAIN, 8, R_, "mov (%rbx),%r14") \
    /* C6, C7: MOV r/m,imm */ \
    X(mov_imm8, SET_PLAIN, 1, W_, "movb $0x5a,(%rbx)") \
    X(mov_imm8_neg, SET_PLAIN, 1, W_, "movb $-1,0x3(%rbx)") \
    X(mov_imm16, SET_PLAIN, 2, W_, "movw $0x8001,(%rbx)") \
    X(mov_imm32, SET_PLAIN, 4, W_, "movl $0x89abcdef,(%rbx)") \
    X(mov_imm64, SET_PLAIN, 8, W_, "movq $-2,(%rbx)") \
    X(mov_imm64_pos, SET_PLAIN, 8, W_, "movq $0x7fffffff,(%rbx)") \
    X(mov_imm64_neg, SET_PLAIN, 8, W_, "movq $-0x80000000,(%r12)") \
    /* A0..A3: MOV between rAX and moffs, 64- and 32-bit addresses */ \
    X(moffs_ld8, SET_PLAIN, 1, R_, "movabs " M_STR ",%al") \
    X(moffs_ld16, SET_PLAIN, 2, R_, "movabs " M_STR ",%ax") \
    X(moffs_ld32, SET_PLAIN, 4, R_, "movabs " M_STR ",%eax") \
    X(moffs_ld64, SET_PLAIN, 8, R_, "movabs " M_STR ",%rax") \
    X(moffs_st8, SET_PLAIN, 1, W_, "movabs %al," M_STR) \
    X(moffs_st16, SET_PLAIN, 2, W_, "movabs %ax," M_STR) \
    X(moffs_st32, SET_PLAIN, 4, W_, "movabs %eax," M_STR) \
    X(moffs_st64, SET_PLAIN, 8, W_, "movabs %rax," M_STR) \
    X(moffs_a32_ld8, SET_PLAIN, 1, R_, "addr32 movabs " M_STR ",%al") \
    X(moffs_a32_ld16, SET_PLAIN, 2, R_, "addr32 movabs " M_STR ",%ax") \
    X(moffs_a32_st64, SET_PLAIN, 8, W_, "addr32 movabs %rax," M_STR) \
    /* ModRM, SIB and displacement forms */ \
    X(ea_disp8, SET_PLAIN, 4, W_, "mov %eax,0x10(%rbx)") \
    X(ea_disp8_neg, SET_PLAIN, 4, W_, "mov %eax,-0x10(%rbx)") \
    X(ea_disp32, SET_PLAIN, 4, W_, "mov %eax,0x100(%rbx)") \
    X(ea_disp32_neg, SET_PLAIN, 4, R_, "mov -0x400(%rbx),%eax") \
    X(ea_rbp, SET_PLAIN, 4, W_, "mov %eax,(%rbp)") \
    X(ea_r13, SET_PLAIN, 4, W_, "mov %eax,(%r13)") \
    X(ea_r12, SET_PLAIN, 4, W_, "mov %eax,(%r12)") \
    X(ea_r12_disp32, SET_PLAIN, 1, W_, "mov %cl,0x200(%r12)") \
    X(ea_sib, SET_INDEX, 4, W_, "mov %eax,(%rbx,%rsi,4)") \
    X(ea_sib_disp8, SET_INDEX, 4, R_, "mov 0x10(%rbx,%r9,8),%ecx") \
    X(ea_sib_disp32, SET_INDEX, 4, W_, "mov %eax,0x100(%r13,%rdi,2)") \
    X(ea_sib_rbp, SET_INDEX, 2, W_, "mov %ax,(%rbp,%rsi,1)") \
    X(ea_sib_nobase, SET_INDEX, 4, W_, "mov %eax," M_STR "(,%rsi,2)") \
    X(ea_abs, SET_PLAIN, 4, W_, "mov %eax," M_STR) \
    X(ea_abs_imm, SET_PLAIN, 2, W_, "movw $0x1234," M_STR) \
    X(ea_rip, SET_PLAIN, 4, W_, "mov %eax,rip_page+0x800(%rip)") \
    X(ea_rip_ld, SET_PLAIN, 8, R_, "mov rip_page+0x808(%rip),%r8") \
    X(ea_rip_imm, SET_PLAIN, 4, W_, "movl $0x12345678,rip_page+0x7fc(%rip)") \
    X(ea_rip_alu, SET_PLAIN, 2, RW, "subw $0x1234,rip_page+0x802(%rip)") \
    X(ea_a32, SET_PLAIN, 4, W_, "mov %eax,(%ebx)") \
    X(ea_a32_sib, SET_INDEX, 4, W_, "mov %eax,0x10(%ebx,%esi,4)") \
    /* prefixes: segments (the fault gives the address), REX, LOCK */ \
    X(pfx_ds, SET_PLAIN, 4, W_, "ds mov %eax,(%rbx)") \
    X(pfx_es, SET_PLAIN, 4, W_, "mov %eax,%es:(%rbx)") \
    X(pfx_cs, SET_PLAIN, 4, R_, "cs mov (%rbx),%eax") \
    X(pfx_ss, SET_PLAIN, 2, W_, "mov %ax,%ss:(%rbx)") \
    X(pfx_fs, SET_FS, 4, W_, "mov %eax,%fs:(%rbx)") \
    X(pfx_gs, SET_GS, 4, R_, "mov %gs:(%rbx),%ecx") \
    X(pfx_fs_imm, SET_FS, 1, W_, "movb $0x7f,%fs:0x4(%rbx)") \
    X(pfx_many, SET_PLAIN, 2, W_, "ds addr32 mov %cx,(%ebx)") \
    /* a REX before a legacy prefix is ignored: gas will not emit it */ \
    X(pfx_rex_lost, SET_PLAIN, 2, W_, ".byte 0x48, 0x66, 0x89, 0x03") \
    X(pfx_rex_twice, SET_PLAIN, 8, W_, ".byte 0x41, 0x48, 0x89, 0x03") \
    X(pfx_lock, SET_PLAIN, 4, RW, "lock add %eax,(%rbx)") \
    X(pfx_xacquire, SET_PLAIN, 4, RW, "xacquire lock addl $1,(%rbx)") \
    /* 0F B6/B7/BE/BF: MOVZX, MOVSX; 63: MOVSXD */ \
    X(movzbw, SET_PLAIN, 1, R_, "movzbw (%rbx),%ax") \
    X(movzbl, SET_PLAIN, 1, R_, "movzbl (%rbx),%ecx") \
    X(movzbq, SET_PLAIN, 1, R_, "movzbq (%rbx),%r10") \
    X(movzbl_x, SET_PLAIN, 1, R_, "movzbl (%rbx),%r11d") \
    X(movzwl, SET_PLAIN, 2, R_, "movzwl (%rbx),%edx") \
    X(movzwq, SET_PLAIN, 2, R_, "movzwq (%rbx),%rsi") \
    X(movsbw, SET_PLAIN, 1, R_, "movsbw (%rbx),%dx") \
    X(movsbl, SET_PLAIN, 1, R_, "movsbl (%rbx),%eax") \
    X(movsbq, SET_PLAIN, 1, R_, "movsbq (%rbx),%r8") \
    X(movswl, SET_PLAIN, 2, R_, "movswl (%rbx),%edi") \
    X(movswq, SET_PLAIN, 2, R_, "movswq (%rbx),%rax") \
    X(movslq, SET_PLAIN, 4, R_, "movslq (%rbx),%rcx") \
    X(movslq_x, SET_PLAIN, 4, R_, "movslq 0x4(%rbx),%r15") \
    X(movsxd32, SET_PLAIN, 4, R_, "movsxd (%rbx),%eax") \
    X(movsxd16, SET_PLAIN, 2, R_, "movsxd (%rbx),%ax") \
    /* 00..3B, 80..83: ALU */ \
    ALU_FORMS(X, add, RW) \
    ALU_FORMS(X, or, RW) \
    ALU_FORMS(X, adc, RW) \
    ALU_FORMS(X, sbb, RW) \
    ALU_FORMS(X, and, RW) \
    ALU_FORMS(X, sub, RW) \
    ALU_FORMS(X, xor, RW) \
    ALU_FORMS(X, cmp, R_) \
    /* 84, 85, F6/F7 /0: TEST */ \
    X(test_r8, SET_PLAIN, 1, R_, "test %cl,(%rbx)") \
    X(test_rh, SET_PLAIN, 1, R_, "test %ah,(%rbx)") \
    X(test_r16, SET_PLAIN, 2, R_, "test %dx,(%rbx)") \
    X(test_r32, SET_PLAIN, 4, R_, "test %esi,(%rbx)") \
    X(test_r64, SET_PLAIN, 8, R_, "test %r9,(%rbx)") \
    X(test_i8, SET_PLAIN, 1, R_, "testb $0x80,(%rbx)") \
    X(test_i16, SET_PLAIN, 2, R_, "testw $0x8001,(%rbx)") \
    X(test_i32, SET_PLAIN, 4, R_, "testl $0x80000000,(%rbx)") \
    X(test_i64, SET_PLAIN, 8, R_, "testq $-1,(%rbx)") \
    X(test_i64_pos, SET_PLAIN, 8, R_, "testq $0x7fffffff,(%rbx)") \
    /* 86, 87: XCHG */ \
    X(xchg8, SET_PLAIN, 1, RW, "xchg %al,(%rbx)") \
    X(xchg8h, SET_PLAIN, 1, RW, "xchg %ah,(%rbx)") \
    X(xchg8x, SET_PLAIN, 1, RW, "xchg %r14b,(%rbx)") \
    X(xchg16, SET_PLAIN, 2, RW, "xchg %dx,(%rbx)") \
    X(xchg32, SET_PLAIN, 4, RW, "xchg %esi,(%rbx)") \
    X(xchg64, SET_PLAIN, 8, RW, "xchg %r9,(%rbx)") \
    X(xchg32_rm, SET_PLAIN, 4, RW, "xchg (%rbx),%r10d") \
    X(xchg_lock, SET_PLAIN, 4, RW, "lock xchg %ecx,(%rbx)") \
    /* F6/F7 /2 /3, FE/FF /0 /1 */ \
    UNARY_FORMS(X, not) \
    UNARY_FORMS(X, neg) \
    UNARY_FORMS(X, inc) \
    UNARY_FORMS(X, dec)

/* The string forms: S(name, width, access, text). */
#define STRING_FORMS(S) \
    S(movsb, 1, RW, "movsb") \
    S(movsw, 2, RW, "movsw") \
    S(movsl, 4, RW, "movsl") \
    S(movsq, 8, RW, "movsq") \
    S(rep_movsb, 1, RW, "rep movsb") \
    S(rep_movsw, 2, RW, "rep movsw") \
    S(rep_movsl, 4, RW, "rep movsl") \
    S(rep_movsq, 8, RW, "rep movsq") \
    S(repne_movsb, 1, RW, "repne movsb") \
    S(a32_rep_movsw, 2, RW, "addr32 rep movsw") \
    S(a32_movsl, 4, RW, "addr32 movsl") \
    S(fs_rep_movsb, 1, RW, "fs rep movsb") \
    S(es_movsq, 8, RW, "movsq %es:(%rsi),%es:(%rdi)") \
    S(d16_movsq, 8, RW, "data16 movsq") \
    S(stosb, 1, W_, "stosb") \
    S(stosw, 2, W_, "stosw") \
    S(stosl, 4, W_, "stosl") \
    S(stosq, 8, W_, "stosq") \
    S(rep_stosb, 1, W_, "rep stosb") \
    S(rep_stosw, 2, W_, "rep stosw") \
    S(rep_stosl, 4, W_, "rep stosl") \
    S(rep_stosq, 8, W_, "rep stosq") \
    S(a32_rep_stosl, 4, W_, "addr32 rep stosl") \
    S(lodsb, 1, R_, "lodsb") \
    S(lodsw, 2, R_, "lodsw") \
    S(lodsl, 4, R_, "lodsl") \
    S(lodsq, 8, R_, "lodsq") \
    S(rep_lodsw, 2, R_, "rep lodsw") \
    S(gs_lodsl, 4, R_, "gs lodsl")

#define EXEC_DECL(name, setup, width, acc, text) \
    extern const uint8_t insn_##name##_s[], insn_##name##_e[];
#define STRING_DECL(name, width, acc, text) \
    EXEC_DECL(name, 0, width, acc, text)
EXEC_FORMS(EXEC_DECL)
STRING_FORMS(STRING_DECL)

/*
 * P(name, bits, addr_size, text, text64): text assembled as .code16 or
 * .code32, text64 the same instruction as 64-bit code.
 */
#define PAIR_FORMS(P) \
    P(m16_mov_st8, 16, 2, "mov %al,(%bx)", "mov %al,(%rbx)") \
    P(m16_mov_st16, 16, 2, "mov %ax,(%bx)", "mov %ax,(%rbx)") \
    P(m16_mov_st32, 16, 2, "mov %eax,(%bx)", "mov %eax,(%rbx)") \
    P(m16_mov_sth, 16, 2, "mov %dh,0x12(%bx,%di)", "mov %dh,0x12(%rbx,%rdi)") \
    P(m16_mov_ld16, 16, 2, "mov (%bp,%si),%cx", "mov (%rbp,%rsi),%cx") \
    P(m16_mov_ld8h, 16, 2, "mov -0x1234(%bp),%bh", "mov -0x1234(%rbp),%bh") \
    P(m16_mov_ld32, 16, 2, "mov 0x7f(%di),%esp", "mov 0x7f(%rdi),%esp") \
    P(m16_mov_disp16, 16, 2, "mov %ax,0x1234(%si)", "mov %ax,0x1234(%rsi)") \
    P(m16_mov_abs, 16, 2, "mov %cx,0x1234", "mov %cx,0x1234") \
    P(m16_moffs_ld8, 16, 2, "mov 0x1234,%al", "movabs 0x1234,%al") \
    P(m16_moffs_st16, 16, 2, "mov %ax,0x1234", "movabs %ax,0x1234") \
    P(m16_moffs_ld32, 16, 2, "mov 0x1234,%eax", "movabs 0x1234,%eax") \
    P(m16_moffs_a32, 16, 4, "addr32 mov 0x12345678,%al", \
      "movabs 0x12345678,%al") \
    P(m16_mov_imm8, 16, 2, "movb $0x5a,0x10(%bp)", "movb $0x5a,0x10(%rbp)") \
    P(m16_mov_imm16, 16, 2, "movw $0x8234,(%bx)", "movw $0x8234,(%rbx)") \
    P(m16_mov_imm32, 16, 2, "movl $0x89abcdef,(%bx)", \
      "movl $0x89abcdef,(%rbx)") \
    P(m16_a32, 16, 4, "mov %eax,(%ebx)", "mov %eax,(%rbx)") \
    P(m16_a32_sib, 16, 4, "mov %ax,0x10(%ebx,%esi,4)", \
      "mov %ax,0x10(%rbx,%rsi,4)") \
    P(m16_a32_disp32, 16, 4, "mov %al,0x12345678(%ecx)", \
      "mov %al,0x12345678(%rcx)") \
    P(m16_movzbw, 16, 2, "movzbw (%bx),%ax", "movzbw (%rbx),%ax") \
    P(m16_movzbl, 16, 2, "movzbl (%bx),%eax", "movzbl (%rbx),%eax") \
    P(m16_movsbw, 16, 2, "movsbw (%bx),%dx", "movsbw (%rbx),%dx") \
    P(m16_movswl, 16, 2, "movswl (%bx),%edx", "movswl (%rbx),%edx") \
    P(m16_add, 16, 2, "add %ax,(%bx)", "add %ax,(%rbx)") \
    P(m16_add_is, 16, 2, "addw $-1,(%bx)", "addw $-1,(%rbx)") \
    P(m16_add_i32, 16, 2, "addl $0x12345678,(%bx)", \
      "addl $0x12345678,(%rbx)") \
    P(m16_cmp8, 16, 2, "cmpb $1,(%bx)", "cmpb $1,(%rbx)") \
    P(m16_sub_rm, 16, 2, "sub (%bx),%cx", "sub (%rbx),%cx") \
    P(m16_xor, 16, 2, "xor %dl,(%bx)", "xor %dl,(%rbx)") \
    P(m16_and, 16, 2, "andl $0xff00,(%bx)", "andl $0xff00,(%rbx)") \
    P(m16_or, 16, 2, "or (%bx),%eax", "or (%rbx),%eax") \
    P(m16_adc, 16, 2, "adcb $3,(%bx)", "adcb $3,(%rbx)") \
    P(m16_sbb, 16, 2, "sbb %si,(%bx)", "sbb %si,(%rbx)") \
    P(m16_test, 16, 2, "test %al,(%bx)", "test %al,(%rbx)") \
    P(m16_test_i, 16, 2, "testw $0x8000,(%bx)", "testw $0x8000,(%rbx)") \
    P(m16_xchg, 16, 2, "xchg %ax,(%bx)", "xchg %ax,(%rbx)") \
    P(m16_lock_or, 16, 2, "lock orw $1,(%bx)", "lock orw $1,(%rbx)") \
    P(m16_not, 16, 2, "notw (%bx)", "notw (%rbx)") \
    P(m16_neg, 16, 2, "negb (%bx)", "negb (%rbx)") \
    P(m16_inc, 16, 2, "incl (%bx)", "incl (%rbx)") \
    P(m16_dec, 16, 2, "decw (%bx)", "decw (%rbx)") \
    P(m16_es, 16, 2, "mov %al,%es:(%bx)", "mov %al,%es:(%rbx)") \
    P(m16_movsb, 16, 2, "movsb", "movsb") \
    P(m16_movsl, 16, 2, "movsl", "movsl") \
    P(m16_rep_movsw, 16, 2, "rep movsw", "rep movsw") \
    P(m16_rep_stosb, 16, 2, "rep stosb", "rep stosb") \
    P(m16_lodsw, 16, 2, "lodsw", "lodsw") \
    P(m16_fs_movsb, 16, 2, "fs movsb", "fs movsb") \
    P(m16_a32_rep_movsb, 16, 4, "addr32 rep movsb", "rep movsb") \
    P(m32_mov_st32, 32, 4, "mov %eax,(%ebx)", "mov %eax,(%rbx)") \
    P(m32_mov_st16, 32, 4, "mov %ax,(%ebx)", "mov %ax,(%rbx)") \
    P(m32_mov_st8h, 32, 4, "mov %ch,(%ebx)", "mov %ch,(%rbx)") \
    P(m32_mov_ld, 32, 4, "mov 0x10(%esp),%eax", "mov 0x10(%rsp),%eax") \
    P(m32_mov_ebp, 32, 4, "mov (%ebp),%edx", "mov (%rbp),%edx") \
    P(m32_mov_sib, 32, 4, "mov %eax,-0x80(%ebx,%edi,8)", \
      "mov %eax,-0x80(%rbx,%rdi,8)") \
    P(m32_mov_sib32, 32, 4, "mov %bl,0x1000(%esi,%ebp,2)", \
      "mov %bl,0x1000(%rsi,%rbp,2)") \
    P(m32_mov_abs, 32, 4, "mov %ecx,0x12345678", "mov %ecx,0x12345678") \
    P(m32_moffs_ld32, 32, 4, "mov 0x12345678,%eax", \
      "movabs 0x12345678,%eax") \
    P(m32_moffs_st8, 32, 4, "mov %al,0x12345678", "movabs %al,0x12345678") \
    P(m32_moffs_a16, 32, 2, "addr16 mov 0x1234,%ax", "movabs 0x1234,%ax") \
    P(m32_a16, 32, 2, "mov %eax,(%bx,%si)", "mov %eax,(%rbx,%rsi)") \
    P(m32_mov_imm, 32, 4, "movl $0x12345678,0x4(%esi)", \
      "movl $0x12345678,0x4(%rsi)") \
    P(m32_mov_imm16, 32, 4, "movw $-2,(%ebx)", "movw $-2,(%rbx)") \
    P(m32_movzbl, 32, 4, "movzbl (%ebx),%eax", "movzbl (%rbx),%eax") \
    P(m32_movzwl, 32, 4, "movzwl (%ebx),%ecx", "movzwl (%rbx),%ecx") \
    P(m32_movsbl, 32, 4, "movsbl (%ebx),%edx", "movsbl (%rbx),%edx") \
    P(m32_movswl, 32, 4, "movswl (%ebx),%esi", "movswl (%rbx),%esi") \
    P(m32_movsbw, 32, 4, "movsbw (%ebx),%di", "movsbw (%rbx),%di") \
    P(m32_add, 32, 4, "add %eax,(%ebx)", "add %eax,(%rbx)") \
    P(m32_sub_i, 32, 4, "subl $0x1000,(%ebx)", "subl $0x1000,(%rbx)") \
    P(m32_cmp_rm, 32, 4, "cmp (%ebx),%cl", "cmp (%rbx),%cl") \
    P(m32_and_is, 32, 4, "andw $-16,(%ebx)", "andw $-16,(%rbx)") \
    P(m32_test, 32, 4, "testl $0x80000000,(%ebx)", \
      "testl $0x80000000,(%rbx)") \
    P(m32_xchg, 32, 4, "xchg %dh,(%ebx)", "xchg %dh,(%rbx)") \
    P(m32_lock_xchg, 32, 4, "lock xchg %eax,(%ebx)", \
      "lock xchg %eax,(%rbx)") \
    P(m32_lock_add, 32, 4, "lock addl $1,(%ebx)", "lock addl $1,(%rbx)") \
    P(m32_alias_82, 32, 4, ".byte 0x82, 0x03, 0x01", "addb $1,(%rbx)") \
    P(m32_neg, 32, 4, "negl (%ebx)", "negl (%rbx)") \
    P(m32_fs, 32, 4, "mov %eax,%fs:(%ebx)", "mov %eax,%fs:(%rbx)") \
    P(m32_rep_movsl, 32, 4, "rep movsl", "rep movsl") \
    P(m32_stosw, 32, 4, "stosw", "stosw") \
    P(m32_lodsb, 32, 4, "lodsb", "lodsb") \
    P(m32_a16_rep_movsb, 32, 2, "addr16 rep movsb", "rep movsb") \
    P(m32_gs_movsl, 32, 4, "gs movsl", "gs movsl")

#define PAIR_DECL(name, bits, addr, text, text64) \
    extern const uint8_t insn_##name##_s[], insn_##name##_e[], \
        insn_##name##_64s[], insn_##name##_64e[];
PAIR_FORMS(PAIR_DECL)

/*
 * N(name, bits, errno, text).  A few need .byte: gas refuses LOCK on
 * instructions that do not allow it.
 */
#define REFUSED_FORMS(N) \
    N(nop, 64, EOPNOTSUPP, "nop") \
    N(reg_mov, 64, EOPNOTSUPP, "mov %eax,%ebx") \
    N(reg_add8, 64, EOPNOTSUPP, "add %al,%bl") \
    N(reg_movzx, 64, EOPNOTSUPP, "movzbl %al,%eax") \
    N(reg_xchg, 64, EOPNOTSUPP, "xchg %ecx,%edx") \
    N(reg_test, 64, EOPNOTSUPP, "testl $1,%eax") \
    N(lea, 64, EOPNOTSUPP, "lea (%rbx),%eax") \
    N(cmpxchg, 64, EOPNOTSUPP, "cmpxchg %ecx,(%rbx)") \
    N(xadd, 64, EOPNOTSUPP, "xadd %ecx,(%rbx)") \
    N(movdqa, 64, EOPNOTSUPP, "movdqa (%rbx),%xmm0") \
    N(movnti, 64, EOPNOTSUPP, "movnti %eax,(%rbx)") \
    N(mul, 64, EOPNOTSUPP, "mull (%rbx)") \
    N(div, 64, EOPNOTSUPP, "divb (%rbx)") \
    N(f6_1, 64, EOPNOTSUPP, ".byte 0xf6, 0x0b, 0x01") \
    N(call, 64, EOPNOTSUPP, "call *(%rbx)") \
    N(jmp, 64, EOPNOTSUPP, "jmp *(%rbx)") \
    N(push, 64, EOPNOTSUPP, "pushq (%rbx)") \
    N(pop, 64, EOPNOTSUPP, "popq (%rbx)") \
    N(bt, 64, EOPNOTSUPP, "btl $3,(%rbx)") \
    N(bts, 64, EOPNOTSUPP, "lock btsl %eax,(%rbx)") \
    N(shl, 64, EOPNOTSUPP, "shll (%rbx)") \
    N(fld, 64, EOPNOTSUPP, "flds (%rbx)") \
    N(cmpsb, 64, EOPNOTSUPP, "cmpsb") \
    N(scasb, 64, EOPNOTSUPP, "repne scasb") \
    N(insb, 64, EOPNOTSUPP, "insb") \
    N(outsb, 64, EOPNOTSUPP, "rep outsb") \
    N(alu_acc_imm, 64, EOPNOTSUPP, "add $1,%al") \
    N(xbegin, 64, EOPNOTSUPP, "xbegin 1f\n1:") \
    N(xabort, 64, EOPNOTSUPP, "xabort $1") \
    N(op82_64, 64, EOPNOTSUPP, ".byte 0x82, 0x03, 0x01") \
    N(lock_mov, 64, EOPNOTSUPP, ".byte 0xf0, 0x89, 0x03") \
    N(lock_load, 64, EOPNOTSUPP, ".byte 0xf0, 0x8b, 0x03") \
    N(lock_cmp, 64, EOPNOTSUPP, ".byte 0xf0, 0x39, 0x03") \
    N(lock_test, 64, EOPNOTSUPP, ".byte 0xf0, 0x85, 0x03") \
    N(lock_movs, 64, EOPNOTSUPP, ".byte 0xf0, 0xa4") \
    N(lock_movzx, 64, EOPNOTSUPP, ".byte 0xf0, 0x0f, 0xb6, 0x03") \
    N(arpl, 32, EOPNOTSUPP, "arpl %ax,(%ebx)") \
    N(inc_eax, 32, EOPNOTSUPP, "inc %eax") \
    N(les, 16, EOPNOTSUPP, "les (%bx),%ax") \
    /* 15 bytes is the most an instruction can have */ \
    N(too_long, 64, EINVAL, ".rept 14\n.byte 0x3e\n.endr\nmov %eax,(%rbx)")

#define REFUSED_DECL(name, bits, err, text) \
    extern const uint8_t insn_##name##_s[], insn_##name##_e[];
REFUSED_FORMS(REFUSED_DECL)

/* The longest instruction there can be: 13 prefixes and a MOV. */
extern const uint8_t insn_longest_s[], insn_longest_e[];

#endif /* TEST_INSN_FORMS_H */
