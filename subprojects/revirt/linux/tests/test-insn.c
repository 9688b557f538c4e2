/*
 * revirt.ko's MMIO instruction emulator (linux/revirt-insn.c), checked
 * against the host CPU.
 *
 * Every instruction form (listed in test-insn-forms.h) is assembled by
 * the toolchain in this file's top-level asm, between two labels, then:
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
#include "test-insn-forms.h"

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

#define EXEC_ASM(name, setup, width, acc, text) \
    "insn_" #name "_s:\n" text "\ninsn_" #name "_e:\nret\n"
#define STRING_ASM(name, width, acc, text) \
    EXEC_ASM(name, 0, width, acc, text)

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
static volatile bool fault_armed;       /* volatile: set for the handler */
static volatile uint64_t fault_addr;    /* volatile: set by the handler */

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

/* Random page contents: xorshift64 from one seed, as glib's is slow. */
static void fill_random(uint8_t *p, size_t n)
{
    uint64_t x = (uint64_t)g_test_rand_int() << 32 | g_test_rand_int() | 1;
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
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

#define EXEC_ROUNDS 200

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

#define PAIR_ASM(name, bits, addr, text, text64) \
    ".code" #bits "\ninsn_" #name "_s:\n" text "\ninsn_" #name "_e:\n" \
    ".code64\ninsn_" #name "_64s:\n" text64 "\ninsn_" #name "_64e:\n"

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

#define REFUSED_ASM(name, bits, err, text) \
    ".code" #bits "\ninsn_" #name "_s:\n" text "\ninsn_" #name "_e:\n" \
    ".code64\n"

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
