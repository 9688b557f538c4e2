#!/bin/bash
# Run every test: build QEMU with the series, the revirt-kvm driver's own
# tests, QEMU's revirt qtest (guests under -accel revirt / kvm / tcg, which
# must agree; bad input; a guest revirt cannot run), the check that
# patches/ matches the sources and the build and that each of its patches
# builds, libvirt with libvirt/patches/ running revirt, kvm and qemu
# domains, and the nested lab.
# Ends with "N passed, M failed, K skipped"; exits non-zero if anything
# failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/config.sh

scripts/build.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP: $*"; }
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
# tap NAME: count the TAP results on stdin as passes and failures.
tap() {
    local line what
    while read -r line; do
        # the description, without TAP's optional "- "
        what=${line#ok [0-9]* }
        what=${what#not ok [0-9]* }
        what=${what#- }
        case "$line" in
        "ok "*"# SKIP"*) skip "$1: $what" ;;
        "ok "*) pass "$1: $what" ;;
        "not ok "*) fail "$1: $what" ;;
        "# Start of"* | "# End of"*) ;;
        "# "*) echo "  $line" ;;
        esac
    done
}

QEMU=build/qemu-system-x86_64
out=build/revirt-tests
rm -rf "$out"
mkdir -p "$out"

# 1. The revirt-kvm driver on its own, without QEMU, and revirt.ko's
# plain-C parts (linux/tests: its instruction emulator and page walker).
check "the revirt-kvm driver and its tests build on their own" \
    sh -c "meson setup '$out/driver' subprojects/revirt >/dev/null &&
           ninja -C '$out/driver' >/dev/null"
for t in "$out"/driver/tests/test-* "$out"/driver/linux/tests/test-*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    tap driver < <(timeout 120 "$t" --tap 2>&1 ||
                   echo "not ok - $t exited with status $?")
done

# 2. QEMU's qtest for revirt: our guests and SeaBIOS under revirt, kvm and
# tcg, which must agree; bad -accel revirt options; a guest revirt cannot
# run.  The guests were built from source by build.sh.
tap qtest < <(cd build && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
              QTEST_QEMU_IMG=./qemu-img \
              REVIRT_GUESTS="$PWD/tests/revirt-guests" \
              timeout 900 tests/qtest/revirt-test --tap -k 2>&1 ||
              echo "not ok - revirt-test exited with status $?")
check "-accel help lists revirt" \
    sh -c "'$QEMU' -accel help | grep -qx revirt"

# 3. The series: patches/ is what the sources give, and what was built.
regen=$out/patches
scripts/make-patches.sh "$regen"
check "patches/ is regenerated from the sources without drift" \
    diff -r patches "$regen"
# am_check TREE PATCHES: git am of PATCHES on TREE's pristine commit gives
# exactly TREE, the tree that was built.
am_check() {
    local built=$1 patches=$2 tree=$out/am-tree
    rm -rf "$tree"
    revirt_git clone -q --shared --no-checkout "$built" "$tree" &&
        revirt_git -C "$tree" checkout -q --detach "$REVIRT_BASE_TAG" &&
        revirt_git -C "$tree" am -q "$PWD/$patches"/*.patch &&
        [ -z "$(git -C "$built" status --porcelain)" ] &&
        [ "$(git -C "$tree" rev-parse 'HEAD^{tree}')" = \
          "$(git -C "$built" rev-parse 'HEAD^{tree}')" ]
}
check "git am of patches/ on the pristine source gives the built tree" \
    am_check _qemu/tree patches

# 4. libvirt: Debian's libvirt 9.0 with libvirt/patches/, built minimally
# into _libvirt/prefix; its series checked like QEMU's; then libvirtd runs
# the bios guest as revirt, kvm and qemu domains (scripts/test-libvirt.sh).
libvirt_start=$SECONDS
if scripts/build-libvirt.sh > "$out/libvirt-build.log" 2>&1; then
    pass "libvirt with libvirt/patches/ builds ($(tail -n 1 "$out/libvirt-build.log"))"
    scripts/make-libvirt-patches.sh "$out/libvirt-patches"
    check "libvirt/patches/ is regenerated from libvirt/series/ without drift" \
        diff -r libvirt/patches "$out/libvirt-patches"
    check "git am of libvirt/patches/ on the pristine libvirt gives the built tree" \
        am_check _libvirt/tree libvirt/patches
    tap libvirt < <(timeout 900 scripts/test-libvirt.sh 2>&1 ||
                    echo "not ok - test-libvirt.sh exited with status $?")
else
    tail -n 20 "$out/libvirt-build.log"
    fail "libvirt with libvirt/patches/ builds (see $out/libvirt-build.log)"
fi
echo "libvirt: $((SECONDS - libvirt_start))s"

# 5. Each patch of the QEMU series builds on its own (QEMU's rule).
steps_start=$SECONDS
tap series < <(scripts/build-each-patch.sh 2>&1 ||
               echo "not ok - build-each-patch.sh exited with status $?")
echo "each patch built: $((SECONDS - steps_start))s"

# 6. The nested lab: Debian's Linux booting under revirt on real (nested)
# SVM, L0 being this QEMU under TCG (scripts/lab.sh): the case set
# "default" (revirt-kvm under kvm_amd, about 13-20 minutes), then "native"
# (revirt.ko in an L1 without kvm_amd, and Linux L2s on it against their
# kvm twins, about 10-12 minutes).  Each "LAB case="
# and "LAB driver" line counts; lab.sh exits 77 when this machine cannot
# run it.  REVIRT_LAB=0 skips it.
lab() {
    local set=$1 line rc
    if [ "${REVIRT_LAB:-1}" = 0 ]; then
        skip "lab $set: disabled by REVIRT_LAB=0"
        return
    fi
    # CI gives the whole run 90 minutes: each lab run gets what is left of
    # 80 (SECONDS counts from this script's start, the build included).
    echo "lab $set: LAB_TIMEOUT=$((80 * 60 - SECONDS))s"
    while read -r line; do
        echo "$line"
        case "$line" in
        "LAB case="*" result=pass"*) pass "lab: ${line#LAB }" ;;
        "LAB case="*" result=fail"*) fail "lab: ${line#LAB }" ;;
        "LAB driver "*" result=pass"*) pass "lab: ${line#LAB }" ;;
        "LAB driver "*" result=fail"*) fail "lab: ${line#LAB }" ;;
        "LAB driver "*" result=skip"*) skip "lab: ${line#LAB }" ;;
        "LAB skip reason="*) skip "lab: ${line#LAB skip reason=}" ;;
        "LAB exit "*)
            rc=${line#LAB exit }
            if [ "$rc" != 0 ] && [ "$rc" != 77 ] &&
               ! grep -q ' result=fail' "$out/lab-$set.txt"; then
                fail "lab $set: scripts/lab.sh exited with status $rc"
            fi ;;
        esac
    done < <(LAB_TIMEOUT=$((80 * 60 - SECONDS)) scripts/lab.sh "$set" 2>&1 |
             tee "$out/lab-$set.txt"; echo "LAB exit ${PIPESTATUS[0]}")
}
lab default
lab native

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
