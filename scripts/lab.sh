#!/bin/bash
# scripts/lab.sh [CASESET] — the nested lab: stock Linux guests under
# -accel revirt on real (nested) SVM.
#
#   L0: build/qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt (this host)
#   L1: Debian 12's linux-image-6.1.0-*-amd64 + busybox initramfs with kvm,
#       kvm_amd, the project's QEMU, its libraries and firmware
#   L2: the same kernel + a busybox initramfs whose init runs l2-check (CPU
#       count, CPUID, SSE/AVX, interrupts, a threaded memory checksum) and
#       powers off.
#
# CASESET names a file in tests/lab/cases/ (default: "default").  One line is
# printed per case:
#   LAB case=NAME accel=ACCEL result=pass|fail [reason=...] boot_s=... log=...
# then a summary line; the exit status is non-zero if any case failed, 77 if
# the lab cannot run on this machine (the reason on a "LAB skip" line).
#
# Failures of L1 or L0 (L1 heartbeat stops, L1 panics or resets, L0 exits
# early) are not the guest's: L1 is rebooted and the unfinished runs go
# again, at most LAB_RETRIES times per run ("result=retry" lines).  An L2
# failure while L1 is healthy is never retried.
#
# Environment: LAB (work dir, default build/lab), QEMU_L0, QEMU_L1 (default
# build/qemu-system-x86_64), L1_APPEND (extra L1 kernel args), L2_TIMEOUT,
# HB_TIMEOUT, LAB_RETRIES, LAB_TIMEOUT (whole lab, seconds), L2_MEM, L2_MEMMB,
# L2_EXTRA (QEMU options added to every L2 boot, e.g. "-trace revirt_exit"),
# LAB_REEVAL (a logs dir: print the verdicts of that run again, boot nothing).
set -euo pipefail
# The braces make bash read the whole script before it runs any of it, so an
# edit during a (long) run cannot derail it.
{
cd "$(dirname "$0")/.."
ROOT=$PWD

CASESET=${1:-default}
LAB=${LAB:-$ROOT/build/lab}
QEMU_L0=${QEMU_L0:-$ROOT/build/qemu-system-x86_64}
QEMU_L1=${QEMU_L1:-$QEMU_L0}
L0_CPU=${L0_CPU:-qemu64,+svm,+npt}
# One L1 CPU: with two, L0's TCG nested SVM now and then loses an L1
# wake-up or runs an L2 vCPU on L1's own state (CR3, RIP), which resets or
# hangs L2 under kvm,kernel-irqchip=off as under revirt; with one, 20 of 20
# revirt -smp 2 boots passed.
L1_SMP=${L1_SMP:-1}
# The driver's tests run in an L1 of their own, with XSAVE and RDTSCP (so
# the XSAVE state and TSC_AUX are tested on real SVM).  The L2 runs keep
# L0_CPU without them: with XSAVE in L0, L2 Linux finds inconsistent XSAVE
# sizes (a WARNING, then no XSAVE) under kvm,kernel-irqchip=off as under
# revirt, and a -smp 4 L2's init died of a bad rt_sigreturn frame under
# kvm,kernel-irqchip=off.
L0_CPU_DRIVER=${L0_CPU_DRIVER:-$L0_CPU,+xsave,+xsaveopt,+avx,+rdtscp}
L1_MEM=${L1_MEM:-4G}
L1_APPEND=${L1_APPEND:-}
L2_MEM=${L2_MEM:-512}
L2_MEMMB=${L2_MEMMB:-256}    # l2-check's checksum buffer
L2_TIMEOUT=${L2_TIMEOUT:-240}
L2_EXTRA=${L2_EXTRA:-}       # more QEMU options for every L2 boot (traces)
HB_SECS=${HB_SECS:-5}
HB_TIMEOUT=${HB_TIMEOUT:-60}
L1_BOOT_TIMEOUT=${L1_BOOT_TIMEOUT:-180}
LAB_RETRIES=${LAB_RETRIES:-3}
LAB_TIMEOUT=${LAB_TIMEOUT:-2700}

LAB_REEVAL=${LAB_REEVAL:-}   # a logs dir: only the verdicts of that earlier run
CASEFILE=tests/lab/cases/$CASESET
# Case sets named native*: revirt.ko instead of kvm_amd (see l1-init.sh).
case $CASESET in native*) NATIVE=1 ;; *) NATIVE=0 ;; esac
# revirt.ko is built for them and for any case on -accel revirt,driver=native.
MODULE=$NATIVE
grep -q '^[^#]*|revirt,driver=native|' "$CASEFILE" 2>/dev/null && MODULE=1
# Case sets named bench* (scripts/bench.sh): no driver tests, and the runs
# go round by round (every case's first run, then every case's second ...).
case $CASESET in bench*) BENCH=1 ;; *) BENCH=0 ;; esac
T0=$(date +%s)

skip() { echo "LAB skip reason=$*"; exit 77; }
log() { echo "lab: $*"; }
median() { sort -n | awk '{v[NR]=$1} END {if (NR) printf "%.1f", NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; else printf "-"}'; }

[ -f "$CASEFILE" ] || { echo "lab: no case set $CASEFILE (have: $(cd tests/lab/cases && echo *))" >&2; exit 2; }

