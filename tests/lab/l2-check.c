/*
 * l2-check: the userspace check the lab's L2 guest runs before powering off.
 *
 * Built at lab-build time with `gcc -O2 -static -pthread`.  It prints one
 * "CHECK ..." marker line per check; markers hold only values that must be
 * the same under every accelerator (the lab compares the marker set of a
 * revirt case with its kvm,kernel-irqchip=off twin).  Values that vary from
 * run to run (times, interrupt counts) go on "INFO ..." lines.
 *
 * Kernel command line: lab.cpus=N (the -smp given), lab.memmb=M (buffer size).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK_OK(...) do { printf("CHECK " __VA_ARGS__); printf(" ok\n"); } while (0)

static void check_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void check_fail(const char *fmt, ...)
{
    va_list ap;

    failures++;
    printf("CHECK ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" FAIL\n");
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long cmdline_int(const char *key, long dflt)
{
    char buf[4096], *p;
    FILE *f = fopen("/proc/cmdline", "r");
    size_t n;

    if (!f) {
        return dflt;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    for (p = buf; (p = strstr(p, key)) != NULL; p++) {
        if ((p == buf || p[-1] == ' ') && p[strlen(key)] == '=') {
            return strtol(p + strlen(key) + 1, NULL, 0);
        }
    }
    return dflt;
}

/* ------------------------------------------------------------ CPU count */

static int ncpus;

static void check_cpus(long want)
{
    char line[512];
    int cpuinfo = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "processor", 9) == 0) {
            cpuinfo++;
        }
    }
    if (f) {
        fclose(f);
    }
    ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (want == ncpus && want == cpuinfo) {
        CHECK_OK("cpus=%ld", want);
    } else {
        check_fail("cpus=%ld online=%d cpuinfo=%d", want, ncpus, cpuinfo);
    }
    if (ncpus < 1) {
        ncpus = 1;
    }
}

/* ------------------------------------------------------------ CPUID */

struct flag { const char *name; unsigned leaf, sub; int reg, bit; };
enum { EAX, EBX, ECX, EDX };

/*
 * The architectural feature bits the CPU model decides.  Leaves that only
 * KVM's paravirtual interface fills (0x40000000...) are left out on purpose.
 */
