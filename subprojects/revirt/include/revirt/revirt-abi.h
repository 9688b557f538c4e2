/*
 * revirt driver ABI, version 1
 *
 * The one contract between a VMM (QEMU's "revirt" accelerator) and any revirt
 * driver: a kernel that implements it behind /dev/revirt, or the revirt-kvm
 * library that implements it over Linux KVM in userspace.
 *
 * Self-contained C: fixed-width types only, no padding the compiler chooses,
 * every argument a fixed-size struct whose size is encoded in the call number,
 * so a kernel can copy each one in and out with a single bounded copy.
 *
 * Copyright (c) 2026 The revirt developers
 *
 * SPDX-License-Identifier: MIT
 */

#ifndef REVIRT_ABI_H
#define REVIRT_ABI_H

#include <stddef.h>
#include <stdint.h>

#define REVIRT_API_VERSION 1

/*
 * Handles and calls
 *
 * There are three kinds of handle: the system handle (opening /dev/revirt,
 * or revirt_kvm_open()), VM handles (REVIRT_CREATE_VM on the system handle)
 * and vCPU handles (REVIRT_CREATE_VCPU on a VM handle).  A handle is closed
 * with the host's close operation (close(2), or revirt_kvm_close()); a VM
 * lives on until its last vCPU handle is closed too.  Closing a handle while
 * another thread is in a call on it is safe: the call completes, and the
 * object goes away when the last such call returns.  Closing a vCPU handle
 * kicks the vCPU (REVIRT_KICK), so a REVIRT_RUN in progress on it returns.
 *
 * A call is (handle, request, pointer to the request's argument struct).
 * It returns 0, a new handle (>= 0) for the CREATE calls, or a negative
 * errno value.  Errors every call can return:
 *   -EBADF   the handle is not open (never opened, or closed)
 *   -ENOTTY  the request is unknown, or not a call for this kind of handle
 *   -EINVAL  a reserved field is not zero (below), or an argument is out
 *            of its documented range
 *   -EFAULT  the argument pointer is not readable/writable (a kernel
 *            driver checks this; a userspace driver cannot)
 * A call never changes state when it fails, except where noted.
 *
 * Reserved fields are what lets a struct grow: every field named flags,
 * reserved or reserved_in, every flag or prot bit this header does not
 * define, and every field an event's type does not use.  A VMM sets them
 * to 0.  A driver checks them before it does anything else, on every call
 * that reads the struct, and fails the call with -EINVAL if one is not 0:
 *   REVIRT_CREATE_VM     vm_create: flags, reserved
 *   REVIRT_MAP_MEMORY    memory_map: flags, undefined prot bits
 *   REVIRT_UNMAP_MEMORY  memory_unmap: flags, reserved
 *   REVIRT_CREATE_VCPU   vcpu_create: flags
 *   REVIRT_RUN           the run area: reserved_in[]; and
 *                        request_interrupt_window must be 0 or 1
 *   REVIRT_SET_CPUID     cpuid_table: flags; entries[0 .. count - 1]:
 *                        reserved, undefined flags bits
 *   REVIRT_GET_STATE     vcpu_state: flags; with REVIRT_STATE_MSRS,
 *                        msrs.reserved and entries[0 .. count - 1].reserved
 *   REVIRT_SET_STATE     as for GET, and with the class named: reserved of
 *                        each segment, of both dtables, and of events
 *   REVIRT_INJECT        event: undefined flags bits; for an NMI, vector,
 *                        error_code and flags; for an EXTINT, error_code
 *                        and flags; for an EXCEPTION without
 *                        REVIRT_EVENT_FLAG_ERROR_CODE, error_code
 *   REVIRT_SET_GUEST_DEBUG  guest_debug: reserved, undefined flags bits
 * Entries past count and the parts of classes not named in classes are
 * not read, so not checked.  Structs and fields only the driver writes
 * (caps, the supported CPUID and MSR lists, the run area's reserved_out
 * and exit data) have their reserved fields set to 0 by the driver, and a
 * VMM ignores them: a later version may give them a meaning, announced
 * in caps.
 */

/* Call numbers: Linux's _IOC layout, so a kernel driver can use ioctl(2). */
#define REVIRT_IOC_TYPE         0xB9u
#define REVIRT_IOC_NONE         0u
#define REVIRT_IOC_WRITE        1u      /* the driver reads the argument */
#define REVIRT_IOC_READ         2u      /* the driver writes the argument */
#define REVIRT_IOC(dir, nr, size) \
    ((uint32_t)(((dir) << 30) | ((uint32_t)(size) << 16) | \
                (REVIRT_IOC_TYPE << 8) | (nr)))
#define REVIRT_IO(nr)           REVIRT_IOC(REVIRT_IOC_NONE, nr, 0)
#define REVIRT_IOR(nr, type)    REVIRT_IOC(REVIRT_IOC_READ, nr, sizeof(type))
#define REVIRT_IOW(nr, type)    REVIRT_IOC(REVIRT_IOC_WRITE, nr, sizeof(type))
#define REVIRT_IOWR(nr, type)   \
    REVIRT_IOC(REVIRT_IOC_READ | REVIRT_IOC_WRITE, nr, sizeof(type))

#define REVIRT_PAGE_SIZE        4096u

/*
 * Discovery (system handle)
 */

