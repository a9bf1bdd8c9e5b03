#!/usr/bin/env bash
# FUSE over io_uring (--io-uring): the daemon turns the fuse module's enable_uring parameter on,
# the kernel sends requests through the rings (the daemon's count of requests served there
# covers what the test did), passthrough still keeps READ and WRITE out of the daemon, parallel
# readers on both CPUs see the right bytes, a blocked request does not stop its queue, a
# caught signal interrupts a request that waits for a git server, and a killed daemon leaves a
# mount that `unmount` cleans. The parameter is restored at the end.
source "$(dirname "$0")/lib.sh"
preflight
PARAM=/sys/module/fuse/parameters/enable_uring
[ -f "$PARAM" ] || { echo "FAIL: this kernel has no FUSE over io_uring ($PARAM missing)"; exit 1; }
ORIGINAL=$(cat "$PARAM")
trap 'echo "$ORIGINAL" > "$PARAM"; cleanup' EXIT
new_workdir
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L/tree" "$M"
dd if=/dev/urandom of="$L/data.bin" bs=1M count=4 status=none
for i in $(seq 400); do head -c $((i * 37)) /dev/urandom > "$L/tree/f$i"; done
served() { sed -n 's/.*requests=\([0-9]*\).*served over io_uring.*/\1/p' "$1" | tail -1; }

echo N > "$PARAM"
mount_scorpio "$M" "$WORK/uring.log" --upper "$UP" --lower "$L" --io-uring --log-level trace || exit 1
expect_eq "the daemon turned enable_uring on" "Y" "$(cat "$PARAM")"
check "queues were registered" grep -q "io_uring queues started" "$WORK/uring.log"
check "passthrough I/O through the rings" sh -c "
    cat '$M/data.bin' > /dev/null &&
    dd if=/dev/urandom of='$M/written.bin' bs=64k count=16 status=none conv=fsync &&
    cmp '$M/written.bin' '$UP/written.bin' && echo appended >> '$M/data.bin'"
expect_eq "the copy-up has the append" "$(( 4*1024*1024 + 9 ))" "$(stat -c %s "$UP/data.bin")"
# Counted now: the parallel readers below may race a page-cache prefill (two first opens of
# one small file at once), and the later open then READs, as it would over /dev/fuse.
expect_eq "no READ requests with passthrough" "0" "$(count_ops READ "$WORK/uring.log")"
expect_eq "no WRITE requests with passthrough" "0" "$(count_ops WRITE "$WORK/uring.log")"
# Readers pinned to each CPU, so both queues serve; every byte compared with the lower.
check "parallel readers on every CPU read the right bytes" sh -c "
    for cpu in \$(seq 0 \$((\$(nproc) - 1))); do
        (cd '$L/tree' && for f in *; do taskset -c \$cpu cmp \"\$f\" '$M/tree/'\"\$f\" || exit 1; done) &
    done
    for job in \$(jobs -p); do wait \$job || exit 1; done"
check "create, rename and remove through the rings" sh -c "
    mkdir '$M/new' && echo one > '$M/new/a' && mv '$M/new/a' '$M/new/b' &&
    test \"\$(cat '$M/new/b')\" = one && rm '$M/new/b' && rmdir '$M/new' && ! test -e '$M/new'"
# An fsync is a request that may block: it passes the queue's turn on. A second writer on the
# same CPU must still be served meanwhile (the queue has two threads).
check "two writers on one CPU with fsync" sh -c "
    taskset -c 0 dd if=/dev/zero of='$M/w1' bs=1M count=8 conv=fsync status=none &
    taskset -c 0 dd if=/dev/zero of='$M/w2' bs=1M count=8 conv=fsync status=none &
    wait && test \$(stat -c %s '$M/w1') = 8388608 && test \$(stat -c %s '$M/w2') = 8388608"
unmount_scorpio "$M"
check "at least 1200 requests came over io_uring" test "$(served "$WORK/uring.log")" -ge 1200

# INTERRUPT comes through /dev/fuse even for a request that came over a ring: a program that
# catches a signal while its open waits for a git server that never answers gets EINTR at
# once, not after --fetch-timeout.
R=$WORK/repo PORT=$((20000 + RANDOM % 20000))
mkdir -p "$R/d" && for i in 1 2 3; do echo "file $i" > "$R/d/f$i.txt"; done
git -C "$R" init -q -b main . && git -C "$R" add -A && git -C "$R" -c user.email=t@e -c user.name=t commit -qm t
git -C "$R" config uploadpack.allowFilter true && git -C "$R" config uploadpack.allowAnySHA1InWant true
git -C "$R" config transfer.advertiseObjectInfo true
git daemon --reuseaddr --export-all --listen=127.0.0.1 --port=$PORT --base-path="$WORK" "$WORK" >/dev/null 2>&1 &
GITD=$!; PIDS+=("$GITD")
for _ in $(seq 50); do git ls-remote "git://127.0.0.1:$PORT/repo" >/dev/null 2>&1 && break; sleep 0.1; done
mount_scorpio "$M" "$WORK/warm.log" --repo "git://127.0.0.1:$PORT/repo" --cache "$WORK/cache" --upper "$WORK/up-warm" --prefetch none || exit 1
ls -l "$M/d" > /dev/null  # trees and sizes cached; no blob
unmount_scorpio "$M"
kill -9 "$GITD" 2>/dev/null; pkill -9 -f -- "--port=$PORT " 2>/dev/null; wait "$GITD" 2>/dev/null
mount_scorpio "$M" "$WORK/intr.log" --repo "git://127.0.0.1:$PORT/repo" --cache "$WORK/cache" --upper "$WORK/up-intr" \
    --fetch-timeout 5 --io-uring --threads 12 --log-level debug || exit 1
QUEUES=$(( $(sed 's/.*-//' /sys/devices/system/cpu/possible) + 1 ))
PER_QUEUE=$(( 12 / QUEUES > 2 ? 12 / QUEUES : 2 ))
check "--threads 12 gives each of $QUEUES queues $PER_QUEUE threads and $((PER_QUEUE + 2)) entries" \
    grep -q "entries=$((PER_QUEUE + 2)) .*queues=$QUEUES threads=$PER_QUEUE .*io_uring queues started" "$WORK/intr.log"
start_stalled_server "$PORT"
sleep 0.3
start=$(date +%s%N)
outcome=$(open_with_alarm "$M/d/f2.txt")
took=$(( ($(date +%s%N) - start) / 1000000 ))
check "a caught signal interrupts an open waiting over io_uring (${took} ms, $outcome)" \
    sh -c "test '$outcome' = interrupted && test $took -lt 2500"
unmount_scorpio "$M"
check "the interrupted wait was logged" grep -q "request interrupted while waiting for a fetch" "$WORK/intr.log"
check "that mount served over io_uring" grep -q "served over io_uring" "$WORK/intr.log"

# A killed daemon: the rings go with it, and `unmount` cleans the stale mount point.
mount_scorpio "$M" "$WORK/kill.log" --upper "$UP" --lower "$L" --io-uring || exit 1
check "mount serves before the kill" cmp "$L/tree/f7" "$M/tree/f7"
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
check "unmount cleans the dead daemon's mount" "$BIN" unmount "$M"
check "the mount point is free again" sh -c "! grep -q ' $M fuse' /proc/mounts"
finish