static const struct flag flags[] = {
    { "fpu", 1, 0, EDX, 0 }, { "tsc", 1, 0, EDX, 4 }, { "msr", 1, 0, EDX, 5 },
    { "pae", 1, 0, EDX, 6 }, { "apic", 1, 0, EDX, 9 }, { "mtrr", 1, 0, EDX, 12 },
    { "pge", 1, 0, EDX, 13 }, { "cmov", 1, 0, EDX, 15 }, { "pat", 1, 0, EDX, 16 },
    { "clflush", 1, 0, EDX, 19 }, { "mmx", 1, 0, EDX, 23 }, { "fxsr", 1, 0, EDX, 24 },
    { "sse", 1, 0, EDX, 25 }, { "sse2", 1, 0, EDX, 26 }, { "ht", 1, 0, EDX, 28 },
    { "sse3", 1, 0, ECX, 0 }, { "pclmul", 1, 0, ECX, 1 }, { "monitor", 1, 0, ECX, 3 },
    { "ssse3", 1, 0, ECX, 9 }, { "fma", 1, 0, ECX, 12 }, { "cx16", 1, 0, ECX, 13 },
    { "sse4_1", 1, 0, ECX, 19 }, { "sse4_2", 1, 0, ECX, 20 },
    { "x2apic", 1, 0, ECX, 21 }, { "movbe", 1, 0, ECX, 22 },
    { "popcnt", 1, 0, ECX, 23 }, { "tsc_deadline", 1, 0, ECX, 24 },
    { "aes", 1, 0, ECX, 25 }, { "xsave", 1, 0, ECX, 26 }, { "avx", 1, 0, ECX, 28 },
    { "f16c", 1, 0, ECX, 29 }, { "rdrand", 1, 0, ECX, 30 },
    { "hypervisor", 1, 0, ECX, 31 },
    { "fsgsbase", 7, 0, EBX, 0 }, { "bmi1", 7, 0, EBX, 3 }, { "avx2", 7, 0, EBX, 5 },
    { "smep", 7, 0, EBX, 7 }, { "bmi2", 7, 0, EBX, 8 }, { "erms", 7, 0, EBX, 9 },
    { "invpcid", 7, 0, EBX, 10 }, { "rdseed", 7, 0, EBX, 18 }, { "adx", 7, 0, EBX, 19 },
    { "smap", 7, 0, EBX, 20 }, { "clflushopt", 7, 0, EBX, 23 }, { "sha", 7, 0, EBX, 29 },
    { "umip", 7, 0, ECX, 2 }, { "pku", 7, 0, ECX, 3 },
    { "arat", 6, 0, EAX, 2 },
    { "lahf_lm", 0x80000001, 0, ECX, 0 }, { "svm", 0x80000001, 0, ECX, 2 },
    { "cr8_legacy", 0x80000001, 0, ECX, 4 }, { "abm", 0x80000001, 0, ECX, 5 },
    { "sse4a", 0x80000001, 0, ECX, 6 }, { "misalignsse", 0x80000001, 0, ECX, 7 },
    { "3dnowprefetch", 0x80000001, 0, ECX, 8 }, { "osvw", 0x80000001, 0, ECX, 9 },
    { "topoext", 0x80000001, 0, ECX, 22 },
    { "syscall", 0x80000001, 0, EDX, 11 }, { "nx", 0x80000001, 0, EDX, 20 },
    { "mmxext", 0x80000001, 0, EDX, 22 }, { "fxsr_opt", 0x80000001, 0, EDX, 25 },
    { "pdpe1gb", 0x80000001, 0, EDX, 26 }, { "rdtscp", 0x80000001, 0, EDX, 27 },
    { "lm", 0x80000001, 0, EDX, 29 },
};

static unsigned max_basic, max_ext;

static unsigned cpuid_reg(unsigned leaf, unsigned sub, int reg)
{
    unsigned r[4] = { 0 };

    if ((leaf < 0x80000000 && leaf > max_basic) ||
        (leaf >= 0x80000000 && leaf > max_ext)) {
        return 0;
    }
    __cpuid_count(leaf, sub, r[EAX], r[EBX], r[ECX], r[EDX]);
    return r[reg];
}

static int has(const char *name)
{
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strcmp(flags[i].name, name) == 0) {
            return (cpuid_reg(flags[i].leaf, flags[i].sub, flags[i].reg) >>
                    flags[i].bit) & 1;
        }
    }
    return 0;
}

static void check_cpuid(void)
{
    unsigned a, b, c, d;
    char vendor[13], on[2048] = "", off[2048] = "";

    __cpuid(0, a, b, c, d);
    max_basic = a;
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    __cpuid(0x80000000, a, b, c, d);
    max_ext = a;
    a = cpuid_reg(1, 0, EAX);
    printf("INFO cpuid vendor=%s max_basic=0x%x max_ext=0x%x family=0x%x model=0x%x stepping=%u\n",
           vendor, max_basic, max_ext, ((a >> 8) & 0xf) + ((a >> 20) & 0xff),
           ((a >> 4) & 0xf) | ((a >> 12) & 0xf0), a & 0xf);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char *dst = has(flags[i].name) ? on : off;
        strcat(dst, " ");
        strcat(dst, flags[i].name);
    }
    printf("INFO cpuid on:%s\n", on);
    printf("INFO cpuid off:%s\n", off);
    /* One marker per flag, so that a diff of two marker sets names it. */
    printf("CHECK cpuid vendor=%s family=0x%x model=0x%x\n", vendor,
           ((a >> 8) & 0xf) + ((a >> 20) & 0xff), ((a >> 4) & 0xf) | ((a >> 12) & 0xf0));
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        printf("CHECK cpuid %s=%d\n", flags[i].name, has(flags[i].name));
    }

    /*
     * AMD's cache topology leaf is indexed by ECX; Linux walks its subleaves
     * until the cache type is 0.  A table that ignores the index never ends
     * that walk, so count at most 16.
     */
    if (has("topoext") && max_ext >= 0x8000001d) {
        int n = 0;
        while (n < 16 && (cpuid_reg(0x8000001d, n, EAX) & 0x1f) != 0) {
            n++;
        }
        if (n < 16) {
            CHECK_OK("cpuid 0x8000001d cache-levels=%d", n);
        } else {
            check_fail("cpuid 0x8000001d cache-levels=16+ (subleaf index ignored)");
        }
    }
}