/* caps.features */
#define REVIRT_FEATURE_READONLY_MEM  (1ull << 0) /* maps without PROT_WRITE */
#define REVIRT_FEATURE_NOEXEC_MEM    (1ull << 1) /* maps without PROT_EXEC */
#define REVIRT_FEATURE_NMI           (1ull << 2) /* REVIRT_EVENT_NMI */
#define REVIRT_FEATURE_XSAVE         (1ull << 3) /* REVIRT_GET/SET_XSAVE */
#define REVIRT_FEATURE_DIRTY_LOG     (1ull << 4) /* REVIRT_LOG_*, dirty log */
#define REVIRT_FEATURE_GUEST_DEBUG   (1ull << 5) /* REVIRT_SET_GUEST_DEBUG */

struct revirt_caps {
    uint32_t api_version;       /* REVIRT_API_VERSION of the driver */
    uint32_t max_vcpus;         /* vCPU ids are 0 .. max_vcpus - 1 */
    uint32_t gpa_bits;          /* guest physical addresses are below 2^n */
    uint32_t run_area_size;     /* bytes a vCPU's run area needs */
    uint64_t state_classes;     /* REVIRT_STATE_* the driver can get/set */
    uint64_t exits;             /* 1 << REVIRT_EXIT_* the driver reports */
    uint64_t features;          /* REVIRT_FEATURE_* */
    /*
     * A guest-physical range the driver uses itself (for example KVM's
     * real-mode TSS on Intel hosts); size 0 if none.  Memory the VMM maps
     * there may be shadowed.
     */
    uint64_t private_gpa;
    uint64_t private_size;
    /* With FEATURE_XSAVE: bytes of struct revirt_xsave's area, else 0. */
    uint32_t xsave_size;
    uint32_t reserved32;
    uint64_t reserved[7];
};

/*
 * REVIRT_GET_CAPS: what the driver supports.  Call it first: a VMM must
 * refuse a driver whose api_version it does not know.
 *
 * The ABI grows only by additions, each announced here: a bit in features,
 * state_classes or exits, or a field that was reserved (0 from a driver
 * that predates it), together with new calls or new state classes.  A VMM
 * uses an addition only when the driver announces it, and a driver that
 * does not know an addition fails its calls with -ENOTTY or -ENOTSUP.
 * api_version changes only if a call of an earlier version changes.
 */
#define REVIRT_GET_CAPS         REVIRT_IOR(0x00, struct revirt_caps)

#define REVIRT_CPUID_FLAG_INDEXED   (1u << 0)   /* index (ECX) matters */
#define REVIRT_MAX_CPUID_ENTRIES    128

struct revirt_cpuid_entry {
    uint32_t function;          /* EAX on entry */
    uint32_t index;             /* ECX on entry, if FLAG_INDEXED */
    uint32_t flags;             /* REVIRT_CPUID_FLAG_* */
    uint32_t eax, ebx, ecx, edx;
    uint32_t reserved;
};

struct revirt_cpuid_table {
    uint32_t count;             /* entries used */
    uint32_t flags;             /* 0 */
    struct revirt_cpuid_entry entries[REVIRT_MAX_CPUID_ENTRIES];
};

/*
 * REVIRT_GET_SUPPORTED_CPUID: every CPUID leaf and bit the driver can give
 * a guest.  A VMM computes the guest's table from its CPU model, filtered by
 * this one, and sets it with REVIRT_SET_CPUID.
 * -E2BIG: the driver's table does not fit REVIRT_MAX_CPUID_ENTRIES.
 */
#define REVIRT_GET_SUPPORTED_CPUID \
    REVIRT_IOR(0x01, struct revirt_cpuid_table)

#define REVIRT_MAX_MSR_INDICES      256

struct revirt_msr_index_list {
    uint32_t count;
    uint32_t flags;             /* 0 */
    uint32_t indices[REVIRT_MAX_MSR_INDICES];
};

/*
 * REVIRT_GET_SUPPORTED_MSRS: the MSRs REVIRT_STATE_MSRS can get and set.
 * -E2BIG: the list does not fit REVIRT_MAX_MSR_INDICES.
 */
#define REVIRT_GET_SUPPORTED_MSRS \
    REVIRT_IOR(0x02, struct revirt_msr_index_list)

struct revirt_vm_create {
    uint32_t flags;             /* 0 */
    uint32_t reserved;
};

/*
 * REVIRT_CREATE_VM: a new VM with no memory and no vCPUs.
 * Returns its handle.  -ENOMEM, -EMFILE: out of resources.
 */
#define REVIRT_CREATE_VM        REVIRT_IOW(0x03, struct revirt_vm_create)

/*
 * Memory (VM handle): guest-physical ranges mapped to the VMM's own memory.
 *
 * The driver keeps the second-level page tables (EPT/NPT) in step with the
 * VMM's address space: a mapping names the VMM's virtual address (hva), and
 * the VMM never sees the page tables.  An access to a guest-physical address
 * that is not mapped, or a write to a mapping without REVIRT_PROT_WRITE,
 * exits as REVIRT_EXIT_MMIO; the access does not happen.  While a MAP or
 * UNMAP call runs, vCPUs touching the ranges it changes may see MMIO exits
 * for memory that is mapped before and after the call: a VMM must complete
 * such an access on its own copy of the memory.
 */

#define REVIRT_PROT_READ        (1u << 0)
#define REVIRT_PROT_WRITE       (1u << 1)
#define REVIRT_PROT_EXEC        (1u << 2)

