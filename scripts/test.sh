#!/bin/bash
# Run every test: build QEMU with the series, the revirt-kvm driver's own
# tests, guests under -accel revirt / kvm / tcg (which must agree), bad
# input, and the check that patches/ matches the sources and the build.
# Ends with "N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

scripts/build.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }

QEMU=build/qemu-system-x86_64
out=build/revirt-tests
rm -rf "$out"
mkdir -p "$out"

# 1. The revirt-kvm driver on its own, without QEMU.
check "the revirt-kvm driver and its tests build on their own" \
    sh -c "meson setup '$out/driver' _qemu/tree/subprojects/revirt >/dev/null &&
           ninja -C '$out/driver' >/dev/null"
for t in "$out"/driver/tests/test-*; do
    [ -x "$t" ] || continue
    while read -r line; do
        case "$line" in
        "ok "*"# SKIP"*) echo "SKIP: ${line#ok }" ;;
        "ok "*) pass "driver: ${line#ok [0-9]* }" ;;
        "not ok "*) fail "driver: ${line#not ok [0-9]* }" ;;
        esac
    done < <(timeout 120 "$t" --tap 2>&1)
done

# 2. Guests, built from source now, under each accelerator.
make -s -C _qemu/tree/tests/revirt-guests O="$PWD/$out" ||
    fail "building the test guests"
ACCELS="revirt kvm,kernel-irqchip=off tcg"

# run_guest NAME ACCEL DONE-PATTERN TIMEOUT QEMU-ARGS...: serial to a file,
# stopped once DONE-PATTERN appears.
run_guest() {
    local name=$1 accel=$2 pattern=$3 limit=$4 log pid start
    shift 4
    log="$out/$name.${accel%%,*}.serial"
    : > "$log"
    start=$(date +%s%N)
    "$QEMU" -accel "$accel" -display none -nodefaults -serial "file:$log" \
        "$@" 2> "$out/$name.${accel%%,*}.stderr" &
    pid=$!
    for _ in $(seq $((limit * 10))); do
        grep -q "$pattern" "$log" && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    echo "$name under $accel: $(( ($(date +%s%N) - start) / 1000000 )) ms"
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    grep -q "$pattern" "$log"
}

bios_expected="revirt-test boot 00000001
ram sum 5ed48e00
ioapic version 00170020
rom read-only
pit ticks ok
triple fault
revirt-test boot 00000002
done"
for accel in $ACCELS; do
    check "bios guest completes under $accel" \
        run_guest bios "$accel" '^done' 60 -bios "$out/bios.bin"
    check "bios guest output under $accel is as expected" \
        test "$(cat "$out/bios.${accel%%,*}.serial")" = "$bios_expected"
done
for accel in kvm tcg; do
    check "bios guest: revirt and $accel agree" \
        cmp -s "$out/bios.revirt.serial" "$out/bios.$accel.serial"
done

for accel in $ACCELS; do
    check "SeaBIOS boots the boot sector under $accel" \
        run_guest bootsect "$accel" 'revirt boot sector ok' 120 \
        -drive "file=$out/bootsect.img,format=raw,if=ide"
done

# 3. Bad input: one clear error line and exit status 1.
bad_input() {
    local expect=$1 err rc
    shift
    err=$("$QEMU" -display none -nodefaults "$@" 2>&1 >/dev/null)
    rc=$?
    echo "  exit $rc: $err"
    [ $rc = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] &&
        printf '%s' "$err" | grep -q "$expect"
}
check "unknown driver= value is one error line, exit 1" \
    bad_input "revirt: unknown driver 'foo'" -accel revirt,driver=foo
check "a driver that cannot be opened is one error line, exit 1" \
    bad_input "revirt: cannot open the native driver" \
    -accel revirt,driver=native
check "-accel help lists revirt" \
    sh -c "'$QEMU' -accel help | grep -qx revirt"

# 4. The series: patches/ is what the sources give, and what was built.
regen=$out/patches
scripts/make-patches.sh "$regen"
check "patches/ is regenerated from the sources without drift" \
    diff -r patches "$regen"
am_check() {
    local tree=$out/am-tree
    rm -rf "$tree"
    revirt_git clone -q --shared --no-checkout _qemu/tree "$tree" &&
        revirt_git -C "$tree" checkout -q --detach "$REVIRT_BASE_TAG" &&
        revirt_git -C "$tree" am -q "$PWD"/patches/*.patch &&
        [ -z "$(git -C _qemu/tree status --porcelain)" ] &&
        [ "$(git -C "$tree" rev-parse HEAD^{tree})" = \
          "$(git -C _qemu/tree rev-parse HEAD^{tree})" ]
}
check "git am of patches/ on the pristine source gives the built tree" am_check

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
