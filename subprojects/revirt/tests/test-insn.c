/*
 * revirt.ko's MMIO instruction emulator (linux/revirt-insn.c), checked
 * against the host CPU.
 *
 * Every instruction form is assembled by the toolchain from this file's
 * own source, between two labels, and then:
 *   - run natively on ordinary memory from random and edge-case register
 *     and memory values; the "MMIO" page is first made inaccessible so the
 *     native run faults, and the fault address is the GPA a nested page
 *     fault would give;
 *   - decoded and emulated from the same state, each MMIO access done on
 *     that page and each string operand in "RAM" through the callbacks;
 *   - the two results compared: all registers but RSP, RIP, the status
 *     flags and DF, and the memory pages.
 * 16- and 32-bit code cannot run here, so each 16/32-bit form is paired
 * with a 64-bit form of the same meaning, and their decodes must agree
 * (the length and address size are checked against the assembler's).
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <asm/prctl.h>
#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

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

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13,
       R14, R15 };

#define FL_CF 0x1
#define FL_PF 0x4
#define FL_AF 0x10
#define FL_ZF 0x40
#define FL_SF 0x80
#define FL_DF 0x400
#define FL_OF 0x800
#define FL_STATUS (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_CHECKED (FL_STATUS | FL_DF)

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
#define EXEC_ASM(name, setup, width, acc, text) \
    "insn_" #name "_s:\n" text "\ninsn_" #name "_e:\nret\n"
#define STRING_DECL(name, width, acc, text) \
    EXEC_DECL(name, 0, width, acc, text)
#define STRING_ASM(name, width, acc, text) \
    EXEC_ASM(name, 0, width, acc, text)

EXEC_FORMS(EXEC_DECL)
STRING_FORMS(STRING_DECL)

/*
 * Each form is a function that runs the instruction and returns; the
 * runner loads the registers and flags from a NativeState, calls the form
 * and stores them back.  The runner comes last so that decoding 15 bytes
 * from the last form reads code, not the end of the section.
 */
__asm__(
    ".pushsection .bss\n"
    ".balign 4096\n"
    "rip_page: .skip 4096\n"
    ".popsection\n"
    ".pushsection .text\n"
    EXEC_FORMS(EXEC_ASM)
    STRING_FORMS(STRING_ASM)
    ".globl native_run\n"
    ".type native_run, @function\n"
    "native_run:\n"
    "push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "push %rdi\n"
    "pushq 136(%rdi)\n"
    "pushq 128(%rdi)\n popfq\n"
    "mov 0(%rdi),%rax\n mov 8(%rdi),%rcx\n mov 16(%rdi),%rdx\n"
    "mov 24(%rdi),%rbx\n mov 40(%rdi),%rbp\n mov 48(%rdi),%rsi\n"
    "mov 64(%rdi),%r8\n mov 72(%rdi),%r9\n mov 80(%rdi),%r10\n"
    "mov 88(%rdi),%r11\n mov 96(%rdi),%r12\n mov 104(%rdi),%r13\n"
    "mov 112(%rdi),%r14\n mov 120(%rdi),%r15\n"
    "mov 56(%rdi),%rdi\n"
    "call *(%rsp)\n"
    "push %rdi\n"
    "mov 16(%rsp),%rdi\n"
    "mov %rax,0(%rdi)\n mov %rcx,8(%rdi)\n mov %rdx,16(%rdi)\n"
    "mov %rbx,24(%rdi)\n mov %rbp,40(%rdi)\n mov %rsi,48(%rdi)\n"
    "mov %r8,64(%rdi)\n mov %r9,72(%rdi)\n mov %r10,80(%rdi)\n"
    "mov %r11,88(%rdi)\n mov %r12,96(%rdi)\n mov %r13,104(%rdi)\n"
    "mov %r14,112(%rdi)\n mov %r15,120(%rdi)\n"
    "popq 56(%rdi)\n"
    "pushfq\n popq 128(%rdi)\n"
    "cld\n"
    "add $16,%rsp\n"
    "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "ret\n"
    ".size native_run, .-native_run\n"
    ".popsection\n");

typedef struct Form {
    const char *name;
    const uint8_t *start, *end;
    int setup;
    uint8_t width, access;
} Form;

#define EXEC_ENTRY(id, setup_, width_, acc, text) \
    { .name = #id, .start = insn_##id##_s, .end = insn_##id##_e, \
      .setup = setup_, .width = width_, .access = acc },