struct revirt_memory_map {
    uint64_t gpa;               /* page aligned */
    uint64_t size;              /* page aligned, not 0 */
    uint64_t hva;               /* page aligned address in the VMM */
    uint32_t prot;              /* REVIRT_PROT_*, READ always */
    uint32_t flags;             /* 0 */
};

/*
 * REVIRT_MAP_MEMORY: map [gpa, gpa + size) to [hva, hva + size).
 *   -EINVAL  gpa, size or hva not page aligned; size 0; prot without READ
 *            or with unknown bits; flags not 0
 *   -ERANGE  gpa + size overflows, or reaches past 2^caps.gpa_bits
 *   -EEXIST  the range overlaps a mapping; nothing is mapped
 *   -ENOTSUP prot lacks WRITE without FEATURE_READONLY_MEM, or lacks EXEC
 *            without FEATURE_NOEXEC_MEM
 *   -ENOSPC  the driver is out of mapping resources
 */
#define REVIRT_MAP_MEMORY       REVIRT_IOW(0x10, struct revirt_memory_map)

struct revirt_memory_unmap {
    uint64_t gpa;               /* page aligned */
    uint64_t size;              /* page aligned, not 0 */
    uint32_t flags;             /* 0 */
    uint32_t reserved;
};

/*
 * REVIRT_UNMAP_MEMORY: unmap every mapped page of [gpa, gpa + size).  The
 * range may cover several mappings and parts of them: what is left of a
 * mapping stays mapped as before (unmapping its middle splits it in two).
 *   -EINVAL, -ERANGE  as for MAP
 *   -ENOENT  no page of the range was mapped
 *   -ENOSPC  a split needs mapping resources the driver does not have;
 *            the range may then be partly unmapped
 */
#define REVIRT_UNMAP_MEMORY     REVIRT_IOW(0x11, struct revirt_memory_unmap)

/*
 * Dirty logging (VM handle, with REVIRT_FEATURE_DIRTY_LOG)
 *
 * A mapping is either logging or not; MAP creates it not logging.  The
 * driver records, for every 4 KiB page of a logging mapping, whether it
 * was written since logging started or since the page was last reported
 * by REVIRT_GET_DIRTY_LOG.  Recorded are the writes of the guest and the
 * writes the driver makes into guest memory on the guest's behalf (the
 * data of a string IN, an instruction it emulates, any page the driver
 * itself updates).  Not recorded are writes the VMM makes through its own
 * address space (at the hva of a mapping): the VMM tracks those itself.
 *
 * UNMAP of a logging mapping discards the state of the pages it unmaps:
 * a VMM that needs it calls REVIRT_GET_DIRTY_LOG first.  What is left of a
 * mapping UNMAP splits keeps logging and keeps the state of its pages (if
 * the driver is out of memory for that, UNMAP fails with -ENOMEM and the
 * pieces no longer log; the unmap itself is done).
 */

struct revirt_log_range {
    uint64_t gpa;               /* page aligned */
    uint64_t size;              /* page aligned, not 0 */
    uint32_t flags;             /* 0 */
    uint32_t reserved;          /* 0 */
};

/*
 * REVIRT_LOG_START: make every mapping in [gpa, gpa + size) log.  The
 * range must be exactly a run of whole mappings: every page in it mapped,
 * no mapping crossing its start or end.  A mapping that starts logging
 * has no page written; one that logs already is left alone, so requests
 * may overlap and repeat.
 * REVIRT_LOG_STOP: make every mapping in the range (same rule) stop
 * logging and forget which of its pages were written.  Stopping a mapping
 * that does not log does nothing.
 *   -EINVAL, -ERANGE  as for MAP; also flags or reserved not 0
 *   -ENOENT  a page of the range is not mapped; nothing is changed
 *   -EXDEV   a mapping crosses the start or end of the range; nothing is
 *            changed
 *   -ENOSPC, -ENOMEM  the driver is out of resources (START); nothing
 *            is changed
 *   -ENOTSUP without FEATURE_DIRTY_LOG
 */
#define REVIRT_LOG_START        REVIRT_IOW(0x40, struct revirt_log_range)
#define REVIRT_LOG_STOP         REVIRT_IOW(0x41, struct revirt_log_range)

struct revirt_dirty_log {
    uint64_t gpa;               /* page aligned */
    uint64_t size;              /* page aligned, not 0 */
    /*
     * VMM address of (size / 4096 + 7) / 8 bytes.  Bit i of byte j stands
     * for the page at gpa + (j * 8 + i) * 4096: a little-endian bitmap.
     */
    uint64_t bitmap;
    uint32_t flags;             /* 0 */
    uint32_t reserved;          /* 0 */
};

/*
 * REVIRT_GET_DIRTY_LOG: get and clear the written pages of [gpa, gpa +
 * size): the call sets the bit of each page written since the last call
 * that reported it (or since its mapping started logging), clears every
 * other bit of the bitmap, including those past the range in its last
 * byte, and makes those pages unwritten again.  The range may start and
 * end inside mappings; each of its pages must be mapped by a mapping that
 * logs.  Pages outside the range keep their state.
 * Atomicity: a write that races with the call is reported by this call
 * or by the next one, never by neither.  A page reported by this call may
 * have been written up to the moment the call returns, so a VMM reads
 * (copies) the pages it reports after the call returns.
 *   -EINVAL, -ERANGE  as for MAP; also flags or reserved not 0
 *   -ENOENT  a page of the range is not mapped, or its mapping does not
 *            log; nothing is reported or cleared
 *   -EFAULT  bitmap is 0 (a kernel driver: or not writable); nothing is
 *            cleared
 *   -ENOMEM  the driver is out of memory; nothing is cleared
 *   -ENOTSUP without FEATURE_DIRTY_LOG
 */
