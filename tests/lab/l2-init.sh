#!/bin/sh
# /init of the L2 guest's initramfs (busybox): run the userspace check and
# power off.  The lab compares the CHECK lines with those of a twin case.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "L2-INIT start uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "INFO nproc=$(nproc) model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "INFO clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# The check prints "CHECK done" last; a guest that dies on the way never does.
/bin/l2-check
echo "L2-INIT poweroff uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
