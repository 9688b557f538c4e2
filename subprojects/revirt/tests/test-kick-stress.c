/*
 * revirt-kvm: kicks from another thread, while several vCPUs mix port I/O
 * exits with spinning.  No kick is lost: a run that starts after a kick
 * was made and finished, with no INTERRUPTED return since the kick began,
 * returns INTERRUPTED, whatever the host's load; no kicked vCPU stays in
 * the guest for seconds; kicks never interrupt the VMM's own system
 * calls; and no I/O completion is lost or repeated across interrupted
 * runs.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "rk-test.h"

#define NR_VCPUS        4
#define NR_KICKS        3000
#define MAX_LATENCY_US  (5 * 1000 * 1000)
#define COUNTERS_GPA    0x3000

/*
 * Read a spin count from port 0x11, spin, then count one round at the
 * address in BX: at each IN exit, the count is the IN exits served before.
 */
GUEST_PROGRAM(stress_prog,
    "xor %ax, %ax\n mov %ax, %ds\n"
    "1: in $0x11, %eax\n mov %eax, %ecx\n jecxz 3f\n"
    "2: dec %ecx\n jnz 2b\n"
    "3: incl (%bx)\n jmp 1b\n");

typedef struct StressVcpu {
    RkTestVm *t;
    uint32_t id;
    int handle;
    struct revirt_run *run;
    pthread_t thread;
    GRand *rand;
    uint32_t *counter;          /* in guest memory */

    gint64 kicked_at;           /* oldest kick not yet answered, or 0 */
    gint64 max_latency;
    unsigned kicks_started, kicks_done;
    unsigned answered;          /* kicks started before the last INTR */
    unsigned runs, in_exits, interrupted, spurious;
} StressVcpu;

static int stop;

/*
 * Now and then the VMM sleeps between runs, as device emulation might:
 * kicks must not interrupt its own system calls.
 */
static void vmm_work(StressVcpu *v)
{
    struct timespec ts = { .tv_nsec = 100 * 1000 };

    if (g_rand_int_range(v->rand, 0, 8) == 0) {
        g_assert(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == 0);
    }
}

static void *vcpu_thread(void *opaque)
{
    StressVcpu *v = opaque;

    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
        /* A kick made and finished after the last INTERRUPTED return. */
        bool must_interrupt = __atomic_load_n(&v->kicks_done,
                                              __ATOMIC_SEQ_CST) > v->answered;
        gint64 kicked_at;

        g_assert(rk_call(v->handle, REVIRT_RUN, NULL) == 0);
        if (must_interrupt &&
            v->run->exit_reason != REVIRT_EXIT_INTERRUPTED) {
            g_error("vCPU %u: a kick made before the run was lost", v->id);
        }
        v->runs++;
        switch (v->run->exit_reason) {
        case REVIRT_EXIT_IO: {
            uint32_t spins = g_rand_boolean(v->rand) ? 0 :
                             g_rand_int_range(v->rand, 0, 4000);

            /* No IN was lost or completed twice across interrupted runs. */
            g_assert(__atomic_load_n(v->counter, __ATOMIC_SEQ_CST) ==
                     v->in_exits);
            g_assert(v->run->io.port == 0x11);
            g_assert(v->run->io.direction == REVIRT_IO_IN);
            g_assert(v->run->io.size == 4 && v->run->io.count == 1);
            memcpy(v->run->io_data, &spins, sizeof(spins));
            v->in_exits++;
            vmm_work(v);
            break;
        }
        case REVIRT_EXIT_INTERRUPTED:
            /* It answers every kick made before it returned. */
            v->answered = __atomic_load_n(&v->kicks_started,
                                          __ATOMIC_SEQ_CST);
            v->interrupted++;
            kicked_at = __atomic_exchange_n(&v->kicked_at, 0,
                                            __ATOMIC_SEQ_CST);
            if (!kicked_at) {
                v->spurious++;
            } else if (g_get_monotonic_time() - kicked_at > v->max_latency) {
                v->max_latency = g_get_monotonic_time() - kicked_at;
            }
            break;
        default:
            g_error("vCPU %u: unexpected exit %u", v->id,
                    v->run->exit_reason);
        }
    }
    return NULL;
}