#define REVIRT_GET_DIRTY_LOG    REVIRT_IOW(0x42, struct revirt_dirty_log)

/*
 * vCPUs (VM handle creates, vCPU handle runs)
 */

struct revirt_vcpu_create {
    uint32_t vcpu_id;           /* < caps.max_vcpus; the initial APIC id */
    uint32_t flags;             /* 0 */
    /*
     * The vCPU's run area (struct revirt_run) in the VMM: page aligned, at
     * least caps.run_area_size bytes, valid until the vCPU handle is closed
     * and every call on it has returned.
     */
    uint64_t run_area;
    uint64_t run_area_size;
};

/*
 * REVIRT_CREATE_VCPU: a vCPU in the x86 reset state (CS:IP f000:fff0 with
 * CS base 0xffff0000, as after RESET), also when its vcpu_id was used by a
 * vCPU that is closed now (CPU hot-unplug, then hot-plug): nothing of the
 * old vCPU's state is left but the TSC, which runs on.  Returns its handle.
 *   -EEXIST  vcpu_id is in use in this VM: its vCPU handle is open, or a
 *            call on the closed handle has not returned yet
 *   -EINVAL  vcpu_id too large, or a bad run area
 */
#define REVIRT_CREATE_VCPU      REVIRT_IOW(0x12, struct revirt_vcpu_create)

/* Exit reasons, in revirt_run.exit_reason */
enum {
    REVIRT_EXIT_NONE = 0,
    REVIRT_EXIT_IO = 1,         /* port I/O, see run.io */
    REVIRT_EXIT_MMIO = 2,       /* access to unmapped or read-only memory */
    REVIRT_EXIT_HLT = 3,        /* HLT with no event to deliver */
    REVIRT_EXIT_IRQ_WINDOW = 4, /* the requested interrupt window is open */
    REVIRT_EXIT_SHUTDOWN = 5,   /* triple fault: the vCPU cannot continue */
    REVIRT_EXIT_INTERRUPTED = 6, /* REVIRT_KICK */
    REVIRT_EXIT_INTERNAL_ERROR = 7, /* the driver could not go on, see run */
    REVIRT_EXIT_TPR_WRITE = 8,  /* the guest wrote CR8, now in run.cr8 */
    REVIRT_EXIT_DEBUG = 9,      /* guest debugging, see run.debug */
};

#define REVIRT_IO_IN            0
#define REVIRT_IO_OUT           1
#define REVIRT_IO_DATA_MAX      4096

struct revirt_exit_io {
    uint16_t port;
    uint8_t size;               /* 1, 2 or 4 bytes per element */
    uint8_t direction;          /* REVIRT_IO_IN or REVIRT_IO_OUT */
    uint32_t count;             /* elements; > 1 only for rep ins/outs */
};

struct revirt_exit_mmio {
    uint64_t gpa;
    uint32_t len;               /* 1 .. 8 */
    uint8_t is_write;
    uint8_t reserved[3];
    uint8_t data[8];            /* write: the value; read: VMM fills in */
};

/*
 * run.shutdown.flags.  Without STATE_KEPT the vCPU's state after a
 * shutdown exit is undefined (AMD SVM's VMCB is, after a shutdown
 * intercept); with it, REVIRT_GET_STATE returns the state at the fault.
 * Either way the vCPU cannot run on until the VMM resets its state.
 */
#define REVIRT_SHUTDOWN_STATE_KEPT  (1u << 0)

struct revirt_exit_shutdown {
    uint32_t flags;             /* REVIRT_SHUTDOWN_* */
    uint32_t reserved;
};

/* run.internal.suberror */
enum {
    REVIRT_INTERNAL_EMULATION = 1, /* an instruction it cannot emulate */
    REVIRT_INTERNAL_ENTRY = 2,  /* the hardware refused the guest state */
    REVIRT_INTERNAL_OTHER = 3,
};

struct revirt_exit_internal {
    uint32_t suberror;          /* REVIRT_INTERNAL_* */
    uint32_t ndata;             /* valid entries of data */
    uint64_t data[4];           /* driver-specific detail */
};

/* REVIRT_EXIT_DEBUG, with REVIRT_FEATURE_GUEST_DEBUG: see the section. */
struct revirt_exit_debug {
    uint32_t exception;         /* 1 (#DB) or 3 (#BP) */
    uint32_t reserved;          /* 0 */
    uint64_t pc;                /* linear address: CS base + RIP */
    uint64_t dr6;               /* #DB: what caused it, DR6 bits */
    uint64_t dr7;               /* the DR7 in effect when it happened */
};

struct revirt_run {
    /* Set by the VMM before REVIRT_RUN. */
    uint8_t request_interrupt_window; /* exit as soon as IF=1, no shadow */
    uint8_t reserved_in[7];
    /* In: the TPR of the VMM's local APIC; out: the guest's CR8 at exit. */
    uint64_t cr8;

