/*
 * revirt-kvm internals: the objects behind the handles.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef REVIRT_KVM_INT_H
#define REVIRT_KVM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/kvm.h>

#include "revirt/revirt-abi.h"

enum rk_kind {
    RK_SYSTEM = 1,
    RK_VM,
    RK_VCPU,
};

/* Every handle's object starts with this; freed when refs reaches 0. */
struct rk_object {
    enum rk_kind kind;
    atomic_int refs;
};

struct rk_system {
    struct rk_object obj;
    int kvm_fd;
    struct revirt_caps caps;
    int vcpu_mmap_size;
    bool svm;                   /* KVM runs on AMD SVM */
    uint64_t mcg_cap;           /* the MCG_CAP offered, 0 without MCE */
};

struct rk_mapping {
    uint64_t gpa, size, hva;
    uint32_t prot;
    uint32_t slot;              /* KVM memslot id */
    bool logging;               /* REVIRT_LOG_START'ed */
    /* While logging: pages written and not reported yet, one bit each. */
    uint64_t *dirty;
};

/* A closed vCPU's KVM vCPU, kept for the next vCPU of its id. */
struct rk_parked {
    uint32_t id;
    int fd;
    struct kvm_run *kvm_run;
    struct rk_reset_state *reset;
};

struct rk_vm {
    struct rk_object obj;
    int vm_fd;
    struct revirt_caps caps;    /* of the system it was created on */
    int vcpu_mmap_size;
    bool svm;
    bool break_io_size;         /* REVIRT_KVM_BREAK=io-size */
    int max_slots;
    uint64_t mcg_cap;           /* of the system it was created on */
    size_t xsave_size;          /* bytes of KVM's XSAVE image */
    uint32_t *msr_indices;      /* the MSRs KVM lists */
    uint32_t nr_msr_indices;

    pthread_mutex_t lock;       /* protects what follows */
    struct rk_mapping *mappings; /* sorted by gpa, never overlapping */
    size_t nr_mappings;
    uint8_t *slot_used;         /* max_slots entries */
    struct rk_parked *parked;
    size_t nr_parked;
    bool dirty_log_ready;       /* manual_protect is decided */
    bool manual_protect;        /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 on */
    uint64_t tsc_last_value;    /* the last TSC a vCPU was set to */
    int64_t tsc_last_ns;        /* when (CLOCK_MONOTONIC) */
};

struct rk_vcpu {
    struct rk_object obj;
    struct rk_vm *vm;
    uint32_t id;
    int vcpu_fd;
    struct kvm_run *kvm_run;
    struct rk_reset_state *reset; /* its state after KVM_CREATE_VCPU */
    struct revirt_run *run;

    atomic_bool busy;           /* a thread is in a call that runs it */
    atomic_bool kicked;         /* kicked since the last run started */
    atomic_int run_tid;         /* the thread in REVIRT_RUN, or 0 */
    bool sigmask_valid;         /* KVM has sigmask for KVM_RUN */
    uint64_t sigmask;
    bool has_run;
    bool mce_setup;             /* MCG_CAP was set */
    bool int3_exit;             /* the last exit was a guest INT3 */
    struct kvm_guest_debug guest_debug; /* as last set */
    /* An IN or MMIO read to complete at the next run: where the data goes. */
    void *pending_data;
    const void *pending_src;
    uint32_t pending_len;
};

/* revirt-kvm-check.c */
int rk_check_arg(enum rk_kind kind, uint32_t request, const void *arg);
int rk_check_run_area(const struct revirt_run *run);

/* revirt-kvm-handle.c */
int rk_handle_new(struct rk_object *obj);
struct rk_object *rk_get(int handle, int *err);
void rk_put(struct rk_object *obj);

