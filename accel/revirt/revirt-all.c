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

static int revirt_init_machine(MachineState *ms)
{
    RevirtState *s = REVIRT_STATE(current_accel());
    Error *err = NULL;

    if (!s->driver) {
        s->driver = revirt_driver_default();
    }
    revirt_state = s;
    if (revirt_open(s, &err) < 0 || revirt_arch_init(s, &err) < 0 ||
        ms->smp.max_cpus > s->caps.max_vcpus) {
        if (!err) {
            error_setg(&err, "the %s driver runs at most %u vCPUs, "
                       "the machine has %u", s->driver->name,
                       s->caps.max_vcpus, ms->smp.max_cpus);
        }
        /*
         * Exit here rather than fall back: the user chose this accelerator
         * and driver, and one line saying why it failed is what helps.
         */
        error_prepend(&err, "revirt: ");
        error_report_err(err);
        exit(1);
    }
    revirt_memory_listener_register(s);
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

static void revirt_accel_class_init(ObjectClass *oc, void *data)
{
    AccelClass *ac = ACCEL_CLASS(oc);

    ac->name = "revirt";
    ac->init_machine = revirt_init_machine;
    ac->allowed = &revirt_allowed;

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
