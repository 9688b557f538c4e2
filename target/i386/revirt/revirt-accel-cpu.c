/*
 * QEMU revirt accelerator, x86: CPU model defaults.
 *
 * As with KVM, the guest sees the host's vendor and gets only features
 * the driver supports; the defaults below turn off what QEMU's userspace
 * APIC or the driver cannot give, so that the usual models start without
 * warnings.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "host-cpu.h"
#include "hw/core/accel-cpu.h"
#include "sysemu/revirt.h"

/* Only for the builtin models, as kvm_default_props. */
static PropValue revirt_default_props[] = {
    { "x2apic", "off" },        /* QEMU's userspace APIC has no x2APIC mode */
    { "acpi", "off" },
    { "monitor", "off" },
    { "svm", "off" },
    { NULL, NULL },
};

/* -cpu host and max: everything the driver supports, its levels too. */
static void revirt_cpu_max_instance_init(X86CPU *cpu)
{
    CPUX86State *env = &cpu->env;

    host_cpu_max_instance_init(cpu);
    env->cpuid_min_level = revirt_arch_get_supported_cpuid(0, 0, R_EAX);
    env->cpuid_min_xlevel =
        revirt_arch_get_supported_cpuid(0x80000000, 0, R_EAX);
    env->cpuid_min_xlevel2 =
        revirt_arch_get_supported_cpuid(0xc0000000, 0, R_EAX);
}

/*
 * Where each XSAVE component sits, from the driver's CPUID leaf 0xd, as
 * kvm_cpu_xsave_init() takes it from the host: QEMU's XSAVE image
 * helpers and the guest's CPUID leaf 0xd use these offsets.
 */
static void revirt_cpu_xsave_init(void)
{
    static bool done;

    if (done) {
        return;
    }
    done = true;

    x86_ext_save_areas[XSTATE_FP_BIT].offset = 0;
    x86_ext_save_areas[XSTATE_SSE_BIT].offset = 0;
    for (int i = XSTATE_SSE_BIT + 1; i < XSAVE_STATE_AREA_COUNT; i++) {
        ExtSaveArea *esa = &x86_ext_save_areas[i];
        uint32_t size = revirt_arch_get_supported_cpuid(0xd, i, R_EAX);

        if (!esa->size ||
            (x86_cpu_get_supported_feature_word(esa->feature, false) &
             esa->bits) != esa->bits) {
            continue;
        }
        /* A size QEMU does not know means a layout it cannot convert. */
        if (size == esa->size) {
            esa->offset = revirt_arch_get_supported_cpuid(0xd, i, R_EBX);
            esa->ecx = revirt_arch_get_supported_cpuid(0xd, i, R_ECX);
        }
    }
}

static void revirt_cpu_instance_init(CPUState *cs)
{
    X86CPU *cpu = X86_CPU(cs);
    X86CPUClass *xcc = X86_CPU_GET_CLASS(cpu);

    host_cpu_instance_init(cpu);
    if (xcc->model) {
        x86_cpu_apply_props(cpu, revirt_default_props);
    }
    if (cpu->max_features) {
        revirt_cpu_max_instance_init(cpu);
    }
    revirt_cpu_xsave_init();
}

static void revirt_cpu_accel_class_init(ObjectClass *oc, void *data)
{
    AccelCPUClass *acc = ACCEL_CPU_CLASS(oc);

    acc->cpu_realizefn = host_cpu_realizefn;
    acc->cpu_instance_init = revirt_cpu_instance_init;
}

static const TypeInfo revirt_cpu_accel_type_info = {
    .name = ACCEL_CPU_NAME("revirt"),
    .parent = TYPE_ACCEL_CPU,
    .class_init = revirt_cpu_accel_class_init,
    .abstract = true,
};

static void revirt_cpu_accel_register_types(void)
{
    type_register_static(&revirt_cpu_accel_type_info);
}

type_init(revirt_cpu_accel_register_types);
