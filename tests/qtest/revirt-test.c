/*
 * QTest for the revirt accelerator
 *
 * Guests of our own (tests/revirt-guests, built from source) and SeaBIOS
 * run under -accel revirt and must print and leave behind exactly what
 * they do under TCG and under KVM with QEMU's userspace irqchip.  Bad
 * -accel revirt options must fail with one error line, and a guest that
 * revirt cannot run must stop the VM while QMP keeps answering.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include <sys/utsname.h>
#include "libqtest.h"
#include "qapi/qmp/qdict.h"
#include "qapi/qmp/qlist.h"
#include "qemu/bswap.h"

/* What the guests leave in RAM; see tests/revirt-guests/bios.S. */
#define BIOS_RESULTS            0x500
#define BIOS_BOOTS              (BIOS_RESULTS + 4)
#define BIOS_APS                (BIOS_RESULTS + 28)
#define BIOS_DONE               (BIOS_RESULTS + 32)
#define BIOS_DONE_MAGIC         0x454e4f44      /* "DONE" */
#define BIOS_NMIS               (BIOS_RESULTS + 36)
#define BIOS_BSP_EBX            0x600df00d
#define BIOS_AP_EBX(apic_id)    (0xa9000000 + (apic_id))
#define BOOTSECT_DONE           0x520
#define BOOTSECT_DONE_MAGIC     0x4b4f5342      /* "BSOK" */

#define GUEST_TIMEOUT_S         60

static const char *guests_dir;
static char *tmp_dir;

typedef enum {
    FIRMWARE_ROM,               /* -bios */
    FIRMWARE_FLASH,             /* -drive if=pflash: a ROM device */
} Firmware;

typedef struct {
    const char *accel;
    Firmware firmware;
    int cpus;
} BiosCase;

typedef struct {
    const char *accel;
    int cpus;
} SeabiosCase;

static const char *accel_option(const char *accel)
{
    return strcmp(accel, "kvm") ? accel : "kvm,kernel-irqchip=off";
}

/* Skip, and say why, when this host cannot run @accel. */
static bool accel_missing(const char *accel)
{
    if (!strcmp(accel, "revirt")) {
        /* The Linux driver runs over /dev/kvm. */
        if (access("/dev/revirt", R_OK | W_OK) && !qtest_has_accel("kvm")) {
            g_test_skip("no revirt driver: neither /dev/revirt nor /dev/kvm");
            return true;
        }
    } else if (!qtest_has_accel(accel)) {
        g_test_skip("accelerator not available");
        return true;
    }
    return false;
}

/*
 * Skip a test that changes revirt-kvm through its REVIRT_KVM_* variables
 * when QEMU picks the native driver, which they do not change.
 */
static bool native_driver_picked(void)
{
    if (!access("/dev/revirt", F_OK)) {
        g_test_skip("REVIRT_KVM_* changes revirt-kvm only, and QEMU picks "
                    "/dev/revirt here");
        return true;
    }
    return false;
}

/* Hide @what from revirt-kvm (REVIRT_KVM_HIDE) in the QEMUs started next. */
static bool hide_from_revirt_kvm(const char *what)
{
    if (native_driver_picked()) {
        return false;
    }
    g_setenv("REVIRT_KVM_HIDE", what, true);
    return true;
}

/*
 * Skip, and say why, when @accel is kvm on a kernel whose KVM takes a TSC
 * written within a second of its own expectation as a try to keep vCPUs
 * in step and ignores it (fixed in Linux 6.8 by "KVM: x86: Don't sync
 * user-written TSC against startup values"): regs.S then sees its TSC go
 * back after a quick loadvm or migration.  revirt-kvm sets it as an offset.
 */
static bool kvm_keeps_tsc_offset(const char *accel)
{
    struct utsname u;
    int major = 0, minor = 0;

    if (strcmp(accel, "kvm")) {
        return false;
    }
    g_assert(uname(&u) == 0);
    sscanf(u.release, "%d.%d", &major, &minor);
    if (major < 6 || (major == 6 && minor < 8)) {
        g_test_skip("KVM before Linux 6.8 ignores a TSC written soon after "
                    "the VM's start: regs.S would see its TSC go back");
        return true;
    }
    return false;
}

static char *guest_path(const char *name)
{
    return g_build_filename(guests_dir, name, NULL);
}

static void wait_for_guest(QTestState *qts, uint64_t addr, uint32_t want)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;

    while (qtest_readl(qts, addr) != want) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}

static char *read_file(const char *path)
{
    char *contents;

    g_assert(g_file_get_contents(path, &contents, NULL, NULL));
    return contents;
}

/* Registers as the monitor shows them: needs a state get on demand. */
static void check_monitor_ebx(QTestState *qts, int cpu_index, uint32_t ebx)
{
    g_autofree char *want = g_strdup_printf("EBX=%08x", ebx);
    QDict *resp;

    resp = qtest_qmp(qts, "{ 'execute': 'human-monitor-command',"
                     "  'arguments': { 'command-line': 'info registers',"
                     "                 'cpu-index': %d } }", cpu_index);
    g_assert(qdict_haskey(resp, "return"));
    if (!strstr(qdict_get_str(resp, "return"), want)) {
        g_test_message("CPU %d: %s", cpu_index, qdict_get_str(resp, "return"));
        g_test_fail();
    }
    qobject_unref(resp);
}

static char *bios_expected_output(const BiosCase *c)
{
    return g_strdup_printf("revirt-test boot 00000001\n"
                           "ram sum 5ed48e00\n"
                           "ioapic version 00170020\n"
                           "firmware id %s\n"
                           "rom read-only\n"
                           "pit ticks ok\n"
                           "triple fault\n"
                           "revirt-test boot 00000002\n"
                           "cpus %08x\n"
                           "done\n",
                           /* A ROM ignores the read-ID command. */
                           c->firmware == FIRMWARE_ROM ? "00b8fcfa"
                                                       : "00000000",
                           c->cpus);
}

/*
 * bios.S: port I/O with rep outsb, RAM above 1 MiB, MMIO to the APIC and
 * IOAPIC, firmware that ignores writes (a ROM, or a flash that leaves
 * romd mode for a command and comes back), PIT interrupts through the
 * PIC with HLT, a triple fault that resets, INIT/SIPI to the APs, and
 * NMIs from QMP's inject-nmi.
 */
static void test_bios_guest(const void *data)
{
    const BiosCase *c = data;
    g_autofree char *image = guest_path("bios.bin");
    g_autofree char *serial = g_build_filename(tmp_dir, "bios.serial", NULL);
    g_autofree char *flash = g_build_filename(tmp_dir, "flash.bin", NULL);
    g_autofree char *firmware = NULL;
    g_autofree char *expected = bios_expected_output(c);
    g_autofree char *output = NULL;
    QTestState *qts;

    if (accel_missing(c->accel)) {
        return;
    }
    if (c->firmware == FIRMWARE_ROM) {
        firmware = g_strdup_printf("-bios %s", image);
    } else {
        g_autofree char *contents = NULL;
        gsize len;

        /* The flash is writable: give it a copy. */
        g_assert(g_file_get_contents(image, &contents, &len, NULL));
        g_assert(g_file_set_contents(flash, contents, len, NULL));
        firmware = g_strdup_printf("-drive if=pflash,format=raw,file=%s",
                                   flash);
    }

    qts = qtest_initf("-accel %s -smp %d %s -nodefaults -serial file:%s",
                      accel_option(c->accel), c->cpus, firmware, serial);
    wait_for_guest(qts, BIOS_DONE, BIOS_DONE_MAGIC);

    output = read_file(serial);
    g_assert_cmpstr(output, ==, expected);
    g_assert_cmpint(qtest_readb(qts, BIOS_BOOTS), ==, 2);
    g_assert_cmpint(qtest_readw(qts, BIOS_APS), ==, c->cpus - 1);

    check_monitor_ebx(qts, 0, BIOS_BSP_EBX);
    for (int i = 1; i < c->cpus; i++) {
        check_monitor_ebx(qts, i, BIOS_AP_EBX(i));
    }

    /* NMIs wake the halted boot CPU, one at a time, and leave it as it was */
    for (int nmis = 1; nmis <= 2; nmis++) {
        qtest_qmp_assert_success(qts, "{ 'execute': 'inject-nmi' }");
        wait_for_guest(qts, BIOS_NMIS, nmis);
    }
    check_monitor_ebx(qts, 0, BIOS_BSP_EBX);

    qtest_quit(qts);
}

