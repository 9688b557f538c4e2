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

/* Only for the builtin models, as kvm_default_props. */
static PropValue revirt_default_props[] = {
    { "x2apic", "off" },        /* QEMU's userspace APIC has no x2APIC mode */
    { "acpi", "off" },
    { "monitor", "off" },
    { "svm", "off" },
    { NULL, NULL },
};

static void revirt_cpu_instance_init(CPUState *cs)
{
    X86CPU *cpu = X86_CPU(cs);
    X86CPUClass *xcc = X86_CPU_GET_CLASS(cpu);

    host_cpu_instance_init(cpu);
    if (xcc->model) {
        x86_cpu_apply_props(cpu, revirt_default_props);
    }
    if (cpu->max_features) {
        host_cpu_max_instance_init(cpu);
    }
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
