#!/bin/sh
# /init of the lab's L1 initramfs (busybox, under L0 = QEMU TCG with SVM).
# Loads kvm + kvm_amd, then boots each L2 run listed in /etc/runs with the
# project's QEMU.
#   ttyS0 (L1's console): heartbeats and L1-RUN-START / L1-RUN-END lines, which
#         the host watches to tell an L1/L0 failure from an L2 failure;
#   ttyS1: each run's L2 console and QEMU's messages, timestamped.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
ip link set lo up 2>/dev/null
# shellcheck source=/dev/null
. /etc/lab.conf

up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "L1-INIT [$(up)] $*"; }

say "init started; $(nproc) cpus; $(grep MemTotal /proc/meminfo | tr -s ' ')"

# One heartbeat loop pinned to each L1 CPU: L0 losing one CPU's wake-up
# stops that CPU's heartbeat even while the other CPU still runs.
cpu=0
while [ $cpu -lt "$(nproc)" ]; do
    taskset $((1 << cpu)) sh -c "while :; do echo \"L1-HB cpu$cpu \$(cut -d' ' -f1 /proc/uptime)\"; sleep $HB_SECS; done" &
    cpu=$((cpu + 1))
done

if [ "${DRIVER_NATIVE:-0}" = 1 ] && [ "${DRIVER_TESTS:-0}" = 0 ]; then
    # The native case set's L2 runs: revirt.ko owns SVM, no kvm_amd.
    if insmod /mods/revirt.ko; then say "revirt.ko loaded"; else say "revirt.ko FAILED to load"; fi
else
    insmod /mods/irqbypass.ko
    insmod /mods/kvm.ko
    insmod /mods/ccp.ko 2>/dev/null || say "ccp.ko failed (ignored)"
    if insmod /mods/kvm-amd.ko; then say "kvm_amd loaded"; else say "kvm_amd FAILED to load"; fi
fi
dmesg | grep -i -E 'kvm|svm|revirt' | sed 's/^/L1-INIT   dmesg: /'
[ -c /dev/kvm ] || say "no /dev/kvm"

# Every QEMU this script starts has its HMP monitor on this port.
mon=4444
# hmp CMDS: HMP commands to that QEMU, its answers on stdout.
hmp() { printf '%s\n' "$@" | timeout 20 nc 127.0.0.1 $mon 2>&1 | tr -d '\r'; }

# qemu_start ACCEL CPU OPTION...: a small QEMU in the background, its
# serial in /tmp/qc.serial.
qemu_start() {
    a=$1; c=$2; shift 2
    # in /tmp: HMP's pmemsave takes a relative file name (it would read
    # the "/" of an absolute one as a division)
    (cd /tmp && exec /bin/qemu-system-x86_64 -L /usr/share/qemu -accel "$a" \
        -cpu "$c" -m 64 -nodefaults -display none -serial file:/tmp/qc.serial \
        -monitor tcp:127.0.0.1:$mon,server=on,wait=off "$@" </dev/null >/tmp/qc.err 2>&1) &
    qc=$!
    sleep 2
}
qemu_stop() { hmp quit >/dev/null; wait $qc 2>/dev/null; }

# ram_word ADDR: a 32-bit word of the guest's RAM, as 0x........
ram_word() { hmp "xp /1wx $1" | sed -n 's/^0*[0-9a-f]*: \(0x[0-9a-f]*\).*/\1/p' | tail -1; }

qcheck() { say "L1-QCHECK $1 $2${3:+ ($3)}"; }

