/*
 * revirt test firmware for CPU state across savevm/loadvm and migration:
 * a 64 KiB -bios image that runs from a copy in RAM in flat 32-bit mode
 * and keeps a counter N in RAM and in the CPU, with every piece of state
 * it sets up derived from N or fixed away from its reset value:
 *   EBX = N, EAX = N ^ 0xffff0000, ECX = N + 0x1000, EDX = 5 * N,
 *   ESI = ~N, EDI = 3 * N, EBP = N ^ 0x5a5aa5a5, ESP fixed;
 *   EFLAGS with CF, AC and ID set, IF clear;
 *   FS and GS on GDT segments with their own bases, N also at GS:4;
 *   GDTR, IDTR, an LDT and a TSS (LDTR, TR);
 *   CR0 with MP, without EM and TS; CR4 with OSFXSR and OSXMMEXCPT;
 *   EFER.NXE where the CPU has NX; CR2 = ~N, CR3 = N << 12;
 *   DR0-DR3, DR7 (GE and LE, no breakpoint); SYSENTER_ESP and _EIP;
 *   a TSC that never goes back;
 *   through FXRSTOR: the x87 control word (53-bit precision, rounding
 *   N & 3), status word (TOP = N & 7, C0 and C3), tag word, ST(0)-ST(7),
 *   MXCSR (FZ, rounding N & 3) and XMM0-XMM7.
 * The x87 and SSE state is loaded with FXRSTOR, not FLDCW, FILD or
 * LDMXCSR, because PVM hosts run ring-0 code in KVM's instruction
 * emulator, which has FXSAVE/FXRSTOR but no x87 loads.
 *
 * Each pass checks all of it against EBX, then moves it to N + 1 and
 * spins a while with nothing but a counter in memory changing, so that
 * a save or a migration most likely lands where every register is live.
 * Only EAX, ECX and EDX serve as scratch, between their own check and
 * the end of the pass.  FXSAVE of state N and FXRSTOR of state N + 1 are
 * back to back (the images for N and N + 1 alternate between two
 * buffers), so that the x87 and SSE state is live all the time too.
 * Whatever a save or a migration loses or corrupts, wherever it lands,
 * the guest on the other side fails a check: it then stores the check's
 * code at R_BAD, prints "REGS BAD <what>" to COM1 and halts.  An
 * exception does the same with code 0x100 + vector, and so does a reset
 * (code 0x200), which finds "REGS" in RAM already.
 * RAM at 0x500: "REGS", N, R_BAD, 1 once the passes run, EFER, spin, TSC.
 *
 * Copyright (c) 2026 The revirt developers
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "ram-copy.S.inc"

#define RESULTS     0x500
#define R_COUNT     (RESULTS + 4)
#define R_BAD       (RESULTS + 8)
#define R_LOOPING   (RESULTS + 12)
#define R_EFER      (RESULTS + 16)  /* what EFER must be */
#define R_SPIN      (RESULTS + 20)
#define R_TSC       (RESULTS + 24)  /* the TSC at the last pass */
#define REGS_MAGIC  0x53474552      /* "REGS" */
#define SPIN        1000            /* loops at the end of a pass */
#define DT_SEEN     0x700           /* SGDT, SIDT */
#define IDT         0x800           /* 32 gates */
#define LDT_BASE    0x900           /* one null entry */
#define TSS_BASE    0xa00
#define FX_SEEN     0x1000          /* FXSAVE: what the CPU had */
#define FX_BUF0     0x1200          /* FXRSTOR images for even N ... */
#define FX_BUF1     0x1400          /* ... and odd N */
#define FX_FCW      0
#define FX_FSW      2
#define FX_FTW      4
#define FX_MXCSR    24
#define FX_ST(i)    (32 + 16 * (i))
#define FX_XMM(i)   (160 + 16 * (i))
#define STACK_TOP   0x7000
#define FS_BASE     0x31000
#define GS_BASE     0x32000
#define FS_TAG      0x53465346      /* "FSFS" at FS_BASE */
#define GS_TAG      0x53475347      /* "GSGS" at GS_BASE */
#define SEL_FS      0x18            /* flat_gdt's extra descriptors */
#define SEL_GS      0x20
#define SEL_LDT     0x28
#define SEL_TSS     0x30
#define EAX_XOR     0xffff0000
#define ECX_ADD     0x1000
#define EBP_XOR     0x5a5aa5a5
#define EFLAGS_CF   0x1
#define EFLAGS_IF   0x200
#define EFLAGS_AC   0x40000
#define EFLAGS_ID   0x200000
#define EFLAGS_SET  (EFLAGS_CF | EFLAGS_AC | EFLAGS_ID)
#define CR0_MP      0x2
#define CR0_EM      0x4
#define CR0_TS      0x8
#define CR4_OSFXSR  0x200
#define CR4_OSXMMEXCPT 0x400
#define DR7         0x700           /* GE, LE and the reserved bit 10 */
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define SYSENTER_XOR 0x0f0f0f0f
#define MSR_EFER    0xc0000080
#define EFER_NXE    0x800
#define XMM_STEP    0x10000001      /* from one dword of an XMM to the next */
#define XMM_ADD     0x01010101      /* and from one XMM to the next, + 2N */
#define COM1        0x3f8

