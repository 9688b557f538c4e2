/*
 * QEMU revirt accelerator: the accelerator class, driver choice and setup.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "hw/boards.h"
#include "sysemu/revirt.h"
#include "sysemu/revirt_int.h"
#include "trace.h"

bool revirt_allowed;
RevirtState *revirt_state;

int revirt_call(int handle, uint32_t request, void *arg)
{
    return revirt_state->driver->call(handle, request, arg);
}

static void revirt_close(RevirtState *s)
{
    if (s->vm >= 0) {
        s->driver->close(s->vm);
        s->vm = -1;
    }
    if (s->sys >= 0) {
        s->driver->close(s->sys);
        s->sys = -1;
    }
    g_clear_pointer(&s->supported_cpuid, g_free);
    g_clear_pointer(&s->supported_msrs, g_free);
    revirt_state = NULL;
}

static int revirt_open(RevirtState *s, Error **errp)
{
    const RevirtDriver *driver = s->driver;
    struct revirt_vm_create create = { 0 };
    int ret;

    s->sys = driver->open();
    if (s->sys < 0) {
        error_setg_errno(errp, -s->sys, "cannot open the %s driver (%s)",
                         driver->name, driver->description);
        return s->sys;
    }
    ret = driver->call(s->sys, REVIRT_GET_CAPS, &s->caps);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "the %s driver refused REVIRT_GET_CAPS",
                         driver->name);
        return ret;
    }
    if (s->caps.api_version != REVIRT_API_VERSION) {
        error_setg(errp, "the %s driver speaks revirt ABI version %u, "
                   "QEMU speaks version %u", driver->name,
                   s->caps.api_version, REVIRT_API_VERSION);
        return -ENOTSUP;
    }
    s->vm = driver->call(s->sys, REVIRT_CREATE_VM, &create);
    if (s->vm < 0) {
        error_setg_errno(errp, -s->vm, "the %s driver cannot create a VM",
                         driver->name);
        return s->vm;
    }
    trace_revirt_open(driver->name, s->caps.max_vcpus, s->caps.gpa_bits,
                      s->caps.features);
    return 0;
}

/* The run area is the driver's word: QEMU allocates and reads it. */
#define REVIRT_RUN_AREA_MAX     (1u << 20)

static int revirt_check_caps(RevirtState *s, MachineState *ms, Error **errp)
{
    const struct revirt_caps *caps = &s->caps;

    if (caps->run_area_size < sizeof(struct revirt_run) ||
        caps->run_area_size > REVIRT_RUN_AREA_MAX) {
        error_setg(errp, "the %s driver asks for a run area of %u bytes",
                   s->driver->name, caps->run_area_size);
        return -EINVAL;
    }
    if (ms->smp.max_cpus > caps->max_vcpus) {
        error_setg(errp, "the %s driver runs at most %u vCPUs, the machine "
                   "has %u", s->driver->name, caps->max_vcpus,
                   ms->smp.max_cpus);
        return -EINVAL;
    }
    return 0;
}

/*
 * On failure, say why in one line and return the error: QEMU then falls
 * back to the next -accel, if the user gave one.
 */
static int revirt_init_machine(MachineState *ms)
{
    RevirtState *s = REVIRT_STATE(current_accel());
    Error *err = NULL;
    int ret;

    if (!s->driver) {
        s->driver = revirt_driver_default();
    }
    revirt_state = s;
    ret = revirt_open(s, &err);
    if (ret == 0) {
        ret = revirt_check_caps(s, ms, &err);
    }
    if (ret == 0) {
        ret = revirt_arch_init(s, &err);
    }
    if (ret == 0) {
        ret = revirt_memory_listener_register(s, &err);
    }
    if (ret < 0) {
        error_prepend(&err, "revirt: ");
        error_report_err(err);
        revirt_close(s);
        return ret;
    }
    return 0;
}

static char *revirt_get_driver(Object *obj, Error **errp)
{
    RevirtState *s = REVIRT_STATE(obj);

    return g_strdup(s->driver ? s->driver->name : "");
}

static void revirt_set_driver(Object *obj, const char *value, Error **errp)
{
    RevirtState *s = REVIRT_STATE(obj);
    const RevirtDriver *driver = revirt_driver_find(value);

    if (!driver) {
        error_setg(errp, "revirt: unknown driver '%s' (use native or linux)",
                   value);
        return;
    }
    s->driver = driver;
}

static void revirt_accel_instance_init(Object *obj)
{
    RevirtState *s = REVIRT_STATE(obj);

    s->sys = -1;
    s->vm = -1;
}

/* Interrupts are QEMU's to inject, so a step can go without them. */
static int revirt_gdbstub_sstep_flags(void)
{
    return revirt_arch_supports_guest_debug() ?
           SSTEP_ENABLE | SSTEP_NOIRQ : 0;
}

static void revirt_accel_class_init(ObjectClass *oc, void *data)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->name = "revirt";
    ac->init_machine = revirt_init_machine;
    ac->allowed = &revirt_allowed;
    ac->gdbstub_supported_sstep_flags = revirt_gdbstub_sstep_flags;

    object_class_property_add_str(oc, "driver", revirt_get_driver,
                                  revirt_set_driver);
    object_class_property_set_description(oc, "driver",
        "the revirt driver: native (/dev/revirt) or linux (over /dev/kvm); "
        "default: native if present, else linux");
}

static const TypeInfo revirt_accel_type = {
    .name = TYPE_REVIRT_ACCEL,
    .parent = TYPE_ACCEL,
    .instance_size = sizeof(RevirtState),
    .instance_init = revirt_accel_instance_init,
    .class_init = revirt_accel_class_init,
};

static void revirt_type_init(void)
{
    type_register_static(&revirt_accel_type);
}

type_init(revirt_type_init);