# QEMU's own XSAVE path, with this L1's XSAVE: the XSAVE leaf (0xD) the
# cpuid guest sees under revirt is the one kvm,kernel-irqchip=off gives,
# and regs.S's state survives a migration of the stopped VM to a file.
qemu_xsave_checks() {
    rm -f /tmp/leafd-revirt /tmp/leafd-kvm
    qemu_start revirt host -bios /l2/cpuid.bin
    hmp "pmemsave 0x10680 128 leafd-revirt" >/dev/null
    qemu_stop
    # (kvm=off, svm=off: as the Linux twins, see tests/lab/cases/default)
    qemu_start kvm,kernel-irqchip=off host,kvm=off,svm=off -bios /l2/cpuid.bin
    hmp "pmemsave 0x10680 128 leafd-kvm" >/dev/null
    qemu_stop
    say "L1-QCHECK-DATA leaf 0xD under revirt: $(od -An -tx4 -v /tmp/leafd-revirt | tr -s ' \n' ' ')"
    if [ -s /tmp/leafd-revirt ] && cmp -s /tmp/leafd-revirt /tmp/leafd-kvm; then
        qcheck cpuid-leaf-0xd pass
    else
        qcheck cpuid-leaf-0xd fail "kvm gives $(od -An -tx4 -v /tmp/leafd-kvm | tr -s ' \n' ' ')"
    fi

    qemu_start revirt host -bios /l2/regs.bin
    sleep 3
    hmp stop 'migrate -d "exec:cat > /tmp/regs.mig"' >/dev/null
    i=0
    while [ $i -lt 30 ] && ! hmp 'info migrate' | grep -q 'status: completed'; do
        sleep 1; i=$((i + 1))
    done
    n1=$(ram_word 0x504)
    qemu_stop
    qemu_start revirt host -bios /l2/regs.bin -incoming 'exec:cat /tmp/regs.mig'
    hmp cont >/dev/null
    sleep 5
    n2=$(ram_word 0x504); bad=$(ram_word 0x508); looping=$(ram_word 0x50c)
    qemu_stop
    if [ -n "$n1" ] && [ -n "$n2" ] && [ "$bad" = 0x00000000 ] &&
       [ "$looping" = 0x00000001 ] && [ $((n2)) -gt $((n1)) ]; then
        qcheck regs-migrate pass "passes $((n1)) then $((n2))"
    else
        qcheck regs-migrate fail "passes '$n1' then '$n2', bad '$bad' looping '$looping'; $(tr '\n' ' ' < /tmp/qc.serial | tail -c 200)"
    fi
}

# driver_tests [ENV=VALUE]: every driver test program, its TAP lines as
# L1-DRIVER lines.
driver_tests() {
    for t in /driver-tests/test-*; do
        n=${t##*/}
        env "$@" timeout 300 "$t" --tap >/tmp/tap 2>&1
        rc=$?
        sed "s/^/L1-DRIVER $n /" /tmp/tap
        say "L1-DRIVER-DONE $n status=$rc"
    done
}

# qtests [PATH...]: QEMU's revirt qtest (tests/qtest/revirt-test) on this
# real SVM: its revirt and kvm cases (or only those under the PATHs), with
# whichever driver is loaded (its tcg cases run on the host).  Its TAP
# lines as L1-DRIVER lines, like the driver tests.
qtests() {
    # (qtest wants a binary named *-system-x86_64)
    printf '#!/bin/sh\nexec /bin/qemu-system-x86_64 -L /usr/share/qemu "$@"\n' \
        > /qtest/qemu-system-x86_64
    chmod +x /qtest/qemu-system-x86_64
    export QTEST_QEMU_BINARY=/qtest/qemu-system-x86_64 QTEST_QEMU_IMG=/qtest/qemu-img
    export REVIRT_GUESTS=/qtest/guests
    # shellcheck disable=SC2046  # one -s per tcg case
    (cd /tmp && timeout 900 /qtest/revirt-test --tap -k \
        $(for p in "$@"; do echo "-p /x86_64/revirt/$p"; done) \
        $(/qtest/revirt-test -l | grep '/tcg$' | sed 's/^/-s /')) >/tmp/tap 2>&1
    rc=$?
    sed "s/^/L1-DRIVER revirt-test /" /tmp/tap
    say "L1-DRIVER-DONE revirt-test status=$rc"
}

# revirt.ko's dmesg lines (and any oops, BUG or WARNING) since the last call.
kmsg_new() {
    touch /tmp/dmesg.old
    dmesg > /tmp/dmesg.now
    tail -n +$(( $(wc -l < /tmp/dmesg.old 2>/dev/null || echo 0) + 1 )) /tmp/dmesg.now |
        grep -E 'revirt|BUG|WARNING|Oops|RIP:' | sed 's/^/L1-INIT   dmesg: /'
    mv /tmp/dmesg.now /tmp/dmesg.old
}

# mem_kb: free memory (MemFree plus the per-CPU page lists, which MemFree
# does not count) and Slab, in kB.
mem_kb() {
    echo "$(( $(awk '/^MemFree:/ {print $2}' /proc/meminfo) +
              $(awk '$1 == "count:" {n += $2} END {print n * 4}' /proc/zoneinfo) ))" \
         "$(awk '/^Slab:/ {print $2}' /proc/meminfo)"
}
# revirt.ko's reference count: its open handles (lsmod's "Used by").
mod_refs() { awk '$1 == "revirt" {print $3}' /proc/modules; }