#define STRING_ENTRY(name, width_, acc, text) \
    EXEC_ENTRY(name, 0, width_, acc, text)

static const Form exec_forms[] = { EXEC_FORMS(EXEC_ENTRY) };
static const Form string_forms[] = { STRING_FORMS(STRING_ENTRY) };

/* ---- the machine: memory pages, fault discovery, values ---------- */

static uint8_t *const mmio_page = (uint8_t *)MMIO_PAGE;
static uint8_t *const ram_page = (uint8_t *)RAM_PAGE;
static uint64_t fs_base, gs_base;

/* The three pages a form may touch, saved and restored around runs. */
typedef struct Pages {
    uint8_t mmio[PAGE_SIZE], ram[PAGE_SIZE], rip[PAGE_SIZE];
} Pages;

static void pages_save(Pages *p)
{
    memcpy(p->mmio, mmio_page, PAGE_SIZE);
    memcpy(p->ram, ram_page, PAGE_SIZE);
    memcpy(p->rip, rip_page, PAGE_SIZE);
}

static void pages_load(const Pages *p)
{
    memcpy(mmio_page, p->mmio, PAGE_SIZE);
    memcpy(ram_page, p->ram, PAGE_SIZE);
    memcpy(rip_page, p->rip, PAGE_SIZE);
}

static bool in_page(uint64_t addr, unsigned len, uint64_t page)
{
    return addr >= page && addr + len <= page + PAGE_SIZE;
}

static bool is_mmio(uint64_t addr, unsigned len)
{
    return in_page(addr, len, MMIO_PAGE) ||
           in_page(addr, len, (uintptr_t)rip_page);
}

static sigjmp_buf fault_jmp;
static volatile bool fault_armed;
static volatile uint64_t fault_addr;

/*
 * Only the fault of native_fault() is expected; any other crashes as
 * usual once the handler returns.
 */
static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    if (!fault_armed) {
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    fault_armed = false;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(fault_jmp, 1);
}

static void mmio_protect(int prot)
{
    g_assert(mprotect(mmio_page, PAGE_SIZE, prot) == 0);
    g_assert(mprotect(rip_page, PAGE_SIZE, prot) == 0);
}

/*
 * Run the form natively with the MMIO pages inaccessible: the address of
 * the fault is what the nested page fault would report.
 */
static uint64_t native_fault(const NativeState *in)
{
    NativeState s = *in;

    fault_addr = 0;
    mmio_protect(PROT_NONE);
    if (sigsetjmp(fault_jmp, 1) == 0) {
        fault_armed = true;
        native_run(&s);
        fault_armed = false;
    }
    mmio_protect(PROT_READ | PROT_WRITE);
    g_assert(fault_addr != 0);
    return fault_addr;
}

/* Register and memory values: edge cases half of the time. */
static uint64_t pick_value(void)
{
    static const uint64_t edge[] = {
        0, 1, 2, 0x0f, 0x10, 0x7f, 0x80, 0xfe, 0xff, 0x100, 0x7f00, 0x8000,
        0xff00, 0x7fff, 0xffff, 0x8080, 0x7fffffff, 0x80000000, 0xffffffff,
        0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~1ULL,
        0x8000000080008080ULL, 0x00ff00ff00ff00ffULL,
    };
    uint64_t r = (uint64_t)g_test_rand_int() << 32 | g_test_rand_int();

    if (g_test_rand_bit()) {
        return r;
    }
    return edge[g_test_rand_int_range(0, G_N_ELEMENTS(edge))];
}

static uint64_t pick_flags(void)
{
    return (g_test_rand_int() & FL_STATUS) | 0x2;
}

static void fill_random(uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = g_test_rand_int();
    }
}

static void put64(uint64_t addr, uint64_t val)
{
    memcpy((void *)(uintptr_t)addr, &val, 8);
}

/* ---- the emulator's side ------------------------------------------ */

typedef struct Emulation {
    uint64_t first_gpa;         /* of the first MMIO access */
    unsigned accesses;          /* MMIO exits */
    unsigned rounds;            /* times the guest ran the instruction */
} Emulation;

static int ram_read(void *opaque, uint64_t gla, void *buf, unsigned len,
                    uint64_t *gpa)
{
    if (is_mmio(gla, len)) {
        *gpa = gla;
        return REVIRT_INSN_ACCESS;
    }
    g_assert(in_page(gla, len, RAM_PAGE));
    memcpy(buf, (void *)(uintptr_t)gla, len);
    return 0;
}

