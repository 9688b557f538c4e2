/*
 * QEMU revirt accelerator: the drivers it can talk to.
 *
 * "native" is a kernel that implements the revirt ABI behind /dev/revirt,
 * reached with ioctl(2); "linux" is the revirt-kvm library, the same ABI
 * over Linux KVM in this process.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include "sysemu/revirt_int.h"
#ifdef CONFIG_LINUX
#include "revirt-kvm.h"
#endif

#define REVIRT_NATIVE_DEVICE "/dev/revirt"

static int revirt_native_open(void)
{
    int fd = open(REVIRT_NATIVE_DEVICE, O_RDWR | O_CLOEXEC);

    return fd < 0 ? -errno : fd;
}

static int revirt_native_call(int handle, uint32_t request, void *arg)
{
    int ret = ioctl(handle, request, arg);

    return ret < 0 ? -errno : ret;
}

static int revirt_native_close(int handle)
{
    return close(handle) < 0 ? -errno : 0;
}

const RevirtDriver revirt_native_driver = {
    .name = "native",
    .description = "the kernel's revirt driver, " REVIRT_NATIVE_DEVICE,
    .open = revirt_native_open,
    .call = revirt_native_call,
    .close = revirt_native_close,
};

#ifdef CONFIG_LINUX
const RevirtDriver revirt_linux_driver = {
    .name = "linux",
    .description = "revirt-kvm, the revirt ABI over /dev/kvm",
    .open = revirt_kvm_open,
    .call = revirt_kvm_call,
    .close = revirt_kvm_close,
};
#endif

static const RevirtDriver *const revirt_drivers[] = {
    &revirt_native_driver,
#ifdef CONFIG_LINUX
    &revirt_linux_driver,
#endif
};

const RevirtDriver *revirt_driver_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(revirt_drivers); i++) {
        if (!strcmp(revirt_drivers[i]->name, name)) {
            return revirt_drivers[i];
        }
    }
    return NULL;
}

/* The native driver where the kernel has one, else the Linux one. */
const RevirtDriver *revirt_driver_default(void)
{
#ifdef CONFIG_LINUX
    if (access(REVIRT_NATIVE_DEVICE, F_OK) != 0) {
        return &revirt_linux_driver;
    }
#endif
    return &revirt_native_driver;
}
