#!/usr/bin/env bash
# SIGKILL of the daemon in the middle of writes: everything fsync acknowledged is in UPPER,
# `scorpio-provider unmount` cleans the stale mount point, and a new mount serves the data.
# Arguments are passed to both mounts (MountScriptTests runs it again with --no-open).
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L" "$M"
echo base > "$L/base.txt"
mount_scorpio "$M" "$WORK/daemon.log" --upper "$UP" --lower "$L" "$@" || exit 1
# A writer appends 4 KiB records and fsyncs each one, reporting the count it got acknowledged.
python3 - "$M/journal.bin" "$WORK/acked" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
n = 0
try:
    while True:
        os.write(fd, bytes([n % 256]) * 4096)
        os.fsync(fd)
        n += 1
        with open(sys.argv[2] + ".tmp", "w") as f: f.write(str(n))
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
except OSError:
    pass
PY
WRITER=$!
for _ in $(seq 100); do [ -f "$WORK/acked" ] && [ "$(cat "$WORK/acked")" -gt 50 ] && break; sleep 0.1; done
kill -9 "$DAEMON_PID"
wait "$WRITER" 2>/dev/null
ACKED=$(cat "$WORK/acked")
check "writer made progress before the kill" test "$ACKED" -gt 50
check "every fsync-acknowledged record is in UPPER" python3 -c "
import sys
data = open('$UP/journal.bin', 'rb').read()
acked = $ACKED
assert len(data) >= acked * 4096, (len(data), acked)
for i in range(acked):
    assert data[i*4096:(i+1)*4096] == bytes([i % 256]) * 4096, i
"
check "stale mount is reported" sh -c "! stat '$M' >/dev/null 2>&1"
check "scorpio-provider unmount cleans the stale mount" "$BIN" unmount "$M"
check "mount point is free again" sh -c "! grep -q ' $M ' /proc/mounts"
mount_scorpio "$M" "$WORK/daemon2.log" --upper "$UP" --lower "$L" "$@" || exit 1
check "remount serves the journal" test "$(stat -c %s "$M/journal.bin")" -ge $((ACKED * 4096))
expect_eq "remount serves lower files" "base" "$(cat "$M/base.txt")"
unmount_scorpio "$M"
finish