    /* Set by the driver at every exit. */
    uint32_t exit_reason;       /* REVIRT_EXIT_* */
    uint8_t ready_for_interrupt; /* REVIRT_EVENT_EXTINT can be injected */
    uint8_t if_flag;            /* the guest's RFLAGS.IF */
    uint8_t reserved_out[2];
    uint64_t apic_base;         /* the guest's IA32_APIC_BASE */
    union {
        struct revirt_exit_io io;
        struct revirt_exit_mmio mmio;
        struct revirt_exit_internal internal;
        struct revirt_exit_shutdown shutdown;
        struct revirt_exit_debug debug;
        uint8_t reserved_exit[240];
    };
    /*
     * I/O data, count * size bytes: for OUT the values written; for IN the
     * VMM puts the values read here before the next REVIRT_RUN.
     */
    uint8_t io_data[REVIRT_IO_DATA_MAX];
};

/*
 * REVIRT_RUN: run the vCPU until the next exit, described in its run area.
 * An IO-in or MMIO-read exit is completed by the next REVIRT_RUN with the
 * data the VMM put in the run area, also when that run returns
 * REVIRT_EXIT_INTERRUPTED without running a guest instruction.  Returns 0
 * for every exit, including REVIRT_EXIT_INTERRUPTED; an error only if the
 * call itself was bad.  Call it from one thread at a time per vCPU.
 *
 * After every return, also REVIRT_EXIT_INTERRUPTED with no guest
 * instruction run, exit_reason, ready_for_interrupt, if_flag, cr8 and
 * apic_base describe the vCPU as it is then: an event still pending shows
 * as ready_for_interrupt 0.  After REVIRT_EXIT_INTERRUPTED the exit union
 * and io_data are undefined, and there is no access to complete.
 * ready_for_interrupt and if_flag are stale once REVIRT_SET_STATE or
 * REVIRT_INJECT changes the vCPU, until the next REVIRT_RUN returns.
 *   -EBUSY   another thread is in REVIRT_RUN on this vCPU
 *   -EINVAL  a reserved field of the run area is not 0
 */
#define REVIRT_RUN              REVIRT_IO(0x20)

/*
 * REVIRT_KICK: from any thread, at any time, never blocking; it changes no
 * guest state.  What it does depends on where the vCPU's REVIRT_RUN is:
 *   - no REVIRT_RUN in progress: the next REVIRT_RUN completes a pending
 *     IN or MMIO read, runs no guest instruction and returns
 *     REVIRT_EXIT_INTERRUPTED;
 *   - a REVIRT_RUN in progress (before, in or after guest execution): it
 *     returns promptly, with REVIRT_EXIT_INTERRUPTED or with the exit it
 *     was already making; in the second case the next REVIRT_RUN returns
 *     as if the kick had come before it.
 * Kicks do not queue: a REVIRT_RUN that returns REVIRT_EXIT_INTERRUPTED
 * answers every kick made before it returned.  REVIRT_EXIT_INTERRUPTED may
 * also come without a kick of its own (a kick that raced with an earlier
 * exit, or a host signal): a VMM checks its requests and runs again.
 */
#define REVIRT_KICK             REVIRT_IO(0x21)

/*
 * vCPU state (vCPU handle): get and set by class.  Only the classes named in
 * state.classes are read or written; the other fields are left alone.
 */

#define REVIRT_STATE_REGS       (1ull << 0) /* GPRs, RIP, RFLAGS */
#define REVIRT_STATE_SEGMENTS   (1ull << 1) /* CS DS ES FS GS SS TR LDT */
#define REVIRT_STATE_CONTROL    (1ull << 2) /* CR0-4, CR8, EFER, APIC base */
#define REVIRT_STATE_DTABLES    (1ull << 3) /* GDTR, IDTR */
#define REVIRT_STATE_FPU        (1ull << 4) /* FXSAVE image */
#define REVIRT_STATE_MSRS       (1ull << 5) /* the listed MSRs */
#define REVIRT_STATE_EVENTS     (1ull << 6) /* pending events, shadows */
#define REVIRT_STATE_DEBUGREGS  (1ull << 7) /* DR0-3, DR6, DR7 */
#define REVIRT_STATE_TSC        (1ull << 8) /* the guest's TSC */

struct revirt_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
};

struct revirt_segment {
    uint64_t base;
    uint32_t limit;             /* in bytes, granularity applied */
    uint16_t selector;
    uint8_t type, present, dpl, db, s, l, g, avl, unusable;
    uint8_t reserved;
};

struct revirt_segments {
    struct revirt_segment cs, ds, es, fs, gs, ss, tr, ldt;
};

struct revirt_control {
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer;
    uint64_t apic_base;
};

struct revirt_dtable {
    uint64_t base;
    uint16_t limit;
    uint16_t reserved[3];
};

struct revirt_dtables {
    struct revirt_dtable gdt, idt;
};

struct revirt_fpu {
    uint8_t fxsave[512];        /* the FXSAVE layout: x87, MMX, SSE, MXCSR */
};

struct revirt_events {
    uint8_t exception_pending;  /* injected at the next run */
    uint8_t exception_vector;
    uint8_t exception_has_error_code;
    uint8_t interrupt_pending;  /* an external interrupt not yet taken */
    uint32_t exception_error_code;
    uint8_t interrupt_vector;
    uint8_t interrupt_shadow;   /* 1: after STI or MOV SS, else 0 */
    uint8_t nmi_pending;
    uint8_t nmi_masked;         /* inside an NMI handler */
    uint8_t reserved[4];
};

struct revirt_debugregs {
    uint64_t dr[4];
    uint64_t dr6, dr7;
};

