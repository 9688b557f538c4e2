/*
 * revirt.ko's guest page-table walker (linux/revirt-gpt-walk.c): page
 * tables built in a buffer that stands for guest-physical memory, in each
 * paging mode, with the translations and #PF error codes the CPU gives.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "revirt-gpt-walk.h"

#define MEM_SIZE    (8u << 20)
#define TABLES      0x100000        /* where tables are allocated from */

#define P   (1ULL << 0)
#define RW  (1ULL << 1)
#define US  (1ULL << 2)
#define A   (1ULL << 5)
#define D   (1ULL << 6)
#define PS  (1ULL << 7)
#define NX  (1ULL << 63)

#define PF_P    REVIRT_GPT_PF_PRESENT
#define PF_W    REVIRT_GPT_WRITE
#define PF_U    REVIRT_GPT_USER
#define PF_RSVD REVIRT_GPT_PF_RSVD
#define PF_ID   REVIRT_GPT_FETCH

/* Guest-physical memory, and the next free page for tables in it. */
typedef struct Mem {
    uint8_t *bytes;
    uint64_t next;
    int update_error;           /* what update() returns, when not 0 */
    unsigned updates;
} Mem;

static int mem_read(void *opaque, uint64_t gpa, uint64_t *val,
                    unsigned len)
{
    Mem *m = opaque;

    if (gpa + len > MEM_SIZE) {
        return -EFAULT;
    }
    *val = 0;
    memcpy(val, m->bytes + gpa, len);
    return 0;
}

static int mem_update(void *opaque, uint64_t gpa, uint64_t old,
                      uint64_t new, unsigned len)
{
    Mem *m = opaque;
    uint64_t cur = 0;

    g_assert(gpa + len <= MEM_SIZE);
    if (m->update_error) {
        return m->update_error;
    }
    memcpy(&cur, m->bytes + gpa, len);
    if (cur != old) {
        return -EAGAIN;
    }
    memcpy(m->bytes + gpa, &new, len);
    m->updates++;
    return 0;
}

static uint64_t get(Mem *m, uint64_t gpa, unsigned len)
{
    uint64_t val = 0;

    memcpy(&val, m->bytes + gpa, len);
    return val;
}

static void put(Mem *m, uint64_t gpa, uint64_t val, unsigned len)
{
    memcpy(m->bytes + gpa, &val, len);
}

static uint64_t alloc_table(Mem *m)
{
    uint64_t gpa = m->next;

    m->next += 0x1000;
    g_assert(m->next <= MEM_SIZE);
    return gpa;
}

typedef struct Fixture {
    Mem mem;
    struct revirt_gpt_ctx ctx;
} Fixture;

static void fixture_init(Fixture *f, int paging)
{
    memset(f, 0, sizeof(*f));
    f->mem.bytes = g_malloc0(MEM_SIZE);
    f->mem.next = TABLES;
    f->ctx.paging = paging;
    f->ctx.maxphyaddr = 48;
    f->ctx.wp = true;
    f->ctx.pse = true;
    f->ctx.read = mem_read;
    f->ctx.update = mem_update;
    f->ctx.opaque = &f->mem;
    if (paging != REVIRT_GPT_NONE) {
        f->ctx.cr3 = alloc_table(&f->mem);
    }
}

static void fixture_free(Fixture *f)
{
    g_free(f->mem.bytes);
}

static unsigned levels(int paging)
{
    switch (paging) {
    case REVIRT_GPT_32:
        return 2;
    case REVIRT_GPT_PAE:
        return 3;
    case REVIRT_GPT_LONG4:
        return 4;
    default:
        return 5;
    }
}

/* Where the entry for gla at level is, in the table at table. */
static uint64_t entry_gpa(int paging, uint64_t table, uint64_t gla,
                          unsigned level)
{
    unsigned bits = paging == REVIRT_GPT_32 ? 10 : 9;
    unsigned esize = paging == REVIRT_GPT_32 ? 4 : 8;
    uint64_t index = (gla >> (12 + bits * (level - 1))) & ((1u << bits) - 1);

    return table + index * esize;
}

