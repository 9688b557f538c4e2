#!/bin/bash
# Build QEMU with revirt and run the bundled test firmware, showing what the
# guest prints on its serial port and how long it took.
#   scripts/demo.sh [revirt|kvm|tcg]     (default: revirt)
set -euo pipefail
cd "$(dirname "$0")/.."

accel=${1:-revirt}
case "$accel" in
revirt | tcg) ;;
kvm) accel=kvm,kernel-irqchip=off ;;     # QEMU's PIC/APIC/PIT, as revirt
*) echo "demo: unknown accelerator '$accel' (use revirt, kvm or tcg)" >&2; exit 1 ;;
esac

scripts/build.sh
out=build/revirt-demo
mkdir -p "$out"

echo "== the guest's serial output under -accel $accel -smp 2:"
: > "$out/serial.log"
start=$(date +%s%N)
build/qemu-system-x86_64 -accel "$accel" -smp 2 \
    -bios build/tests/revirt-guests/bios.bin \
    -display none -nodefaults -serial "file:$out/serial.log" &
pid=$!
for _ in $(seq 6000); do
    grep -q '^done' "$out/serial.log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.01
done
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
cat "$out/serial.log"
echo "== guest finished in $elapsed ms (QEMU start to 'done')"
grep -q '^done' "$out/serial.log"