static int ram_write(void *opaque, uint64_t gla, const void *buf,
                     unsigned len, uint64_t *gpa)
{
    if (is_mmio(gla, len)) {
        *gpa = gla;
        return REVIRT_INSN_ACCESS;
    }
    g_assert(in_page(gla, len, RAM_PAGE));
    memcpy((void *)(uintptr_t)gla, buf, len);
    return 0;
}

static const struct revirt_insn_ops ram_ops = {
    .read = ram_read, .write = ram_write,
};

/* The VMM's part: do the access on the MMIO page. */
static int do_access(struct revirt_insn_emu *emu,
                     struct revirt_insn_regs *regs,
                     struct revirt_insn_access *acc, Emulation *e)
{
    g_assert(is_mmio(acc->gpa, acc->len));
    g_assert(acc->len == emu->insn.width);
    if (!e->accesses++) {
        e->first_gpa = acc->gpa;
    }
    if (acc->is_write) {
        memcpy((void *)(uintptr_t)acc->gpa, acc->data, acc->len);
        return REVIRT_INSN_DONE;
    }
    memset(acc->data, 0xcc, sizeof(acc->data));
    memcpy(acc->data, (void *)(uintptr_t)acc->gpa, acc->len);
    return revirt_insn_complete(emu, regs, &ram_ops, acc);
}

/*
 * Emulate the form from regs until RIP leaves it, running it again as the
 * guest would while a REP leaves RIP on it.
 */
static void emulate(const Form *f, uint64_t gpa,
                    struct revirt_insn_regs *regs, Emulation *e)
{
    struct revirt_insn_access acc;
    struct revirt_insn_emu emu;
    struct revirt_insn insn;
    int r;

    memset(e, 0, sizeof(*e));
    regs->rip = (uintptr_t)f->start;
    do {
        g_assert(e->rounds++ < 100);
        g_assert(revirt_insn_decode(f->start, REVIRT_INSN_MAX_LEN,
                                    REVIRT_INSN_MODE64, &insn) == 0);
        g_assert(insn.len == f->end - f->start);
        g_assert(insn.width == f->width);
        g_assert(insn.access == f->access);
        g_assert(insn.mode == REVIRT_INSN_MODE64);

        r = revirt_insn_start(&emu, &insn, gpa, regs, &ram_ops, &acc);
        while (r == REVIRT_INSN_ACCESS) {
            r = do_access(&emu, regs, &acc, e);
        }
        g_assert(r == REVIRT_INSN_DONE);
    } while (regs->rip == (uintptr_t)f->start);
    g_assert(regs->rip == (uintptr_t)f->end);
}

static void regs_from_native(struct revirt_insn_regs *regs,
                             const NativeState *s)
{
    memset(regs, 0, sizeof(*regs));
    memcpy(regs->gpr, s->gpr, sizeof(regs->gpr));
    regs->rflags = s->rflags;
    regs->seg_base[REVIRT_INSN_SEG_FS] = fs_base;
    regs->seg_base[REVIRT_INSN_SEG_GS] = gs_base;
    /* 64-bit mode must ignore these */
    regs->seg_base[REVIRT_INSN_SEG_ES] = 0x1000;
    regs->seg_base[REVIRT_INSN_SEG_DS] = 0x2000;
    regs->seg_base[REVIRT_INSN_SEG_CS] = 0x3000;
    regs->seg_base[REVIRT_INSN_SEG_SS] = 0x4000;
}

static void print_state(const char *what, const uint64_t *gpr, uint64_t fl)
{
    int i;

    for (i = 0; i < 16; i++) {
        g_test_message("%s r%d = %016" G_GINT64_MODIFIER "x", what, i,
                       gpr[i]);
    }
    g_test_message("%s rflags = %" G_GINT64_MODIFIER "x", what, fl);
}

/*
 * Run f natively and emulated from the same registers and pages, and
 * compare.  Returns the emulation's counts.
 */
