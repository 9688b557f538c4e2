#!/bin/bash
# libvirt runs revirt domains.  Starts virtlogd and libvirtd from
# _libvirt/prefix (scripts/build-libvirt.sh) by hand, as root, on a
# private socket; their state lives under the prefix and is wiped first.
# Then, through virsh: domain capabilities for revirt; a domain running
# the bios guest (serial to a file) defined, started, read, suspended,
# resumed, shown and destroyed under revirt, kvm and qemu (TCG); a revirt
# domain on Debian's QEMU, which has no revirt, refused with libvirt's
# error while libvirtd stays up.
# Prints TAP ("ok N - ...", "not ok N - ..."); the virsh session of the
# revirt domain as "# " lines.  Needs build/ (scripts/build.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/config.sh

prefix=$PWD/$REVIRT_LIBVIRT_PREFIX
qemu=$PWD/build/qemu-system-x86_64
bios=$PWD/build/tests/revirt-guests/bios.bin
debian_qemu=/usr/bin/qemu-system-x86_64
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $* # SKIP"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

if [ "$(id -u)" != 0 ]; then
    skip "libvirtd runs QEMU as root here; run as root"
    exit 0
fi
for f in "$prefix/sbin/libvirtd" "$prefix/sbin/virtlogd" "$prefix/bin/virsh" "$qemu" "$bios"; do
    if [ ! -x "$f" ] && [ ! -f "$f" ]; then
        not_ok "$f is missing (scripts/build.sh, scripts/build-libvirt.sh)"
        exit 1
    fi
done