/*
 * Branch on the flags of the comparison before: equal goes on, else the
 * check failed with @code and @name.
 */
.macro expect code, name
    je 9f
    mov $\code, %eax
    mov $(RAM_BASE + 8f), %esi
    jmp bad
8:  .asciz "\name"
9:
.endm

    .code16
    .text
    .globl _start
_start:
    run_from_ram in_ram
in_ram:
    enter_flat32 flat

    .code32
flat:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $STACK_TOP, %esp
    mov $SEL_FS, %ax
    mov %ax, %fs
    mov $SEL_GS, %ax
    mov %ax, %gs
    mov $0x200, %eax
    mov $(RAM_BASE + msg_reset), %esi
    cmpl $REGS_MAGIC, (RESULTS)
    je bad

    /* Gates 0-31 to exc_stubs, 16 bytes apart. */
    mov $IDT, %edi
    mov $(RAM_BASE + exc_stubs), %eax
1:  mov %ax, (%edi)
    movw $0x08, 2(%edi)
    movw $0x8e00, 4(%edi)
    mov %eax, %edx
    shr $16, %edx
    mov %dx, 6(%edi)
    add $16, %eax
    add $8, %edi
    cmp $(IDT + 32 * 8), %edi
    jb 1b
    lidt RAM_BASE + idt_desc

    movl $REGS_MAGIC, (RESULTS)
    movl $0, (R_COUNT)
    movl $0, (R_BAD)
    movl $0, (R_LOOPING)
    movl $0, (R_TSC)
    movl $0, (R_TSC + 4)
    movl $FS_TAG, %fs:0
    movl $GS_TAG, %gs:0
    movl $0, (LDT_BASE)
    movl $0, (LDT_BASE + 4)
    mov $SEL_LDT, %ax
    lldt %ax
    mov $SEL_TSS, %ax
    ltr %ax
    pushfl
    orl $(EFLAGS_AC | EFLAGS_ID), (%esp)
    popfl
    mov $DR7, %eax
    mov %eax, %dr7

    /* EFER.NXE where CPUID 0x80000001 EDX has NX */
    mov $MSR_EFER, %ecx
    rdmsr
    mov %eax, %esi
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb 1f
    mov $0x80000001, %eax
    cpuid
    bt $20, %edx
    jnc 1f
    or $EFER_NXE, %esi
