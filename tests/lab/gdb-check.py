# gdb -batch -nx -x tests/lab/gdb-check.py: Debian's gdb against QEMU's
# gdbstub, on tests/revirt-guests/debug.S started with "-S".
#
# Environment: GDB_TARGET (what "target remote" takes, e.g. 127.0.0.1:1234),
# GDB_SYMS (the output of "nm debug.elf").  It prints one "CHECK gdb ..."
# line per step (" FAIL" at the end when the step failed), and at the end
# "monitor quit" ends QEMU.  Addresses are the guest's: its image runs at
# RAM_BASE (0x20000) in flat 32-bit mode.  "CHECK done" comes last, only
# if every step passed.
import os

import gdb

RAM_BASE = 0x20000
sym = {}
with open(os.environ["GDB_SYMS"]) as f:
    for line in f:
        parts = line.split()
        if len(parts) == 3:
            sym[parts[2]] = RAM_BASE + int(parts[0], 16)


class CheckFailed(Exception):
    pass


def check(name, ok, detail=""):
    print("CHECK gdb %s %s%s" % (name, "ok" if ok else "bad",
                                "" if ok else " (%s) FAIL" % detail))
    if not ok:
        # The next steps depend on this one (and a "continue" from the
        # wrong place may never stop): end here.
        raise CheckFailed(name)


def run(cmd):
    return gdb.execute(cmd, to_string=True)


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xffffffff


def word(addr):
    return int(gdb.parse_and_eval("*(unsigned int *)%d" % addr)) & 0xffffffff


def at(label):
    pc = reg("pc")
    return pc == sym[label], "pc 0x%x, %s is 0x%x" % (pc, label, sym[label])


def main():
    run("set pagination off")
    run("set confirm off")
    run("set remotetimeout 60")
    run("target remote " + os.environ["GDB_TARGET"])

    # -S: the vCPU waits at the reset vector.
    check("reset-vector", reg("pc") == 0xfff0 and reg("cs") == 0xf000,
          "cs:pc %x:%x" % (reg("cs"), reg("pc")))

    # A hardware breakpoint where the guest's code in RAM is in place (an INT3
    # written before the guest copies its image there would be overwritten).
    run("hbreak *%d" % sym["flat"])
    run("continue")
    check("hw-break-first", *at("flat"))
    run("delete 1")

    # A software breakpoint (an INT3 QEMU writes into guest RAM).
    run("break *%d" % sym["sw_bp"])
    run("break *%d" % sym["finish"])
    run("continue")
    check("sw-break", *at("sw_bp"))
    check("read-reg", reg("ecx") == 0x1234abcd, "ecx 0x%x" % reg("ecx"))

    # Single steps: one instruction each.
    run("stepi")
    ok1 = at("step1")[0] and reg("ecx") == 0x1234abce
    run("stepi")
    ok2 = at("step2")[0] and reg("ecx") == 0x1234abcf
    check("single-step", ok1 and ok2,
          "pc 0x%x ecx 0x%x" % (reg("pc"), reg("ecx")))

    # A hardware breakpoint (a debug register).
    run("delete 2")
    run("hbreak *%d" % sym["hw_bp"])
    run("continue")
    check("hw-break", *at("hw_bp"))

    # Memory and registers, read and written.
    check("read-mem", word(sym["data_word"]) == 0xfeedface,
          "0x%x" % word(sym["data_word"]))
    run("set var *(unsigned int *)%d = 0x5eed1234" % sym["data_word"])
    run("set var $ebx = 0x600dcafe")
    check("write-mem-reg", word(sym["data_word"]) == 0x5eed1234 and
          reg("ebx") == 0x600dcafe, "0x%x 0x%x" % (word(sym["data_word"]),
                                                   reg("ebx")))

    # A hardware watchpoint: stops after the guest's write.
    run("delete 4")
    run("watch *(unsigned int *)%d" % sym["watch_word"])
    run("continue")
    check("watchpoint", at("after_watch")[0] and
          word(sym["watch_word"]) == 0x11223344,
          "pc 0x%x value 0x%x" % (reg("pc"), word(sym["watch_word"])))

    # The guest's own INT3 goes to the guest, which then reaches `finish`.
    run("delete 5")
    run("continue")
    check("guest-int3-passed", *at("finish"))

    print("CHECK done")


try:
    main()
except CheckFailed:
    pass
except gdb.error as e:
    print("CHECK gdb error (%s) FAIL" % e)
# End QEMU, then let go of the line without the kill that gdb's exit would
# send: it would reach the next run's QEMU, on the same serial line.
try:
    run("set remotetimeout 10")
    run("monitor quit")
except gdb.error:
    pass                # QEMU went before it answered
try:
    run("disconnect")
except gdb.error:
    pass
