/*
 * QEMU revirt accelerator, x86: driver discovery, vCPU creation and CPUID.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/memalign.h"
#include "cpu.h"
#include "hw/i386/e820_memory_layout.h"
#include "sysemu/revirt.h"
#include "sysemu/revirt_int.h"

int revirt_arch_init(RevirtState *s, Error **errp)
{
    int ret;

    s->supported_cpuid = g_new0(struct revirt_cpuid_table, 1);
    ret = revirt_call(s->sys, REVIRT_GET_SUPPORTED_CPUID, s->supported_cpuid);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot read the supported CPUID");
        return ret;
    }
    s->supported_msrs = g_new0(struct revirt_msr_index_list, 1);
    ret = revirt_call(s->sys, REVIRT_GET_SUPPORTED_MSRS, s->supported_msrs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot read the supported MSRs");
        return ret;
    }
    /* Keep the guest off the pages the driver uses for itself. */
    if (s->caps.private_size) {
        e820_add_entry(s->caps.private_gpa, s->caps.private_size,
                       E820_RESERVED);
    }
    return 0;
}

uint32_t revirt_arch_get_supported_cpuid(uint32_t function, uint32_t index,
                                         int reg)
{
    const struct revirt_cpuid_table *table = revirt_state->supported_cpuid;

    for (uint32_t i = 0; i < table->count; i++) {
        const struct revirt_cpuid_entry *e = &table->entries[i];

        if (e->function != function ||
            ((e->flags & REVIRT_CPUID_FLAG_INDEXED) && e->index != index)) {
            continue;
        }
        switch (reg) {
        case R_EAX:
            return e->eax;
        case R_EBX:
            return e->ebx;
        case R_ECX:
            return e->ecx;
        case R_EDX:
            return e->edx;
        }
    }
    return 0;
}

/* Add CPUID leaf (function, index) as QEMU's CPU model computes it. */
static struct revirt_cpuid_entry *revirt_cpuid_add(
    CPUX86State *env, struct revirt_cpuid_table *table,
    uint32_t function, uint32_t index, uint32_t flags)
{
    struct revirt_cpuid_entry *e;

    if (table->count == REVIRT_MAX_CPUID_ENTRIES) {
        return NULL;
    }
    e = &table->entries[table->count++];
    e->function = function;
    e->index = index;
    e->flags = flags;
    cpu_x86_cpuid(env, function, index, &e->eax, &e->ebx, &e->ecx, &e->edx);
    return e;
}

/* The guest's whole CPUID table, leaf by leaf and sub-leaf by sub-leaf. */
static void revirt_build_cpuid(CPUX86State *env,
                               struct revirt_cpuid_table *table)
{
    const uint32_t indexed = REVIRT_CPUID_FLAG_INDEXED;
    struct revirt_cpuid_entry *e;
    uint32_t limit, sub_limit, unused;

    cpu_x86_cpuid(env, 0, 0, &limit, &unused, &unused, &unused);
    for (uint32_t leaf = 0; leaf <= limit; leaf++) {
        switch (leaf) {
        case 4:                 /* caches: until the type is "none" */
            for (uint32_t i = 0; i < 64; i++) {
                e = revirt_cpuid_add(env, table, leaf, i, indexed);
                if (!e || !(e->eax & 0x1f)) {
                    break;
                }
            }
            break;
        case 7:                 /* sub-leaf 0 gives the last sub-leaf */
        case 0x14:
            cpu_x86_cpuid(env, leaf, 0, &sub_limit, &unused, &unused,
                          &unused);
            for (uint32_t i = 0; i <= MIN(sub_limit, 63); i++) {
                revirt_cpuid_add(env, table, leaf, i, indexed);
            }
            break;
        case 0xb:               /* topology: until the level type is 0 */
        case 0x1f:
            for (uint32_t i = 0; i < 64; i++) {
                e = revirt_cpuid_add(env, table, leaf, i, indexed);
                if (!e || !(e->ecx & 0xff00)) {
                    break;
                }
            }
            break;
        case 0xd:               /* XSAVE: sub-leaves 0, 1 and those in use */
            for (uint32_t i = 0; i < 64; i++) {
                e = revirt_cpuid_add(env, table, leaf, i, indexed);
                if (e && i >= 2 && !e->eax) {
                    table->count--;
                }
            }
            break;
        default:
            revirt_cpuid_add(env, table, leaf, 0, 0);
            break;
        }
    }
    cpu_x86_cpuid(env, 0x80000000, 0, &limit, &unused, &unused, &unused);
    for (uint32_t leaf = 0x80000000; leaf <= limit; leaf++) {
        revirt_cpuid_add(env, table, leaf, 0, 0);
    }
}

int revirt_arch_init_vcpu(CPUState *cpu, Error **errp)
{
    X86CPU *x86_cpu = X86_CPU(cpu);
    CPUX86State *env = &x86_cpu->env;
    uint32_t run_size = revirt_state->caps.run_area_size;
    g_autofree struct revirt_cpuid_table *cpuid = NULL;
    struct revirt_vcpu_create create;
    RevirtVcpu *vcpu = g_new0(RevirtVcpu, 1);
    int ret;

    vcpu->run = qemu_memalign(qemu_real_host_page_size(), run_size);
    memset(vcpu->run, 0, run_size);
    create = (struct revirt_vcpu_create) {
        .vcpu_id = x86_cpu->apic_id,
        .run_area = (uintptr_t)vcpu->run,
        .run_area_size = run_size,
    };
    vcpu->handle = revirt_call(revirt_state->vm, REVIRT_CREATE_VCPU, &create);
    if (vcpu->handle < 0) {
        error_setg_errno(errp, -vcpu->handle, "cannot create the vCPU");
        qemu_vfree(vcpu->run);
        g_free(vcpu);
        return -1;
    }
    cpu->hax_vcpu = (struct hax_vcpu_state *)vcpu;

    cpuid = g_new0(struct revirt_cpuid_table, 1);
    revirt_build_cpuid(env, cpuid);
    ret = revirt_call(vcpu->handle, REVIRT_SET_CPUID, cpuid);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot set the CPUID table");
        return ret;
    }

    ret = revirt_arch_init_vcpu_state(cpu, errp);
    if (ret < 0) {
        return ret;
    }

    cpu->vcpu_dirty = true;
    return 0;
}

void revirt_arch_destroy_vcpu(CPUState *cpu)
{
    RevirtVcpu *vcpu = revirt_vcpu(cpu);

    revirt_arch_destroy_vcpu_state(cpu);
    revirt_state->driver->close(vcpu->handle);
    qemu_vfree(vcpu->run);
    g_free(vcpu);
    cpu->hax_vcpu = NULL;
}
