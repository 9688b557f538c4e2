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
#include "libqtest.h"
#include "qapi/qmp/qdict.h"

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

/* stray.S jumps into MMIO: the VM stops, QMP keeps answering. */
static void test_internal_error_stops_vm(void)
{
    g_autofree char *image = guest_path("stray.bin");
    gint64 deadline = g_get_monotonic_time() +
                      GUEST_TIMEOUT_S * G_TIME_SPAN_SECOND;
    QTestState *qts;
    QDict *resp, *status;

    if (accel_missing("revirt")) {
        return;
    }
    qts = qtest_initf("-accel revirt -nodefaults -bios %s", image);
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

typedef struct {
    const char *name;
    const char *accel_option;
    const char *extra_option;   /* and its value, or NULL */
    const char *extra_value;
    const char *error;          /* expected in the one error line */
} BadOptionCase;

static const BadOptionCase bad_options[] = {
    { "unknown-driver", "revirt,driver=foo", NULL, NULL,
      "revirt: unknown driver 'foo'" },
    { "no-native-driver", "revirt,driver=native", NULL, NULL,
      "revirt: cannot open the native driver" },
    { "unknown-property", "revirt,foo=bar", NULL, NULL,
      "Property 'revirt-accel.foo'" },
    /* ABI v1 has no guest debugging: the gdbstub refuses, as for NVMM. */
    { "gdbstub", "revirt", "-gdb", "tcp::0",
      "current accelerator doesn't support guest debugging" },
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
    int errors = 0;
    int status;

    if (strstr(c->accel_option, "native") && !access("/dev/revirt", F_OK)) {
        g_test_skip("this host has the native driver");
        return;
    }
    g_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
                          NULL, &out, &err, &status, &error));
    g_test_message("stderr: %s", err);
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 1);
    g_assert(g_str_has_suffix(err, "\n"));

    /* One error line; warnings about the host's CPU may come before it. */
    lines = g_strsplit(err, "\n", -1);
    for (int i = 0; lines[i][0]; i++) {
        if (!strstr(lines[i], ": warning: ")) {
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
    qtest_add_func("revirt/internal-error-stops-vm",
                   test_internal_error_stops_vm);
    for (int i = 0; i < ARRAY_SIZE(bad_options); i++) {
        g_autofree char *path =
            g_strdup_printf("revirt/bad-option/%s", bad_options[i].name);

        qtest_add_data_func(path, &bad_options[i], test_bad_option);
    }

    ret = g_test_run();

    remove_tmp_dir();
    return ret;
}
