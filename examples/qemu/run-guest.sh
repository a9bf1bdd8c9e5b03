#!/usr/bin/env bash
# Boots the guest built by build-guest.sh against a vhost-user virtio-fs backend listening on
# SOCKET (scorpio-provider --virtiofs SOCKET ..., or virtiofsd), prints the serial console to
# stdout, and exits with the exit code of the guest script.
#
# Usage: examples/qemu/run-guest.sh OUTDIR SOCKET [TIMEOUT_SECONDS]
#
#   OUTDIR           holds vmlinuz and initramfs.cpio.gz (from build-guest.sh)
#   SOCKET           the backend's vhost-user socket; it must exist already
#   TIMEOUT_SECONDS  QEMU is killed after this long (default 300)
#
# Environment:
#   GUEST_MEMORY   guest RAM, shared with the backend through a memfd (default 1G)
#   GUEST_SMP      virtual CPUs (default 1)
#   GUEST_REQUEST_QUEUES  request queues of the device (default 1; the backend needs --queues N)
#   GUEST_APPEND   extra kernel parameters, e.g. "scorpio.tag=other" (the device tag stays ws)
#
# Exit status: the guest script's own code when the guest printed SCORPIO-GUEST-EXIT=<rc>;
# 124 when the timeout hit, 125 when QEMU ended without the marker (it failed to start, the
# kernel panicked, or the backend went away), 126 when the guest could not mount the share.
#
# TCG only: KVM hangs in early boot on the machines this project runs on.
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
[ $# -ge 2 ] && [ $# -le 3 ] || { usage >&2; exit 64; }
OUT=$1 SOCKET=$2 TIMEOUT=${3:-300}
MEM=${GUEST_MEMORY:-1G}
for f in "$OUT/vmlinuz" "$OUT/initramfs.cpio.gz"; do
    [ -f "$f" ] || { echo "run-guest: $f missing (run build-guest.sh $OUT first)" >&2; exit 64; }
done
[ -S "$SOCKET" ] || { echo "run-guest: $SOCKET is not a socket (start the backend first)" >&2; exit 64; }
command -v qemu-system-x86_64 >/dev/null || { echo "run-guest: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 64; }

CONSOLE=$(mktemp /tmp/scorpio-guest-console.XXXXXX)
trap 'rm -f "$CONSOLE"' EXIT

# `quiet` keeps kernel messages below error level off the console, so they do not cut into
# the guest script's output lines.
# stdin is /dev/null: with -nographic QEMU would otherwise put a terminal into raw mode and
# leave it so when the timeout kills it.
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
    -accel tcg -smp "${GUEST_SMP:-1}" -m "$MEM" -nographic -no-reboot -nic none \
    -kernel "$OUT/vmlinuz" -initrd "$OUT/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet ${GUEST_APPEND:-}" \
    -object memory-backend-memfd,id=mem,size="$MEM",share=on -numa node,memdev=mem \
    -chardev socket,id=char0,path="$SOCKET" \
    -device vhost-user-fs-pci,chardev=char0,tag=ws,num-request-queues="${GUEST_REQUEST_QUEUES:-1}" \
    </dev/null 2>&1 | tee "$CONSOLE"
qemu_rc=${PIPESTATUS[0]}

marker=$(tr -d '\r' <"$CONSOLE" | grep -o 'SCORPIO-GUEST-EXIT=[0-9a-z-]*' | tail -1)
case $marker in
    SCORPIO-GUEST-EXIT=mount-failed) echo "run-guest: the guest could not mount the virtio-fs share" >&2; exit 126 ;;
    SCORPIO-GUEST-EXIT=[0-9]*) exit "${marker#SCORPIO-GUEST-EXIT=}" ;;
esac
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
    echo "run-guest: timed out after $TIMEOUT s" >&2
    exit 124
fi
echo "run-guest: QEMU exited ($qemu_rc) without SCORPIO-GUEST-EXIT" >&2
exit 125
