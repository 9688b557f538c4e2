/*
 * revirt-kvm: the handle table and call dispatch.
 *
 * Handles are never reused, so a stale handle fails with -EBADF instead of
 * reaching an object created later.  Each call holds a reference on its
 * object, so closing a handle while another thread uses it is safe: the
 * object goes away when the last call on it returns.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "revirt-kvm.h"
#include "revirt-kvm-int.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rk_object **table;
static int table_size;
static int next_handle = 1;

int rk_handle_new(struct rk_object *obj)
{
    int handle;

    pthread_mutex_lock(&table_lock);
    if (next_handle >= table_size) {
        int size = table_size ? table_size * 2 : 64;
        struct rk_object **bigger;

        if (size <= table_size) {
            pthread_mutex_unlock(&table_lock);
            return -EMFILE;
        }
        bigger = realloc(table, size * sizeof(*table));
        if (!bigger) {
            pthread_mutex_unlock(&table_lock);
            return -ENOMEM;
        }
        for (int i = table_size; i < size; i++) {
            bigger[i] = NULL;
        }
        table = bigger;
        table_size = size;
    }
    handle = next_handle++;
    atomic_store(&obj->refs, 1);
    table[handle] = obj;
    pthread_mutex_unlock(&table_lock);
    return handle;
}

struct rk_object *rk_get(int handle, int *err)
{
    struct rk_object *obj = NULL;

    pthread_mutex_lock(&table_lock);
    if (handle >= 0 && handle < table_size) {
        obj = table[handle];
    }
    if (obj) {
        atomic_fetch_add(&obj->refs, 1);
    }
    pthread_mutex_unlock(&table_lock);
    if (!obj) {
        *err = -EBADF;
    }
    return obj;
}

void rk_put(struct rk_object *obj)
{
    if (atomic_fetch_sub(&obj->refs, 1) != 1) {
        return;
    }
    switch (obj->kind) {
    case RK_SYSTEM:
        rk_system_free((struct rk_system *)obj);
        break;
    case RK_VM:
        rk_vm_free((struct rk_vm *)obj);
        break;
    case RK_VCPU:
        rk_vcpu_free((struct rk_vcpu *)obj);
        break;
    }
}

static int rk_call(struct rk_object *obj, uint32_t request, void *arg)
{
    switch (obj->kind) {
    case RK_SYSTEM:
        return rk_system_call((struct rk_system *)obj, request, arg);
    case RK_VM:
        return rk_vm_call((struct rk_vm *)obj, request, arg);
    case RK_VCPU:
        return rk_vcpu_call((struct rk_vcpu *)obj, request, arg);
    default:
        return -ENOTTY;
    }
}

int revirt_kvm_call(int handle, uint32_t request, void *arg)
{
    struct rk_object *obj;
    int ret;

    obj = rk_get(handle, &ret);
    if (!obj) {
        return ret;
    }
    ret = rk_check_arg(obj->kind, request, arg);
    if (ret == 0) {
        ret = rk_call(obj, request, arg);
    }
    rk_put(obj);
    return ret;
}

int revirt_kvm_close(int handle)
{
    struct rk_object *obj = NULL;

    pthread_mutex_lock(&table_lock);
    if (handle >= 0 && handle < table_size) {
        obj = table[handle];
        table[handle] = NULL;
    }
    pthread_mutex_unlock(&table_lock);
    if (!obj) {
        return -EBADF;
    }
    if (obj->kind == RK_VCPU) {
        /* A run in progress returns, and the vCPU goes when it has. */
        rk_vcpu_kick((struct rk_vcpu *)obj);
    }
    rk_put(obj);
    return 0;
}

int rk_ioctl(int fd, unsigned long request, void *arg)
{
    int ret;

    do {
        ret = ioctl(fd, request, arg);
    } while (ret < 0 && errno == EINTR);
    return ret < 0 ? -errno : ret;
}