/*
 * MSRs: REVIRT_STATE_MSRS gets and sets those named in msrs.entries, each
 * one that REVIRT_GET_SUPPORTED_MSRS lists, with the value a RDMSR or
 * WRMSR of the guest would see, except where noted here.  A VMM with more
 * than REVIRT_MAX_STATE_MSRS to transfer makes several calls.
 *
 * Machine check: when IA32_MCG_CAP (0x179) is listed, the driver emulates
 * the machine-check architecture.  On a vCPU that has not run, a GET of
 * MCG_CAP gives the most the driver offers: bank count in bits 7:0, and
 * each capability bit it can emulate.  A SET of MCG_CAP before the vCPU's
 * first run configures it (count 1 .. the offered count, no bit beyond
 * the offered ones, else -EINVAL) and resets MCG_STATUS to 0, MCG_CTL (if
 * MCG_CTL_P) and every MCi_CTL to all ones, and the other bank MSRs to 0.
 * After the first run MCG_CAP is read-only: a SET of another value fails
 * with -EINVAL.  The bank MSRs MCi_CTL, MCi_STATUS, MCi_ADDR and MCi_MISC
 * (0x400 + 4 * i + 0 .. 3) are not listed: they are supported for every
 * bank i below the vCPU's MCG_CAP count, and any 64-bit value may be set
 * in them, so a VMM can write a machine-check record before it injects
 * the #MC (REVIRT_EVENT_EXCEPTION, vector 18).
 */

#define REVIRT_MAX_STATE_MSRS   64

struct revirt_msr {
    uint32_t index;
    uint32_t reserved;
    uint64_t value;
};

struct revirt_msrs {
    uint32_t count;             /* entries used, <= REVIRT_MAX_STATE_MSRS */
    uint32_t reserved;
    struct revirt_msr entries[REVIRT_MAX_STATE_MSRS];
};

struct revirt_vcpu_state {
    uint64_t classes;           /* REVIRT_STATE_* */
    uint64_t flags;             /* 0 */
    struct revirt_regs regs;
    struct revirt_segments segments;
    struct revirt_control control;
    struct revirt_dtables dtables;
    struct revirt_fpu fpu;
    struct revirt_events events;
    struct revirt_debugregs debugregs;
    /*
     * SET: the vCPU's TSC reads this value at once and counts on from it,
     * however soon after the vCPU's creation or the VM's last TSC write.
     * The one exception keeps a VM's vCPUs in step: a value within a second
     * of where the VM's last written non-zero TSC has run to since (within
     * the last second) may take that running value instead.
     */
    uint64_t tsc;
    /* GET: the caller fills in count and the indices. */
    struct revirt_msrs msrs;
};

/*
 * REVIRT_GET_STATE, REVIRT_SET_STATE: read or write the classes named.
 *   -ENOTSUP a class the driver does not support (see caps.state_classes)
 *   -EINVAL  an MSR that REVIRT_GET_SUPPORTED_MSRS does not list, too many
 *            MSRs, or a value the CPU refuses; a failed SET may have
 *            written the classes before the one that failed
 *   -EBUSY   the vCPU is in REVIRT_RUN in another thread
 */
#define REVIRT_GET_STATE        REVIRT_IOWR(0x22, struct revirt_vcpu_state)
#define REVIRT_SET_STATE        REVIRT_IOW(0x23, struct revirt_vcpu_state)

/*
 * XCR0 and the XSAVE area (with REVIRT_FEATURE_XSAVE)
 *
 * The area is the whole extended state of the vCPU in the standard
 * (non-compacted) format of the XSAVE instruction:
 *   bytes 0 .. 511    the legacy region, the FXSAVE layout (x87, SSE, MXCSR)
 *   bytes 512 .. 575  the XSAVE header: XSTATE_BV (a little-endian uint64_t
 *                     at 512), XCOMP_BV (at 520, always 0), then zeros
 *   component i >= 2  at the offset CPUID.(EAX=0DH,ECX=i):EBX, of the size
 *                     CPUID.(EAX=0DH,ECX=i):EAX, as REVIRT_GET_SUPPORTED_CPUID
 *                     gives them
 * caps.xsave_size is at least CPUID.(EAX=0DH,ECX=0):ECX of that table, the
 * size for every component the driver supports; bytes past the last
 * component are 0 on GET and ignored on SET.
 *
 * The components the vCPU may hold are x87 and SSE (bits 0 and 1), which
 * every vCPU has, XSAVE in its CPUID or not, and those of its XCR0 mask:
 * the bits of CPUID.(EAX=0DH,ECX=0):EDX:EAX in the table given with
 * REVIRT_SET_CPUID (before that call, in the supported table).
 *
 * XSTATE_BV bit i says whether component i is in the area.  A component's
 * initial state is the one after reset: all zeros, except FCW = 0x037f for
 * x87.  MXCSR (bytes 24 .. 27) counts as part of component 1 (SSE) and is
 * 0x1f80 initially; MXCSR_MASK (bytes 28 .. 31) is read-only.
 *   GET sets the bit of every component that is not in its initial state;
 *   a component whose bit is clear is in its initial state, and its bytes
 *   hold that state.  (A driver may also set the bit of a component that is
 *   in its initial state.)
 *   SET loads each component whose bit is set and puts every other one of
 *   the XCR0 mask in its initial state, as XRSTOR would, except that MXCSR
 *   is loaded from the area when bit 2 (AVX) is set even if bit 1 is not.
 *   SET loads a component of the mask even when the xcr0 field lacks it:
 *   the vCPU keeps it, the guest reaches it once it enables it in XCR0, and
 *   GET reports it.
 *
 * The FPU state class and the legacy region are the same state: a SET_STATE
 * of REVIRT_STATE_FPU changes bytes 0 .. 511 of what GET_XSAVE gives.
 * A vCPU starts, and after REVIRT_CREATE_VCPU is, with XCR0 = 1 and every
 * component in its initial state.  XSAVES-only components (those set in
 * IA32_XSS) are not part of the area.
 */
