// SPDX-License-Identifier: GPL-2.0
/*
 * Not part of revirt.ko: a module that only proves that its plain-C
 * objects build in the kernel (see Kbuild).  Loading it decodes one
 * instruction and does nothing else.
 *
 * Copyright (c) 2026 The revirt developers
 */

#include <linux/module.h>

#include "revirt-insn.h"

static int __init revirt_buildcheck_init(void)
{
	static const u8 mov[] = { 0x89, 0x03 };	/* mov %eax,(%rbx) */
	struct revirt_insn insn;

	return revirt_insn_decode(mov, sizeof(mov), REVIRT_INSN_MODE64, &insn);
}

static void __exit revirt_buildcheck_exit(void)
{
}

module_init(revirt_buildcheck_init);
module_exit(revirt_buildcheck_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("revirt.ko's plain-C objects, built alone");
