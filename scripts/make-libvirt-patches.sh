#!/bin/bash
# Turn libvirt/series/ into the libvirt patch series: one commit per
# libvirt/series/NNNN-*.msg carrying the changes in NNNN-*.diff, on top of
# the pristine Debian libvirt source; then "git format-patch" them into the
# directory given (default: libvirt/patches/).  The QEMU series is made the
# same way by scripts/make-patches.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

out=${1:-libvirt/patches}
[ -e _libvirt/tree/.git ] || scripts/prepare-tree.sh libvirt >/dev/null

work=_libvirt/make-patches
rm -rf "$work"
revirt_git clone -q --shared --no-checkout _libvirt/tree "$work"
revirt_git -C "$work" checkout -q --detach "$REVIRT_BASE_TAG"
for msg in libvirt/series/*.msg; do
    commit=${msg%.msg}
    revirt_git -C "$work" apply "$PWD/$commit.diff"
    revirt_git -C "$work" add -A
    revirt_git -C "$work" commit -q -F "$PWD/$msg"
done

rm -rf "$out"
mkdir -p "$out"
revirt_git -C "$work" format-patch -q --zero-commit --no-signature \
    -o "$PWD/$out" "$REVIRT_BASE_TAG..HEAD"
rm -rf "$work"