/* SeaBIOS boots bootsect.S from an IDE disk; with -smp, it finds the APs. */
static void test_seabios_boot(const void *data)
{
    const SeabiosCase *c = data;
    g_autofree char *disk = guest_path("bootsect.img");
    g_autofree char *serial = g_build_filename(tmp_dir, "sb.serial", NULL);
    g_autofree char *debug = g_build_filename(tmp_dir, "sb.debug", NULL);
    g_autofree char *found_cpus = g_strdup_printf("Found %d cpu(s)", c->cpus);
    g_autofree char *output = NULL;
    g_autofree char *log = NULL;
    QTestState *qts;

    if (accel_missing(c->accel)) {
        return;
    }
    qts = qtest_initf("-accel %s -smp %d -nodefaults -serial file:%s "
                      "-chardev file,id=seabios,path=%s "
                      "-device isa-debugcon,iobase=0x402,chardev=seabios "
                      "-drive file=%s,format=raw,if=ide",
                      accel_option(c->accel), c->cpus, serial, debug, disk);
    wait_for_guest(qts, BOOTSECT_DONE, BOOTSECT_DONE_MAGIC);

    output = read_file(serial);
    g_assert(g_str_has_suffix(output, "revirt boot sector ok\n"));
    log = read_file(debug);
    g_assert(strstr(log, found_cpus));
    g_assert(strstr(log, "Booting from Hard Disk"));
    qtest_quit(qts);
}

/* Wait until the VM stops as internal-error, with QMP answering. */
static void wait_for_internal_error(QTestState *qts)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;
    QDict *resp, *status;

    for (;;) {
        resp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
        status = qdict_get_qdict(resp, "return");
        if (!strcmp(qdict_get_str(status, "status"), "internal-error")) {
            break;
        }
        qobject_unref(resp);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
    g_assert(!qdict_get_bool(status, "running"));
    qobject_unref(resp);
}

/* stray.S jumps into MMIO: the VM stops, QMP keeps answering. */
static void test_internal_error_stops_vm(void)
{
    g_autofree char *image = guest_path("stray.bin");
    QTestState *qts;
    QDict *resp;

    if (accel_missing("revirt")) {
        return;
    }
    qts = qtest_initf("-accel revirt -nodefaults -bios %s", image);
    wait_for_internal_error(qts);

    /* It stays stopped: 'cont' is refused until a reset. */
    resp = qtest_qmp(qts, "{ 'execute': 'cont' }");
    g_assert(qdict_haskey(resp, "error"));
    qobject_unref(resp);
    resp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(resp, "return"), "status"),
                    ==, "internal-error");
    qobject_unref(resp);
    qtest_quit(qts);
}

/* What cpuid.S leaves in RAM: sub-leaves 0-7 of 0x22 leaves per range. */
#define CPUID_DONE              0x500
#define CPUID_DONE_MAGIC        0x44495043      /* "CPID" */
#define CPUID_OUT               0x10000
#define CPUID_RANGES            3
#define CPUID_LEAVES            0x22
#define CPUID_SUBLEAVES         8
#define CPUID_ENTRIES           (CPUID_RANGES * CPUID_LEAVES * CPUID_SUBLEAVES)

typedef struct {
    uint32_t eax, ebx, ecx, edx;
} CpuidRegs;

static const uint32_t cpuid_range_base[CPUID_RANGES] = {
    0, 0x40000000, 0x80000000
};

/* CPUID as cpuid.S read it under @accel with -cpu @model. */
static CpuidRegs *read_guest_cpuid(const char *accel, const char *model)
{
    g_autofree char *image = guest_path("cpuid.bin");
    CpuidRegs *regs = g_new(CpuidRegs, CPUID_ENTRIES);
    QTestState *qts;

    qts = qtest_initf("-accel %s -cpu %s -nodefaults -bios %s",
                      accel_option(accel), model, image);
    wait_for_guest(qts, CPUID_DONE, CPUID_DONE_MAGIC);
    qtest_memread(qts, CPUID_OUT, regs, CPUID_ENTRIES * sizeof(*regs));
    qtest_quit(qts);
    for (int i = 0; i < CPUID_ENTRIES; i++) {
        regs[i].eax = le32_to_cpu(regs[i].eax);
        regs[i].ebx = le32_to_cpu(regs[i].ebx);
        regs[i].ecx = le32_to_cpu(regs[i].ecx);
        regs[i].edx = le32_to_cpu(regs[i].edx);
    }
    return regs;
}

static const CpuidRegs *cpuid_at(const CpuidRegs *regs, uint32_t leaf,
                                 uint32_t subleaf)
{
    for (int r = 0; r < CPUID_RANGES; r++) {
        if (leaf >= cpuid_range_base[r] &&
            leaf < cpuid_range_base[r] + CPUID_LEAVES) {
            uint32_t n = r * CPUID_LEAVES + (leaf - cpuid_range_base[r]);

            return &regs[n * CPUID_SUBLEAVES + subleaf];
        }
    }
    g_assert_not_reached();
}

/*
 * kvm's CPUID for @model.  A machine whose KVM cannot be loaded next to
 * the revirt driver (revirt.ko's lab L1) reads it from the file a run with
 * kvm left in $REVIRT_CPUID_KVM_DIR on the same CPU; NULL without either.
 */
static CpuidRegs *kvm_guest_cpuid(const char *model)
{
    const char *dir = g_getenv("REVIRT_CPUID_KVM_DIR");
    const gsize size = CPUID_ENTRIES * sizeof(CpuidRegs);
    g_autofree char *file = NULL;
    g_autofree char *kvm_model = NULL;
    gchar *saved = NULL;
    gsize len = 0;
    CpuidRegs *regs;

    file = dir ? g_strdup_printf("%s/%s.cpuid", dir, model) : NULL;
    if (qtest_has_accel("kvm")) {
        /*
         * kvm=off: KVM's paravirtual MSRs fail on PVM hosts with -cpu
         * host; svm=off: a nested KVM offers -cpu host SVM, and revirt has
         * no nested virtualization (ABI v1 has no nested state).
         */
        kvm_model = g_strdup_printf("%s,kvm=off,svm=off", model);
        regs = read_guest_cpuid("kvm", kvm_model);
        if (file) {
            g_assert(g_file_set_contents(file, (const gchar *)regs, size,
                                         NULL));
        }
        return regs;
    }
    if (file && g_file_get_contents(file, &saved, &len, NULL)) {
        g_assert(len == size);
        g_test_message("kvm's CPUID for -cpu %s from %s", model, file);
        return (CpuidRegs *)saved;
    }
    g_test_skip("no kvm to compare with (nor REVIRT_CPUID_KVM_DIR)");
    return NULL;
}