# in_run PID: true if a thread of PID is in a call on a revirt.ko vCPU
# handle (its kernel stack has revirt_vcpu_ioctl): in REVIRT_RUN, where a
# vCPU thread spends its time.  (/proc's syscall file says "running" for
# such a thread: a vCPU in the guest never sleeps.)
in_run() {
    grep -q revirt_vcpu_ioctl /proc/"$1"/task/*/stack 2>/dev/null
}

# sigkill_once: a Linux L2 on -accel revirt,driver=native, SIGKILLed in
# the middle of its boot, at a moment its vCPU thread is in REVIRT_RUN
# (looked for every 0.1 s for up to 10 s once the console has spoken);
# prints "OUTPUT_BYTES IN_RUN" as they were at the kill.
sigkill_once() {
    rm -f /tmp/sk.serial
    /bin/qemu-system-x86_64 -L /usr/share/qemu -accel revirt,driver=native \
        -m 256 -nodefaults -display none -serial file:/tmp/sk.serial \
        -kernel /l2/vmlinuz -initrd /l2/l2.cpio \
        -append "console=ttyS0 panic=-1 lab.cpus=1 lab.memmb=64" </dev/null >/tmp/sk.err 2>&1 &
    sk=$!
    i=0
    while [ $i -lt 60 ] && [ ! -s /tmp/sk.serial ] && kill -0 $sk 2>/dev/null; do
        sleep 1; i=$((i + 1))
    done
    sleep 1
    inrun=0; i=0
    while [ $i -lt 100 ] && kill -0 $sk 2>/dev/null; do
        if in_run $sk; then inrun=1; break; fi
        usleep 100000; i=$((i + 1))
    done
    kill -9 $sk 2>/dev/null; wait $sk 2>/dev/null
    echo "$(wc -c < /tmp/sk.serial) $inrun"
    rm -f /tmp/sk.serial
}

# native_sigkill: QEMU killed in the middle of a run leaves no handle open
# (revirt.ko's count back to 0) and no memory behind (the guest had
# pinned tens of MiB).  The first kill warms the caches; the figures
# compare the second one's before and after.  Tolerances: 1 MiB of free
# memory, 256 KiB of slab.
native_sigkill() {
    r1=$(sigkill_once); refs1=$(mod_refs)
    sleep 1
    set -- $(mem_kb); f0=$1; s0=$2
    r2=$(sigkill_once); refs2=$(mod_refs)
    sleep 1
    set -- $(mem_kb); f1=$1; s1=$2
    set -- $r1 $r2
    what="guest_output_bytes=$1,$3 killed_in_run=$2,$4 refs_after=$refs1,$refs2 free_kb=$f0->$f1 slab_kb=$s0->$s1"
    if [ "$1" -gt 0 ] && [ "$3" -gt 0 ] && [ "$2" = 1 ] && [ "$4" = 1 ] &&
       [ "$refs1" = 0 ] && [ "$refs2" = 0 ] &&
       [ "$f1" -ge $((f0 - 1024)) ] && [ "$s1" -le $((s0 + 256)) ]; then
        qcheck native-sigkill pass "$what"
    else
        qcheck native-sigkill fail "$what; qemu: $(grep -v warning: /tmp/sk.err | tr '\n' ' ' | cut -c1-200)"
    fi
}

# A live migration on revirt.ko's own dirty log: dirty.S keeps rewriting
# 112 pages (RAM 0x504: passes, 0x508: errors) while QEMU migrates it
# over TCP to a second QEMU started with -S, both on
# -accel revirt,driver=native.  With a 1 ms downtime limit the migration
# cannot converge and syncs the log pass after pass; after 4 syncs a 5 s
# limit lets it complete.  The destination's RAM must equal the source's
# at switchover, and the guest, continued there, must count on without
# finding a page that missed a write.
native_migrate_check() {
    rm -f /tmp/mig-src.ram /tmp/mig-dst.ram
    mon=4445
    (cd /tmp && exec /bin/qemu-system-x86_64 -L /usr/share/qemu \
        -accel revirt,driver=native -cpu qemu64 -m 64 -nodefaults -display none -S \
        -serial file:/tmp/qd.serial \
        -bios /l2/dirty.bin -incoming tcp:127.0.0.1:4446 \
        -monitor tcp:127.0.0.1:4445,server=on,wait=off </dev/null >/tmp/qd.err 2>&1) &
    qd=$!
    mon=4444
    qemu_start revirt,driver=native qemu64 -bios /l2/dirty.bin
    i=0
    while [ $i -lt 30 ] && [ $(($(ram_word 0x504))) -lt 3 ]; do sleep 1; i=$((i + 1)); done
    hmp 'migrate_set_parameter max-bandwidth 1M' \
        'migrate_set_parameter downtime-limit 1' \
        'migrate -d tcp:127.0.0.1:4446' >/dev/null
    i=0; syncs=0; st=
    while [ $i -lt 120 ]; do
        info=$(hmp 'info migrate')
        st=$(echo "$info" | sed -n 's/^Migration status: *//p' | tail -1)
        syncs=$(echo "$info" | sed -n 's/^dirty sync count: *//p' | tail -1)
        [ "$st" = completed ] || [ "$st" = failed ] && break
        [ "${syncs:-0}" -ge 4 ] && hmp 'migrate_set_parameter downtime-limit 5000' >/dev/null
        sleep 1; i=$((i + 1))
    done
    n1=$(ram_word 0x504)
    hmp 'pmemsave 0 0x4000000 mig-src.ram' >/dev/null
    qemu_stop
    mon=4445; qc=$qd
    hmp 'pmemsave 0 0x4000000 mig-dst.ram' >/dev/null
    hmp cont >/dev/null
    sleep 5
    n2=$(ram_word 0x504); bad=$(ram_word 0x508)
    qemu_stop
    mon=4444
    if [ "$st" = completed ] && [ "${syncs:-0}" -ge 4 ] && [ -s /tmp/mig-src.ram ] &&
       cmp -s /tmp/mig-src.ram /tmp/mig-dst.ram && [ "$bad" = 0x00000000 ] &&
       [ $((n2)) -gt $((n1)) ]; then
        qcheck native-migrate-dirty pass "$syncs syncs; passes $((n1)) at switchover, $((n2)) after, 0 errors; RAM equal"
    else
        qcheck native-migrate-dirty fail "status '$st', $syncs syncs, passes '$n1' then '$n2', errors '$bad', RAM $(cmp /tmp/mig-src.ram /tmp/mig-dst.ram 2>&1 | head -1); $(tr '\n' ' ' < /tmp/qd.err | tail -c 200)"
    fi
    rm -f /tmp/mig-src.ram /tmp/mig-dst.ram
}

