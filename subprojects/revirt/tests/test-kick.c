/*
 * revirt-kvm: a kick from another thread stops a spinning vCPU promptly,
 * and a kick made before a run is consumed by that run.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "rk-test.h"

GUEST_PROGRAM(spin_prog, "1: jmp 1b\n");

typedef struct Kicker {
    int vcpu;
    unsigned delay_ms;
    int ret;
    gint64 kicked_at;           /* monotonic, microseconds */
} Kicker;

static void *kicker_thread(void *opaque)
{
    Kicker *k = opaque;

    g_usleep(k->delay_ms * 1000);
    k->kicked_at = g_get_monotonic_time();
    k->ret = rk_call(k->vcpu, REVIRT_KICK, NULL);
    return NULL;
}

/* Run the spinning vCPU while another thread kicks it after delay_ms. */
static gint64 run_with_kick(RkTestVm *t, unsigned delay_ms)
{
    Kicker k = { .vcpu = t->vcpu, .delay_ms = delay_ms };
    pthread_t thread;
    gint64 returned_at;

    pthread_create(&thread, NULL, kicker_thread, &k);
    g_assert(rk_test_run(t) == REVIRT_EXIT_INTERRUPTED);
    returned_at = g_get_monotonic_time();
    pthread_join(thread, NULL);
    g_assert(k.ret == 0);
    g_assert(k.kicked_at > 0);
    return returned_at - k.kicked_at;
}

static void test_kick_spinning(void)
{
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, spin_prog_start, spin_prog_end);
    for (int i = 0; i < 5; i++) {
        gint64 latency = run_with_kick(&t, 50);

        g_test_message("kick to return: %" G_GINT64_FORMAT " us", latency);
        g_assert(latency < G_USEC_PER_SEC);
    }
    rk_test_vm_destroy(&t);
}

static void test_kick_before_run(void)
{
    gint64 start;
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, spin_prog_start, spin_prog_end);
    g_assert(rk_call(t.vcpu, REVIRT_KICK, NULL) == 0);
    g_assert(rk_call(t.vcpu, REVIRT_KICK, NULL) == 0);
    g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERRUPTED);

    /* Both kicks were consumed: the next run spins until kicked again. */
    start = g_get_monotonic_time();
    run_with_kick(&t, 30);
    g_assert((g_get_monotonic_time() - start) >= (30 * 1000));
    rk_test_vm_destroy(&t);
}

/* A run that has not returned 2 s after it was kicked is a stall. */
static void *watchdog_thread(void *opaque)
{
    gint *returned = opaque;

    g_usleep(2 * 1000 * 1000);
    if (!g_atomic_int_get(returned)) {
        g_error("a kicked run did not return");
    }
    return NULL;
}

/*
 * The VMM's thread may block every signal (QEMU starts its threads so):
 * a kick must still end a run in that thread.
 */
static void test_kick_signals_blocked(void)
{
    gint returned = 0;
    pthread_t watchdog;
    sigset_t all, old;
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, spin_prog_start, spin_prog_end);
    run_with_kick(&t, 10);

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_create(&watchdog, NULL, watchdog_thread, &returned);
    run_with_kick(&t, 10);
    g_atomic_int_set(&returned, 1);
    pthread_join(watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    rk_test_vm_destroy(&t);
}

int main(int argc, char **argv)
{
    if (!rk_test_init(&argc, &argv)) {
        return g_test_run();
    }
    g_test_add_func("/revirt-kvm/kick/spinning", test_kick_spinning);
    g_test_add_func("/revirt-kvm/kick/before-run", test_kick_before_run);
    g_test_add_func("/revirt-kvm/kick/signals-blocked",
                    test_kick_signals_blocked);
    return g_test_run();
}