/*
 * The guest's CPUID under revirt is what QEMU's KVM accelerator gives with
 * the userspace irqchip, for each leaf up to the last and each sub-leaf,
 * except for the hypervisors' own leaves: no x2APIC or TSC-deadline timer
 * (QEMU's APIC has neither), the hypervisor bit, every sub-leaf of the
 * indexed leaves, XSAVE offsets, and -cpu host's levels.
 */
static void test_cpuid(const void *data)
{
    const char *model = data;
    g_autofree CpuidRegs *revirt = NULL;
    g_autofree CpuidRegs *kvm = NULL;
    const CpuidRegs *leaf1, *sig;
    int differences = 0;

    if (accel_missing("revirt")) {
        return;
    }
    kvm = kvm_guest_cpuid(model);
    if (!kvm) {
        return;
    }
    revirt = read_guest_cpuid("revirt", model);

    leaf1 = cpuid_at(revirt, 1, 0);
    g_assert_cmphex(leaf1->ecx & (1u << 31), ==, 1u << 31); /* hypervisor */
    g_assert_cmphex(leaf1->ecx & (1u << 21), ==, 0);        /* x2APIC */
    g_assert_cmphex(leaf1->ecx & (1u << 24), ==, 0);        /* TSC-deadline */
    sig = cpuid_at(revirt, 0x40000000, 0);
    g_assert(!memcmp(&sig->ebx, "revi", 4) && !memcmp(&sig->ecx, "rtre", 4) &&
             !memcmp(&sig->edx, "virt", 4));

    for (int r = 0; r < CPUID_RANGES; r++) {
        uint32_t base = cpuid_range_base[r];
        uint32_t last = cpuid_at(kvm, base, 0)->eax;

        /* The hypervisors' own leaves differ. */
        if (base == 0x40000000) {
            continue;
        }
        g_assert_cmphex(cpuid_at(revirt, base, 0)->eax, ==, last);
        for (uint32_t leaf = base; leaf <= MIN(last, base + CPUID_LEAVES - 1);
             leaf++) {
            for (uint32_t sub = 0; sub < CPUID_SUBLEAVES; sub++) {
                CpuidRegs a = *cpuid_at(revirt, leaf, sub);
                CpuidRegs b = *cpuid_at(kvm, leaf, sub);

                /* PVM's KVM answers XSAVE sub-leaves it lacks from the host */
                if (leaf == 0xd && sub >= 2) {
                    continue;
                }
                /* New kernels give KVM's userspace APIC a TSC-deadline bit */
                if (leaf == 1) {
                    b.ecx &= ~(1u << 24);
                }
                if (memcmp(&a, &b, sizeof(a))) {
                    g_test_message("-cpu %s leaf 0x%x.%u: revirt %08x %08x "
                                   "%08x %08x, kvm %08x %08x %08x %08x",
                                   model, leaf, sub, a.eax, a.ebx, a.ecx,
                                   a.edx, b.eax, b.ebx, b.ecx, b.edx);
                    differences++;
                }
            }
        }
    }
    g_assert_cmpint(differences, ==, 0);

    /* XSAVE: AVX's state sits after the legacy area and the header. */
    if (cpuid_at(revirt, 0xd, 2)->eax) {
        g_assert_cmphex(cpuid_at(revirt, 0xd, 2)->ebx, ==, 0x240);
    }
    /* AMD's cache leaf lists each cache once, then one of type "none". */
    if (cpuid_at(revirt, 0x80000000, 0)->eax >= 0x8000001d) {
        const CpuidRegs *l1d = cpuid_at(revirt, 0x8000001d, 0);
        const CpuidRegs *l1i = cpuid_at(revirt, 0x8000001d, 1);
        bool ends = false;

        g_assert(memcmp(l1d, l1i, sizeof(*l1d)));
        for (int sub = 1; sub < CPUID_SUBLEAVES; sub++) {
            ends |= !(cpuid_at(revirt, 0x8000001d, sub)->eax & 0x1f);
        }
        g_assert(ends);
    }
}

/*
 * A QEMU that stops answering must fail the test, not hang it: kill it
 * after @seconds, so that libqtest sees it die.
 */
static pid_t watched_qemu;

static void kill_watched_qemu(int sig)
{
    if (watched_qemu > 0) {
        kill(watched_qemu, SIGKILL);
    }
}

static void watchdog_start(const char *pidfile, unsigned seconds)
{
    g_autofree char *pid = read_file(pidfile);
    struct sigaction sa = { .sa_handler = kill_watched_qemu };

    watched_qemu = atoi(pid);
    g_assert_cmpint(watched_qemu, >, 0);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

static void watchdog_stop(void)
{
    alarm(0);
    watched_qemu = 0;
}

#define SMI_DONE                0x500
#define SMI_DONE_MAGIC          0x21494d53      /* "SMI!" */

/*
 * smi.S sends itself an SMI and halts: revirt has no SMM, so it drops
 * the SMI, and QEMU stays responsive instead of spinning with the BQL.
 */
static void test_smi_dropped(void)
{
    g_autofree char *image = guest_path("smi.bin");
    g_autofree char *pidfile = g_build_filename(tmp_dir, "smi.pid", NULL);
    QTestState *qts;
    QDict *resp;

    if (accel_missing("revirt")) {
        return;
    }
    qts = qtest_initf("-accel revirt -nodefaults -bios %s -pidfile %s",
                      image, pidfile);
    watchdog_start(pidfile, GUEST_TIMEOUT_S);
    wait_for_guest(qts, SMI_DONE, SMI_DONE_MAGIC);
    for (int i = 0; i < 10; i++) {
        g_usleep(100 * 1000);
        resp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
        g_assert_cmpstr(qdict_get_str(qdict_get_qdict(resp, "return"),
                                      "status"), ==, "running");
        qobject_unref(resp);
    }
    watchdog_stop();
    qtest_quit(qts);
}

/*
 * Run QEMU with @args on the bios guest with -no-reboot: it exits at the
 * guest's triple fault.  Returns its stderr; the serial output must end
 * there.
 */
static char *run_bios_to_triple_fault(const char *args)
{
    g_autofree char *image = guest_path("bios.bin");
    g_autofree char *serial = g_build_filename(tmp_dir, "tf.serial", NULL);
    g_autofree char *cmd = g_strdup_printf(
        "timeout %d %s %s -bios %s -no-reboot -display none -nodefaults "
        "-serial file:%s", GUEST_TIMEOUT_S, g_getenv("QTEST_QEMU_BINARY"),
        args, image, serial);
    g_autofree char *output = NULL;
    g_autoptr(GError) error = NULL;
    char *err = NULL;
    int status;

    g_assert(g_spawn_command_line_sync(cmd, NULL, &err, &status, &error));
    g_test_message("stderr: %s", err);
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    output = read_file(serial);
    g_test_message("serial: %s", output);
    g_assert(g_str_has_suffix(output, "triple fault\n"));
    return err;
}

/* revirt says where a triple fault happened before it resets. */
static void test_triple_fault_report(void)
{
    g_autofree char *err = NULL;

    if (accel_missing("revirt")) {
        return;
    }
    err = run_bios_to_triple_fault("-accel revirt");
    g_assert(strstr(err, "revirt: vCPU 0: triple fault"));
    g_assert(strstr(err, "resetting the machine"));
}

/* With no driver, "-accel revirt -accel tcg" goes on with TCG. */
static void test_fallback_to_tcg(void)
{
    g_autofree char *err = NULL;

    if (!access("/dev/revirt", F_OK)) {
        g_test_skip("this host has the native driver");
        return;
    }
    err = run_bios_to_triple_fault("-accel revirt,driver=native -accel tcg");
    g_assert(strstr(err, "revirt: cannot open the native driver"));
    g_assert(strstr(err, "falling back to tcg"));
}

/*
 * A driver that breaks its contract must not make QEMU read or write out
 * of bounds: revirt-kvm reports a bad size when REVIRT_KVM_BREAK says so.
 */
static void test_driver_bad_io_size(void)
{
    g_autofree char *image = guest_path("bios.bin");
    QTestState *qts;

    if (accel_missing("revirt") || native_driver_picked()) {
        return;
    }
    g_setenv("REVIRT_KVM_BREAK", "io-size", true);
    qts = qtest_initf("-accel revirt -nodefaults -bios %s", image);
    g_unsetenv("REVIRT_KVM_BREAK");
    wait_for_internal_error(qts);
    qtest_quit(qts);
}

static void test_driver_bad_run_area(void)
{
    const char *argv[] = {
        g_getenv("QTEST_QEMU_BINARY"), "-accel", "revirt", "-display",
        "none", "-nodefaults", NULL
    };
    const char *envp[] = { "REVIRT_KVM_BREAK=run-area-size", NULL };
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;
    int status;

    if (accel_missing("revirt") || native_driver_picked()) {
        return;
    }
    g_assert(g_spawn_sync(NULL, (char **)argv, (char **)envp,
                          G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &status,
                          &error));
    g_test_message("stderr: %s", err);
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert(strstr(err, "revirt: the linux driver asks for a run area of "
                    "0 bytes"));
}

/* PIIX4's CPU hotplug registers, in their modern (ACPI) layout. */
#define CPUHP_IO_BASE           0xaf00
#define CPUHP_SELECTOR          (CPUHP_IO_BASE + 0)
#define CPUHP_FLAGS             (CPUHP_IO_BASE + 4)
#define CPUHP_FLAG_EJECT        8

static int64_t count_cpus(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-cpus-fast' }");
    int64_t cpus = qlist_size(qdict_get_qlist(resp, "return"));

    qobject_unref(resp);
    return cpus;
}

static void wait_for_cpus(QTestState *qts, int64_t want)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;

    while (count_cpus(qts) != want) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}

