/*
 * revirt-kvm: a kick from another thread stops a spinning vCPU promptly,
 * and a kick made before a run is consumed by that run; kicks from several
 * threads at once, also while the vCPU is closed, are all answered.
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

#define NR_HAMMERS 4

typedef struct Hammer {
    int vcpu;
    gint *stop;
    unsigned kicks, closed;
    int bad;                    /* a return other than 0 and -EBADF */
    pthread_t thread;
} Hammer;

/* Kick as fast as possible until told to stop. */
static void *hammer_thread(void *opaque)
{
    Hammer *h = opaque;

    while (!g_atomic_int_get(h->stop)) {
        int r = rk_call(h->vcpu, REVIRT_KICK, NULL);

        if (r == -EBADF) {
            h->closed++;
        } else if (r) {
            h->bad = r;
        }
        h->kicks++;
    }
    return NULL;
}

static void hammers_start(Hammer *h, int vcpu, gint *stop)
{
    g_atomic_int_set(stop, 0);
    for (int i = 0; i < NR_HAMMERS; i++) {
        h[i] = (Hammer) { .vcpu = vcpu, .stop = stop };
        pthread_create(&h[i].thread, NULL, hammer_thread, &h[i]);
    }
}

static unsigned hammers_stop(Hammer *h, gint *stop)
{
    unsigned kicks = 0;

    g_atomic_int_set(stop, 1);
    for (int i = 0; i < NR_HAMMERS; i++) {
        pthread_join(h[i].thread, NULL);
        g_assert(h[i].bad == 0);
        kicks += h[i].kicks;
    }
    return kicks;
}

/*
 * Four threads kick one spinning vCPU at once: every run returns
 * INTERRUPTED, and once they stop, kicks do not queue: at most one run
 * is answered by a kick of theirs, the next one only by a new kick.
 */
static void test_kick_concurrent(void)
{
    Hammer h[NR_HAMMERS];
    unsigned kicks;
    gint stop;
    gint64 start;
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, spin_prog_start, spin_prog_end);
    hammers_start(h, t.vcpu, &stop);
    for (int i = 0; i < 500; i++) {
        g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERRUPTED);
    }
    kicks = hammers_stop(h, &stop);
    g_test_message("500 runs, %u kicks from %d threads", kicks, NR_HAMMERS);
    g_assert(kicks >= 500);

    run_with_kick(&t, 10);
    start = g_get_monotonic_time();
    run_with_kick(&t, 30);
    g_assert((g_get_monotonic_time() - start) >= (30 * 1000));
    rk_test_vm_destroy(&t);
}

/* Kicks from four threads while the vCPU runs, is closed and goes away. */
static void test_kick_while_closing(void)
{
    Hammer h[NR_HAMMERS];
    unsigned closed = 0;
    gint stop;
    RkTestVm t;

    rk_test_vm_init(&t);
    rk_test_load(&t, spin_prog_start, spin_prog_end);
    hammers_start(h, t.vcpu, &stop);
    for (int i = 0; i < 50; i++) {
        g_assert(rk_test_run(&t) == REVIRT_EXIT_INTERRUPTED);
    }
    g_assert(rk_close(t.vcpu) == 0);
    /* (no handle is opened until they stop: the number stays unused) */
    g_usleep(20 * 1000);
    hammers_stop(h, &stop);
    for (int i = 0; i < NR_HAMMERS; i++) {
        closed += h[i].closed;
    }
    g_assert(closed > 0);

    /* The id is free again, and the VM works. */
    rk_test_free(t.run, t.caps.run_area_size);
    t.vcpu = rk_test_vcpu_new(&t, 0, &t.run);
    rk_test_load(&t, spin_prog_start, spin_prog_end);
    run_with_kick(&t, 10);
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
    g_test_add_func("/revirt-kvm/kick/concurrent", test_kick_concurrent);
    g_test_add_func("/revirt-kvm/kick/while-closing",
                    test_kick_while_closing);
    return g_test_run();
}