static void compare(const Form *f, const NativeState *in, const Pages *pages,
                    uint64_t gpa, Emulation *e)
{
    struct revirt_insn_regs regs;
    NativeState out = *in;
    Pages native_pages, emu_pages;
    bool same = true;
    int i;

    out.code = (uintptr_t)f->start;
    pages_load(pages);
    native_run(&out);
    pages_save(&native_pages);

    pages_load(pages);
    regs_from_native(&regs, in);
    emulate(f, gpa, &regs, e);
    pages_save(&emu_pages);

    for (i = 0; i < 16; i++) {
        same &= i == RSP || regs.gpr[i] == out.gpr[i];
    }
    same &= ((regs.rflags ^ out.rflags) & FL_CHECKED) == 0;
    if (!same) {
        print_state("in", in->gpr, in->rflags);
        print_state("native", out.gpr, out.rflags);
        print_state("emulated", regs.gpr, regs.rflags);
    }
    g_assert(same);
    g_assert(memcmp(&native_pages, &emu_pages, sizeof(Pages)) == 0);
}

/* ---- the 64-bit forms, run natively -------------------------------- */

static void setup_regs(NativeState *s, int setup)
{
    int i;

    for (i = 0; i < 16; i++) {
        s->gpr[i] = pick_value();
    }
    s->gpr[RSP] = 0;
    s->gpr[RBX] = s->gpr[RBP] = s->gpr[R12] = s->gpr[R13] = M;
    switch (setup) {
    case SET_INDEX:
        s->gpr[RSI] = 3;
        s->gpr[R9] = 5;
        s->gpr[RDI] = -2;
        break;
    case SET_FS:
        s->gpr[RBX] = M - fs_base;
        break;
    case SET_GS:
        s->gpr[RBX] = M - gs_base;
        break;
    }
    /* DF must not matter to these forms */
    s->rflags = pick_flags() | (g_test_rand_bit() ? FL_DF : 0);
}

#define EXEC_ROUNDS 64

static void test_exec(gconstpointer data)
{
    const Form *f = data;
    NativeState in = { .code = (uintptr_t)f->start };
    Pages pages;
    uint64_t gpa = 0;
    Emulation e;
    int round;

    for (round = 0; round < EXEC_ROUNDS; round++) {
        setup_regs(&in, f->setup);
        fill_random(mmio_page, PAGE_SIZE);
        fill_random(rip_page, PAGE_SIZE);
        if (!round) {
            gpa = native_fault(&in);
            g_assert(is_mmio(gpa, f->width));
        }
        /* the operand itself gets edge cases too */
        put64(gpa, pick_value());
        pages_save(&pages);
        compare(f, &in, &pages, gpa, &e);
        /* one exit per access: reads, writes, or a read then a write */
        g_assert(e.accesses == (f->access == RW ? 2 : 1));
        g_assert(e.first_gpa == gpa);
    }
}

/* ---- string forms --------------------------------------------------- */

typedef struct StringLayout {
    const char *name;
    uint64_t src, dst;
    unsigned mmio_sides;        /* MMIO operands per MOVS element */
} StringLayout;

static void test_string_one(const Form *f, const StringLayout *l, bool rep,
                            bool df, uint64_t count)
{
    const char *text = (const char *)f->name;
    bool movs = strstr(text, "movs") != NULL;
    bool a32 = strncmp(text, "a32_", 4) == 0;
    uint64_t garbage = a32 ? (uint64_t)g_test_rand_int() << 32 : 0;
    NativeState in = { .code = (uintptr_t)f->start };
    unsigned sides, elements = rep ? count : 1;
    Pages pages;
    Emulation e;
    uint64_t fault;
    int i;

    for (i = 0; i < 16; i++) {
        in.gpr[i] = pick_value();
    }
    in.gpr[RSP] = 0;
    /* addr32: bits 63:32 of rSI, rDI, rCX must not count */
    in.gpr[RSI] = l->src | garbage;
    in.gpr[RDI] = l->dst | garbage;
    if (strncmp(text, "fs_", 3) == 0) {
        in.gpr[RSI] = l->src - fs_base;
    } else if (strncmp(text, "gs_", 3) == 0) {
        in.gpr[RSI] = l->src - gs_base;
    }
    if (rep) {
        in.gpr[RCX] = count | garbage;
    }
    in.rflags = pick_flags() | (df ? FL_DF : 0);
    fill_random(mmio_page, PAGE_SIZE);
    fill_random(ram_page, PAGE_SIZE);
    fill_random(rip_page, PAGE_SIZE);
    pages_save(&pages);

    fault = native_fault(&in);
    compare(f, &in, &pages, 0, &e);

    /* each element ran the instruction once, one exit per MMIO operand */
    sides = movs ? l->mmio_sides : 1;
    g_assert(e.rounds == elements);
    g_assert(e.accesses == elements * sides);
    /* the emulator found the operand that faulted first */
    g_assert(e.first_gpa == fault);
}