/*
 * A CPU added, ejected as the guest's ACPI code would eject it, and added
 * again: the same vCPU id must come back, and QEMU must live on.
 */
static void test_cpu_hotplug(void)
{
    g_autofree char *image = guest_path("cpuid.bin");
    QTestState *qts;

    if (accel_missing("revirt")) {
        return;
    }
    qts = qtest_initf("-accel revirt -cpu qemu64 "
                      "-smp 1,maxcpus=2,sockets=2,cores=1,threads=1 "
                      "-nodefaults -bios %s", image);
    /* As a guest's ACPI tables do first: the modern interface can unplug. */
    qtest_outb(qts, CPUHP_IO_BASE, 0);
    for (int round = 0; round < 2; round++) {
        qtest_qmp_device_add(qts, "qemu64-x86_64-cpu", "cpu1",
                             "{ 'socket-id': 1, 'core-id': 0, "
                             "  'thread-id': 0 }");
        wait_for_cpus(qts, 2);
        qtest_qmp_assert_success(qts, "{ 'execute': 'device_del',"
                                 "  'arguments': { 'id': 'cpu1' } }");
        /* What the guest's ACPI _EJ0 method does. */
        qtest_outl(qts, CPUHP_SELECTOR, 1);
        qtest_outb(qts, CPUHP_FLAGS, CPUHP_FLAG_EJECT);
        wait_for_cpus(qts, 1);
    }
    qtest_quit(qts);
}

typedef struct {
    const char *name;
    const char *accel_option;
    const char *extra_option;   /* and its value, or NULL */
    const char *extra_value;
    const char *error;          /* expected in the one error line */
    const char *hide;           /* REVIRT_KVM_HIDE for revirt-kvm, or NULL */
} BadOptionCase;

static const BadOptionCase bad_options[] = {
    { "unknown-driver", "revirt,driver=foo", NULL, NULL,
      "revirt: unknown driver 'foo'" },
    { "no-native-driver", "revirt,driver=native", NULL, NULL,
      "revirt: cannot open the native driver" },
    { "unknown-property", "revirt,foo=bar", NULL, NULL,
      "Property 'revirt-accel.foo'" },
    /* A driver without guest debugging: the gdbstub refuses, as for NVMM. */
    { "gdbstub-without-guest-debug", "revirt", "-gdb", "tcp::0",
      "current accelerator doesn't support guest debugging", "guest-debug" },
};

static void test_bad_option(const void *data)
{
    const BadOptionCase *c = data;
    const char *argv[] = {
        g_getenv("QTEST_QEMU_BINARY"), "-accel", c->accel_option,
        "-display", "none", "-nodefaults", c->extra_option, c->extra_value,
        NULL
    };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;
    g_auto(GStrv) lines = NULL;
    g_auto(GStrv) env = g_get_environ();
    int errors = 0;
    int status;

    if (strstr(c->accel_option, "native") && !access("/dev/revirt", F_OK)) {
        g_test_skip("this host has the native driver");
        return;
    }
    /* An option the driver refuses needs a driver to refuse it. */
    if (c->hide) {
        if (accel_missing("revirt") || native_driver_picked()) {
            return;
        }
        env = g_environ_setenv(env, "REVIRT_KVM_HIDE", c->hide, true);
    }
    g_assert(g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL,
                          NULL, &out, &err, &status, &error));
    g_test_message("stderr: %s", err);
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert(g_str_has_suffix(err, "\n"));

    /*
     * One error line says why; warnings about the host's CPU may come
     * before it, and QEMU's own "failed to initialize" after it.
     */
    lines = g_strsplit(err, "\n", -1);
    for (int i = 0; lines[i][0]; i++) {
        if (!strstr(lines[i], ": warning: ") &&
            !strstr(lines[i], "failed to initialize revirt")) {
            g_assert(strstr(lines[i], c->error));
            errors++;
        }
    }
    g_assert_cmpint(errors, ==, 1);
}

/* What msr.S leaves in RAM. */
#define MSR_RESULTS             0x500
#define MSR_GO                  (MSR_RESULTS + 8)
#define MSR_STAGE               (MSR_RESULTS + 12)
#define MSR_MCES                (MSR_RESULTS + 16)
#define MSR_MC1_STATUS          (MSR_RESULTS + 24)
#define MSR_RDTSCP              (MSR_RESULTS + 32)
#define MSR_BOOT(n)             (MSR_RESULTS + 0x40 * (n))
#define MSR_AFTER               (MSR_RESULTS + 0x100)
#define MSR_STAGE_WROTE         0x11
#define MSR_STAGE_IDLE(boot)    (0x10 * (boot) + 2)
#define MSR_TSC_AUX_SLOT        6

/* In msr.S's order: PAT, MTRRdefType, fix64K, physBase0/Mask0, misc, aux */
static const uint64_t msr_written[] = {
    0x0007010600070106ull, 0xc06, 0x0505050506060606ull, 0x80000000,
    0xff80000800ull, 0, 0x12345678,
};

static const uint64_t msr_reset[] = {
    0x0007040600070406ull, 0, 0, 0, 0, 1, 0,
};

static QTestState *msr_guest_start(const char *accel, const char *extra)
{
    g_autofree char *image = guest_path("msr.bin");

    return qtest_initf("-accel %s -bios %s -nodefaults %s",
                       accel_option(accel), image, extra);
}

static void msr_check(QTestState *qts, uint64_t addr, const uint64_t *want,
                      const char *what)
{
    bool rdtscp = qtest_readl(qts, MSR_RDTSCP);

    for (int i = 0; i < ARRAY_SIZE(msr_written); i++) {
        uint64_t value = qtest_readq(qts, addr + 8 * i);

        if (i == MSR_TSC_AUX_SLOT && !rdtscp) {
            continue;
        }
        if (value != want[i]) {
            g_test_message("%s: MSR %d is 0x%" PRIx64 ", want 0x%" PRIx64,
                           what, i, value, want[i]);
            g_test_fail();
        }
    }
}

