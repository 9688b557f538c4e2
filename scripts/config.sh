# Settings shared by the scripts.  Sourced, not run.

# Debian 12's qemu source package; empty means the newest bookworm offers.
REVIRT_QEMU_DEB_VERSION=${REVIRT_QEMU_DEB_VERSION-}

# What building QEMU, building the test guests and running the tests need.
REVIRT_APT_PACKAGES="build-essential ccache dpkg-dev git meson ninja-build \
pkg-config python3 python3-venv libglib2.0-dev libpixman-1-dev zlib1g-dev \
libfdt-dev libslirp-dev seabios ipxe-qemu qemu-system-data"

# The commit in _qemu/tree that holds the pristine Debian source.
REVIRT_BASE_TAG=debian-base

# git with a fixed identity, dates and abbreviation length (git otherwise
# picks the length from how many objects happen to be packed), so that the
# pristine commit and the series are the same on every machine.
revirt_git() {
    GIT_AUTHOR_NAME="revirt developers" GIT_AUTHOR_EMAIL="revirt@invalid" \
    GIT_COMMITTER_NAME="revirt developers" GIT_COMMITTER_EMAIL="revirt@invalid" \
    GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
    git -c init.defaultBranch=main -c advice.detachedHead=false -c core.abbrev=8 "$@"
}

# Extra configure options and the ninja targets the tests need (qemu-img
# makes the qcow2 disks that savevm writes to).
REVIRT_CONFIGURE_EXTRA="--enable-revirt --enable-tools"
REVIRT_NINJA_TARGETS="qemu-system-x86_64 qemu-img tests/qtest/revirt-test \
tests/revirt-guests/bios.bin"

# Where QEMU finds firmware: Debian's seabios, ipxe-qemu, qemu-system-data.
REVIRT_FIRMWARE_PATH=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu

# Debian 12's libvirt source package; empty means the newest bookworm offers.
REVIRT_LIBVIRT_DEB_VERSION=${REVIRT_LIBVIRT_DEB_VERSION-}

# What the minimal libvirt build (QEMU driver, libvirtd, virsh, the
# AppArmor helper) needs beyond REVIRT_APT_PACKAGES; Debian's QEMU is the
# test's "QEMU without revirt".
REVIRT_LIBVIRT_APT_PACKAGES="libxml2-dev libxml2-utils xsltproc libgnutls28-dev \
libtirpc-dev libyajl-dev libapparmor-dev qemu-system-x86"

# Where the libvirt build installs itself: its state, run and config
# directories live under it too, so it never touches a system libvirt.
REVIRT_LIBVIRT_PREFIX=_libvirt/prefix