/*
 * Map gla to pa with a leaf entry at leaf (1 = 4K), making tables on the
 * way with table_flags.  Returns the gpa of the leaf entry.  The PAE
 * PDPT's base is CR3 bits 31:5 and its entries have only P.
 */
static uint64_t map(Fixture *f, uint64_t gla, unsigned leaf, uint64_t pa,
                    uint64_t leaf_flags, uint64_t table_flags)
{
    int paging = f->ctx.paging;
    unsigned esize = paging == REVIRT_GPT_32 ? 4 : 8;
    uint64_t table = paging == REVIRT_GPT_PAE ? f->ctx.cr3 & 0xffffffe0 :
                     f->ctx.cr3 & ~0xfffULL;
    uint64_t e, gpa;
    unsigned level;

    for (level = levels(paging); level > leaf; level--) {
        gpa = entry_gpa(paging, table, gla, level);
        e = get(&f->mem, gpa, esize);
        if (!(e & P)) {
            e = alloc_table(&f->mem) | P;
            if (!(paging == REVIRT_GPT_PAE && level == 3)) {
                e |= table_flags;
            }
            put(&f->mem, gpa, e, esize);
        }
        table = e & 0xffffffffff000ULL;
    }
    gpa = entry_gpa(paging, table, gla, leaf);
    put(&f->mem, gpa, pa | leaf_flags, esize);
    return gpa;
}

static int walk(Fixture *f, uint64_t gla, unsigned access, uint64_t *gpa,
                uint32_t *error)
{
    *gpa = 0xdeadbeef;
    return revirt_gpt_walk(&f->ctx, gla, access, gpa, error);
}

/* gla translates to expect for access. */
static void expect_gpa(Fixture *f, uint64_t gla, unsigned access,
                       uint64_t expect)
{
    uint64_t gpa;
    uint32_t error;

    g_assert(walk(f, gla, access, &gpa, &error) == REVIRT_GPT_OK);
    g_assert(gpa == expect);
}

/* gla faults for access with that error code. */
static void expect_pf(Fixture *f, uint64_t gla, unsigned access,
                      uint32_t expect)
{
    unsigned updates = f->mem.updates;
    uint64_t gpa;
    uint32_t error;

    g_assert(walk(f, gla, access, &gpa, &error) == REVIRT_GPT_PAGE_FAULT);
    g_assert(error == expect);
    g_assert(f->mem.updates == updates);    /* no A/D bits on a fault */
}

static void test_none(void)
{
    Fixture f;

    fixture_init(&f, REVIRT_GPT_NONE);
    expect_gpa(&f, 0x12345678, REVIRT_GPT_WRITE, 0x12345678);
    /* linear addresses are 32 bits wide outside long mode */
    expect_gpa(&f, 0x100001000ULL, 0, 0x1000);
    fixture_free(&f);
}

static void test_32_4k(void)
{
    uint64_t pte, pde;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_32);
    f.ctx.cr3 |= 0x18;              /* PWT, PCD: not address bits */
    pte = map(&f, 0x12345678, 1, 0xabc000, P | RW | US, P | RW | US);
    pde = entry_gpa(REVIRT_GPT_32, f.ctx.cr3 & ~0xfffULL, 0x12345678, 2);

    expect_gpa(&f, 0x12345678, 0, 0xabc678);
    g_assert(get(&f.mem, pde, 4) & A);
    g_assert(get(&f.mem, pte, 4) == (0xabc000 | P | RW | US | A));
    expect_gpa(&f, 0x12345fff, REVIRT_GPT_WRITE | REVIRT_GPT_USER,
               0xabcfff);
    g_assert(get(&f.mem, pte, 4) == (0xabc000 | P | RW | US | A | D));
    /* only 32 bits of the address count */
    expect_gpa(&f, 0xf00000000ULL | 0x12345000, REVIRT_GPT_FETCH, 0xabc000);

    /* not present: the error code says so, and no I/D without NX */
    expect_pf(&f, 0x12346000, 0, 0);
    expect_pf(&f, 0x12346000, REVIRT_GPT_WRITE | REVIRT_GPT_USER,
              PF_W | PF_U);
    expect_pf(&f, 0x12346000, REVIRT_GPT_FETCH, 0);
    expect_pf(&f, 0x80000000, 0, 0);
    fixture_free(&f);
}