# The native driver, revirt.ko (case set "native"): it refuses to load
# while KVM owns SVM, loads once kvm_amd is gone, and the same driver tests
# run against /dev/revirt.  kvm_amd is loaded above, for the refusal.
native_tests() {
    kmsg_new >/dev/null
    # kvm_amd loaded with no VM: 6.1's KVM turns SVM on only while a VM
    # exists, so this says what happens then (not a check).
    if insmod /mods/revirt.ko 2>/dev/null; then
        say "L1-NATIVE kvm_amd idle: revirt.ko loads (SVM is free)"
        rmmod revirt
    else
        say "L1-NATIVE kvm_amd idle: revirt.ko refused"
    fi
    kmsg_new
    # A KVM VM holds SVM: revirt.ko must refuse with its one line.
    /bin/qemu-system-x86_64 -L /usr/share/qemu -accel kvm -m 16 -nodefaults \
        -display none -S </dev/null >/tmp/kvmvm.out 2>&1 &
    kq=$!
    sleep 3
    if insmod /mods/revirt.ko 2>/dev/null; then
        rmmod revirt
        qcheck native-refuses-under-kvm fail "loaded while a KVM VM runs"
    elif dmesg | grep -q 'revirt: not loaded: another hypervisor owns SVM'; then
        qcheck native-refuses-under-kvm pass "$(dmesg | grep 'revirt: not loaded' | tail -1 | cut -c1-150)"
    else
        qcheck native-refuses-under-kvm fail "refused without its line"
    fi
    kmsg_new
    kill $kq; wait $kq 2>/dev/null
    # kvm_amd's CPUID for the qtest's CPU models, for its cpuid cases on
    # revirt.ko (no KVM VM can run next to it): the same cases, run here
    # on revirt-kvm, record it.
    mkdir -p /tmp/cpuid-kvm
    export REVIRT_CPUID_KVM_DIR=/tmp/cpuid-kvm
    qtests cpuid >/tmp/cpuid-kvm.out 2>&1
    # (without them revirt.ko's cpuid cases would only skip)
    models=$(/qtest/revirt-test -l | grep -c '/cpuid/')
    recorded=$(ls /tmp/cpuid-kvm | wc -l)
    if [ "$recorded" = "$models" ]; then
        qcheck cpuid-kvm-recorded pass "$recorded CPU models"
    else
        qcheck cpuid-kvm-recorded fail "$recorded of $models CPU models"
    fi
    rmmod kvm_amd; rmmod kvm
    if insmod /mods/revirt.ko && [ -c /dev/revirt ]; then
        qcheck native-loads pass
    else
        qcheck native-loads fail "$(dmesg | tail -2 | tr '\n' ' ')"
    fi
    kmsg_new
    driver_tests REVIRT_TEST_DRIVER=native REVIRT_TEST_MEMCHECK=1
    kmsg_new
    native_sigkill
    kmsg_new
    # QEMU's whole revirt qtest on revirt.ko (its kvm cases skip: no /dev/kvm)
    qtests
    kmsg_new
    native_migrate_check
    kmsg_new
    if rmmod revirt; then qcheck native-unloads pass; else qcheck native-unloads fail; fi
    if dmesg | grep -q -E 'BUG|WARNING|Oops'; then
        qcheck native-dmesg-clean fail "$(dmesg | grep -E 'BUG|WARNING|Oops' | head -1)"
    else
        qcheck native-dmesg-clean pass
    fi
}