tmp=$(mktemp -d /tmp/revirt-libvirt.XXXXXX)
pids=()
# shellcheck disable=SC2317  # run by the trap
cleanup() {
    local pidfile pid
    # QEMUs left by a failed case, then the daemons: only what this run
    # started.
    for pidfile in "$prefix"/var/run/libvirt/qemu/*.pid; do
        [ -f "$pidfile" ] && pid=$(cat "$pidfile") && kill "$pid" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Private state: the daemons' sockets in $tmp, everything else under the
# prefix (libvirt fixes those paths when it is built), wiped first so that
# QEMU's capabilities are probed afresh.
rm -rf "$prefix"/var/{run,lib,cache,log}/libvirt "$prefix"/var/run/*.pid
mkdir -p "$tmp/sock" "$prefix/etc/libvirt"
cat > "$tmp/libvirtd.conf" <<EOF
unix_sock_dir = "$tmp/sock"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$tmp/libvirtd.log"
EOF
cat > "$tmp/virtlogd.conf" <<EOF
log_outputs = "3:file:$tmp/virtlogd.log"
EOF
# QEMU runs as root without a security driver: this is a test machine
# without AppArmor profiles for the prefix.
cat > "$prefix/etc/libvirt/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
EOF

# No systemd here: virtlogd first (libvirtd's QEMU driver logs through
# it), then libvirtd.  build/ comes first in PATH, so that the default
# emulator (virsh domcapabilities without --emulatorbin) is revirt's QEMU.
"$prefix/sbin/virtlogd" -f "$tmp/virtlogd.conf" &
pids+=($!)
PATH=$PWD/build:$PATH "$prefix/sbin/libvirtd" -f "$tmp/libvirtd.conf" &
libvirtd_pid=$!
pids+=("$libvirtd_pid")
export LIBVIRT_DEFAULT_URI="qemu+unix:///system?socket=$tmp/sock/libvirt-sock"
virsh() { timeout 120 "$prefix/bin/virsh" "$@"; }
for _ in $(seq 60); do
    virsh version >/dev/null 2>&1 && break
    sleep 0.5
done
if ! virsh version >/dev/null 2>&1; then
    not_ok "libvirtd answers on $tmp/sock/libvirt-sock"
    tail -n 20 "$tmp/libvirtd.log" | sed 's/^/# /'
    exit 1
fi
ok "libvirtd and virtlogd started, libvirtd answers on a private socket"

# session CMD...: run virsh CMD, showing it and its output as "# " lines
# (the README's session); its status is virsh's.
session() {
    local out rc line
    echo "# \$ virsh $*"
    out=$(virsh "$@" 2>&1)
    rc=$?
    [ -n "$out" ] && while IFS= read -r line; do echo "# $line"; done <<< "$out"
    return $rc
}

virsh domcapabilities --virttype revirt > "$tmp/domcaps.xml" 2>&1
echo "# \$ virsh domcapabilities --virttype revirt | head -n 6"
head -n 6 "$tmp/domcaps.xml" | sed 's/^/# /'
virsh capabilities > "$tmp/caps.xml" 2>&1
echo "# \$ virsh capabilities | grep -e '<emulator>' -e '<domain type='"
grep -e '<emulator>' -e '<domain type=' "$tmp/caps.xml" | sed 's/^/# /'
# libvirt offers revirt where QEMU's probe (-machine none,accel=revirt)
# finds a driver; on a host with neither driver it must say it does not.
if [ -c /dev/revirt ] || [ -c /dev/kvm ]; then
    check "virsh domcapabilities --virttype revirt answers for revirt" \
        grep -q '<domain>revirt</domain>' "$tmp/domcaps.xml"
    check "virsh capabilities offers revirt guests" \
        grep -q "<domain type='revirt'" "$tmp/caps.xml"
else
    check "no revirt driver: virsh domcapabilities --virttype revirt says revirt is not supported on this host" \
        grep -q "accel 'revirt' is not supported by .* on this host" "$tmp/domcaps.xml"
    check "no revirt driver: virsh capabilities offers no revirt guests" \
        sh -c "grep -q '<domain type=.qemu.' '$tmp/caps.xml' && ! grep -q '<domain type=.revirt.' '$tmp/caps.xml'"
fi

# domain_xml TYPE EMULATOR SERIAL: the bios guest as a libvirt domain.
domain_xml() {
    cat <<EOF
<domain type='$1'>
  <name>revirt-bios-$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <loader type='rom'>$bios</loader>
  </os>
  <devices>
    <emulator>$2</emulator>
    <serial type='file'>
      <source path='$3'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# What the bios guest prints with one CPU from ROM (tests/qtest/revirt-test.c);
# KVM's in-kernel IOAPIC is version 0x11, QEMU's 0x20.
expected_serial() {
    printf '%s\n' "revirt-test boot 00000001" "ram sum 5ed48e00" \
        "ioapic version 0017$([ "$1" = kvm ] && echo 0011 || echo 0020)" \
        "firmware id 00b8fcfa" "rom read-only" "pit ticks ok" "triple fault" \
        "revirt-test boot 00000002" "cpus 00000001" "done"
}

# wait_for_done FILE: until the guest printed "done" (60 s at most).
wait_for_done() {
    for _ in $(seq 120); do
        grep -qx 'done' "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    return 1
}

# run_domain TYPE: the whole life of a domain of TYPE; the revirt one shows
# its virsh session.
run_domain() {
    local type=$1 name=revirt-bios-$1 serial=$tmp/serial-$1.txt show=true
    local xml=$tmp/$name.xml log=$prefix/var/log/libvirt/qemu/revirt-bios-$1.log
    [ "$type" = revirt ] || show=false
    # shellcheck disable=SC2317  # run through check
    say() { if $show; then session "$@"; else virsh "$@" >/dev/null 2>&1; fi; }

    domain_xml "$type" "$qemu" "$serial" > "$xml"
    $show && sed 's/^/# /' "$xml"
    check "$type domain: virsh define" say define "$xml"
    check "$type domain: virsh start" say start "$name"
    if wait_for_done "$serial"; then
        $show && { echo "# \$ cat $serial"; sed 's/^/# /' "$serial"; }
        check "$type domain: the guest's serial output is the bios guest's" \
            diff <(expected_serial "$type") "$serial"
    else
        not_ok "$type domain: the guest printed done within 60 s"
        sed 's/^/# serial: /' "$serial" 2>/dev/null
        tail -n 5 "$log" | sed 's/^/# log: /'
    fi
    check "$type domain: QEMU ran with -accel $2" \
        grep -q -- "-accel $2 " "$log"
    check "$type domain: virsh suspend" say suspend "$name"
    check "$type domain: paused" test "$(virsh domstate "$name")" = paused
    check "$type domain: virsh resume" say resume "$name"
    check "$type domain: running" test "$(virsh domstate "$name")" = running
    check "$type domain: virsh dominfo" say dominfo "$name"
    check "$type domain: virsh destroy" say destroy "$name"
    check "$type domain: shut off" test "$(virsh domstate "$name")" = "shut off"
    check "$type domain: virsh undefine" say undefine "$name"
    check "$type domain: gone" sh -c "! '$prefix/bin/virsh' -q list --all --name | grep -qx '$name'"
}

# revirt-kvm, the Linux driver, runs over /dev/kvm.
if [ -c /dev/revirt ] || [ -c /dev/kvm ]; then
    run_domain revirt revirt
else
    skip "revirt domain: no revirt driver (neither /dev/revirt nor /dev/kvm)"
fi
if [ -c /dev/kvm ]; then
    run_domain kvm kvm
else
    skip "kvm domain: no /dev/kvm"
fi
run_domain qemu tcg

# A QEMU without revirt: Debian's.  libvirt refuses the domain, says why,
# and stays up.
domain_xml revirt "$debian_qemu" "$tmp/serial-debian.txt" > "$tmp/debian.xml"
session define "$tmp/debian.xml" > "$tmp/debian.out"
rc=$?
cat "$tmp/debian.out"
check "a revirt domain on a QEMU without revirt is refused" test "$rc" != 0
check "the refusal is libvirt's error for a QEMU without revirt" \
    grep -q "does not support virt type 'revirt'" "$tmp/debian.out"
check "libvirtd is still up" \
    sh -c "kill -0 $libvirtd_pid && '$prefix/bin/virsh' -q version >/dev/null"
exit 0