struct revirt_xsave {
    uint64_t xcr0;              /* the guest's XCR0 */
    uint64_t area;              /* VMM address of xsave_size bytes */
    uint32_t size;              /* caps.xsave_size */
    uint32_t flags;             /* 0 */
    uint64_t reserved[4];       /* 0 */
};

/*
 * REVIRT_GET_XSAVE: read XCR0 and the area (written to the memory at
 * xsave.area).
 * REVIRT_SET_XSAVE: set XCR0, then load the area.  XCR0 must be valid for
 * the vCPU: bit 0 set, only bits of its XCR0 mask, bit 1 if bit 2, bits 5,
 * 6 and 7 all or none and with bit 2, bits 17 and 18 both or neither.
 *   -ENOTSUP without FEATURE_XSAVE
 *   -EINVAL  size is not caps.xsave_size, flags or reserved not 0, an
 *            invalid XCR0, XSTATE_BV bits of components the vCPU does not
 *            hold, XCOMP_BV or the reserved header bytes not 0, or an
 *            MXCSR with reserved bits set; nothing is changed
 *   -EFAULT  the area cannot be read or written
 *   -EBUSY   the vCPU is in REVIRT_RUN in another thread
 */
#define REVIRT_GET_XSAVE        REVIRT_IOWR(0x30, struct revirt_xsave)
#define REVIRT_SET_XSAVE        REVIRT_IOW(0x31, struct revirt_xsave)

/* Every argument struct must fit the 14-bit size field of a call number. */
_Static_assert(sizeof(struct revirt_vcpu_state) < (1u << 14),
               "struct revirt_vcpu_state too large for a call number");
_Static_assert(sizeof(struct revirt_xsave) < (1u << 14),
               "struct revirt_xsave too large for a call number");

/*
 * REVIRT_SET_CPUID: the CPUID table the guest sees.  Set it before the
 * first REVIRT_RUN.
 *   -EINVAL  count too large
 *   -EBUSY   the vCPU has run already, or runs in another thread
 */
#define REVIRT_SET_CPUID        REVIRT_IOW(0x24, struct revirt_cpuid_table)

/* Events */
enum {
    /* An external interrupt: needs run.ready_for_interrupt. */
    REVIRT_EVENT_EXTINT = 1,
    REVIRT_EVENT_NMI = 2,
    REVIRT_EVENT_EXCEPTION = 3,
};

#define REVIRT_EVENT_FLAG_ERROR_CODE (1u << 0)

struct revirt_event {
    uint32_t type;              /* REVIRT_EVENT_* */
    uint32_t vector;            /* EXTINT, EXCEPTION: 0 .. 255 / 0 .. 31 */
    uint32_t error_code;        /* EXCEPTION with FLAG_ERROR_CODE */
    uint32_t flags;             /* REVIRT_EVENT_FLAG_* */
};

/*
 * REVIRT_INJECT: make an event pending; the guest takes it at the next
 * REVIRT_RUN that enters it.  At most one event of each type is pending.
 * An event stays pending until the guest has taken it: a REVIRT_RUN that
 * returns INTERRUPTED before entering the guest, or that exits before the
 * delivery completed, leaves it pending, and an NMI injected while NMIs
 * are blocked (nmi_masked) stays pending until they are unblocked.
 * REVIRT_GET_STATE of REVIRT_STATE_EVENTS reports what is pending
 * (interrupt_pending and interrupt_vector, nmi_pending, exception_pending
 * and its vector); REVIRT_SET_STATE of that class replaces it, so setting
 * interrupt_pending to 0 cancels a pending EXTINT.
 *   -EBUSY   EXTINT while run.ready_for_interrupt is 0, or an event of the
 *            same type is already pending; nothing changes
 *   -EINVAL  unknown type, vector out of range, or unknown flags
 *   -ENOTSUP NMI without FEATURE_NMI; or an EXCEPTION the driver cannot
 *            inject as a hardware exception: a driver may refuse 3 (#BP)
 *            and 4 (#OF), which x86 raises only for INT3 and INTO (except
 *            #BP right after a debug exit for an INT3, see guest debugging)
 */
#define REVIRT_INJECT           REVIRT_IOW(0x25, struct revirt_event)