# The revirt-kvm driver's tests, on this real SVM KVM (once per lab: the
# host asks for them until an L1 boot has run them all).
if [ "${DRIVER_TESTS:-0}" = 1 ] && [ "${DRIVER_NATIVE:-0}" = 1 ]; then
    native_tests
    say "L1-DRIVER-END"
elif [ "${DRIVER_TESTS:-0}" = 1 ]; then
    driver_tests REVIRT_TEST_MEMCHECK=1
    qtests
    qemu_xsave_checks
    say "L1-DRIVER-END"
fi

exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 115200 2>/dev/null

# use_driver ACCEL: the kernel driver a run needs.  -accel
# revirt,driver=native needs revirt.ko; -accel kvm needs it gone, since
# KVM cannot create a VM while revirt.ko owns SVM (kvm_amd stays loaded:
# idle, it leaves SVM free).  Only case sets that mix the two (bench)
# load and unload it between runs.
use_driver() {
    case $1 in
    *driver=native*)
        [ -c /dev/revirt ] && return
        if insmod /mods/revirt.ko; then say "revirt.ko loaded"; else say "revirt.ko FAILED to load"; fi ;;
    kvm*)
        [ -c /dev/revirt ] || return
        if rmmod revirt; then say "revirt.ko unloaded"; else say "revirt.ko FAILED to unload"; fi ;;
    esac
}

