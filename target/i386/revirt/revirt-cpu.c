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

/* revirt's hypervisor leaves, where KVM has its KVM_CPUID_* leaves. */
#define REVIRT_CPUID_SIGNATURE  0x40000000
#define REVIRT_CPUID_FEATURES   0x40000001

int revirt_arch_init(RevirtState *s, Error **errp)
{
    int ret;

    s->supported_cpuid = g_new0(struct revirt_cpuid_table, 1);
    ret = revirt_call(s->sys, REVIRT_GET_SUPPORTED_CPUID, s->supported_cpuid);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot read the supported CPUID");
        return ret;
    }
    if (s->supported_cpuid->count > REVIRT_MAX_CPUID_ENTRIES) {
        error_setg(errp, "the driver reports %u CPUID entries",
                   s->supported_cpuid->count);
        return -EINVAL;
    }
    s->supported_msrs = g_new0(struct revirt_msr_index_list, 1);
    ret = revirt_call(s->sys, REVIRT_GET_SUPPORTED_MSRS, s->supported_msrs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "cannot read the supported MSRs");
        return ret;
    }
    if (s->supported_msrs->count > REVIRT_MAX_MSR_INDICES) {
        error_setg(errp, "the driver reports %u MSRs",
                   s->supported_msrs->count);
        return -EINVAL;
    }
    /* Keep the guest off the pages the driver uses for itself. */
    if (s->caps.private_size) {
        e820_add_entry(s->caps.private_gpa, s->caps.private_size,
                       E820_RESERVED);
    }
    return 0;
}

