#!/bin/bash
# Build QEMU with revirt and run the bundled test firmware under
# -accel revirt, showing what the guest prints on its serial port.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh
out=build/revirt-demo
mkdir -p "$out"
make -s -C _qemu/tree/tests/revirt-guests O="$PWD/$out"

echo "== the guest's serial output under -accel revirt:"
: > "$out/serial.log"
start=$(date +%s%N)
build/qemu-system-x86_64 -accel revirt -bios "$out/bios.bin" \
    -display none -nodefaults -serial "file:$out/serial.log" &
pid=$!
for _ in $(seq 600); do
    grep -q '^done' "$out/serial.log" && break
    sleep 0.1
done
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
cat "$out/serial.log"
echo "== guest finished in $(( ($(date +%s%N) - start) / 1000000 )) ms"
grep -q '^done' "$out/serial.log"