# prepare: check the machine, install and download, build both initramfs.
prepare() {
    [ -x "$QEMU_L0" ] || skip "no QEMU binary at $QEMU_L0 (run scripts/build.sh)"
    "$QEMU_L0" -accel help | grep -qx tcg || skip "$QEMU_L0 has no TCG"
    mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    [ "$mem_kb" -ge $((6 * 1024 * 1024)) ] || skip "needs 6 GiB of free memory, $((mem_kb / 1024)) MiB available"

    mkdir -p "$LAB/dl"
    exec 9>"$LAB/.lock"
    flock -w 60 9 || skip "another lab run holds $LAB/.lock"

    # ------------------------------------------------------------ packages
    # Everything comes from the Debian mirror: tools by apt-get install, the L1/L2
    # kernel and busybox as .debs by apt-get download (never installed here).
    apt_updated=0
    apt_update() { [ $apt_updated = 1 ] || { apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; }; }
    need=()
    for p in gcc libc6-dev binutils make python3 cpio gdb meson ninja-build libglib2.0-dev; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        apt_update
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
            skip "cannot install ${need[*]} with apt-get"
    fi
    if ! ls "$LAB"/dl/linux-image-6.1.0-*-amd64_*.deb >/dev/null 2>&1 ||
       ! ls "$LAB"/dl/busybox-static_*.deb >/dev/null 2>&1; then
        apt_update
        kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
               awk '{print $1}' | sort -V | tail -1)
        [ -n "$kpkg" ] || skip "no linux-image-6.1.0-*-amd64 package in apt"
        (cd "$LAB/dl" && apt-get download -qq "$kpkg" busybox-static >/dev/null 2>&1) ||
            skip "apt-get download $kpkg busybox-static failed"
    fi
    KDEB=$(printf '%s\n' "$LAB"/dl/linux-image-6.1.0-*-amd64_*.deb | sort -V | tail -1)
    BDEB=$(printf '%s\n' "$LAB"/dl/busybox-static_*.deb | sort -V | tail -1)
    KDIR=$LAB/x/$(basename "$KDEB" .deb)
    BDIR=$LAB/x/$(basename "$BDEB" .deb)
    [ -d "$KDIR/boot" ] || { rm -rf "$KDIR"; mkdir -p "$KDIR"; dpkg-deb -x "$KDEB" "$KDIR"; }
    [ -x "$BDIR/bin/busybox" ] || { rm -rf "$BDIR"; mkdir -p "$BDIR"; dpkg-deb -x "$BDEB" "$BDIR"; }
    BB=$BDIR/bin/busybox
    VMLINUZ=$(printf '%s\n' "$KDIR"/boot/vmlinuz-* | head -1)
    KVER=${VMLINUZ##*/vmlinuz-}
    MODDIR=$KDIR/lib/modules/$KVER/kernel

    # ------------------------------------------------------------ initramfs
    mkcpio() { (cd "$1" && find . | "$BB" cpio -o -H newc 2>/dev/null); }

    W=$LAB/work
    rm -rf "$W"
    mkdir -p "$W"/l2root/{bin,proc,sys,dev} "$W"/l1root/{bin,proc,sys,dev,tmp,mods,l2,lib64,etc} \
             "$W"/l1root/lib/x86_64-linux-gnu "$W"/l1root/usr/share/{qemu,seabios}
    gcc -O2 -static -pthread -Wall -o "$W/l2root/bin/l2-check" tests/lab/l2-check.c
    cp "$BB" "$W/l2root/bin/busybox"
    ln -s busybox "$W/l2root/bin/sh"
    cp tests/lab/l2-init.sh "$W/l2root/init"
    mkcpio "$W/l2root" > "$W/l2.cpio"

    cp "$BB" "$W/l1root/bin/busybox"
    ln -s busybox "$W/l1root/bin/sh"
    # modules.dep is not shipped: kvm needs irqbypass; kvm-amd needs kvm and ccp
    for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm-amd.ko; do
        cp "$MODDIR/$m" "$W/l1root/mods/"
    done
    strip -o "$W/l1root/bin/qemu-system-x86_64" "$QEMU_L1"
    # the revirt-kvm driver's own tests, which L1 runs on real SVM first
    rm -rf "$W/driver" "$W/l1root/driver-tests"
    mkdir -p "$W/l1root/driver-tests"
    meson setup "$W/driver" subprojects/revirt >/dev/null
    ninja -C "$W/driver" >/dev/null
    for t in "$W"/driver/tests/test-*; do
        [ -f "$t" ] && [ -x "$t" ] && cp "$t" "$W/l1root/driver-tests/"
    done
    # QEMU's revirt qtest, its qemu-img and guests, which L1 runs on real
    # SVM with the driver tests (this host may have no /dev/kvm at all)
    local qb
    qb=$(dirname "$QEMU_L1")
    [ -x "$qb/tests/qtest/revirt-test" ] && [ -x "$qb/qemu-img" ] ||
        skip "no revirt-test or qemu-img next to $QEMU_L1 (run scripts/build.sh)"
    mkdir -p "$W/l1root/qtest/guests"
    strip -o "$W/l1root/qtest/revirt-test" "$qb/tests/qtest/revirt-test"
    strip -o "$W/l1root/qtest/qemu-img" "$qb/qemu-img"
    cp "$qb"/tests/revirt-guests/*.bin "$qb"/tests/revirt-guests/*.img "$W/l1root/qtest/guests/"
    # revirt.ko, the native driver
    if [ "$MODULE" = 1 ]; then
        scripts/build-module.sh >/dev/null
        cp build/revirt-module/revirt.ko "$W/l1root/mods/"
    fi
    for bin in "$QEMU_L1" "$W"/l1root/driver-tests/test-* "$W"/l1root/qtest/revirt-test \
               "$W"/l1root/qtest/qemu-img; do
        ldd "$bin" | awk '/=>/ {print $3} /^\t\/lib64/ {print $1}'
    done | sort -u | while read -r lib; do
        [ -f "$lib" ] || continue
        case "$lib" in
        /lib64/*) cp -L "$lib" "$W/l1root/lib64/" ;;
        *) cp -L "$lib" "$W/l1root/lib/x86_64-linux-gnu/" ;;
        esac
    done
    for f in /usr/share/seabios/*.bin /usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot*.bin \
             /usr/share/qemu/multiboot*.bin /usr/share/qemu/pvh.bin; do
        [ -e "$f" ] || continue
        cp -L "$f" "$W/l1root/usr/share/qemu/"
        cp -L "$f" "$W/l1root/usr/share/seabios/"
    done
    # the gdb cases' guest (its symbols for tests/lab/gdb-check.py), and
    # the guests of L1's own QEMU checks (tests/lab/l1-init.sh)
    mkdir -p "$W/guests"
    make -s -C tests/revirt-guests O="$W/guests" \
        "$W/guests/debug.bin" "$W/guests/cpuid.bin" "$W/guests/regs.bin" \
        "$W/guests/dirty.bin" "$W/guests/bench.bin"
    cp "$W/guests/debug.bin" "$W/guests/cpuid.bin" "$W/guests/regs.bin" \
        "$W/guests/dirty.bin" "$W/guests/bench.bin" "$W/l1root/l2/"
    nm "$W/guests/debug.elf" > "$W/debug.syms"
    cp "$VMLINUZ" "$W/l1root/l2/vmlinuz"
    cp "$W/l2.cpio" "$W/l1root/l2/l2.cpio"
    cp tests/lab/l1-init.sh "$W/l1root/init"
    mkcpio "$W/l1root" > "$W/l1-base.cpio"
}
if [ -z "$LAB_REEVAL" ]; then
    prepare
fi

# ------------------------------------------------------------ cases
# name|accel|smp|cpu|append|twin|runs  ->  runs named NAME or NAME.01 ...
declare -A C_ACCEL C_SMP C_CPU C_APP C_TWIN C_RUNS RUN_CASE RUN_TRIES RUN_STATE
CASES=()
RUNS=()
while IFS='|' read -r name accel smp cpu app twin runs; do
    case "$name" in '' | '#'*) continue ;; esac
    CASES+=("$name")
    C_ACCEL[$name]=$accel; C_SMP[$name]=$smp; C_CPU[$name]=$cpu
    C_APP[$name]=$app; C_TWIN[$name]=$twin; C_RUNS[$name]=${runs:-1}
    if [ "${runs:-1}" = 1 ]; then
        RUNS+=("$name"); RUN_CASE[$name]=$name
    else
        for i in $(seq -w 1 "$runs"); do
            RUNS+=("$name.$i"); RUN_CASE[$name.$i]=$name
        done
    fi
done < "$CASEFILE"
if [ "$BENCH" = 1 ]; then
    # round by round: a run's round is its number (1 for a single run)
    mapfile -t RUNS < <(for r in "${RUNS[@]}"; do
        i=${r#"${RUN_CASE[$r]}"}; i=${i#.}; echo "$((10#${i:-1})) $r"
    done | sort -s -n -k1,1 | cut -d' ' -f2)
fi
for r in "${RUNS[@]}"; do RUN_TRIES[$r]=0; RUN_STATE[$r]=pending; done

if [ -n "$LAB_REEVAL" ]; then
    LOGS=$(cd "$LAB_REEVAL" && pwd)
else
    LOGS=$LAB/logs/$(date +%Y%m%d-%H%M%S)
    mkdir -p "$LOGS/runs"
fi
RELLOGS=${LOGS#"$ROOT"/}

# ------------------------------------------------------------ L0 / L1
L0_PID=
l0_kill() {
    if [ -n "$L0_PID" ]; then kill -9 "$L0_PID" 2>/dev/null || true; fi
    L0_PID=
}
trap 'l0_kill' EXIT
trap 'exit 143' TERM INT HUP

# l0_mon FILE CMD...: L0's HMP monitor answers, appended to FILE (evidence).
l0_mon() {
    local out=$1; shift
    timeout 30 python3 - "$SOCK" "$@" >> "$out" 2>&1 <<'PY' || true
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(2)
def drain():
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            out += d
    except socket.timeout: pass
    return out
drain()
for c in sys.argv[2:]:
    s.sendall(c.encode() + b"\n"); time.sleep(0.5)
    sys.stdout.write(drain().decode(errors="replace").replace("\r", ""))
PY
}

# stamp: prefix each line with the seconds since the first one was read.
# (busybox ts buffers its output, and the watcher below must see each line
# as it comes.)
stamp() {
    local line t0=${EPOCHREALTIME/./} d
    while IFS= read -r line || [ -n "$line" ]; do
        d=$(( ${EPOCHREALTIME/./} - t0 ))
        printf '%d.%06d %s\n' $((d / 1000000)) $((d % 1000000)) "${line//$'\r'/}"
    done
}

# the TCP port of L0's third serial port (L1's ttyS2), for gdb
GDB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DRIVER_DONE=0                # an L1 boot has run the driver's tests
L1_BOOTS=0
L1_INIT_TIMES=()
RETRIES=0
# boot_l1: one L1 boot over the pending runs; marks the finished ones done
# and returns the reason L1 stopped early in L1_FAIL ("" if it finished).
# boot_l1 driver: the same, for the driver's tests alone, on L0_CPU_DRIVER.
# run_native RUN: 1 if RUN is on revirt.ko, else 0.
run_native() {
    case ${C_ACCEL[${RUN_CASE[$1]}]} in *driver=native*) echo 1 ;; *) echo 0 ;; esac
}

boot_l1() {
    local mode=${1:-runs} l0_cpu=$L0_CPU native=$NATIVE r
    L1_BOOTS=$((L1_BOOTS + 1))
    local k=$L1_BOOTS cfg=$W/l1cfg con out pidf
    con=$LOGS/l1-boot$k.console; out=$LOGS/l1-boot$k.l2out; pidf=$W/l0.pid
    SOCK=$W/l0-mon.sock
    rm -rf "$cfg" "$pidf" "$SOCK" "$W/l2.fifo"; mkdir -p "$cfg/etc"
    [ "$mode" = runs ] || l0_cpu=$L0_CPU_DRIVER
    # A native set's kvm twins run in an L1 of their own, with kvm_amd: an
    # L1 boot takes the runs of the kind of the first pending one.
    if [ "$mode" = runs ] && [ "$NATIVE" = 1 ]; then
        for r in "${RUNS[@]}"; do
            [ "${RUN_STATE[$r]}" = pending ] || continue
            native=$(run_native "$r")
            break
        done
    fi
    for r in "${RUNS[@]}"; do
        [ "$mode" = runs ] || break
        [ "${RUN_STATE[$r]}" = pending ] || continue
        [ "$NATIVE" = 0 ] || [ "$(run_native "$r")" = "$native" ] || continue
        local c=${RUN_CASE[$r]}
        echo "$r|${C_ACCEL[$c]}|${C_SMP[$c]}|${C_CPU[$c]}|${C_APP[$c]}"
    done > "$cfg/etc/runs"
    cat > "$cfg/etc/lab.conf" <<EOF
DRIVER_TESTS=$([ "$mode" = driver ] && echo 1 || echo 0)
DRIVER_NATIVE=$native
L2_TIMEOUT=$L2_TIMEOUT
L2_MEM=$L2_MEM
L2_MEMMB=$L2_MEMMB
HB_SECS=$HB_SECS
L2_EXTRA="$L2_EXTRA"
EOF
    { cat "$W/l1-base.cpio"; mkcpio "$cfg"; } > "$W/l1.cpio"
    local left=$((LAB_TIMEOUT - ($(date +%s) - T0)))
    log "L1 boot $k: $(wc -l < "$cfg/etc/runs") runs$([ "$mode" = runs ] || echo ", the driver's tests on -cpu $l0_cpu"); console $RELLOGS/l1-boot$k.console"
    # L1's console (ttyS0) and the L2 consoles (ttyS1, through a fifo) are
    # timestamped here as they arrive, in seconds since L0 started.
    # -no-reboot: an L1 reset or panic (panic=-1) ends L0.
    mkfifo "$W/l2.fifo"
    stamp < "$W/l2.fifo" > "$out" &
    local bg2=$!
    ( timeout -s KILL "$left" "$QEMU_L0" -accel tcg,thread=multi -cpu "$l0_cpu" \
        -smp "$L1_SMP" -m "$L1_MEM" -nodefaults -display none -no-reboot \
        -serial stdio -serial "file:$W/l2.fifo" \
        -serial "tcp:127.0.0.1:$GDB_PORT,server=on,wait=off" -pidfile "$pidf" \
        -L /usr/share/qemu -L /usr/share/seabios \
        -monitor "unix:$SOCK,server=on,wait=off" \
        -d cpu_reset,guest_errors -D "$LOGS/l1-boot$k.l0-qemu" \
        -kernel "$VMLINUZ" -initrd "$W/l1.cpio" \
        -append "console=ttyS0 panic=-1 nokaslr unknown_nmi_panic $L1_APPEND" </dev/null 2>&1
      echo "L0-EXIT rc=$?" ) | stamp > "$con" &
    local bg=$! start=$SECONDS last0=$SECONDS last1=$SECONDS n0=0 n1=0 n now g
    local -A gdb_started=()
    L1_FAIL=
    for _ in $(seq 1 50); do [ -s "$pidf" ] && break; sleep 0.2; done
    L0_PID=$(cat "$pidf" 2>/dev/null || true)
    while :; do
        sleep 2
        now=$SECONDS
        if grep -q 'L1-INIT .* all runs done' "$con"; then
            # L1 powers off by itself; give it a moment
            for _ in $(seq 1 15); do grep -q L0-EXIT "$con" && break; sleep 1; done
            break
        fi
        if grep -q 'L0-EXIT' "$con"; then
            if grep -q 'Kernel panic' "$con"; then L1_FAIL=l1-panic
            elif grep -q 'L0-EXIT rc=0' "$con"; then L1_FAIL=l1-reset
            else L1_FAIL="l0-exit-$(grep -o 'L0-EXIT rc=[0-9]*' "$con" | sed 's/.*=//')"
            fi
            break
        fi
        if grep -q -E 'Kernel panic|rcu: INFO: rcu_.* detected stall' "$con"; then
            if grep -q 'Kernel panic' "$con"; then L1_FAIL=l1-panic; else L1_FAIL=l1-rcu-stall; fi
            sleep 5   # let the panic or stall report reach the log
            break
        fi
        # A gdb case's QEMU waits (-S) with its gdbstub on L1's ttyS2,
        # which is L0's third serial port: gdb runs here.
        while read -r g; do
            [ -z "${gdb_started[$g]:-}" ] || continue
            # one gdb at a time on the line: the last one must be gone
            for n in "${gdb_started[@]}"; do kill "$n" 2>/dev/null || true; done
            GDB_TARGET=127.0.0.1:$GDB_PORT GDB_SYMS=$W/debug.syms \
                timeout "$L2_TIMEOUT" gdb -batch -nx -x tests/lab/gdb-check.py \
                > "$LOGS/runs/$g.gdb" 2>&1 &
            gdb_started[$g]=$!
        done < <(sed -n 's/.*L1-GDB-READY run=\([^ ]*\).*/\1/p' "$con")
        if ! grep -q 'L1-INIT .* init started' "$con"; then
            [ $((now - start)) -lt "$L1_BOOT_TIMEOUT" ] || { L1_FAIL=l1-boot-timeout; break; }
            last0=$now; last1=$now
            continue
        fi
        # every L1 CPU has its own heartbeat
        n=$(grep -c 'L1-HB cpu0 ' "$con" || true); [ "$n" = "$n0" ] || { n0=$n; last0=$now; }
        n=$(grep -c 'L1-HB cpu1 ' "$con" || true); [ "$n" = "$n1" ] || { n1=$n; last1=$now; }
        if [ $((now - last0)) -gt "$HB_TIMEOUT" ] || { [ "$L1_SMP" -gt 1 ] && [ $((now - last1)) -gt "$HB_TIMEOUT" ]; }; then
            L1_FAIL=l1-hang
            break
        fi
        if [ $(( $(date +%s) - T0 )) -ge "$LAB_TIMEOUT" ]; then L1_FAIL=lab-timeout; break; fi
    done
    if [ -n "$L1_FAIL" ] && [ -n "$L0_PID" ] && kill -0 "$L0_PID" 2>/dev/null; then
        # Evidence of what L1's CPUs were doing, before L0 goes.
        l0_mon "$LOGS/l1-boot$k.l0-monitor" 'info registers -a' 'info lapic 0' 'info lapic 1'
        # Then an NMI: L1 (unknown_nmi_panic) panics with the backtrace
        # of the code it was in, on its console; none means L1 cannot
        # take an NMI (GIF clear, or an NMI still in service).
        if [ "$L1_FAIL" = l1-hang ]; then
            l0_mon "$LOGS/l1-boot$k.l0-monitor" 'nmi'
            sleep 10
        fi
    fi
    l0_kill
    wait "$bg" 2>/dev/null || true
    wait "$bg2" 2>/dev/null || true
    for g in "${gdb_started[@]}"; do wait "$g" 2>/dev/null || true; done
    local t
    t=$(awk '/L1-INIT .* init started/ {print $1; exit}' "$con")
    [ -n "$t" ] && L1_INIT_TIMES+=("$t") && log "L1 boot $k: L0 start to L1 init ${t}s"
    # The finished runs: split ttyS1 into one file per run.
    awk -v dir="$LOGS/runs" '
        $2 == "===" && $3 == "RUN-START" { f = dir "/" $4 ".out"; printf "" > f }
        f { print >> f }
        $2 == "===" && $3 == "RUN-END" { close(f); f = "" }' "$out" 2>/dev/null || true
    # gdb's own CHECK lines join the run's (the guest prints the others).
    for g in "${!gdb_started[@]}"; do
        [ -f "$LOGS/runs/$g.out" ] || continue
        sed -n 's/^\(CHECK .*\)$/0.000000 \1/p' "$LOGS/runs/$g.gdb" >> "$LOGS/runs/$g.out"
    done
    while read -r r; do
        RUN_STATE[$r]=finished
        log "run $r finished in L1 boot $k ($(grep -o 'qemu_rc=.*' "$LOGS/runs/$r.out" | tail -1))"
    done < <(sed -n 's/.*L1-RUN-END run=\([^ ]*\).*/\1/p' "$con")
    if [ "$DRIVER_DONE" = 0 ] && grep -q 'L1-DRIVER-END' "$con"; then
        DRIVER_DONE=1
        grep -E '^[0-9.]+ L1-(DRIVER|INIT .* L1-(DRIVER-DONE|QCHECK)) ' "$con" > "$LOGS/driver-tests.log"
    fi
    [ -n "$L1_FAIL" ] || return 0
    log "L1 boot $k stopped early: $L1_FAIL; L1's last words:"
    # (|| true: no panic line is the usual case, and set -e would end the lab)
    { grep -E 'Kernel panic|rcu: INFO|BUG:|RIP: ' "$con" | head -3 || true
      grep -v 'L1-HB' "$con" | tail -2 || true; } | cut -c1-160 | sed 's/^/lab:   /'
    # The run L1 was in when it failed goes again (if tries are left).
    r=$(sed -n 's/.*L1-RUN-START run=\([^ ]*\).*/\1/p' "$con" | tail -1)
    if [ -n "$r" ] && [ "${RUN_STATE[$r]}" = pending ]; then
        RUN_TRIES[$r]=$(( ${RUN_TRIES[$r]} + 1 ))
        RETRIES=$((RETRIES + 1))
        echo "LAB case=${RUN_CASE[$r]} run=$r accel=${C_ACCEL[${RUN_CASE[$r]}]} result=retry reason=$L1_FAIL try=${RUN_TRIES[$r]} log=$RELLOGS/l1-boot$k.console"
        if [ "${RUN_TRIES[$r]}" -gt "$LAB_RETRIES" ] || [ "$L1_FAIL" = lab-timeout ]; then
            RUN_STATE[$r]="unfinished:$L1_FAIL"
        fi
    fi
}