static void test_32_permissions(void)
{
    Fixture f;

    fixture_init(&f, REVIRT_GPT_32);
    map(&f, 0x1000, 1, 0x5000, P | US, P | RW | US);        /* read-only */
    map(&f, 0x400000, 1, 0x6000, P | RW | US, P | RW);      /* supervisor */

    expect_gpa(&f, 0x1000, REVIRT_GPT_USER, 0x5000);
    expect_pf(&f, 0x1000, REVIRT_GPT_WRITE | REVIRT_GPT_USER,
              PF_P | PF_W | PF_U);
    expect_pf(&f, 0x1000, REVIRT_GPT_WRITE, PF_P | PF_W);
    f.ctx.wp = false;               /* supervisor writes go through */
    expect_gpa(&f, 0x1000, REVIRT_GPT_WRITE, 0x5000);
    expect_pf(&f, 0x1000, REVIRT_GPT_WRITE | REVIRT_GPT_USER,
              PF_P | PF_W | PF_U);

    /* U/S clear in the PDE is enough */
    expect_gpa(&f, 0x400000, REVIRT_GPT_WRITE, 0x6000);
    expect_pf(&f, 0x400000, REVIRT_GPT_USER, PF_P | PF_U);
    fixture_free(&f);
}

static void test_32_4m(void)
{
    uint64_t pde;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_32);
    f.ctx.maxphyaddr = 40;
    pde = entry_gpa(REVIRT_GPT_32, f.ctx.cr3, 0x40123456, 2);
    put(&f.mem, pde, 0x400000 | P | RW | PS, 4);
    expect_gpa(&f, 0x40123456, REVIRT_GPT_WRITE, 0x523456);
    g_assert(get(&f.mem, pde, 4) == (0x400000 | P | RW | PS | A | D));

    /* PSE-36: PDE bits 20:13 are physical address bits 39:32 */
    put(&f.mem, pde, 0x400000 | (0x83 << 13) | P | PS, 4);
    expect_gpa(&f, 0x40123456, 0, 0x8300523456ULL);
    f.ctx.maxphyaddr = 36;          /* now bit 39 is reserved */
    expect_pf(&f, 0x40123456, 0, PF_P | PF_RSVD);
    put(&f.mem, pde, 0x400000 | (0x3 << 13) | P | PS, 4);
    expect_gpa(&f, 0x40123456, 0, 0x300523456ULL);
    put(&f.mem, pde, 0x400000 | (1 << 21) | P | PS, 4);
    expect_pf(&f, 0x40123456, REVIRT_GPT_USER, PF_P | PF_RSVD | PF_U);

    /* without CR4.PSE, PS is ignored: the PDE points to a page table */
    f.ctx.pse = false;
    put(&f.mem, pde, 0x400000 | P | PS | RW, 4);
    put(&f.mem, 0x400000 + 0x123 * 4, 0x7000 | P | RW, 4);
    expect_gpa(&f, 0x40123456, REVIRT_GPT_WRITE, 0x7456);
    fixture_free(&f);
}

