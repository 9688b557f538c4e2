/* SPDX-License-Identifier: GPL-2.0 */
/* revirt-abi.h's <stddef.h> inside the kernel: offsetof and size_t. */
#ifndef REVIRT_COMPAT_STDDEF_H
#define REVIRT_COMPAT_STDDEF_H
#include <linux/stddef.h>
#include <linux/types.h>
#endif