static void test_string(gconstpointer data)
{
    static const StringLayout movs_layouts[] = {
        { "mmio-to-ram", M, R, 1 },
        { "ram-to-mmio", R, M, 1 },
        { "mmio-to-mmio", M, M + 0x400, 2 },
        { "mmio-to-mmio-rip", M - 0x400, (uintptr_t)rip_page + 0x800, 2 },
    };
    static const StringLayout stos_layout[] = { { "to-mmio", R, M, 1 } };
    static const StringLayout lods_layout[] = { { "from-mmio", M, R, 1 } };
    static const uint64_t counts[] = { 1, 2, 5, 17 };
    const Form *f = data;
    const StringLayout *layouts = movs_layouts;
    size_t n = G_N_ELEMENTS(movs_layouts), i, c;
    bool rep = strstr(f->name, "rep") != NULL;
    int df;

    if (strstr(f->name, "stos")) {
        layouts = stos_layout;
        n = 1;
    } else if (strstr(f->name, "lods")) {
        layouts = lods_layout;
        n = 1;
    }
    for (i = 0; i < n; i++) {
        /* 32-bit addresses cannot reach .bss */
        if (!strncmp(f->name, "a32_", 4) && layouts[i].dst > UINT32_MAX) {
            continue;
        }
        for (df = 0; df < 2; df++) {
            for (c = 0; c < (rep ? G_N_ELEMENTS(counts) : 1); c++) {
                test_string_one(f, &layouts[i], rep, df, counts[c]);
            }
        }
    }
}

/* ---- 16- and 32-bit forms: decoded like their 64-bit twins ---------- */

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
#define PAIR_ASM(name, bits, addr, text, text64) \
    ".code" #bits "\ninsn_" #name "_s:\n" text "\ninsn_" #name "_e:\n" \
    ".code64\ninsn_" #name "_64s:\n" text64 "\ninsn_" #name "_64e:\n"

PAIR_FORMS(PAIR_DECL)

/* Not executed: in .rodata, with padding so 15 bytes can be read. */
__asm__(".pushsection .rodata\n"
        PAIR_FORMS(PAIR_ASM)
        ".fill 16, 1, 0x90\n"
        ".popsection\n");

typedef struct PairForm {
    const char *name;
    int mode;
    uint8_t addr_size;
    const uint8_t *start, *end, *start64, *end64;
} PairForm;

