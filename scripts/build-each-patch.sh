#!/bin/bash
# QEMU's rule: every patch of the series builds on its own.  Check out
# _qemu/tree at each patch in turn and build it in build-steps/, then put
# the tree back at the whole series.  Prints TAP, one line per patch.
#
# The tree is checked out in place, so between patches ninja rebuilds only
# what a patch changed; the patch that adds the revirt option changes the
# configuration, which costs a full build.  build-steps/ sits beside
# build/: with ccache (CC, as in build.sh) the patches after the one that
# adds the option hit the objects build.sh compiled.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/config.sh

export CC="ccache cc" CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
tree=_qemu/tree
steps=build-steps
head=$(git -C "$tree" rev-parse HEAD)
trap 'revirt_git -C "$tree" checkout -q -f --detach "$head"' EXIT

# build_step ARGS TARGETS: configure build-steps/ with ARGS unless it was
# already, and build TARGETS.
build_step() {
    if [ ! -e "$steps/build.ninja" ] ||
       [ "$(cat "$steps/revirt-configure-args.txt" 2>/dev/null)" != "CC=$CC $1" ]; then
        rm -f "$steps/revirt-configure-args.txt"
        # shellcheck disable=SC2086
        (cd "$steps" && "../$tree/configure" $1) || return 1
        echo "CC=$CC $1" > "$steps/revirt-configure-args.txt"
    fi
    # shellcheck disable=SC2086
    ninja -C "$steps" $2
}

mkdir -p "$steps"
n=0
for commit in $(git -C "$tree" rev-list --reverse "$REVIRT_BASE_TAG..$head"); do
    n=$((n + 1))
    subject=$(git -C "$tree" log -1 --format=%s "$commit")
    revirt_git -C "$tree" checkout -q -f --detach "$commit"
    # Before the patch that adds the option, configure knows no revirt.
    extra="--enable-tools"
    grep -q "option('revirt'" "$tree/meson_options.txt" && extra="$extra --enable-revirt"
    args="--target-list=x86_64-softmmu --without-default-features \
--enable-kvm --enable-tcg $extra --firmwarepath=$REVIRT_FIRMWARE_PATH --disable-docs"
    # Only the targets this patch has.
    targets="qemu-system-x86_64 qemu-img"
    [ -e "$tree/tests/qtest/revirt-test.c" ] && targets="$targets tests/qtest/revirt-test"
    [ -e "$tree/tests/revirt-guests/bios.S" ] && targets="$targets tests/revirt-guests/bios.bin"
    log=$steps/patch-$n.log
    build_step "$args" "$targets" > "$log" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then
        echo "ok $n - patch $n builds on its own: $subject"
    else
        echo "not ok $n - patch $n builds on its own: $subject (see $log)"
        tail -n 15 "$log" | sed 's/^/# /'
    fi
done
