#!/bin/bash
# Turn the sources into the patch series: one commit per series/NN-*.msg,
# carrying the repo paths listed in NN-*.files and the changes to QEMU's
# own files in NN-*.diff, on top of the pristine Debian source; then
# "git format-patch" them into the directory given (default: patches/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/config.sh

out=${1:-patches}
[ -e _qemu/tree/.git ] || scripts/prepare-tree.sh >/dev/null

work=_qemu/make-patches
rm -rf "$work"
revirt_git clone -q --shared --no-checkout _qemu/tree "$work"
revirt_git -C "$work" checkout -q --detach "$REVIRT_BASE_TAG"
for msg in series/*.msg; do
    commit=${msg%.msg}
    while read -r path; do
        [ -n "$path" ] && cp -r --parents "$path" "$work/"
    done < "$commit.files"
    if [ -e "$commit.diff" ]; then
        revirt_git -C "$work" apply "$PWD/$commit.diff"
    fi
    revirt_git -C "$work" add -A
    revirt_git -C "$work" commit -q -F "$PWD/$msg"
done

rm -rf "$out"
mkdir -p "$out"
revirt_git -C "$work" format-patch -q --zero-commit --no-signature \
    -o "$PWD/$out" "$REVIRT_BASE_TAG..HEAD"
rm -rf "$work"