#define PAIR_ENTRY(name, bits, addr, text, text64) \
    { #name, bits == 16 ? REVIRT_INSN_MODE16 : REVIRT_INSN_MODE32, addr, \
      insn_##name##_s, insn_##name##_e, insn_##name##_64s, \
      insn_##name##_64e },

static const PairForm pair_forms[] = { PAIR_FORMS(PAIR_ENTRY) };

static void test_pair(gconstpointer data)
{
    const PairForm *p = data;
    struct revirt_insn a, b;

    g_assert(revirt_insn_decode(p->start, REVIRT_INSN_MAX_LEN, p->mode,
                                &a) == 0);
    g_assert(revirt_insn_decode(p->start64, REVIRT_INSN_MAX_LEN,
                                REVIRT_INSN_MODE64, &b) == 0);
    g_assert(a.len == p->end - p->start);
    g_assert(b.len == p->end64 - p->start64);
    g_assert(a.mode == p->mode);
    g_assert(a.addr_size == p->addr_size);
    g_assert(b.addr_size == 8);

    /* everything else must be the same */
    g_assert(a.op == b.op);
    g_assert(a.alu == b.alu);
    g_assert(a.width == b.width);
    g_assert(a.reg_width == b.reg_width);
    g_assert(a.reg == b.reg);
    g_assert(a.reg_high8 == b.reg_high8);
    g_assert(a.has_imm == b.has_imm);
    g_assert(a.imm == b.imm);
    g_assert(a.ext == b.ext);
    g_assert(a.rep == b.rep);
    g_assert(a.lock == b.lock);
    g_assert(a.seg == b.seg);
    g_assert(a.access == b.access);
}

/* ---- what is refused ------------------------------------------------ */

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
#define REFUSED_ASM(name, bits, err, text) \
    ".code" #bits "\ninsn_" #name "_s:\n" text "\ninsn_" #name "_e:\n" \
    ".code64\n"

REFUSED_FORMS(REFUSED_DECL)

__asm__(".pushsection .rodata\n"
        REFUSED_FORMS(REFUSED_ASM)
        ".fill 16, 1, 0x90\n"
        ".popsection\n");

typedef struct RefusedForm {
    const char *name;
    int mode, err;
    const uint8_t *start, *end;
} RefusedForm;

#define REFUSED_ENTRY(name, bits, err_, text) \
    { #name, bits == 16 ? REVIRT_INSN_MODE16 : \
      bits == 32 ? REVIRT_INSN_MODE32 : REVIRT_INSN_MODE64, err_, \
      insn_##name##_s, insn_##name##_e },

static const RefusedForm refused_forms[] = { REFUSED_FORMS(REFUSED_ENTRY) };

static void test_refused(gconstpointer data)
{
    const RefusedForm *n = data;
    struct revirt_insn insn;

    g_assert(revirt_insn_decode(n->start, n->end - n->start, n->mode,
                                &insn) == -n->err);
}

/* The longest instruction there can be: 13 prefixes and a MOV. */
extern const uint8_t insn_longest_s[], insn_longest_e[];
__asm__(".pushsection .rodata\n"
        "insn_longest_s:\n"
        ".rept 13\n.byte 0x3e\n.endr\nmov %eax,(%rbx)\n"
        "insn_longest_e:\n"
        ".popsection\n");

static void test_longest(void)
{
    struct revirt_insn insn;

    g_assert(insn_longest_e - insn_longest_s == REVIRT_INSN_MAX_LEN);
    g_assert(revirt_insn_decode(insn_longest_s, REVIRT_INSN_MAX_LEN,
                                REVIRT_INSN_MODE64, &insn) == 0);
    g_assert(insn.len == REVIRT_INSN_MAX_LEN);
    g_assert(insn.op == REVIRT_INSN_MOV_STORE && insn.width == 4);
}

/* Every form cut short anywhere is -EINVAL; given exactly, it decodes. */
static void check_truncated(const uint8_t *start, const uint8_t *end,
                            int mode)
{
    unsigned len = end - start, n;
    struct revirt_insn insn;

    for (n = 0; n < len; n++) {
        g_assert(revirt_insn_decode(start, n, mode, &insn) == -EINVAL);
    }
    g_assert(revirt_insn_decode(start, len, mode, &insn) == 0);
    g_assert(insn.len == len);
}

static void test_truncated(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(exec_forms); i++) {
        check_truncated(exec_forms[i].start, exec_forms[i].end,
                        REVIRT_INSN_MODE64);
    }
    for (i = 0; i < G_N_ELEMENTS(string_forms); i++) {
        check_truncated(string_forms[i].start, string_forms[i].end,
                        REVIRT_INSN_MODE64);
    }
    for (i = 0; i < G_N_ELEMENTS(pair_forms); i++) {
        check_truncated(pair_forms[i].start, pair_forms[i].end,
                        pair_forms[i].mode);
        check_truncated(pair_forms[i].start64, pair_forms[i].end64,
                        REVIRT_INSN_MODE64);
    }
}

/* ---- the emulation API outside 64-bit mode, and its errors ---------- */

/* String operands all in RAM, each linear address recorded. */
typedef struct Recorder {
    uint64_t gla[8];
    unsigned n;
    int err;                    /* returned instead, when not 0 */
} Recorder;

static int rec_read(void *opaque, uint64_t gla, void *buf, unsigned len,
                    uint64_t *gpa)
{
    Recorder *r = opaque;

    g_assert(r->n < G_N_ELEMENTS(r->gla));
    r->gla[r->n++] = gla;
    memset(buf, 0x5a, len);
    return r->err;
}

static int rec_write(void *opaque, uint64_t gla, const void *buf,
                     unsigned len, uint64_t *gpa)
{
    Recorder *r = opaque;

    g_assert(r->n < G_N_ELEMENTS(r->gla));
    r->gla[r->n++] = gla;
    return r->err;
}

/* Decode a pair form's 16/32-bit side and run one step from regs. */
static int step(const PairForm *p, struct revirt_insn_regs *regs,
                Recorder *rec)
{
    struct revirt_insn_ops ops = { rec_read, rec_write, rec };
    struct revirt_insn_access acc;
    struct revirt_insn_emu emu;
    struct revirt_insn insn;

    g_assert(revirt_insn_decode(p->start, REVIRT_INSN_MAX_LEN, p->mode,
                                &insn) == 0);
    return revirt_insn_start(&emu, &insn, 0x1000, regs, &ops, &acc);
}

static const PairForm *pair(const char *name)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(pair_forms); i++) {
        if (!strcmp(pair_forms[i].name, name)) {
            return &pair_forms[i];
        }
    }
    g_assert_not_reached();
}