1:  mov %esi, %eax
    xor %edx, %edx
    mov $MSR_EFER, %ecx
    wrmsr
    mov %esi, (R_EFER)

    mov %cr0, %eax
    and $~(CR0_EM | CR0_TS), %eax
    or $CR0_MP, %eax
    mov %eax, %cr0
    mov %cr4, %eax
    or $(CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4

    /* The x87 and SSE state for N = 0, the image for N = 1 ready. */
    mov $FX_BUF0, %edi
    mov $(2 * 512 / 4), %ecx
    xor %eax, %eax
    rep stosl
    mov $FX_BUF0, %ecx
    call fx_values
    fxrstor (FX_BUF0)
    mov $1, %eax
    mov $FX_BUF1, %ecx
    call fx_values

    mov $(RAM_BASE + msg_start), %esi
    call puts
    movl $1, (R_LOOPING)
    xor %ebx, %ebx
    jmp set_state

pass:
    pushfl
    /* The general registers and the counters in memory. */
    xor $EAX_XOR, %eax
    cmp %eax, %ebx
    expect 0x03, "eax"
    sub $ECX_ADD, %ecx
    cmp %ecx, %ebx
    expect 0x04, "ecx"
    lea (%ebx, %ebx, 4), %eax
    cmp %eax, %edx
    expect 0x05, "edx"
    cmp (R_COUNT), %ebx
    expect 0x01, "count"
    cmp %gs:4, %ebx
    expect 0x02, "gs:4"
    mov %ebx, %eax
    not %eax
    cmp %eax, %esi
    expect 0x06, "esi"
    lea (%ebx, %ebx, 2), %eax
    cmp %eax, %edi
    expect 0x07, "edi"
    mov %ebx, %eax
    xor $EBP_XOR, %eax
    cmp %eax, %ebp
    expect 0x08, "ebp"
    pop %eax
    and $(EFLAGS_SET | EFLAGS_IF), %eax
    cmp $EFLAGS_SET, %eax
    expect 0x19, "eflags"
    cmp $STACK_TOP, %esp
    expect 0x09, "esp"

    /* Segments: selectors, and bases by what they point at. */
    mov %cs, %eax
    cmp $0x08, %ax
    expect 0x0a, "cs"
    mov %ds, %eax
    cmp $0x10, %ax
    expect 0x0b, "ds"
    mov %ss, %eax
    cmp $0x10, %ax
    expect 0x0c, "ss"
    mov %fs, %eax
    cmp $SEL_FS, %ax
    expect 0x0d, "fs"
    mov %gs, %eax
    cmp $SEL_GS, %ax
    expect 0x0e, "gs"
    cmpl $FS_TAG, %fs:0
    expect 0x0f, "fs base"
    cmpl $GS_TAG, %gs:0
    expect 0x10, "gs base"
    sldt %eax
    cmp $SEL_LDT, %ax
    expect 0x1a, "ldtr"
    str %eax
    cmp $SEL_TSS, %ax
    expect 0x1b, "tr"
    sgdt (DT_SEEN)
    mov (DT_SEEN), %ax
    cmp (RAM_BASE + flat_gdt_desc), %ax
    expect 0x1c, "gdtr limit"
    mov (DT_SEEN + 2), %eax
    cmp (RAM_BASE + flat_gdt_desc + 2), %eax
    expect 0x1d, "gdtr base"
    sidt (DT_SEEN)
    mov (DT_SEEN), %ax
    cmp (RAM_BASE + idt_desc), %ax
    expect 0x1e, "idtr limit"
    mov (DT_SEEN + 2), %eax
    cmp (RAM_BASE + idt_desc + 2), %eax
    expect 0x1f, "idtr base"

    /* Control and debug registers, MSRs, the TSC. */
    mov %cr0, %eax
    and $(CR0_MP | CR0_EM | CR0_TS), %eax
    cmp $CR0_MP, %eax
    expect 0x11, "cr0"
    mov %cr4, %eax
    and $(CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    cmp $(CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    expect 0x12, "cr4"
    mov %cr2, %eax
    not %eax
    cmp %eax, %ebx
    expect 0x13, "cr2"
    mov %cr3, %eax
    mov %ebx, %edx
    shl $12, %edx
    cmp %eax, %edx
    expect 0x24, "cr3"
    mov $MSR_EFER, %ecx
    rdmsr
    cmp (R_EFER), %eax
    expect 0x25, "efer"
    .irp k, 0, 1, 2, 3
    mov %dr\k, %edx
    imul $(\k + 7), %ebx, %eax
    add $(0x100 * \k), %eax
    cmp %eax, %edx
    expect (0x14 + \k), "dr\k"
    .endr
    mov %dr7, %eax
    cmp $DR7, %eax
    expect 0x26, "dr7"
    mov $MSR_SYSENTER_ESP, %ecx
    rdmsr
    xor $SYSENTER_XOR, %eax
    cmp %eax, %ebx
    expect 0x18, "sysenter_esp"
    mov $MSR_SYSENTER_EIP, %ecx
    rdmsr
    lea (%ebx, %ebx, 8), %ecx
    cmp %eax, %ecx
    expect 0x27, "sysenter_eip"
    rdtsc
    cmp (R_TSC + 4), %edx
    jne 1f
    cmp (R_TSC), %eax
1:  setae %cl                       /* 1: not below the last one */
    cmp $1, %cl
    expect 0x2f, "tsc"
    mov %eax, (R_TSC)
    mov %edx, (R_TSC + 4)

    /*
     * The x87 and SSE state: save N's, load N + 1's, then compare what
     * was saved with N's image, at ECX (FX_BUF0 or FX_BUF1).
     */
    mov %ebx, %ecx
    and $1, %ecx
    shl $9, %ecx
    add $FX_BUF0, %ecx
    mov %ecx, %edx
    xor $(FX_BUF0 ^ FX_BUF1), %edx
    fxsave (FX_SEEN)
    fxrstor (%edx)
    mov (FX_SEEN + FX_FCW), %ax
    cmp FX_FCW(%ecx), %ax
    expect 0x20, "fcw"
    mov (FX_SEEN + FX_FSW), %ax
    cmp FX_FSW(%ecx), %ax
    expect 0x21, "fsw"
    mov (FX_SEEN + FX_FTW), %al
    cmp FX_FTW(%ecx), %al
    expect 0x22, "ftw"
    mov (FX_SEEN + FX_MXCSR), %eax
    cmp FX_MXCSR(%ecx), %eax
    expect 0x23, "mxcsr"
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7
    mov (FX_SEEN + FX_ST(\i)), %eax
    cmp FX_ST(\i)(%ecx), %eax
    jne 1f
    mov (FX_SEEN + FX_ST(\i) + 4), %eax
    cmp (FX_ST(\i) + 4)(%ecx), %eax
    jne 1f
    mov (FX_SEEN + FX_ST(\i) + 8), %ax
    cmp (FX_ST(\i) + 8)(%ecx), %ax
1:  expect (0x28 + \i), "st\i"
    .endr
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7
    .irp j, 0, 4, 8
    mov (FX_SEEN + FX_XMM(\i) + \j), %eax
    cmp (FX_XMM(\i) + \j)(%ecx), %eax
    jne 1f
    .endr
    mov (FX_SEEN + FX_XMM(\i) + 12), %eax
    cmp (FX_XMM(\i) + 12)(%ecx), %eax
1:  expect (0x30 + \i), "xmm\i"
    .endr

    /* All good: N + 1 everywhere; N + 2's image where N's was. */
    inc %ebx
    lea 1(%ebx), %eax
    call fx_values
set_state:
    mov %ebx, %eax
    not %eax
    mov %eax, %cr2
    mov %ebx, %eax
    shl $12, %eax
    mov %eax, %cr3
    .irp k, 0, 1, 2, 3
    imul $(\k + 7), %ebx, %eax
    add $(0x100 * \k), %eax
    mov %eax, %dr\k
    .endr
    mov $MSR_SYSENTER_ESP, %ecx
    mov %ebx, %eax
    xor $SYSENTER_XOR, %eax
    xor %edx, %edx
    wrmsr
    mov $MSR_SYSENTER_EIP, %ecx
    lea (%ebx, %ebx, 8), %eax
    wrmsr
    mov %ebx, %esi
    not %esi
    lea (%ebx, %ebx, 2), %edi
    mov %ebx, %ebp
    xor $EBP_XOR, %ebp
    mov %ebx, %gs:4
    mov %ebx, (R_COUNT)
    lea (%ebx, %ebx, 4), %edx
    lea ECX_ADD(%ebx), %ecx
    mov %ebx, %eax
    xor $EAX_XOR, %eax
    stc
    /* Everything is in place: spin on a counter in memory. */
    movl $SPIN, (R_SPIN)
1:  decl (R_SPIN)
    jnz 1b
    jmp pass

/*
 * The FXRSTOR image for N = EAX at ECX (its other bytes stay 0).  Uses
 * EDX.
 *   FCW   0x027f | (N & 3) << 10
 *   FSW   0x4100 | (N & 7) << 11
 *   FTW   0xff ^ ((N << 4) & 0x30)
 *   MXCSR 0x9f80 | (N & 3) << 13
 *   ST(i) mantissa ((N + i) | 1 << 31) << 32 | ((i + 5) * N ^ 0xa5a5a5a5),
 *         exponent 0x3fff + i, sign i & 1
 *   XMMi  dword j: (2i + 1) * N + j * XMM_STEP + i * XMM_ADD
 */
fx_values:
    mov %eax, %edx
    and $3, %edx
    shl $10, %edx
    or $0x027f, %edx
    mov %dx, FX_FCW(%ecx)
    mov %eax, %edx
    and $7, %edx
    shl $11, %edx
    or $0x4100, %edx
    mov %dx, FX_FSW(%ecx)
    mov %eax, %edx
    shl $4, %edx
    and $0x30, %edx
    xor $0xff, %edx
    mov %dl, FX_FTW(%ecx)
    mov %eax, %edx
    and $3, %edx
    shl $13, %edx
    or $0x9f80, %edx
    mov %edx, FX_MXCSR(%ecx)
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7
    imul $(\i + 5), %eax, %edx
    xor $0xa5a5a5a5, %edx
    mov %edx, FX_ST(\i)(%ecx)
    lea \i(%eax), %edx
    or $0x80000000, %edx
    mov %edx, (FX_ST(\i) + 4)(%ecx)
    movw $(0x3fff + \i + ((\i & 1) << 15)), (FX_ST(\i) + 8)(%ecx)
    .endr
    mov %eax, %edx
    .irp j, 0, 4, 8, 12
    mov %edx, (FX_XMM(0) + \j)(%ecx)
    add $XMM_STEP, %edx
    .endr
    .irp i, 1, 2, 3, 4, 5, 6, 7
    .irp j, 0, 4, 8, 12
    mov (FX_XMM(\i - 1) + \j)(%ecx), %edx
    lea XMM_ADD(%edx, %eax, 2), %edx
    mov %edx, (FX_XMM(\i) + \j)(%ecx)
    .endr
    .endr
    ret

/* A check failed: code EAX, what at ESI.  Report, stop. */
bad:
    mov %eax, (R_BAD)
    mov %esi, %ebx
    mov $(RAM_BASE + msg_bad), %esi
    call puts
    mov %ebx, %esi
    call puts
    mov $'\n', %al
    mov $COM1, %dx
    out %al, %dx
1:  cli
    hlt
    jmp 1b

/* Print the NUL-terminated string at ESI to COM1. */
puts:
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  ret

/* Exception vector v enters exc_stubs + 16 * v. */
    .p2align 4
exc_stubs:
    .irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
            16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    .p2align 4
    mov $(0x100 + \v), %eax
    jmp exception
    .endr
exception:
    mov $(RAM_BASE + msg_exception), %esi
    jmp bad
    .code16

msg_start:
    .asciz "REGS running\n"
msg_bad:
    .asciz "REGS BAD "
msg_exception:
    .asciz "exception"
msg_reset:
    .asciz "reset"

    .p2align 2
idt_desc:
    .word 32 * 8 - 1
    .long IDT

    /*
     * 0x18: data at FS_BASE, 0x20: data at GS_BASE, 64 KiB each;
     * 0x28: the LDT, 0x30: the TSS
     */
    flat_gdt 0x004092031000ffff, 0x004092032000ffff, \
             0x0000820009000007, 0x000089000a000067

    .org 0xfff0
    ljmp $0xf000, $_start
    .org 0x10000