static void wait_for_status(QTestState *qts, const char *want)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;

    for (;;) {
        QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-status' }");
        bool done = !strcmp(qdict_get_str(qdict_get_qdict(resp, "return"),
                                          "status"), want);

        qobject_unref(resp);
        if (done) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}

/*
 * msr.S writes PAT, MTRRs, MISC_ENABLE and TSC_AUX; the VM is stopped and
 * migrated through a file, and on the destination the guest must read
 * back what it wrote.  After a reset they are at their reset values.
 */
static void test_msr_migrate(const void *data)
{
    const char *accel = data;
    g_autofree char *file = g_build_filename(tmp_dir, "msr.mig", NULL);
    g_autofree char *incoming = g_strdup_printf("-incoming 'exec:cat %s'",
                                                file);
    g_autofree char *uri = g_strdup_printf("exec:cat > %s", file);
    uint64_t reset[ARRAY_SIZE(msr_reset)];
    QTestState *qts;
    QDict *resp;

    if (accel_missing(accel)) {
        return;
    }
    qts = msr_guest_start(accel, "");
    wait_for_guest(qts, MSR_STAGE, MSR_STAGE_WROTE);
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    /* A stopped VM needs no dirty logging for a consistent copy. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    for (;;) {
        const char *status;
        bool done;

        resp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
        status = qdict_get_try_str(qdict_get_qdict(resp, "return"),
                                   "status");
        g_assert(!status || strcmp(status, "failed"));
        done = status && !strcmp(status, "completed");
        qobject_unref(resp);
        if (done) {
            break;
        }
        g_usleep(10 * 1000);
    }
    qtest_quit(qts);

    qts = msr_guest_start(accel, incoming);
    wait_for_status(qts, "paused");
    qtest_writel(qts, MSR_GO, 1);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    wait_for_guest(qts, MSR_STAGE, MSR_STAGE_IDLE(1));
    msr_check(qts, MSR_AFTER, msr_written, "after migration");

    /* MISC_ENABLE's reset value depends on the CPU model: boot 1 saw it. */
    memcpy(reset, msr_reset, sizeof(reset));
    reset[5] = qtest_readq(qts, MSR_BOOT(1) + 8 * 5);
    g_assert(reset[5] & 1);
    msr_check(qts, MSR_BOOT(1), reset, "first boot");

    qtest_qmp_assert_success(qts, "{ 'execute': 'system_reset' }");
    wait_for_guest(qts, MSR_STAGE, MSR_STAGE_IDLE(2));
    msr_check(qts, MSR_BOOT(2), reset, "after reset");
    qtest_quit(qts);
    unlink(file);
}

/* HMP "mce" on a guest with CR4.MCE: its #MC handler runs, QMP answers. */
static void test_mce(const void *data)
{
    const char *accel = data;
    const uint64_t status = 0xb200000000000000ull;
    QTestState *qts;
    char *out;

    if (accel_missing(accel)) {
        return;
    }
    qts = msr_guest_start(accel, "");
    wait_for_guest(qts, MSR_STAGE, MSR_STAGE_WROTE);
    qtest_writel(qts, MSR_GO, 1);
    wait_for_guest(qts, MSR_STAGE, MSR_STAGE_IDLE(1));

    for (int mces = 1; mces <= 2; mces++) {
        out = qtest_hmp(qts, "mce 0 1 0x%" PRIx64 " 0x5 0 0", status);
        g_assert_cmpstr(out, ==, "");
        g_free(out);
        wait_for_guest(qts, MSR_MCES, mces);
        g_assert_cmphex(qtest_readq(qts, MSR_MC1_STATUS), ==, status);
        /* The handler cleared MCIP, so the next one is not a shutdown. */
        wait_for_status(qts, "running");
    }
    qtest_quit(qts);
}

/* What dirty.S and vga.S leave in RAM. */
#define DIRTY_PASSES            0x504
#define DIRTY_ERRORS            0x508
#define VGA_GO                  0x504
#define VGA_STAGE               0x508
#define MIGRATE_RAM_MB          128
#define MIGRATE_BANDWIDTH       (1 << 20)   /* bytes/s: a pass takes ~0.5 s */
#define MIGRATE_PASSES          4           /* before it may converge */

typedef struct {
    const char *accel;
    bool to_file;               /* exec:cat to a file, else TCP */
    const char *hide;           /* REVIRT_KVM_HIDE for both QEMUs, or NULL */
} MigrateCase;

static QTestState *dirty_guest_start(const char *accel, const char *extra)
{
    g_autofree char *image = guest_path("dirty.bin");

    return qtest_initf("-accel %s -m %d -bios %s -nodefaults %s",
                       accel_option(accel), MIGRATE_RAM_MB, image, extra);
}

static void wait_for_passes(QTestState *qts, uint32_t passes)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;

    while (qtest_readl(qts, DIRTY_PASSES) < passes) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
}

/* query-migrate's answer; "failed" fails the test. */
static QDict *query_migrate(QTestState *qts, const char **status)
{
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
    QDict *info = qdict_get_qdict(resp, "return");

    g_assert(info);
    qobject_ref(info);
    qobject_unref(resp);
    *status = qdict_get_try_str(info, "status");
    g_assert(!*status || strcmp(*status, "failed"));
    return info;
}

static int64_t migrate_ram_stat(QDict *info, const char *key)
{
    QDict *ram = qdict_get_qdict(info, "ram");

    return ram && qdict_haskey(ram, key) ? qdict_get_int(ram, key) : -1;
}

static void set_downtime_limit(QTestState *qts, int ms)
{
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate-set-parameters',"
                             "  'arguments': { 'downtime-limit': %d } }", ms);
}

/*
 * Migrate @qts to @uri while dirty.S writes: with a 1 ms downtime limit the
 * migration cannot converge, so QEMU syncs the dirty log pass after pass;
 * after MIGRATE_PASSES passes a 5 s limit lets it complete.
 */
static QDict *migrate_writing_guest(QTestState *qts, const char *uri)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;
    bool converging = false;
    const char *status;
    QDict *info;

    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate-set-parameters',"
                             "  'arguments': { 'max-bandwidth': %d } }",
                             MIGRATE_BANDWIDTH);
    set_downtime_limit(qts, 1);
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    for (;;) {
        info = query_migrate(qts, &status);
        if (status && !strcmp(status, "completed")) {
            break;
        }
        if (!converging &&
            migrate_ram_stat(info, "dirty-sync-count") >= MIGRATE_PASSES) {
            set_downtime_limit(qts, 5000);
            converging = true;
        }
        qobject_unref(info);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(20 * 1000);
    }
    return info;
}

static char *pmemsave(QTestState *qts, const char *name)
{
    char *path = g_build_filename(tmp_dir, name, NULL);

    qtest_qmp_assert_success(qts, "{ 'execute': 'pmemsave',"
                             "  'arguments': { 'val': 0, 'size': %d,"
                             "                 'filename': %s } }",
                             MIGRATE_RAM_MB << 20, path);
    return path;
}