static void test_pae(void)
{
    uint64_t pdpt, pdpte, pte;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_PAE);
    f.ctx.cr3 |= 0x20;              /* the PDPT is only 32-byte aligned */
    f.ctx.nxe = true;
    pdpt = f.ctx.cr3 & 0xffffffe0;
    pte = map(&f, 0xc0001234, 1, 0x123456000ULL, P | RW | NX,
              P | RW | US);
    map(&f, 0xc0200000, 2, 0x40000000, P | RW | US | PS, P | RW | US);
    pdpte = pdpt + 3 * 8;

    expect_gpa(&f, 0xc0001234, REVIRT_GPT_WRITE, 0x123456234ULL);
    g_assert(get(&f.mem, pte, 8) == (0x123456000ULL | P | RW | NX | A | D));
    g_assert(!(get(&f.mem, pdpte, 8) & A));    /* PDPTEs have no A bit */
    expect_gpa(&f, 0xc03fffff, REVIRT_GPT_USER, 0x401fffff);
    /* only 32 bits of the address count */
    expect_gpa(&f, 0x7c03fffffULL, 0, 0x401fffff);

    /* NX: fetches fault, with I/D */
    expect_pf(&f, 0xc0001234, REVIRT_GPT_FETCH, PF_P | PF_ID);
    expect_pf(&f, 0xc0001234, REVIRT_GPT_USER, PF_P | PF_U);
    expect_gpa(&f, 0xc0200000, REVIRT_GPT_FETCH, 0x40000000);
    expect_pf(&f, 0xc0400000, REVIRT_GPT_FETCH, PF_ID);

    /* without EFER.NXE bit 63 is reserved, and there is no I/D */
    f.ctx.nxe = false;
    expect_pf(&f, 0xc0001234, REVIRT_GPT_FETCH, PF_P | PF_RSVD);
    expect_gpa(&f, 0xc0200000, REVIRT_GPT_FETCH, 0x40000000);

    /* a PDPTE has no R/W (reserved), and a missing one is not present */
    put(&f.mem, pdpte, get(&f.mem, pdpte, 8) | RW, 8);
    expect_pf(&f, 0xc0200000, 0, PF_P | PF_RSVD);
    expect_pf(&f, 0x00200000, REVIRT_GPT_WRITE, PF_W);

    /* a 2M page's bits 20:13 are reserved */
    put(&f.mem, pdpte, get(&f.mem, pdpte, 8) & ~RW, 8);
    map(&f, 0xc0200000, 2, 0x40000000 | (1 << 13), P | PS, 0);
    expect_pf(&f, 0xc0200000, 0, PF_P | PF_RSVD);
    fixture_free(&f);
}

static void test_long4(void)
{
    const uint64_t gla = 0xffff888012345678ULL;
    uint64_t gpa;
    uint32_t error;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_LONG4);
    f.ctx.nxe = true;
    f.ctx.cr3 |= 0x5;               /* a PCID: not address bits */
    map(&f, gla, 3, 0x40000000, P | RW | PS, P | RW | US);         /* 1G */
    map(&f, 0x7f0000200000ULL, 2, 0x1234600000ULL, P | RW | US | PS,
        P | RW | US);                                              /* 2M */
    map(&f, 0x7f0000401000ULL, 1, 0xfff000, P | US, P | RW | US);   /* 4K */

    expect_gpa(&f, gla, REVIRT_GPT_WRITE, 0x40000000 | (gla & 0x3fffffff));
    expect_pf(&f, gla, REVIRT_GPT_USER, PF_P | PF_U);
    expect_gpa(&f, 0x7f00003fedcbULL, REVIRT_GPT_USER | REVIRT_GPT_FETCH,
               0x12347fedcbULL);
    expect_gpa(&f, 0x7f0000401abcULL, REVIRT_GPT_USER, 0xfffabc);
    expect_pf(&f, 0x7f0000401abcULL, REVIRT_GPT_WRITE, PF_P | PF_W);
    expect_pf(&f, 0x7f0000402000ULL, REVIRT_GPT_FETCH, PF_ID);

    /* not canonical: #GP, not a walk */
    g_assert(walk(&f, 0x0000800000000000ULL, 0, &gpa, &error) ==
             REVIRT_GPT_NONCANONICAL);
    g_assert(walk(&f, 0xfff0800000000000ULL, 0, &gpa, &error) ==
             REVIRT_GPT_NONCANONICAL);

    /* address bits above MAXPHYADDR are reserved */
    f.ctx.maxphyaddr = 36;
    expect_pf(&f, 0x7f00003fedcbULL, 0, PF_P | PF_RSVD);
    f.ctx.maxphyaddr = 48;

    fixture_free(&f);
}

