#!/bin/bash
# Make _libvirt/tree the pristine Debian libvirt source with
# libvirt/patches/ applied by "git am".  As scripts/prepare-tree.sh does for
# QEMU, the tree is moved with "git checkout", so rebuilds stay incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

[ -e _libvirt/src/.revirt-version ] || scripts/fetch-libvirt.sh

if ! git -C _libvirt/tree rev-parse -q --verify "$REVIRT_BASE_TAG" >/dev/null 2>&1; then
    rm -rf _libvirt/tree
    cp -a _libvirt/src _libvirt/tree
    rm -f _libvirt/tree/.revirt-version
    revirt_git -C _libvirt/tree init -q
    revirt_git -C _libvirt/tree add -A -f
    revirt_git -C _libvirt/tree commit -q -m "$(cat _libvirt/src/.revirt-version)"
    revirt_git -C _libvirt/tree tag "$REVIRT_BASE_TAG"
fi

rm -rf _libvirt/am
revirt_git clone -q --shared --no-checkout _libvirt/tree _libvirt/am
revirt_git -C _libvirt/am checkout -q --detach "$REVIRT_BASE_TAG"
if ls libvirt/patches/*.patch >/dev/null 2>&1; then
    if ! revirt_git -C _libvirt/am am -q "$PWD"/libvirt/patches/*.patch; then
        echo "prepare-libvirt-tree: libvirt/patches/ does not apply to $(cat _libvirt/src/.revirt-version)" >&2
        exit 1
    fi
fi
revirt_git -C _libvirt/tree fetch -q ../am HEAD
revirt_git -C _libvirt/tree checkout -q -f --detach FETCH_HEAD
rm -rf _libvirt/am