/* ------------------------------------------------------------ memsum */

struct memjob {
    uint64_t *buf;
    size_t first, count;   /* in 64-bit words */
    uint64_t sum;
};

static uint64_t gen(uint64_t i)
{
    /* splitmix64 of the word index: the same data on every run */
    uint64_t z = i + 0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t mix(uint64_t sum, uint64_t v, uint64_t i)
{
    return sum + (v ^ (i * 0x100000001b3ull));
}

static void *memjob_run(void *opaque)
{
    struct memjob *j = opaque;
    uint64_t sum = 0;

    for (size_t i = j->first; i < j->first + j->count; i++) {
        j->buf[i] = gen(i);
    }
    for (size_t i = j->first; i < j->first + j->count; i++) {
        sum = mix(sum, j->buf[i], i);
    }
    j->sum = sum;
    return NULL;
}

static void check_memsum(long mb)
{
    size_t words = (size_t)mb << 17;
    int nthreads = ncpus * 2;
    struct memjob *jobs = calloc(nthreads, sizeof(*jobs));
    pthread_t *tids = calloc(nthreads, sizeof(*tids));
    uint64_t threaded = 0, single = 0, expect = 0;
    double t0 = now(), t1, t2;
    uint64_t *buf = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (buf == MAP_FAILED || !jobs || !tids) {
        check_fail("memsum mb=%ld (no memory: %s)", mb, strerror(errno));
        return;
    }
    for (int t = 0; t < nthreads; t++) {
        jobs[t].buf = buf;
        jobs[t].first = words / nthreads * t;
        jobs[t].count = t == nthreads - 1 ? words - jobs[t].first : words / nthreads;
        pthread_create(&tids[t], NULL, memjob_run, &jobs[t]);
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tids[t], NULL);
        threaded += jobs[t].sum;
    }
    t1 = now();
    /* Recompute on one thread: from memory, and from the generator alone. */
    for (size_t i = 0; i < words; i++) {
        single = mix(single, buf[i], i);
        expect = mix(expect, gen(i), i);
    }
    t2 = now();
    printf("INFO memsum threads=%d threaded_s=%.2f single_s=%.2f\n", nthreads, t1 - t0, t2 - t1);
    if (threaded == single && single == expect) {
        CHECK_OK("memsum mb=%ld sum=0x%016" PRIx64, mb, expect);
    } else {
        check_fail("memsum mb=%ld threaded=0x%016" PRIx64 " single=0x%016" PRIx64
                   " expect=0x%016" PRIx64, mb, threaded, single, expect);
    }
    munmap(buf, words * 8);
    free(jobs);
    free(tids);
}

/* ------------------------------------------------------------ SSE / AVX */

/*
 * Each thread loads a pattern of its own into every vector register, makes
 * a system call that yields the CPU (so the kernel saves and restores its
 * vector state, and other threads run with theirs), and checks that the
 * registers still hold the pattern; then it does some vector arithmetic and
 * compares it with the same computed in scalar code.
 */
#define VEC_ROUNDS 500

struct vecjob { int id; int bad; int avx; };

