/*
 * QEMU revirt accelerator: what the rest of QEMU may call.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or later.
 * See the COPYING file in the top-level directory.
 */

#ifndef QEMU_REVIRT_H
#define QEMU_REVIRT_H

#ifdef NEED_CPU_H

#ifdef CONFIG_REVIRT

extern bool revirt_allowed;
#define revirt_enabled() (revirt_allowed)

/* One register of a CPUID leaf as the driver supports it. */
uint32_t revirt_arch_get_supported_cpuid(uint32_t function, uint32_t index,
                                         int reg);

#else /* CONFIG_REVIRT */

#define revirt_enabled() (0)
#define revirt_arch_get_supported_cpuid(func, idx, reg) (0)

#endif /* CONFIG_REVIRT */

#endif /* NEED_CPU_H */

#endif /* QEMU_REVIRT_H */