/* revirt-kvm-system.c */
int rk_system_call(struct rk_system *sys, uint32_t request, void *arg);
int rk_get_supported_msrs(int kvm_fd, struct revirt_msr_index_list *out);
void rk_system_free(struct rk_system *sys);
/*
 * Is @what in REVIRT_KVM_HIDE, a comma-separated list of what the driver
 * is to do without (for tests): "dirty-log" hides FEATURE_DIRTY_LOG,
 * "dirty-log-clear" keeps KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 off,
 * "guest-debug" hides FEATURE_GUEST_DEBUG.
 */
bool rk_hidden(const char *what);
/*
 * Is @what in REVIRT_KVM_BREAK, a comma-separated list of contract breaks
 * a VMM must survive (for its tests): "run-area-size" reports a run area
 * of 0 bytes, "io-size" reports port I/O of 3-byte elements.
 */
bool rk_broken(const char *what);

/* revirt-kvm-memory.c */
int rk_vm_map(struct rk_vm *vm, const struct revirt_memory_map *map);
int rk_vm_unmap(struct rk_vm *vm, const struct revirt_memory_unmap *unmap);
void rk_vm_free_mappings(struct rk_vm *vm);

/* revirt-kvm-dirty.c */
int rk_vm_log_start(struct rk_vm *vm, const struct revirt_log_range *range);
int rk_vm_log_stop(struct rk_vm *vm, const struct revirt_log_range *range);
int rk_vm_get_dirty_log(struct rk_vm *vm, const struct revirt_dirty_log *log);
int rk_log_fetch(struct rk_vm *vm, struct rk_mapping *m, uint64_t first,
                 uint64_t end);
uint64_t *rk_log_slice(const uint64_t *bits, uint64_t first, uint64_t n);

/* revirt-kvm-vm.c */
struct rk_vm *rk_vm_new(struct rk_system *sys, int *err);
int rk_vm_call(struct rk_vm *vm, uint32_t request, void *arg);
void rk_vm_free(struct rk_vm *vm);

/* revirt-kvm-vcpu.c */
int rk_vcpu_create(struct rk_vm *vm, const struct revirt_vcpu_create *create);
int rk_vcpu_call(struct rk_vcpu *vcpu, uint32_t request, void *arg);
void rk_vcpu_free(struct rk_vcpu *vcpu);

/* revirt-kvm-debug.c */
int rk_vcpu_set_guest_debug(struct rk_vcpu *vcpu,
                            const struct revirt_guest_debug *dbg);
void rk_translate_debug_exit(struct rk_vcpu *vcpu);
int rk_debug_state_changed(struct rk_vcpu *vcpu);
bool rk_debug_flags_ok(const void *arg);

/* revirt-kvm-inject.c */
int rk_vcpu_inject(struct rk_vcpu *vcpu, const struct revirt_event *ev);

/* revirt-kvm-park.c */
struct rk_reset_state *rk_reset_capture(struct rk_vm *vm, int fd);
void rk_vcpu_park(struct rk_vm *vm, struct rk_vcpu *vcpu);
int rk_vcpu_unpark(struct rk_vm *vm, struct rk_vcpu *vcpu);
void rk_vm_free_parked(struct rk_vm *vm);

/* revirt-kvm-run.c */
int rk_vcpu_run(struct rk_vcpu *vcpu);
int rk_vcpu_kick(struct rk_vcpu *vcpu);

/* revirt-kvm-state.c */
int rk_state_get(struct rk_vcpu *vcpu, struct revirt_vcpu_state *state);
int rk_state_set(struct rk_vcpu *vcpu, const struct revirt_vcpu_state *state);
int rk_xsave_get(struct rk_vcpu *vcpu, struct revirt_xsave *xsave);
int rk_xsave_set(struct rk_vcpu *vcpu, const struct revirt_xsave *xsave);

/* ioctl() returning 0 or -errno, retried on EINTR unless it is KVM_RUN. */
int rk_ioctl(int fd, unsigned long request, void *arg);

#endif /* REVIRT_KVM_INT_H */
