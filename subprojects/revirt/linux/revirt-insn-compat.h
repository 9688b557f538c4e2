/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few types and error numbers the revirt.ko helpers use, from the
 * kernel when built into the module and from libc when built into a
 * userspace test, so the same .c files build in both.
 *
 * Copyright (c) 2026 The revirt developers
 */

#ifndef REVIRT_INSN_COMPAT_H
#define REVIRT_INSN_COMPAT_H

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>
#else
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;
#endif

#endif /* REVIRT_INSN_COMPAT_H */