static void *sse_run(void *opaque)
{
    struct vecjob *j = opaque;
    uint8_t in[16 * 16] __attribute__((aligned(16))), out[16 * 16] __attribute__((aligned(16)));

    for (int r = 0; r < VEC_ROUNDS && !j->bad; r++) {
        for (int i = 0; i < (int)sizeof(in); i++) {
            in[i] = (uint8_t)(j->id * 131 + r * 7 + i);
        }
        asm volatile(
            "movdqa 0(%0), %%xmm0\n movdqa 16(%0), %%xmm1\n movdqa 32(%0), %%xmm2\n"
            "movdqa 48(%0), %%xmm3\n movdqa 64(%0), %%xmm4\n movdqa 80(%0), %%xmm5\n"
            "movdqa 96(%0), %%xmm6\n movdqa 112(%0), %%xmm7\n movdqa 128(%0), %%xmm8\n"
            "movdqa 144(%0), %%xmm9\n movdqa 160(%0), %%xmm10\n movdqa 176(%0), %%xmm11\n"
            "movdqa 192(%0), %%xmm12\n movdqa 208(%0), %%xmm13\n movdqa 224(%0), %%xmm14\n"
            "movdqa 240(%0), %%xmm15\n"
            "mov %2, %%eax\n syscall\n"
            "paddq %%xmm0, %%xmm1\n pxor %%xmm2, %%xmm3\n paddd %%xmm4, %%xmm5\n"
            "movdqa %%xmm0, 0(%1)\n movdqa %%xmm1, 16(%1)\n movdqa %%xmm2, 32(%1)\n"
            "movdqa %%xmm3, 48(%1)\n movdqa %%xmm4, 64(%1)\n movdqa %%xmm5, 80(%1)\n"
            "movdqa %%xmm6, 96(%1)\n movdqa %%xmm7, 112(%1)\n movdqa %%xmm8, 128(%1)\n"
            "movdqa %%xmm9, 144(%1)\n movdqa %%xmm10, 160(%1)\n movdqa %%xmm11, 176(%1)\n"
            "movdqa %%xmm12, 192(%1)\n movdqa %%xmm13, 208(%1)\n movdqa %%xmm14, 224(%1)\n"
            "movdqa %%xmm15, 240(%1)\n"
            : : "r"(in), "r"(out), "i"(SYS_sched_yield)
            : "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
              "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
              "xmm13", "xmm14", "xmm15");
        /* scalar model of paddq / pxor / paddd on the loaded pattern */
        uint64_t q0[2], q1[2];
        uint32_t d4[4], d5[4];
        memcpy(q0, in, 16);
        memcpy(q1, in + 16, 16);
        q1[0] += q0[0];
        q1[1] += q0[1];
        memcpy(in + 16, q1, 16);
        for (int i = 0; i < 16; i++) {
            in[48 + i] ^= in[32 + i];
        }
        memcpy(d4, in + 64, 16);
        memcpy(d5, in + 80, 16);
        for (int i = 0; i < 4; i++) {
            d5[i] += d4[i];
        }
        memcpy(in + 80, d5, 16);
        if (memcmp(in, out, sizeof(in)) != 0) {
            j->bad = r + 1;
        }
    }
    return NULL;
}