/* Compare two pmemsave files: the number of pages that differ. */
static int count_ram_differences(const char *a, const char *b)
{
    g_autofree char *ram_a = NULL, *ram_b = NULL;
    gsize size_a, size_b;
    int differ = 0;

    g_assert(g_file_get_contents(a, &ram_a, &size_a, NULL));
    g_assert(g_file_get_contents(b, &ram_b, &size_b, NULL));
    g_assert_cmpuint(size_a, ==, size_b);
    for (gsize page = 0; page < size_a; page += 4096) {
        for (gsize off = page; off < MIN(page + 4096, size_a); off += 4) {
            if (ldl_le_p(ram_a + off) != ldl_le_p(ram_b + off)) {
                if (differ++ < 4) {
                    g_test_message("guest RAM at 0x%zx: 0x%08x here, 0x%08x "
                                   "on the destination", off,
                                   ldl_le_p(ram_a + off),
                                   ldl_le_p(ram_b + off));
                }
                break;
            }
        }
    }
    unlink(a);
    unlink(b);
    return differ;
}

static int free_tcp_port(void)
{
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    g_assert(fd >= 0);
    g_assert(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    g_assert(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    close(fd);
    return ntohs(addr.sin_port);
}

/*
 * dirty.S rewrites 112 pages while the VM migrates, over TCP to a second
 * QEMU or to a file.  At switchover the destination's RAM must equal the
 * source's, and the guest must go on counting passes without finding a
 * page that missed a write.
 */
static void test_migrate_writing(const void *data)
{
    const MigrateCase *c = data;
    g_autofree char *file = g_build_filename(tmp_dir, "dirty.mig", NULL);
    g_autofree char *src_ram = NULL, *dst_ram = NULL;
    g_autofree char *uri = NULL, *incoming = NULL;
    QTestState *src, *dst = NULL;
    int64_t syncs;
    uint32_t passes;
    QDict *info;
    int differ;

    if (accel_missing(c->accel)) {
        return;
    }
    if (!strcmp(c->accel, "tcg")) {
        /*
         * QEMU 7.2's TCG re-arms its TLB's dirty tracking only for pages
         * it refills: cpu_physical_memory_sync_dirty_bitmap()'s fast path
         * clears the migration bitmap without tlb_reset_dirty(), so a
         * small working set that stays in the TLB is written unseen.
         */
        g_test_skip("QEMU 7.2's TCG loses writes during live migration");
        return;
    }
    if (c->hide && !hide_from_revirt_kvm(c->hide)) {
        return;
    }
    src = dirty_guest_start(c->accel, "");
    wait_for_passes(src, 3);
    if (c->to_file) {
        uri = g_strdup_printf("exec:cat > %s", file);
        incoming = g_strdup_printf("-S -incoming 'exec:cat %s'", file);
    } else {
        int port = free_tcp_port();

        uri = g_strdup_printf("tcp:127.0.0.1:%d", port);
        incoming = g_strdup_printf("-S -incoming %s", uri);
        dst = dirty_guest_start(c->accel, incoming);
    }

    info = migrate_writing_guest(src, uri);
    g_test_message("%s: %d MiB RAM, %" PRId64 " bytes in %" PRId64
                   " normal pages (%" PRId64 " zero pages), %" PRId64
                   " dirty-log passes, downtime %" PRId64 " ms, total %"
                   PRId64 " ms", c->accel, MIGRATE_RAM_MB,
                   migrate_ram_stat(info, "transferred"),
                   migrate_ram_stat(info, "normal"),
                   migrate_ram_stat(info, "duplicate"),
                   migrate_ram_stat(info, "dirty-sync-count"),
                   qdict_get_try_int(info, "downtime", -1),
                   qdict_get_try_int(info, "total-time", -1));
    syncs = migrate_ram_stat(info, "dirty-sync-count");
    qobject_unref(info);
    wait_for_status(src, "postmigrate");
    src_ram = pmemsave(src, "src.ram");
    passes = qtest_readl(src, DIRTY_PASSES);
    qtest_quit(src);

    if (!dst) {
        dst = dirty_guest_start(c->accel, incoming);
    }
    wait_for_status(dst, "paused");
    dst_ram = pmemsave(dst, "dst.ram");
    differ = count_ram_differences(src_ram, dst_ram);
    g_assert_cmpint(differ, ==, 0);
    g_assert_cmpint(syncs, >=, MIGRATE_PASSES);
    g_assert_cmpuint(qtest_readl(dst, DIRTY_PASSES), ==, passes);
    g_assert_cmpuint(qtest_readl(dst, DIRTY_ERRORS), ==, 0);

    qtest_qmp_assert_success(dst, "{ 'execute': 'cont' }");
    wait_for_passes(dst, passes + 10);
    g_assert_cmpuint(qtest_readl(dst, DIRTY_ERRORS), ==, 0);
    qtest_quit(dst);
    unlink(file);
    g_unsetenv("REVIRT_KVM_HIDE");
}

/*
 * A driver without dirty logging (revirt-kvm told to hide it): migration
 * is refused with the blocker's reason, and the guest runs on.
 */
static void test_migrate_blocked(void)
{
    QTestState *qts;
    uint32_t passes;
    QDict *resp;

    if (accel_missing("revirt")) {
        return;
    }
    if (!hide_from_revirt_kvm("dirty-log")) {
        return;
    }
    qts = dirty_guest_start("revirt", "");
    g_unsetenv("REVIRT_KVM_HIDE");
    wait_for_passes(qts, 3);

    resp = qtest_qmp(qts, "{ 'execute': 'migrate',"
                     "  'arguments': { 'uri': 'exec:cat > /dev/null' } }");
    g_assert(qdict_haskey(resp, "error"));
    g_assert(strstr(qdict_get_str(qdict_get_qdict(resp, "error"), "desc"),
                    "cannot log the guest's writes to memory"));
    qobject_unref(resp);

    wait_for_status(qts, "running");
    passes = qtest_readl(qts, DIRTY_PASSES);
    wait_for_passes(qts, passes + 10);
    qtest_quit(qts);
}

/* What regs.S leaves in RAM. */
#define REGS_COUNT              0x504
#define REGS_BAD                0x508
#define REGS_PASSES             200     /* between saving and loading */

typedef struct {
    const char *accel;
    bool live;                  /* over TCP while it runs, else stopped */
} MigrateRegsCase;

static QTestState *regs_guest_start(const char *accel, const char *serial,
                                    const char *extra)
{
    g_autofree char *image = guest_path("regs.bin");

    return qtest_initf("-accel %s -bios %s -nodefaults -serial file:%s %s",
                       accel_option(accel), image, serial, extra);
}

/* regs.S found no state out of step with its counter. */
static void regs_check(QTestState *qts, const char *serial)
{
    uint32_t bad = qtest_readl(qts, REGS_BAD);

    if (bad) {
        g_autofree char *output = read_file(serial);

        g_test_message("regs.S failed check 0x%x at pass %u: %s", bad,
                       qtest_readl(qts, REGS_COUNT), output);
    }
    g_assert_cmphex(bad, ==, 0);
}

/* Let regs.S count to at least @count, checking as it goes. */
static void regs_wait_for_count(QTestState *qts, const char *serial,
                                uint32_t count)
{
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;

    while (qtest_readl(qts, REGS_COUNT) < count) {
        regs_check(qts, serial);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(10 * 1000);
    }
    regs_check(qts, serial);
}

/* A qcow2 image made by $QTEST_QEMU_IMG; NULL (the test skipped) if none. */
static char *make_qcow2(const char *name)
{
    const char *qemu_img = g_getenv("QTEST_QEMU_IMG");
    g_autofree char *cmd = NULL;
    g_autofree char *err = NULL;
    char *path;
    int status;

    if (!qemu_img || access(qemu_img, X_OK)) {
        g_test_skip("no qemu-img: set QTEST_QEMU_IMG");
        return NULL;
    }
    path = g_build_filename(tmp_dir, name, NULL);
    cmd = g_strdup_printf("%s create -q -f qcow2 %s 16M", qemu_img, path);
    g_assert(g_spawn_command_line_sync(cmd, NULL, &err, &status, NULL));
    if (status) {
        g_test_message("qemu-img create: %s", err);
    }
    g_assert_cmpint(status, ==, 0);
    return path;
}

static void hmp_assert_silent(QTestState *qts, const char *cmd)
{
    g_autofree char *out = qtest_hmp(qts, "%s", cmd);

    if (*out) {
        g_test_message("%s: %s", cmd, out);
    }
    g_assert_cmpstr(out, ==, "");
}

/*
 * savevm on a qcow2 disk while regs.S runs, loadvm into the same QEMU
 * and, with -loadvm, into a fresh one: each time the guest must go on
 * from the pass it was saved in, with all of its registers, x87 and SSE
 * state in step with its counter.
 */
static void test_savevm(const void *data)
{
    const char *accel = data;
    g_autofree char *serial = g_build_filename(tmp_dir, "regs.serial", NULL);
    g_autofree char *disk = NULL;
    g_autofree char *drive = NULL;
    g_autofree char *out = NULL;
    uint32_t before, after, later, saved, count;
    QTestState *qts;

    if (accel_missing(accel) || kvm_keeps_tsc_offset(accel)) {
        return;
    }
    disk = make_qcow2("regs.qcow2");
    if (!disk) {
        return;
    }
    drive = g_strdup_printf("-drive file=%s,format=qcow2,if=ide", disk);
    qts = regs_guest_start(accel, serial, drive);
    regs_wait_for_count(qts, serial, REGS_PASSES);

    /* savevm stops the VM, saves it and lets it run again. */
    before = qtest_readl(qts, REGS_COUNT);
    hmp_assert_silent(qts, "savevm s1");
    after = qtest_readl(qts, REGS_COUNT);
    wait_for_status(qts, "running");
    out = qtest_hmp(qts, "info snapshots");
    g_assert(strstr(out, " s1 "));
    regs_wait_for_count(qts, serial, after + REGS_PASSES);

    /* loadvm into a stopped VM: the counter goes back to the snapshot's. */
    qtest_qmp_assert_success(qts, "{ 'execute': 'stop' }");
    later = qtest_readl(qts, REGS_COUNT);
    regs_check(qts, serial);
    hmp_assert_silent(qts, "loadvm s1");
    saved = qtest_readl(qts, REGS_COUNT);
    g_test_message("%s: savevm between passes %u and %u, at %u; loadvm at "
                   "pass %u", accel, before, after, saved, later);
    g_assert_cmpuint(saved, >=, before);
    g_assert_cmpuint(saved, <=, after);
    g_assert_cmpuint(saved, <, later);
    regs_check(qts, serial);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    regs_wait_for_count(qts, serial, saved + REGS_PASSES);
    qtest_quit(qts);

    /* A fresh QEMU restores the same state from the disk. */
    g_free(drive);
    drive = g_strdup_printf("-drive file=%s,format=qcow2,if=ide -loadvm s1 "
                            "-S", disk);
    qts = regs_guest_start(accel, serial, drive);
    count = qtest_readl(qts, REGS_COUNT);
    g_assert_cmpuint(count, ==, saved);
    regs_check(qts, serial);
    qtest_qmp_assert_success(qts, "{ 'execute': 'cont' }");
    regs_wait_for_count(qts, serial, saved + REGS_PASSES);
    qtest_quit(qts);
    unlink(disk);
    unlink(serial);
}

/*
 * regs.S migrates, live over TCP or stopped through a file: on the
 * destination it goes on from where the source left it, with all of its
 * registers, x87 and SSE state in step with its counter.
 */
static void test_migrate_regs(const void *data)
{
    const MigrateRegsCase *c = data;
    g_autofree char *file = g_build_filename(tmp_dir, "regs.mig", NULL);
    g_autofree char *serial = g_build_filename(tmp_dir, "regs.serial", NULL);
    g_autofree char *dst_serial = g_build_filename(tmp_dir, "regs-dst.serial",
                                                   NULL);
    g_autofree char *uri = NULL, *incoming = NULL;
    QTestState *src, *dst = NULL;
    uint32_t before, count;
    QDict *info;

    if (accel_missing(c->accel)) {
        return;
    }
    if (c->live && !strcmp(c->accel, "tcg")) {
        /* See test_migrate_writing(). */
        g_test_skip("QEMU 7.2's TCG loses writes during live migration");
        return;
    }
    if (kvm_keeps_tsc_offset(c->accel)) {
        return;
    }
    src = regs_guest_start(c->accel, serial, "");
    regs_wait_for_count(src, serial, REGS_PASSES);
    if (c->live) {
        int port = free_tcp_port();

        uri = g_strdup_printf("tcp:127.0.0.1:%d", port);
        incoming = g_strdup_printf("-S -incoming %s", uri);
        dst = regs_guest_start(c->accel, dst_serial, incoming);
        before = qtest_readl(src, REGS_COUNT);
        info = migrate_writing_guest(src, uri);
        qobject_unref(info);
    } else {
        gint64 deadline = g_get_monotonic_time() +
                          GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;
        const char *status;
        bool done;

        uri = g_strdup_printf("exec:cat > %s", file);
        incoming = g_strdup_printf("-S -incoming 'exec:cat %s'", file);
        qtest_qmp_assert_success(src, "{ 'execute': 'stop' }");
        before = qtest_readl(src, REGS_COUNT);
        qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                                 "  'arguments': { 'uri': %s } }", uri);
        do {
            g_usleep(10 * 1000);
            info = query_migrate(src, &status);
            done = status && !strcmp(status, "completed");
            qobject_unref(info);
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        } while (!done);
    }
    wait_for_status(src, "postmigrate");
    count = qtest_readl(src, REGS_COUNT);
    regs_check(src, serial);
    qtest_quit(src);
    g_assert_cmpuint(count, >=, before);
    if (!c->live) {
        g_assert_cmpuint(count, ==, before);
    }

    if (!dst) {
        dst = regs_guest_start(c->accel, dst_serial, incoming);
    }
    wait_for_status(dst, "paused");
    g_test_message("%s: migrated at pass %u, %u passes after it started",
                   c->accel, count, count - before);
    g_assert_cmpuint(qtest_readl(dst, REGS_COUNT), ==, count);
    regs_check(dst, dst_serial);
    qtest_qmp_assert_success(dst, "{ 'execute': 'cont' }");
    regs_wait_for_count(dst, dst_serial, count + REGS_PASSES);
    qtest_quit(dst);
    unlink(file);
    unlink(serial);
    unlink(dst_serial);
}

typedef struct {
    const char *accel;
    const char *hide;           /* REVIRT_KVM_HIDE, or NULL */
} DisplayCase;

/* The colour of the screen's centre pixel, from a screendump (PPM). */
static void screen_centre(QTestState *qts, uint8_t rgb[3])
{
    g_autofree char *path = g_build_filename(tmp_dir, "screen.ppm", NULL);
    g_autofree char *ppm = NULL;
    gsize size;
    int width, height, offset;

    qtest_qmp_assert_success(qts, "{ 'execute': 'screendump',"
                             "  'arguments': { 'filename': %s } }", path);
    g_assert(g_file_get_contents(path, &ppm, &size, NULL));
    g_assert(sscanf(ppm, "P6 %d %d 255%n", &width, &height, &offset) == 2);
    offset += 1 + 3 * (width * (height / 2) + width / 2);
    g_assert_cmpint(offset + 3, <=, size);
    memcpy(rgb, ppm + offset, 3);
    unlink(path);
}

/*
 * vga.S paints the mode 13h screen red, then blue when told to: each
 * screendump must show what the guest painted last, which only works if
 * the guest's writes to the frame buffer reach the display's dirty log.
 */
static void test_display(const void *data)
{
    const DisplayCase *c = data;
    g_autofree char *image = guest_path("vga.bin");
    QTestState *qts;
    uint8_t rgb[3];

    if (accel_missing(c->accel)) {
        return;
    }
    if (c->hide && !hide_from_revirt_kvm(c->hide)) {
        return;
    }
    qts = qtest_initf("-accel %s -bios %s -nodefaults -device VGA",
                      accel_option(c->accel), image);
    g_unsetenv("REVIRT_KVM_HIDE");
    wait_for_guest(qts, VGA_STAGE, 1);

    /* The second dump redraws only what the dirty log says changed. */
    for (int i = 0; i < 2; i++) {
        screen_centre(qts, rgb);
        g_assert(rgb[0] > 0 && rgb[1] == 0 && rgb[2] == 0);
    }
    qtest_writel(qts, VGA_GO, 1);
    wait_for_guest(qts, VGA_STAGE, 2);
    screen_centre(qts, rgb);
    g_test_message("%s: centre pixel %d,%d,%d", c->accel, rgb[0], rgb[1],
                   rgb[2]);
    g_assert(rgb[0] == 0 && rgb[1] == 0 && rgb[2] > 0);
    qtest_quit(qts);
}

static void remove_tmp_dir(void)
{
    GDir *dir = g_dir_open(tmp_dir, 0, NULL);
    const char *name;

    while ((name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(tmp_dir, name, NULL);

        unlink(path);
    }
    g_dir_close(dir);
    rmdir(tmp_dir);
    g_free(tmp_dir);
}

static void add_bios_case(const char *name, const char *accel,
                          Firmware firmware, int cpus)
{
    BiosCase *c = g_new(BiosCase, 1);
    g_autofree char *path = g_strdup_printf("revirt/%s/%s", name, accel);

    *c = (BiosCase) { .accel = accel, .firmware = firmware, .cpus = cpus };
    qtest_add_data_func_full(path, c, test_bios_guest, g_free);
}

static void add_seabios_case(const char *name, const char *accel, int cpus)
{
    SeabiosCase *c = g_new(SeabiosCase, 1);
    g_autofree char *path = g_strdup_printf("revirt/%s/%s", name, accel);

    *c = (SeabiosCase) { .accel = accel, .cpus = cpus };
    qtest_add_data_func_full(path, c, test_seabios_boot, g_free);
}

static void add_migrate_case(const char *name, const char *accel,
                             bool to_file, const char *hide)
{
    MigrateCase *c = g_new(MigrateCase, 1);
    g_autofree char *path = g_strdup_printf("revirt/%s/%s%s%s", name, accel,
                                            hide ? "-hide-" : "",
                                            hide ? hide : "");

    *c = (MigrateCase) { .accel = accel, .to_file = to_file, .hide = hide };
    qtest_add_data_func_full(path, c, test_migrate_writing, g_free);
}

static void add_migrate_regs_case(const char *accel, bool live)
{
    MigrateRegsCase *c = g_new(MigrateRegsCase, 1);
    g_autofree char *path = g_strdup_printf("revirt/migrate-regs%s/%s",
                                            live ? "" : "-stopped", accel);

    *c = (MigrateRegsCase) { .accel = accel, .live = live };
    qtest_add_data_func_full(path, c, test_migrate_regs, g_free);
}

static void add_display_case(const char *name, const char *accel,
                             const char *hide)
{
    DisplayCase *c = g_new(DisplayCase, 1);
    g_autofree char *path = g_strdup_printf("revirt/display/%s", name);

    *c = (DisplayCase) { .accel = accel, .hide = hide };
    qtest_add_data_func_full(path, c, test_display, g_free);
}

/* Models whose CPUID revirt must give as KVM does. */
static const char *const cpuid_models[] = {
    "qemu64", "EPYC", "Skylake-Client", "host", "max",
};

int main(int argc, char **argv)
{
    static const char *const accels[] = { "revirt", "kvm", "tcg" };
    int ret;

    g_test_init(&argc, &argv, NULL);

    guests_dir = g_getenv("REVIRT_GUESTS");
    if (!guests_dir) {
        g_printerr("revirt-test: set REVIRT_GUESTS to the directory of the "
                   "built tests/revirt-guests\n");
        return 1;
    }
    tmp_dir = g_dir_make_tmp("revirt-test-XXXXXX", NULL);
    g_assert(tmp_dir);

    for (int i = 0; i < ARRAY_SIZE(accels); i++) {
        add_bios_case("bios", accels[i], FIRMWARE_ROM, 1);
        add_bios_case("pflash", accels[i], FIRMWARE_FLASH, 1);
        add_seabios_case("seabios", accels[i], 1);
    }
    for (int i = 0; i < ARRAY_SIZE(accels); i++) {
        add_bios_case("bios-smp2", accels[i], FIRMWARE_ROM, 2);
        add_seabios_case("seabios-smp2", accels[i], 2);
    }
    for (int i = 0; i < ARRAY_SIZE(accels); i++) {
        g_autofree char *migrate = g_strdup_printf("revirt/msr-migrate/%s",
                                                   accels[i]);
        g_autofree char *mce = g_strdup_printf("revirt/mce/%s", accels[i]);

        qtest_add_data_func(migrate, accels[i], test_msr_migrate);
        qtest_add_data_func(mce, accels[i], test_mce);
    }
    for (int i = 0; i < ARRAY_SIZE(accels); i++) {
        add_migrate_case("migrate-writing-tcp", accels[i], false, NULL);
        add_migrate_case("migrate-writing-file", accels[i], true, NULL);
        add_display_case(accels[i], accels[i], NULL);
    }
    for (int i = 0; i < ARRAY_SIZE(accels); i++) {
        g_autofree char *savevm = g_strdup_printf("revirt/savevm/%s",
                                                  accels[i]);

        qtest_add_data_func(savevm, accels[i], test_savevm);
        add_migrate_regs_case(accels[i], true);
        add_migrate_regs_case(accels[i], false);
    }
    /* revirt-kvm without KVM's manual dirty-log protection */
    add_migrate_case("migrate-writing-tcp", "revirt", false,
                     "dirty-log-clear");
    add_display_case("revirt-no-dirty-log", "revirt", "dirty-log");
    qtest_add_func("revirt/migrate-blocked", test_migrate_blocked);
    qtest_add_func("revirt/internal-error-stops-vm",
                   test_internal_error_stops_vm);
    qtest_add_func("revirt/smi-dropped", test_smi_dropped);
    qtest_add_func("revirt/driver-bad-io-size", test_driver_bad_io_size);
    qtest_add_func("revirt/driver-bad-run-area", test_driver_bad_run_area);
    qtest_add_func("revirt/cpu-hotplug", test_cpu_hotplug);
    qtest_add_func("revirt/triple-fault-report", test_triple_fault_report);
    qtest_add_func("revirt/fallback-to-tcg", test_fallback_to_tcg);
    for (int i = 0; i < ARRAY_SIZE(cpuid_models); i++) {
        g_autofree char *path =
            g_strdup_printf("revirt/cpuid/%s", cpuid_models[i]);

        qtest_add_data_func(path, cpuid_models[i], test_cpuid);
    }
    for (int i = 0; i < ARRAY_SIZE(bad_options); i++) {
        g_autofree char *path =
            g_strdup_printf("revirt/bad-option/%s", bad_options[i].name);

        qtest_add_data_func(path, &bad_options[i], test_bad_option);
    }

    ret = g_test_run();

    remove_tmp_dir();
    return ret;
}