pending() {
    local r
    for r in "${RUNS[@]}"; do [ "${RUN_STATE[$r]}" = pending ] && return 0; done
    return 1
}
# reeval: the verdicts of an earlier run's logs, without booting anything.
reeval() {
    local con r
    for con in "$LOGS"/l1-boot*.console; do
        [ -f "$con" ] || continue
        L1_BOOTS=$((L1_BOOTS + 1))
        L1_INIT_TIMES+=("$(awk '/L1-INIT .* init started/ {print $1; exit}' "$con")")
        grep -q 'L1-INIT .* all runs done' "$con" || RETRIES=$((RETRIES + 1))
    done
    for r in "${RUNS[@]}"; do
        if grep -q '^[0-9.]* === RUN-END' "$LOGS/runs/$r.out" 2>/dev/null; then
            RUN_STATE[$r]=finished
        else
            RUN_STATE[$r]=unfinished:unknown
        fi
    done
}

if [ -n "$LAB_REEVAL" ]; then
    reeval
else
    log "kernel $KVER, $(basename "$BDEB" .deb), case set $CASESET: ${#CASES[@]} cases, ${#RUNS[@]} L2 boots; logs in $RELLOGS"
fi
if [ -z "$LAB_REEVAL" ] && [ "$BENCH" = 0 ]; then
    for _ in $(seq 0 "$LAB_RETRIES"); do
        [ "$DRIVER_DONE" = 0 ] || break
        [ $(( $(date +%s) - T0 )) -lt "$LAB_TIMEOUT" ] || break
        boot_l1 driver
        # (an L1 that died in the driver's tests is a retry as well)
        if [ -n "$L1_FAIL" ]; then
            RETRIES=$((RETRIES + 1))
            echo "LAB driver retry reason=$L1_FAIL log=$RELLOGS/l1-boot$L1_BOOTS.console"
        fi
    done