static void *avx_run(void *opaque)
{
    struct vecjob *j = opaque;
    uint8_t in[16 * 32] __attribute__((aligned(32))), out[16 * 32] __attribute__((aligned(32)));

    for (int r = 0; r < VEC_ROUNDS && !j->bad; r++) {
        for (int i = 0; i < (int)sizeof(in); i++) {
            in[i] = (uint8_t)(j->id * 37 + r * 11 + i * 3);
        }
        asm volatile(
            "vmovdqa 0(%0), %%ymm0\n vmovdqa 32(%0), %%ymm1\n vmovdqa 64(%0), %%ymm2\n"
            "vmovdqa 96(%0), %%ymm3\n vmovdqa 128(%0), %%ymm4\n vmovdqa 160(%0), %%ymm5\n"
            "vmovdqa 192(%0), %%ymm6\n vmovdqa 224(%0), %%ymm7\n vmovdqa 256(%0), %%ymm8\n"
            "vmovdqa 288(%0), %%ymm9\n vmovdqa 320(%0), %%ymm10\n vmovdqa 352(%0), %%ymm11\n"
            "vmovdqa 384(%0), %%ymm12\n vmovdqa 416(%0), %%ymm13\n vmovdqa 448(%0), %%ymm14\n"
            "vmovdqa 480(%0), %%ymm15\n"
            "mov %2, %%eax\n syscall\n"
            "vxorps %%ymm0, %%ymm1, %%ymm1\n"
            "vmovdqa %%ymm0, 0(%1)\n vmovdqa %%ymm1, 32(%1)\n vmovdqa %%ymm2, 64(%1)\n"
            "vmovdqa %%ymm3, 96(%1)\n vmovdqa %%ymm4, 128(%1)\n vmovdqa %%ymm5, 160(%1)\n"
            "vmovdqa %%ymm6, 192(%1)\n vmovdqa %%ymm7, 224(%1)\n vmovdqa %%ymm8, 256(%1)\n"
            "vmovdqa %%ymm9, 288(%1)\n vmovdqa %%ymm10, 320(%1)\n vmovdqa %%ymm11, 352(%1)\n"
            "vmovdqa %%ymm12, 384(%1)\n vmovdqa %%ymm13, 416(%1)\n vmovdqa %%ymm14, 448(%1)\n"
            "vmovdqa %%ymm15, 480(%1)\n vzeroupper\n"
            : : "r"(in), "r"(out), "i"(SYS_sched_yield)
            : "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
              "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
              "xmm13", "xmm14", "xmm15");
        for (int i = 0; i < 32; i++) {
            in[32 + i] ^= in[i];
        }
        if (memcmp(in, out, sizeof(in)) != 0) {
            j->bad = r + 1;
        }
    }
    return NULL;
}

static void check_vec(const char *name, void *(*fn)(void *))
{
    int nthreads = ncpus * 2 + 1, bad = 0;
    struct vecjob *jobs = calloc(nthreads, sizeof(*jobs));
    pthread_t *tids = calloc(nthreads, sizeof(*tids));

    for (int t = 0; t < nthreads; t++) {
        jobs[t].id = t;
        pthread_create(&tids[t], NULL, fn, &jobs[t]);
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(tids[t], NULL);
        if (jobs[t].bad) {
            printf("INFO %s thread %d: wrong register contents in round %d\n",
                   name, t, jobs[t].bad - 1);
            bad++;
        }
    }
    if (bad) {
        check_fail("%s (%d of %d threads saw wrong vector registers)", name, bad, nthreads);
    } else {
        CHECK_OK("%s", name);
    }
    free(jobs);
    free(tids);
}

static void check_avx(void)
{
    unsigned lo = 0, hi = 0;

    if (!has("avx") || !(cpuid_reg(1, 0, ECX) & (1u << 27))) {
        printf("CHECK avx skipped (no avx)\n");
        printf("AVX: skipped (no avx)\n");
        return;
    }
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) {
        check_fail("avx (cpuid has avx, but XCR0=0x%x lacks SSE|AVX state)", lo);
        return;
    }
    check_vec("avx", avx_run);
}

/* ------------------------------------------------------------ interrupts */

#define MAXCPU 64
struct irqs { uint64_t loc[MAXCPU], ipi[MAXCPU]; int cols; };

static int read_irqs(struct irqs *s)
{
    char line[4096];
    FILE *f = fopen("/proc/interrupts", "r");

    memset(s, 0, sizeof(*s));
    if (!f || !fgets(line, sizeof(line), f)) {
        return -1;
    }
    for (char *p = strtok(line, " \t\n"); p; p = strtok(NULL, " \t\n")) {
        s->cols++;
    }
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *end;
        uint64_t *dst;
        while (*p == ' ') {
            p++;
        }
        if (strncmp(p, "LOC:", 4) == 0) {
            dst = s->loc;
        } else if (!strncmp(p, "CAL:", 4) || !strncmp(p, "RES:", 4) || !strncmp(p, "TLB:", 4)) {
            dst = s->ipi;
        } else {
            continue;
        }
        p += 4;
        for (int c = 0; c < s->cols && c < MAXCPU; c++) {
            uint64_t v = strtoull(p, &end, 10);
            if (end == p) {
                break;
            }
            dst[c] += v;
            p = end;
        }
    }
    fclose(f);
    return 0;
}

