#!/bin/bash
# Make _qemu/tree the pristine Debian QEMU source with patches/ applied by
# "git am".  The tree is moved with "git checkout", so files the series does
# not change keep their timestamps and rebuilds stay incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

[ -e _qemu/src/.revirt-version ] || scripts/fetch-qemu.sh

if ! git -C _qemu/tree rev-parse -q --verify "$REVIRT_BASE_TAG" >/dev/null 2>&1; then
    rm -rf _qemu/tree
    cp -a _qemu/src _qemu/tree
    rm -f _qemu/tree/.revirt-version
    revirt_git -C _qemu/tree init -q
    revirt_git -C _qemu/tree add -A -f
    revirt_git -C _qemu/tree commit -q -m "$(cat _qemu/src/.revirt-version)"
    revirt_git -C _qemu/tree tag "$REVIRT_BASE_TAG"
fi

rm -rf _qemu/am
revirt_git clone -q --shared --no-checkout _qemu/tree _qemu/am
revirt_git -C _qemu/am checkout -q --detach "$REVIRT_BASE_TAG"
if ls patches/*.patch >/dev/null 2>&1; then
    if ! revirt_git -C _qemu/am am -q "$PWD"/patches/*.patch; then
        echo "prepare-tree: patches/ does not apply to $(cat _qemu/src/.revirt-version)" >&2
        exit 1
    fi
fi
revirt_git -C _qemu/tree fetch -q ../am HEAD
revirt_git -C _qemu/tree checkout -q -f --detach FETCH_HEAD
rm -rf _qemu/am