static void kick(StressVcpu *v)
{
    gint64 now = g_get_monotonic_time();
    gint64 none = 0;

    __atomic_add_fetch(&v->kicks_started, 1, __ATOMIC_SEQ_CST);
    __atomic_compare_exchange_n(&v->kicked_at, &none, now, FALSE,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    g_assert(rk_call(v->handle, REVIRT_KICK, NULL) == 0);
    __atomic_add_fetch(&v->kicks_done, 1, __ATOMIC_SEQ_CST);
}

/* A kicked vCPU that has not returned for this long is stuck. */

static void check_stalls(StressVcpu *vcpus)
{
    gint64 now = g_get_monotonic_time();

    for (int i = 0; i < NR_VCPUS; i++) {
        gint64 kicked_at = __atomic_load_n(&vcpus[i].kicked_at,
                                           __ATOMIC_SEQ_CST);

        if (kicked_at && now - kicked_at > MAX_LATENCY_US) {
            g_error("vCPU %d kicked %" G_GINT64_FORMAT " us ago, still "
                    "running (%u runs)", i, now - kicked_at, vcpus[i].runs);
        }
    }
}

static void test_kick_stress(void)
{
    StressVcpu vcpus[NR_VCPUS];
    GRand *rand = g_rand_new_with_seed(g_test_rand_int());
    unsigned runs = 0, spurious = 0;
    gint64 max_latency = 0;
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, stress_prog_start, stress_prog_end);
    __atomic_store_n(&stop, 0, __ATOMIC_SEQ_CST);

    for (int i = 0; i < NR_VCPUS; i++) {
        StressVcpu *v = &vcpus[i];
        struct revirt_vcpu_state *st = g_new0(struct revirt_vcpu_state, 1);

        *v = (StressVcpu) { .t = &t, .id = i };
        if (i == 0) {
            v->handle = t.vcpu;
            v->run = t.run;
        } else {
            v->handle = rk_test_vcpu_new(&t, i, &v->run);
            rk_test_set_entry(v->handle);
        }
        st->classes = REVIRT_STATE_REGS;
        g_assert(rk_call(v->handle, REVIRT_GET_STATE, st) == 0);
        st->regs.rbx = COUNTERS_GPA + 4 * i;
        v->counter = (uint32_t *)(t.ram + st->regs.rbx);
        g_assert(rk_call(v->handle, REVIRT_SET_STATE, st) == 0);
        g_free(st);
        v->rand = g_rand_new_with_seed(g_rand_int(rand));
        pthread_create(&v->thread, NULL, vcpu_thread, v);
    }

    for (int k = 0; k < NR_KICKS; k++) {
        g_usleep(g_rand_int_range(rand, 200, 1800));
        kick(&vcpus[g_rand_int_range(rand, 0, NR_VCPUS)]);
        check_stalls(vcpus);
    }

    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < NR_VCPUS; i++) {
        kick(&vcpus[i]);
        pthread_join(vcpus[i].thread, NULL);
    }

    for (int i = 0; i < NR_VCPUS; i++) {
        StressVcpu *v = &vcpus[i];

        g_test_message("vCPU %d: %u runs, %u IN, %u interrupted (%u "
                       "spurious), max latency %" G_GINT64_FORMAT " us",
                       i, v->runs, v->in_exits, v->interrupted, v->spurious,
                       v->max_latency);
        g_assert(v->in_exits > 0 && v->interrupted > 0);
        g_assert(v->max_latency < MAX_LATENCY_US);
        runs += v->runs;
        spurious += v->spurious;
        max_latency = MAX(max_latency, v->max_latency);
        g_rand_free(v->rand);
        if (i) {
            rk_test_vcpu_free(&t, v->handle, v->run);
        }
    }
    g_test_message("%u runs, %u spurious, max latency %" G_GINT64_FORMAT
                   " us", runs, spurious, max_latency);
    g_rand_free(rand);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/kick/stress", test_kick_stress);
    return g_test_run();
}