/* 16-bit REP MOVSW: SI/DI/CX wrap at 64K and keep their upper bits. */
static void test_string16(void)
{
    const PairForm *p = pair("m16_rep_movsw");
    struct revirt_insn_regs regs = { 0 };
    Recorder rec = { 0 };

    regs.seg_base[REVIRT_INSN_SEG_DS] = 0x10000;
    regs.seg_base[REVIRT_INSN_SEG_ES] = 0x20000;
    regs.gpr[RSI] = 0xdead0000fffeULL;
    regs.gpr[RDI] = 0xbeef00000002ULL;
    regs.gpr[RCX] = 0x123400000002ULL;
    regs.rip = 0xfffe;
    regs.rflags = 0x2;

    g_assert(step(p, &regs, &rec) == REVIRT_INSN_DONE);
    g_assert(rec.n == 2 && rec.gla[0] == 0x1fffe && rec.gla[1] == 0x20002);
    g_assert(regs.gpr[RSI] == 0xdead00000000ULL);
    g_assert(regs.gpr[RDI] == 0xbeef00000004ULL);
    g_assert(regs.gpr[RCX] == 0x123400000001ULL);
    g_assert(regs.rip == 0xfffe);       /* one element left: again */

    g_assert(step(p, &regs, &rec) == REVIRT_INSN_DONE);
    g_assert(rec.n == 4 && rec.gla[2] == 0x10000 && rec.gla[3] == 0x20004);
    g_assert(regs.gpr[RCX] == 0x123400000000ULL);
    g_assert(regs.rip == 0);            /* 0xfffe + 2 wraps in IP */

    /* DF=1 steps down, and through 0 */
    regs.rflags |= FL_DF;
    regs.gpr[RSI] = 0xdead00000000ULL;
    regs.gpr[RCX] = 1;
    regs.rip = 0x100;
    g_assert(step(p, &regs, &rec) == REVIRT_INSN_DONE);
    g_assert(rec.gla[4] == 0x10000 && rec.gla[5] == 0x20006);
    g_assert(regs.gpr[RSI] == 0xdead0000fffeULL);
    g_assert(regs.gpr[RDI] == 0xbeef00000004ULL);
    g_assert(regs.rip == 0x102);
}

/* 32-bit REP STOSB: the linear address wraps at 4G. */
static void test_string32(void)
{
    const PairForm *p = pair("m32_stosw");
    struct revirt_insn_regs regs = { 0 };
    Recorder rec = { 0 };

    regs.seg_base[REVIRT_INSN_SEG_ES] = 0x1000;
    regs.gpr[RDI] = 0xfffffffe;
    regs.rip = 0xfffffffe;
    regs.rflags = 0x2;
    g_assert(step(p, &regs, &rec) == REVIRT_INSN_DONE);
    g_assert(rec.n == 1 && rec.gla[0] == 0xffe);
    g_assert(regs.gpr[RDI] == 0);
    g_assert(regs.rip == 0);            /* EIP wraps too */

    /* 16-bit addresses in 32-bit code: only DI moves, ES base counts */
    p = pair("m32_a16_rep_movsb");
    regs.seg_base[REVIRT_INSN_SEG_DS] = 0x5000;
    regs.gpr[RSI] = 0x7777ffff;
    regs.gpr[RDI] = 0x8888ffff;
    regs.gpr[RCX] = 0x99990001;
    regs.rip = 0x10;
    g_assert(step(p, &regs, &rec) == REVIRT_INSN_DONE);
    g_assert(rec.gla[1] == 0x14fff && rec.gla[2] == 0x10fff);
    g_assert(regs.gpr[RSI] == 0x77770000 && regs.gpr[RDI] == 0x88880000);
    g_assert(regs.gpr[RCX] == 0x99990000);
    g_assert(regs.rip == 0x13);
}