fi
MAX_BOOTS=$(( L1_BOOTS + ${#RUNS[@]} + 3 * LAB_RETRIES ))
while pending; do
    if [ $(( $(date +%s) - T0 )) -ge "$LAB_TIMEOUT" ] || [ "$L1_BOOTS" -ge "$MAX_BOOTS" ]; then
        for r in "${RUNS[@]}"; do
            [ "${RUN_STATE[$r]}" = pending ] && RUN_STATE[$r]=unfinished:lab-timeout
        done
        break
    fi
    boot_l1
done

# ------------------------------------------------------------ driver tests
# One line per test of the revirt-kvm driver that L1 ran on real SVM:
#   LAB driver test=PATH result=pass|fail|skip [reason=...]
driver_verdicts() {
    local f=$LOGS/driver-tests.log
    if [ ! -f "$f" ]; then
        echo "LAB driver test=all result=fail reason=no-l1-boot-ran-them"
        return
    fi
    sed -n 's/^[0-9.]* L1-DRIVER \([^ ]*\) //p' "$f" | awk '
        /^ok .*# SKIP/ { sub(/^ok [0-9]+ /, ""); t = $1; sub(/^[^#]*# SKIP ?/, "");
                         printf "LAB driver test=%s result=skip reason=%s\n", t, $0; next }
        /^ok / { printf "LAB driver test=%s result=pass\n", $3; next }
        /^not ok / { printf "LAB driver test=%s result=fail\n", $4 }'
    # the figures tests print (the fuzzer's seed and calls, memory before
    # and after the VM cycles): not results, counted by nobody
    sed -n 's/^[0-9.]* L1-DRIVER \(test-[^ ]*\) # figures: \(.*\)/LAB driver figures test=\1 \2/p' "$f"
    # L1's checks of QEMU's XSAVE path
    sed -n 's/.*L1-QCHECK \([^ ]*\) \(pass\|fail\)\(.*\)/LAB driver test=qemu\/\1 result=\2\3/p' "$f" |
        sed 's/result=\(pass\|fail\) (\(.*\))$/result=\1 reason=\2/'
    # a test program that ended badly without a "not ok" (crash, timeout)
    sed -n 's/.*L1-DRIVER-DONE \([^ ]*\) status=\([1-9][0-9]*\).*/\1 \2/p' "$f" |
        while read -r t rc; do
            grep -q "L1-DRIVER $t not ok" "$f" ||
                echo "LAB driver test=$t result=fail reason=exit-status-$rc"
        done
}

# ------------------------------------------------------------ verdicts
# run_boot_s FILE: seconds from RUN-START (L1 starts QEMU) to L2's /init.
run_boot_s() {
    awk '$3 == "RUN-START" {t = $1} / L2-INIT start/ && t != "" {printf "%.1f\n", $1 - t; exit}' "$1"
}

# eval_run RUN: sets R_RESULT, R_REASON, R_BOOT (QEMU start to L2 init, s)
# and writes RUN.markers (the CHECK lines, without timestamps).
eval_run() {
    local r=$1 f=$LOGS/runs/$1.out
    R_RESULT=fail; R_REASON=; R_BOOT=
    case "${RUN_STATE[$r]}" in
    unfinished:*) R_REASON="lab-${RUN_STATE[$r]#unfinished:}-retries-exhausted"; return ;;
    esac
    [ -f "$f" ] || { R_REASON=no-output; return; }
    sed -n 's/^[0-9.]* \(CHECK .*\)$/\1/p' "$f" | sort > "$LOGS/runs/$r.markers"
    R_BOOT=$(run_boot_s "$f")
    local end rc hung poweroff
    end=$(grep '^[0-9.]* === RUN-END' "$f" | tail -1 || true)
    rc=$(echo "$end" | sed -n 's/.*qemu_rc=\([^ ]*\).*/\1/p')
    hung=$(echo "$end" | sed -n 's/.*hung=\([^ ]*\).*/\1/p')
    poweroff=$(echo "$end" | sed -n 's/.*poweroff=\([^ ]*\).*/\1/p')
    if grep -qx 'CHECK done' "$LOGS/runs/$r.markers"; then
        if grep -q ' FAIL$' "$LOGS/runs/$r.markers"; then
            R_REASON="check-failed:$(grep ' FAIL$' "$LOGS/runs/$r.markers" | awk '{print $2}' | sort -u | paste -sd, -)"
        elif [ "$hung" = 1 ]; then R_REASON=l2-timeout-after-done
        elif [ "$rc" != 0 ]; then R_REASON="qemu-exit-rc=$rc"
        elif [ "$poweroff" != 1 ]; then R_REASON=l2-reset-at-poweroff  # not the ACPI poweroff
        else R_RESULT=pass
        fi
    elif [ "$hung" = 1 ]; then R_REASON=l2-timeout
    elif [ "$rc" != 0 ]; then R_REASON="qemu-exit-rc=$rc"
    elif [ "$poweroff" = 1 ]; then R_REASON=l2-poweroff-before-done
    else R_REASON=l2-reset-or-triple-fault
    fi
}

for r in "${RUNS[@]}"; do eval_run "$r"; done   # every run's markers first
FAILED=0
PASSED=0
for c in "${CASES[@]}"; do
    clog=$LOGS/$c.log
    : > "$clog"
    boots=() ndone=0 nreset=0 ntimeout=0 reasons=() runs_of=() lastdiff=
    for r in "${RUNS[@]}"; do [ "${RUN_CASE[$r]}" = "$c" ] && runs_of+=("$r"); done
    for r in "${runs_of[@]}"; do
        eval_run "$r"
        { echo "##### run $r: result=$R_RESULT ${R_REASON:+reason=$R_REASON} tries=${RUN_TRIES[$r]}"
          cat "$LOGS/runs/$r.out" 2>/dev/null || true; } >> "$clog"
        [ -n "$R_BOOT" ] && boots+=("$R_BOOT")
        [ -f "$LOGS/runs/$r.markers" ] && grep -qx 'CHECK done' "$LOGS/runs/$r.markers" && ndone=$((ndone + 1))
        case "$R_REASON" in
        l2-reset*) nreset=$((nreset + 1)) ;;
        l2-timeout*) ntimeout=$((ntimeout + 1)) ;;
        esac
        [ "$R_RESULT" = pass ] || reasons+=("$R_REASON")
        if [ "$R_RESULT" = fail ] && [ -f "$LOGS/runs/$r.out" ]; then
            echo "  $r: $R_REASON; last L2 lines:"
            grep -v -E '^[0-9.]* (=== |L1-MON|$)' "$LOGS/runs/$r.out" | tail -3 | cut -c1-160 | sed 's/^/    /' || true
            # a hung guest: where each vCPU was, and what its LAPIC held
            grep -E 'L1-MON\| (CPU#|RIP=|dumping local APIC|Timer|ISR|IRR|APR)' "$LOGS/runs/$r.out" |
                sed -e 's/^[0-9.]* L1-MON| /    /' -e 's/ RFL=.*HLT=/ HLT=/' | cut -c1-160 || true
        fi
        # Each run must show the same markers as the first run and the twin.
        ref=
        tw=${C_TWIN[$c]}
        if [ -n "$tw" ] && [ -f "$LOGS/runs/$tw.markers" ]; then ref=$LOGS/runs/$tw.markers
        elif [ "$r" != "${runs_of[0]}" ]; then ref=$LOGS/runs/${runs_of[0]}.markers
        fi
        if [ "$R_RESULT" = pass ] && [ -n "$tw" ] && ! grep -qsx 'CHECK done' "$LOGS/runs/$tw.markers"; then
            # no comparison possible: never a silent pass
            reasons+=("twin-$tw-failed")
        fi
        if [ "$R_RESULT" = pass ] && [ -n "$ref" ] && [ -f "$ref" ] && grep -qx 'CHECK done' "$ref" &&
           ! diff -q "$ref" "$LOGS/runs/$r.markers" >/dev/null; then
            reasons+=("markers-differ-from-$(basename "$ref" .markers)")
            d=$(diff "$ref" "$LOGS/runs/$r.markers" | grep '^[<>]' | cut -c1-200 || true)
            { echo "##### markers of $r differ from ${ref##*/} (< reference, > this run):"
              echo "$d"; } >> "$clog"
            # the same difference in many runs is printed once
            if [ "$d" != "$lastdiff" ]; then
                echo "  $r: CHECK markers differ from $(basename "$ref" .markers):"
                while IFS= read -r l; do echo "    $l"; done <<< "$d"
                lastdiff=$d
            fi
        fi
    done
    extra=
    if [ "${C_RUNS[$c]}" -gt 1 ]; then
        extra=" boots=${#runs_of[@]} reached_done=$ndone resets=$nreset timeouts=$ntimeout"
    fi
    bm=$(printf '%s\n' "${boots[@]}" | grep . | median || true)
    if [ ${#reasons[@]} = 0 ]; then
        result=pass; PASSED=$((PASSED + 1))
    else
        result="fail reason=$(printf '%s\n' "${reasons[@]}" | sort | uniq -c |
                 awk '{printf "%s%s%s", (NR>1?",":""), $2, ($1>1?"x"$1:"")}')"
        FAILED=$((FAILED + 1))
    fi
    tries=0
    for r in "${runs_of[@]}"; do tries=$((tries + ${RUN_TRIES[$r]})); done
    echo "LAB case=$c accel=${C_ACCEL[$c]} smp=${C_SMP[$c]} cpu=${C_CPU[$c]} result=$result boot_s=${bm:--}$extra retries=$tries log=${clog#"$ROOT"/}"
done

DRIVER_LINES=
[ "$BENCH" = 1 ] || DRIVER_LINES=$(driver_verdicts)
[ -z "$DRIVER_LINES" ] || echo "$DRIVER_LINES"
DRIVER_FAILED=$(echo "$DRIVER_LINES" | grep -c ' result=fail' || true)

# Boot-time medians per accelerator (QEMU start in L1 to L2's /init).
for a in $(printf '%s\n' "${C_ACCEL[@]}" | sort -u); do
    times=$(for r in "${RUNS[@]}"; do
                c=${RUN_CASE[$r]}
                [ "${C_ACCEL[$c]}" = "$a" ] || continue
                [ -f "$LOGS/runs/$r.out" ] && run_boot_s "$LOGS/runs/$r.out"
            done)
    echo "LAB timing accel=$a boot_s_median=$(echo "$times" | grep . | median || true) n=$(echo "$times" | grep -c . || true)"
done
echo "LAB timing l1_init_s=$(printf '%s\n' "${L1_INIT_TIMES[@]}" | grep . | median || true) l1_boots=$L1_BOOTS"
# The driver tests' key figures, for the summary line.
FIGURES=$(echo "$DRIVER_LINES" | sed -n \
    -e 's/^LAB driver figures .* fuzz seed=\([0-9]*\) .*calls=\([0-9]*\).*/ fuzz_calls=\2 fuzz_seed=\1/p' \
    -e 's/^LAB driver figures .* memory cycles=\([0-9]*\) .*free_kb=\([^ ]*\) slab_kb=\([^ ]*\) .*/ cycles=\1 free_kb=\2 slab_kb=\3/p' \
    -e 's/^LAB driver test=qemu\/native-sigkill result=\([a-z]*\) .*free_kb=\([^ ]*\).*/ sigkill=\1 sigkill_free_kb=\2/p' | tr -d '\n')
echo "LAB summary caseset=$CASESET cases=${#CASES[@]} passed=$PASSED failed=$FAILED driver_failed=$DRIVER_FAILED retries=$RETRIES l1_boots=$L1_BOOTS$FIGURES wall_s=$(( $(date +%s) - T0 )) logs=$RELLOGS"
[ "$FAILED" = 0 ] && [ "$DRIVER_FAILED" = 0 ]
exit
}