static void test_long4_bits(void)
{
    uint64_t pml4e, pdpte;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_LONG4);
    f.ctx.nxe = true;
    map(&f, 0x1000, 1, 0x2000, P | RW, P | RW);
    pml4e = entry_gpa(REVIRT_GPT_LONG4, f.ctx.cr3, 0x1000, 4);
    pdpte = entry_gpa(REVIRT_GPT_LONG4, get(&f.mem, pml4e, 8) & ~0xfffULL,
                      0x1000, 3);

    expect_gpa(&f, 0x1fff, REVIRT_GPT_FETCH, 0x2fff);
    put(&f.mem, pdpte, get(&f.mem, pdpte, 8) | NX, 8);
    expect_pf(&f, 0x1fff, REVIRT_GPT_FETCH, PF_P | PF_ID);
    expect_gpa(&f, 0x1fff, REVIRT_GPT_WRITE, 0x2fff);
    put(&f.mem, pdpte, get(&f.mem, pdpte, 8) & ~NX, 8);

    put(&f.mem, pml4e, get(&f.mem, pml4e, 8) | PS, 8);
    expect_pf(&f, 0x1000, 0, PF_P | PF_RSVD);
    put(&f.mem, pml4e, get(&f.mem, pml4e, 8) & ~PS, 8);

    put(&f.mem, pdpte, 0x40000000 | (1 << 13) | P | PS, 8);
    expect_pf(&f, 0x1000, 0, PF_P | PF_RSVD);
    put(&f.mem, pdpte, 0xc0000000 | P | PS, 8);
    expect_gpa(&f, 0x1000, 0, 0xc0001000);
    fixture_free(&f);
}

static void test_long5(void)
{
    const uint64_t gla = 0xff12345678abc123ULL;
    uint64_t gpa;
    uint32_t error;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_LONG5);
    f.ctx.maxphyaddr = 52;
    map(&f, gla, 1, 0xf000000000000ULL, P | RW, P | RW);
    expect_gpa(&f, gla, REVIRT_GPT_WRITE, 0xf000000000123ULL);
    /* canonical in 57 bits is not in 48, and the other way round */
    g_assert(walk(&f, 0x0100000000000000ULL, 0, &gpa, &error) ==
             REVIRT_GPT_NONCANONICAL);
    expect_pf(&f, 0x0000800000000000ULL, 0, 0);
    fixture_free(&f);
}

/* Errors of the callbacks come back; a bad MAXPHYADDR is refused. */
static void test_errors(void)
{
    uint64_t gpa;
    uint32_t error;
    Fixture f;

    fixture_init(&f, REVIRT_GPT_LONG4);
    map(&f, 0x1000, 1, 0x2000, P | RW, P | RW);
    f.mem.update_error = -EAGAIN;
    g_assert(walk(&f, 0x1000, 0, &gpa, &error) == -EAGAIN);
    f.mem.update_error = 0;
    expect_gpa(&f, 0x1000, 0, 0x2000);
    /* nothing to update now */
    f.mem.update_error = -EAGAIN;
    expect_gpa(&f, 0x1000, 0, 0x2000);
    g_assert(walk(&f, 0x1000, REVIRT_GPT_WRITE, &gpa, &error) == -EAGAIN);

    f.ctx.update = NULL;            /* A/D bits are optional */
    expect_gpa(&f, 0x1000, REVIRT_GPT_WRITE, 0x2000);

    f.ctx.cr3 = MEM_SIZE;           /* tables outside guest RAM */
    g_assert(walk(&f, 0x1000, 0, &gpa, &error) == -EFAULT);
    f.ctx.maxphyaddr = 0;
    g_assert(walk(&f, 0x1000, 0, &gpa, &error) == -EINVAL);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/revirt-gpt-walk/none", test_none);
    g_test_add_func("/revirt-gpt-walk/32/4k", test_32_4k);
    g_test_add_func("/revirt-gpt-walk/32/permissions", test_32_permissions);
    g_test_add_func("/revirt-gpt-walk/32/4m", test_32_4m);
    g_test_add_func("/revirt-gpt-walk/pae", test_pae);
    g_test_add_func("/revirt-gpt-walk/long4", test_long4);
    g_test_add_func("/revirt-gpt-walk/long4/bits", test_long4_bits);
    g_test_add_func("/revirt-gpt-walk/long5", test_long5);
    g_test_add_func("/revirt-gpt-walk/errors", test_errors);
    return g_test_run();
}
