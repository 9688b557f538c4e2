/* SPDX-License-Identifier: GPL-2.0 */
/* revirt-abi.h's <stdint.h> inside the kernel: linux/types.h has uintN_t. */
#ifndef REVIRT_COMPAT_STDINT_H
#define REVIRT_COMPAT_STDINT_H
#include <linux/types.h>
#endif