struct pingjob { int cpu; int rfd, wfd; double until; };

/* Pinned to one CPU: wake the next CPU's thread through a pipe (a
 * reschedule IPI) and map/touch/unmap memory shared by all threads (TLB
 * shootdowns are function-call IPIs). */
static void *ping_run(void *opaque)
{
    struct pingjob *j = opaque;
    cpu_set_t set;
    char c = 0;

    CPU_ZERO(&set);
    CPU_SET(j->cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
    while (now() < j->until) {
        if (write(j->wfd, &c, 1) != 1 || read(j->rfd, &c, 1) != 1) {
            break;
        }
        void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
            memset(m, 1, 65536);
            munmap(m, 65536);
        }
    }
    /* unblock the neighbour */
    if (write(j->wfd, &c, 1) < 0) {
        return NULL;
    }
    return NULL;
}

static void check_irqs(double secs)
{
    struct irqs a, b;
    struct pingjob jobs[MAXCPU];
    pthread_t tids[MAXCPU];
    int fds[MAXCPU][2], n = ncpus < MAXCPU ? ncpus : MAXCPU, stuck = 0;
    uint64_t dloc = 0, dipi = 0;
    char where[512] = "";

    if (read_irqs(&a) < 0) {
        check_fail("irq (/proc/interrupts unreadable)");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (pipe(fds[i]) < 0) {
            check_fail("irq (pipe: %s)", strerror(errno));
            return;
        }
    }
    /*
     * By default 1.5 s of work on every CPU: several timer ticks each.  One
     * deadline for all: with one each, a thread whose neighbour had already
     * passed its own (earlier) deadline could drain its pipe and then wait
     * in read() for good, every CPU halted (it looked like a lost IPI).
     */
    double until = now() + secs;
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct pingjob){ i, fds[i][0], fds[(i + 1) % n][1], until };
        pthread_create(&tids[i], NULL, ping_run, &jobs[i]);
    }
    if (n > 1) {
        char c = 0;
        if (write(fds[0][1], &c, 1) != 1) {
            /* nothing: the threads just time out */
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(tids[i], NULL);
    }
    for (int i = 0; i < n; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    read_irqs(&b);
    for (int c = 0; c < a.cols && c < MAXCPU; c++) {
        dloc += b.loc[c] - a.loc[c];
        dipi += b.ipi[c] - a.ipi[c];
        char one[64];
        snprintf(one, sizeof(one), " cpu%d:loc+%" PRIu64 ",ipi+%" PRIu64, c,
                 b.loc[c] - a.loc[c], b.ipi[c] - a.ipi[c]);
        strncat(where, one, sizeof(where) - strlen(where) - 1);
        if (b.loc[c] == a.loc[c]) {
            stuck++;
        }
    }
    printf("INFO irq deltas over %.1f s:%s\n", secs, where);
    if (dloc > 0 && stuck == 0) {
        CHECK_OK("irq timer moving");
    } else {
        check_fail("irq timer moving (LOC still on %d of %d cpus)", stuck, a.cols);
    }
    if (a.cols < 2) {
        printf("CHECK irq ipi skipped (1 cpu)\n");
    } else if (dipi > 0) {
        CHECK_OK("irq ipi moving");
    } else {
        check_fail("irq ipi moving (CAL/RES/TLB unchanged)");
    }
}

int main(void)
{
    long want = cmdline_int("lab.cpus", 1), mb = cmdline_int("lab.memmb", 256);
    double t0 = now();

    setvbuf(stdout, NULL, _IOLBF, 0);
    check_cpus(want);
    check_cpuid();
    check_vec("sse", sse_run);
    check_avx();
    /* lab.irqms and lab.irqloops: more IPI ping-pong, to hunt lost wake-ups */
    for (long i = cmdline_int("lab.irqloops", 1); i > 0; i--) {
        check_irqs(cmdline_int("lab.irqms", 1500) / 1000.0);
    }
    check_memsum(mb);
    printf("INFO check_s=%.2f failures=%d\n", now() - t0, failures);
    printf("CHECK done\n");
    return failures ? 1 : 0;
}