/*
 * Guest debugging (vCPU handle, with REVIRT_FEATURE_GUEST_DEBUG)
 *
 * The VMM's debugger (QEMU's gdbstub) takes over the debug facilities of
 * one vCPU.  Nothing changes until REVIRT_SET_GUEST_DEBUG turns it on, and
 * flags 0 turns it off again.  What each flag does while it is set:
 *
 * REVIRT_DEBUG_SINGLESTEP: each REVIRT_RUN that enters the guest runs at
 *   most one guest instruction, then returns REVIRT_EXIT_DEBUG with
 *   exception 1, DR6.BS (bit 14) set in debug.dr6, and debug.pc the next
 *   instruction.  A run may return another exit first (I/O, MMIO, HLT,
 *   ...); the run that completes that instruction (the next one, for an IN
 *   or MMIO read) then returns the single-step exit.  An instruction that
 *   delivers an event (an injected interrupt, an exception) counts as the
 *   step: the exit comes with debug.pc at the first instruction of the
 *   handler.  The trap flag the driver uses is hidden: the guest never sees
 *   it in RFLAGS (PUSHF, interrupt frames, REVIRT_GET_STATE).
 * REVIRT_DEBUG_SW_BP: every INT3 (0xCC) of the guest exits with exception
 *   3 and debug.pc its own address, before it runs: the guest's RIP is
 *   still at the INT3 and nothing was pushed.  The VMM owns the INT3s it
 *   wrote into guest memory; for one it does not own, it gives the guest
 *   its #BP with REVIRT_INJECT of exception 3 before the next run: the
 *   driver then delivers it as the INT3 would have been (return address
 *   after the INT3).  This is the one case where a driver must accept
 *   vector 3.
 * REVIRT_DEBUG_HW_BP: the hardware debug registers hold dr[0..3] and dr7
 *   of the call (DR7's reserved bits as hardware wants them; GD is
 *   ignored), not the guest's.  A hit exits with exception 1, debug.dr6
 *   saying which (B0..B3) and debug.dr7 = dr7: an instruction breakpoint
 *   before the instruction runs (debug.pc is its address; every run that
 *   reaches it exits again, so a VMM goes on by removing it, or stepping
 *   over it without it, as gdb does), a data breakpoint after the access
 *   (debug.pc is the next instruction).  The
 *   guest's own DR0..DR3, DR6 and DR7 keep the values the guest sees and
 *   sets (and REVIRT_STATE_DEBUGREGS gets and sets), but do not trigger.
 *
 * With REVIRT_DEBUG_SINGLESTEP or REVIRT_DEBUG_HW_BP, every #DB of the guest
 * (also its own TF or ICEBP) exits with exception 1 and the DR6 bits the
 * hardware would have set.  A VMM that gives the guest a #DB it does not
 * own sets those bits in the guest's DR6 (REVIRT_STATE_DEBUGREGS) and
 * makes exception 1 pending (REVIRT_INJECT or REVIRT_STATE_EVENTS).
 *
 * The driver never injects anything itself for a debug exit.  Interrupts
 * stay the VMM's to inject, also while single-stepping (QEMU's gdbstub
 * holds them back then).
 */

#define REVIRT_DEBUG_SINGLESTEP  (1u << 0)
#define REVIRT_DEBUG_SW_BP       (1u << 1)
#define REVIRT_DEBUG_HW_BP       (1u << 2)

struct revirt_guest_debug {
    uint32_t flags;             /* REVIRT_DEBUG_*; 0: off */
    uint32_t reserved;          /* 0 */
    uint64_t dr[4];             /* with HW_BP: linear addresses, else 0 */
    uint64_t dr7;               /* with HW_BP: enables, types, lengths */
};

/*
 * REVIRT_SET_GUEST_DEBUG: set what the debugger takes over (above).  It
 * replaces the previous setting and takes effect at the next REVIRT_RUN.
 *   -EINVAL  unknown flags, reserved not 0, or dr/dr7 not 0 without HW_BP
 *   -EBUSY   another thread is in REVIRT_RUN on this vCPU
 *   -ENOTSUP without FEATURE_GUEST_DEBUG
 */
#define REVIRT_SET_GUEST_DEBUG  REVIRT_IOW(0x50, struct revirt_guest_debug)

/*
 * Layout checks.  The size field of a call number has 14 bits, so every
 * argument struct is smaller than 16 KiB (a new one adds its line here);
 * the run area, shared with the driver without a copy, is pinned.
 */
#define REVIRT_IOC_SIZE_LIMIT   (1u << 14)

_Static_assert(sizeof(struct revirt_caps) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_caps fits the size field");
_Static_assert(sizeof(struct revirt_cpuid_table) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_cpuid_table fits the size field");
_Static_assert(sizeof(struct revirt_msr_index_list) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_msr_index_list fits the size field");
_Static_assert(sizeof(struct revirt_vm_create) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_vm_create fits the size field");
_Static_assert(sizeof(struct revirt_memory_map) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_memory_map fits the size field");
_Static_assert(sizeof(struct revirt_memory_unmap) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_memory_unmap fits the size field");
_Static_assert(sizeof(struct revirt_vcpu_create) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_vcpu_create fits the size field");
_Static_assert(sizeof(struct revirt_vcpu_state) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_vcpu_state fits the size field");
_Static_assert(sizeof(struct revirt_event) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_event fits the size field");
_Static_assert(sizeof(struct revirt_guest_debug) < REVIRT_IOC_SIZE_LIMIT,
               "revirt_guest_debug fits the size field");

_Static_assert(offsetof(struct revirt_run, request_interrupt_window) == 0,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, reserved_in) == 1,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, cr8) == 8, "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, exit_reason) == 16,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, ready_for_interrupt) == 20,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, if_flag) == 21,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, reserved_out) == 22,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, apic_base) == 24,
               "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, io) == 32, "revirt_run layout");
_Static_assert(offsetof(struct revirt_run, io_data) == 272,
               "revirt_run layout");
_Static_assert(sizeof(struct revirt_run) == 272 + REVIRT_IO_DATA_MAX,
               "revirt_run layout");
_Static_assert(sizeof(struct revirt_exit_io) == 8 &&
               sizeof(struct revirt_exit_mmio) == 24 &&
               sizeof(struct revirt_exit_internal) == 40 &&
               sizeof(struct revirt_exit_debug) == 32,
               "revirt_run exit layouts");

#endif /* REVIRT_ABI_H */