static uint32_t revirt_driver_cpuid(uint32_t function, uint32_t index,
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

static bool revirt_driver_has_msr(uint32_t index)
{
    const struct revirt_msr_index_list *list = revirt_state->supported_msrs;

    for (uint32_t i = 0; i < list->count; i++) {
        if (list->indices[i] == index) {
            return true;
        }
    }
    return false;
}

/*
 * What the guest may see: the driver's table with the fixups QEMU's KVM
 * accelerator applies for a userspace irqchip (kvm_arch_get_supported_cpuid).
 */
uint32_t revirt_arch_get_supported_cpuid(uint32_t function, uint32_t index,
                                         int reg)
{
    uint32_t ret = revirt_driver_cpuid(function, index, reg);

    if (function == 1 && reg == R_ECX) {
        /* A CPUID bit only, and it keeps Linux off bare-metal paths. */
        ret |= CPUID_EXT_HYPERVISOR;
        /* QEMU's APIC has neither x2APIC mode nor the TSC-deadline timer. */
        ret &= ~(CPUID_EXT_X2APIC | CPUID_EXT_TSC_DEADLINE_TIMER);
    } else if (function == 6 && reg == R_EAX) {
        ret |= CPUID_6_EAX_ARAT;    /* QEMU's APIC timer never stops */
    } else if (function == 7 && index == 0 && reg == R_EDX) {
        if (!revirt_driver_has_msr(MSR_IA32_ARCH_CAPABILITIES)) {
            ret &= ~CPUID_7_0_EDX_ARCH_CAPABILITIES;
        }
    } else if (function == 0x80000001 && reg == R_ECX) {
        /* QEMU computes the topology leaves it announces itself. */
        ret |= CPUID_EXT3_TOPOEXT;
    } else if (function == 0x80000001 && reg == R_EDX) {
        /* Intel hosts report these only in leaf 1; AMD repeats them. */
        ret |= revirt_driver_cpuid(1, 0, R_EDX) & CPUID_EXT2_AMD_ALIASES;
    }
    return ret;
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

/* Does sub-leaf @index end an indexed leaf that lists until a stop mark? */
static bool revirt_cpuid_last_subleaf(const struct revirt_cpuid_entry *e)
{
    switch (e->function) {
    case 4:                     /* caches: type "none" */
    case 0x8000001d:
        return !(e->eax & 0x1f);
    case 0xb:                   /* topology: level type 0 */
    case 0x1f:
        return !(e->ecx & 0xff00);
    case 0x12:                  /* SGX EPC sections: type "invalid" */
        return e->index > 1 && (e->eax & 0xf) != 1;
    default:
        return true;
    }
}

/*
 * Add every sub-leaf of @leaf, as kvm_arch_init_vcpu() does: the guest
 * reads each one with its own index in ECX.
 */
static int revirt_cpuid_add_leaf(CPUX86State *env,
                                 struct revirt_cpuid_table *table,
                                 uint32_t leaf)
{
    const uint32_t indexed = REVIRT_CPUID_FLAG_INDEXED;
    struct revirt_cpuid_entry *e;
    uint32_t last, unused;

    switch (leaf) {
    case 4:
    case 0xb:
    case 0x12:
    case 0x1f:
    case 0x8000001d:
        if (leaf == 0x1f && env->nr_dies < 2) {
            return 0;
        }
        for (uint32_t i = 0; i < 64; i++) {
            e = revirt_cpuid_add(env, table, leaf, i, indexed);
            if (!e) {
                return -E2BIG;
            }
            if (revirt_cpuid_last_subleaf(e)) {
                break;
            }
        }
        return 0;
    case 7:                     /* sub-leaf 0's EAX is the last sub-leaf */
    case 0x14:
    case 0x1d:
    case 0x1e:
        cpu_x86_cpuid(env, leaf, 0, &last, &unused, &unused, &unused);
        for (uint32_t i = 0; i <= MIN(last, 63); i++) {
            if (!revirt_cpuid_add(env, table, leaf, i, indexed)) {
                return -E2BIG;
            }
        }
        return 0;
    case 0xd:
        /*
         * XSAVE: the sub-leaves with a non-zero EAX, as QEMU's kvm passes
         * them.  Without XSAVE there is none, so the driver has no
         * sub-leaf 0 whose EBX it would keep up to date with XCR0.
         */
        for (uint32_t i = 0; i < 64; i++) {
            e = revirt_cpuid_add(env, table, leaf, i, indexed);
            if (!e) {
                return -E2BIG;
            }
            if (!e->eax) {
                table->count--;
            }
        }
        return 0;
    default:
        e = revirt_cpuid_add(env, table, leaf, 0, 0);
        if (!e) {
            return -E2BIG;
        }
        /* A missing leaf reads as zeroes anyway: keep the table small. */
        if (!e->eax && !e->ebx && !e->ecx && !e->edx) {
            table->count--;
        }
        return 0;
    }
}

/* The leaves from @base to the last one its EAX names. */
static int revirt_cpuid_add_range(CPUX86State *env,
                                  struct revirt_cpuid_table *table,
                                  uint32_t base)
{
    uint32_t limit, unused;
    int ret = 0;

    cpu_x86_cpuid(env, base, 0, &limit, &unused, &unused, &unused);
    for (uint32_t leaf = base; leaf <= limit && ret == 0; leaf++) {
        ret = revirt_cpuid_add_leaf(env, table, leaf);
    }
    return ret;
}

/*
 * revirt's own hypervisor leaves: a signature and no paravirtual
 * features.  The driver answers them like any other leaf.
 */
static int revirt_cpuid_add_hypervisor(struct revirt_cpuid_table *table)
{
    static const char signature[12] = "revirtrevirt";
    struct revirt_cpuid_entry *e;

    if (table->count + 2 > REVIRT_MAX_CPUID_ENTRIES) {
        return -E2BIG;
    }
    e = &table->entries[table->count++];
    *e = (struct revirt_cpuid_entry) {
        .function = REVIRT_CPUID_SIGNATURE,
        .eax = REVIRT_CPUID_FEATURES,
    };
    memcpy(&e->ebx, signature, 4);
    memcpy(&e->ecx, signature + 4, 4);
    memcpy(&e->edx, signature + 8, 4);
    e = &table->entries[table->count++];
    *e = (struct revirt_cpuid_entry) { .function = REVIRT_CPUID_FEATURES };
    return 0;
}

/* The guest's whole CPUID table, leaf by leaf and sub-leaf by sub-leaf. */
static int revirt_build_cpuid(CPUX86State *env,
                              struct revirt_cpuid_table *table)
{
    int ret;

    ret = revirt_cpuid_add_range(env, table, 0);
    if (ret == 0) {
        ret = revirt_cpuid_add_hypervisor(table);
    }
    if (ret == 0) {
        ret = revirt_cpuid_add_range(env, table, 0x80000000);
    }
    if (ret == 0 && env->cpuid_xlevel2) {
        ret = revirt_cpuid_add_range(env, table, 0xc0000000);
    }
    return ret;
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
    ret = revirt_build_cpuid(env, cpuid);
    if (ret < 0) {
        error_setg(errp, "the CPU model needs more than %d CPUID entries",
                   REVIRT_MAX_CPUID_ENTRIES);
        return ret;
    }
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
    RevirtVcpu *vcpu = revirt_vcpu_detach(cpu);

    revirt_arch_destroy_vcpu_state(cpu);
    revirt_state->driver->close(vcpu->handle);
    qemu_vfree(vcpu->run);
    g_free(vcpu);
}