# run NAME ACCEL SMP CPU APPEND: one L2 boot (plus $L2_EXTRA, QEMU options
# from the host's L2_EXTRA, e.g. "-trace revirt_exit -trace revirt_inject").  Its console goes straight to
# ttyS1 (no filter that could buffer it), between RUN-START and RUN-END
# lines; the host timestamps it as it arrives.
run() {
    name=$1; accel=$2; smp=$3; cpu=$4; app=$5
    rm -f /tmp/q.pid /tmp/q.trace
    use_driver "$accel"
    say "L1-RUN-START run=$name"
    echo "=== RUN-START $name accel=$accel smp=$smp cpu=$cpu" >&3
    # The guest: Linux, for "gdb" the debug test firmware, stopped (-S)
    # for the host's gdb, whose gdbstub is on ttyS2, for "bench" the
    # benchmark firmware (scripts/bench.sh).
    if [ "$app" = bench ]; then
        set -- -m 64 -bios /l2/bench.bin
    elif [ "$app" = gdb ]; then
        # whatever the last gdb left on the line is not for this one
        stty -F /dev/ttyS2 raw -echo 2>/dev/null
        timeout 2 cat /dev/ttyS2 >/dev/null 2>&1
        set -- -m 64 -bios /l2/debug.bin -gdb /dev/ttyS2 -S
    else
        set -- -m "$L2_MEM" -kernel /l2/vmlinuz -initrd /l2/l2.cpio \
            -append "console=ttyS0 panic=-1 lab.cpus=$smp lab.memmb=$L2_MEMMB $app"
    fi
    # -no-reboot: a guest triple fault (a reset request) ends QEMU; only an
    # ACPI poweroff (or "quit") traces qemu_system_shutdown_request, so the
    # two differ.
    # shellcheck disable=SC2086  # L2_EXTRA: a list of options
    /bin/qemu-system-x86_64 -L /usr/share/qemu \
        -accel "$accel" -smp "$smp" -cpu "$cpu" \
        -nodefaults -display none -no-reboot -serial stdio \
        -pidfile /tmp/q.pid -D /tmp/q.trace -trace qemu_system_shutdown_request \
        -monitor tcp:127.0.0.1:$mon,server=on,wait=off \
        "$@" $L2_EXTRA </dev/null >&3 2>&1 &
    qpid=$!
    if [ "$app" = gdb ]; then
        while kill -0 $qpid 2>/dev/null && [ ! -s /tmp/q.pid ]; do sleep 0.2; done
        say "L1-GDB-READY run=$name"
    fi
    waited=0; hung=0
    while kill -0 $qpid 2>/dev/null; do
        sleep 1; waited=$((waited + 1))
        [ $waited -ge "$L2_TIMEOUT" ] || continue
        # L1 is alive (it got here), so the L2 guest is stuck: keep its state.
        hung=1
        printf '\n=== L2 TIMEOUT after %ss; monitor:\n' "$waited" >&3
        # every CPU's LAPIC: a lost IPI shows as an IRR bit on a halted CPU
        lapics=$(i=0; while [ $i -lt "$smp" ]; do
            printf 'cpu %s\ninfo lapic\n' $i; i=$((i + 1)); done)
        (IFS='
'; hmp 'info status' 'info registers -a' 'info pic' $lapics quit) > /tmp/mon.dump
        sed 's/^/L1-MON| /' /tmp/mon.dump >&3
        kill -9 $qpid 2>/dev/null
        break
    done
    wait $qpid; rc=$?
    poweroff=0
    grep -q 'qemu_system_shutdown_request' /tmp/q.trace 2>/dev/null && poweroff=1
    if { [ $poweroff = 0 ] || [ "$app" = gdb ]; } && [ -s /tmp/q.trace ]; then
        # no clean poweroff, or a gdb case: the tail of QEMU's -D log
        # (traces from L2_EXTRA)
        printf '\n=== QEMU -D log tail (%s lines):\n' "$(wc -l < /tmp/q.trace)" >&3
        tail -60 /tmp/q.trace | sed 's/^/L1-QLOG| /' >&3
    fi
    # With "-trace revirt_exit" or "-trace kvm_run_exit" in L2_EXTRA: how
    # many exits of each reason the run took (to compare accelerators).
    if grep -q -m1 -E 'revirt_exit|kvm_run_exit' /tmp/q.trace 2>/dev/null; then
        printf '\n=== exits by reason (%s):\n' "$accel" >&3
        sed -n -E 's/.*(revirt_exit|kvm_run_exit).* reason ([0-9]+).*/\1 \2/p' /tmp/q.trace |
            sort | uniq -c | sed 's/^/L1-QSTAT| /' >&3
    fi
    printf '\n=== RUN-END %s qemu_rc=%s hung=%s poweroff=%s\n' "$name" "$rc" "$hung" "$poweroff" >&3
    say "L1-RUN-END run=$name qemu_rc=$rc hung=$hung poweroff=$poweroff"
}
while IFS='|' read -r name accel smp cpu app; do
    [ -n "$name" ] || continue
    run "$name" "$accel" "$smp" "$cpu" "$app" </dev/null
done < /etc/runs

say "all runs done"
exec 3>&-
sync
poweroff -f