/* REP with rCX 0 retires at once and touches nothing. */
static void test_rep_zero(void)
{
    struct revirt_insn_regs regs = { 0 };
    Recorder rec = { 0 };

    regs.gpr[RCX] = 0xffff0000;
    regs.gpr[RSI] = 0x10;
    regs.rip = 0x100;
    regs.rflags = 0x2;
    g_assert(step(pair("m16_rep_stosb"), &regs, &rec) == REVIRT_INSN_DONE);
    g_assert(rec.n == 0);
    g_assert(regs.rip == 0x102 && regs.gpr[RCX] == 0xffff0000);
    g_assert(regs.gpr[RSI] == 0x10);
}

/* A callback's error comes back, with nothing changed. */
static void test_ops_error(void)
{
    struct revirt_insn_regs regs = { 0 }, before;
    Recorder rec = { .err = -EFAULT };

    regs.gpr[RCX] = 3;
    regs.rip = 0x100;
    regs.rflags = 0x2;
    before = regs;
    g_assert(step(pair("m16_rep_movsw"), &regs, &rec) == -EFAULT);
    g_assert(!memcmp(&regs, &before, sizeof(regs)));
    g_assert(step(pair("m32_stosw"), &regs, &rec) == -EFAULT);
    g_assert(!memcmp(&regs, &before, sizeof(regs)));
}

/* Completing when no read is out is refused. */
static void test_complete_unexpected(void)
{
    const PairForm *p = pair("m32_mov_st32");
    struct revirt_insn_regs regs = { 0 };
    struct revirt_insn_access acc;
    struct revirt_insn_emu emu;
    struct revirt_insn insn;

    g_assert(revirt_insn_decode(p->start, REVIRT_INSN_MAX_LEN, p->mode,
                                &insn) == 0);
    regs.gpr[RAX] = 0x11223344;
    g_assert(revirt_insn_start(&emu, &insn, 0xfee00300, &regs, &ram_ops,
                               &acc) == REVIRT_INSN_ACCESS);
    g_assert(acc.is_write && acc.gpa == 0xfee00300 && acc.len == 4);
    g_assert(acc.data[0] == 0x44 && acc.data[3] == 0x11);
    g_assert(revirt_insn_complete(&emu, &regs, &ram_ops, &acc) == -EINVAL);
}

/* ---- main ----------------------------------------------------------- */

static void map_page(uint64_t addr)
{
    void *p = mmap((void *)(uintptr_t)addr, PAGE_SIZE,
                   PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

    g_assert(p == (void *)(uintptr_t)addr);
}

int main(int argc, char **argv)
{
    struct sigaction sa = {
        .sa_sigaction = segv_handler,
        .sa_flags = SA_SIGINFO,
    };
    size_t i;

    g_test_init(&argc, &argv, NULL);

    map_page(MMIO_PAGE);
    map_page(RAM_PAGE);
    g_assert(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base) == 0);
    g_assert(syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_base) == 0);
    g_assert(sigaction(SIGSEGV, &sa, NULL) == 0);

    for (i = 0; i < G_N_ELEMENTS(exec_forms); i++) {
        g_autofree char *path = g_strdup_printf("/revirt-insn/exec/%s",
                                                exec_forms[i].name);
        g_test_add_data_func(path, &exec_forms[i], test_exec);
    }
    for (i = 0; i < G_N_ELEMENTS(string_forms); i++) {
        g_autofree char *path = g_strdup_printf("/revirt-insn/string/%s",
                                                string_forms[i].name);
        g_test_add_data_func(path, &string_forms[i], test_string);
    }
    for (i = 0; i < G_N_ELEMENTS(pair_forms); i++) {
        g_autofree char *path = g_strdup_printf("/revirt-insn/decode/%s",
                                                pair_forms[i].name);
        g_test_add_data_func(path, &pair_forms[i], test_pair);
    }
    for (i = 0; i < G_N_ELEMENTS(refused_forms); i++) {
        g_autofree char *path = g_strdup_printf("/revirt-insn/refused/%s",
                                                refused_forms[i].name);
        g_test_add_data_func(path, &refused_forms[i], test_refused);
    }
    g_test_add_func("/revirt-insn/decode/longest", test_longest);
    g_test_add_func("/revirt-insn/decode/truncated", test_truncated);
    g_test_add_func("/revirt-insn/api/string16", test_string16);
    g_test_add_func("/revirt-insn/api/string32", test_string32);
    g_test_add_func("/revirt-insn/api/rep-zero", test_rep_zero);
    g_test_add_func("/revirt-insn/api/ops-error", test_ops_error);
    g_test_add_func("/revirt-insn/api/complete-unexpected",
                    test_complete_unexpected);
    return g_test_run();
}
