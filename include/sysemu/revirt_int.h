/*
 * QEMU revirt accelerator: state shared by accel/revirt and the target code.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef QEMU_REVIRT_INT_H
#define QEMU_REVIRT_INT_H

#include "qemu/accel.h"
#include "exec/memory.h"
#include "hw/core/cpu.h"
#include "revirt/revirt-abi.h"

/* How the accelerator reaches a revirt driver. */
typedef struct RevirtDriver {
    const char *name;
    const char *description;
    int (*open)(void);          /* the system handle, or -errno */
    int (*call)(int handle, uint32_t request, void *arg);
    int (*close)(int handle);
} RevirtDriver;

const RevirtDriver *revirt_driver_find(const char *name);
const RevirtDriver *revirt_driver_default(void);
extern const RevirtDriver revirt_native_driver;
extern const RevirtDriver revirt_linux_driver;

struct RevirtState {
    AccelState parent_obj;

    const RevirtDriver *driver;
    int sys, vm;                /* handles */
    struct revirt_caps caps;
    struct revirt_cpuid_table *supported_cpuid;
    struct revirt_msr_index_list *supported_msrs;
    MemoryListener memory_listener;
    Error *migration_blocker;   /* without REVIRT_FEATURE_DIRTY_LOG */
};

#define TYPE_REVIRT_ACCEL ACCEL_CLASS_NAME("revirt")
typedef struct RevirtState RevirtState;
DECLARE_INSTANCE_CHECKER(RevirtState, REVIRT_STATE, TYPE_REVIRT_ACCEL)

extern RevirtState *revirt_state;

/* A per-vCPU handle and its run area; lives in CPUState.hax_vcpu. */
typedef struct RevirtVcpu {
    int handle;
    struct revirt_run *run;
    struct revirt_guest_debug guest_debug; /* what the driver was given */
} RevirtVcpu;

static inline RevirtVcpu *revirt_vcpu(CPUState *cpu)
{
    return (RevirtVcpu *)cpu->hax_vcpu;
}

/* Take the vCPU from @cpu once no kick can be using it. */
RevirtVcpu *revirt_vcpu_detach(CPUState *cpu);

/* A driver call on a handle of revirt_state's driver. */
int revirt_call(int handle, uint32_t request, void *arg);

/* accel/revirt/revirt-memory.c */
int revirt_memory_listener_register(RevirtState *s, Error **errp);

/* target/<arch>/revirt: what the generic part needs of the target. */
int revirt_arch_init(RevirtState *s, Error **errp);
int revirt_arch_init_vcpu(CPUState *cpu, Error **errp);
void revirt_arch_destroy_vcpu(CPUState *cpu);
int revirt_arch_vcpu_exec(CPUState *cpu);
int revirt_arch_put_registers(CPUState *cpu, bool full);
int revirt_arch_get_registers(CPUState *cpu);
int revirt_arch_init_vcpu_state(CPUState *cpu, Error **errp);
void revirt_arch_destroy_vcpu_state(CPUState *cpu);
bool revirt_arch_supports_guest_debug(void);
int revirt_arch_insert_breakpoint(CPUState *cpu, int type, vaddr addr,
                                  vaddr len);
int revirt_arch_remove_breakpoint(CPUState *cpu, int type, vaddr addr,
                                  vaddr len);
void revirt_arch_remove_all_breakpoints(CPUState *cpu);
int revirt_arch_update_guest_debug(CPUState *cpu);
int revirt_arch_handle_debug(CPUState *cpu);

#endif /* QEMU_REVIRT_INT_H */
