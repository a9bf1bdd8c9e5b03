#!/usr/bin/env bash
# Bad invocations get one clear line and the documented exit code; the daemon mode returns only
# once the mount answers; SIGTERM and umount(8) end the daemon cleanly.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L/sub" "$M"
echo hi > "$L/f"
status_and_message() { "$BIN" "$@" 2>"$WORK/err" >/dev/null; echo "$? $(wc -l < "$WORK/err")"; }
expect_eq "missing mount point: exit 2, one line" "2 1" "$(status_and_message --mount "$WORK/nope" --upper "$UP" --lower "$L")"
expect_eq "missing lower: exit 2" "2 1" "$(status_and_message --mount "$M" --upper "$UP" --lower "$WORK/nolower")"
touch "$WORK/notdir"
expect_eq "lower is a file: exit 2" "2 1" "$(status_and_message --mount "$M" --upper "$UP" --lower "$WORK/notdir")"
expect_eq "upper inside lower: exit 2" "2 1" "$(status_and_message --mount "$M" --upper "$L/sub/up" --lower "$L")"
check "upper-inside-lower message names both" grep -q "inside lower" "$WORK/err"
check "a refused upper inside a lower is not created there" test ! -e "$L/sub/up"
mkdir -p "$WORK/full" && touch "$WORK/full/x"
expect_eq "non-empty mount point: exit 2" "2 1" "$(status_and_message --mount "$WORK/full" --upper "$UP" --lower "$L")"
expect_eq "with --log-file the error still reaches the user's stderr, one line" "2 1" "$(status_and_message --mount "$WORK/nope" --upper "$UP" --lower "$L" --log-file "$WORK/with-log.log")"
check "... and the log file has it too" grep -q "mount point $WORK/nope does not exist" "$WORK/with-log.log"
expect_eq "missing --lower: exit 64, one line" "64 1" "$(status_and_message --mount "$M" --upper "$UP")"
expect_eq "unknown option: exit 64, one line" "64 1" "$(status_and_message --mount "$M" --upper "$UP" --lower "$L" --no-such-flag)"
check "unknown option message names it" grep -q -- "--no-such-flag" "$WORK/err"
expect_eq "bad option value: exit 64, one line" "64 1" "$(status_and_message --mount "$M" --upper "$UP" --lower "$L" --threads many)"
check "--help still prints the usage" sh -c "'$BIN' --help | grep -q -- '--mount'"
expect_eq "unmount of a non-mount: exit 2" "2" "$("$BIN" unmount "$M" 2>/dev/null; echo $?)"
mv /dev/fuse /dev/fuse.hidden-by-test
expect_eq "no /dev/fuse: exit 3" "3 1" "$(status_and_message --mount "$M" --upper "$UP" --lower "$L")"
mv /dev/fuse.hidden-by-test /dev/fuse
check "no /dev/fuse message" grep -q "/dev/fuse" "$WORK/err"

# Daemon mode: returns when ready, so the next command sees the mount.
MOUNTS+=("$M")
check "daemon mode: 'scorpio-provider ... && cat MNT/f' works" sh -c "'$BIN' --mount '$M' --upper '$UP' --lower '$L' && test \"\$(cat '$M/f')\" = hi"
PID=$(pgrep -f -- "--mount $M " | head -1)
check "daemon is running" test -n "$PID"
expect_eq "already mounted: exit 2" "2 1" "$(status_and_message --mount "$M" --upper "$UP" --lower "$L")"
check "umount(8) ends the daemon" sh -c "umount '$M' && for i in \$(seq 50); do kill -0 $PID 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
"$BIN" --mount "$M" --upper "$UP" --lower "$L" || echo "FAIL remount"
PID=$(pgrep -f -- "--mount $M " | head -1)
kill -TERM "$PID"
check "SIGTERM unmounts and exits" sh -c "for i in \$(seq 50); do kill -0 $PID 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
check "nothing left mounted after SIGTERM" sh -c "! grep -q ' $M ' /proc/mounts"
"$BIN" --mount "$M" --upper "$UP" --lower "$L" || echo "FAIL remount"
PID=$(pgrep -f -- "--mount $M " | head -1)
check "fusermount3 -u ends the daemon" sh -c "fusermount3 -u '$M' && for i in \$(seq 50); do kill -0 $PID 2>/dev/null || exit 0; sleep 0.1; done; exit 1"

# --no-xattr: extended attributes are refused (the kernel stops asking), files work as before.
"$BIN" --mount "$M" --upper "$UP" --lower "$L" --no-xattr || echo "FAIL mount --no-xattr"
check "--no-xattr: setfattr is refused" sh -c "! setfattr -n user.test -v 1 '$M/f' 2>'$WORK/xattr.err' && grep -q 'not supported' '$WORK/xattr.err'"
check "--no-xattr: getfattr is refused" sh -c "! getfattr -n user.test '$M/f' 2>/dev/null"
check "--no-xattr: writes still work" sh -c "echo changed >> '$M/f' && grep -q changed '$M/f'"
check "--no-xattr: the daemon restarted with it keeps it" sh -c "pgrep -af -- '--mount $M ' | grep -q -- --no-xattr"
"$BIN" unmount "$M"

# statfs reports the upper's filesystem: an upper on a 7 MiB tmpfs, the lower on the disk.
mkdir -p "$WORK/tmpfs-upper"
mount -t tmpfs -o size=7m scorpio-test-upper "$WORK/tmpfs-upper" && MOUNTS+=("$WORK/tmpfs-upper")
mount_scorpio "$M" "$WORK/statfs.log" --upper "$WORK/tmpfs-upper/up" --lower "$L" || exit 1
expect_eq "statfs of the mount is the upper's filesystem (blocks, block size; FUSE sets its own type)" "$(stat -f -c '%b %S' "$WORK/tmpfs-upper")" "$(stat -f -c '%b %S' "$M")"
check "... not the lower's" test "$(stat -f -c '%b' "$L")" != "$(stat -f -c '%b' "$M")"
# A full upper: copying up a lower file bigger than the free space fails with ENOSPC and leaves
# nothing behind; the file still reads as the lower's, and the mount goes on working.
head -c 10M /dev/urandom > "$L/big10m"
check "full upper: a copy-up that does not fit fails with ENOSPC" sh -c "! echo more 2>'$WORK/full.err' >> '$M/big10m' && grep -q 'No space left on device' '$WORK/full.err'"
expect_eq "full upper: no partial copy is left in the upper" "" "$(find "$WORK/tmpfs-upper/up" -mindepth 1)"
check "full upper: ... nor space held by one (under 1 MiB used)" test "$(df --output=used -k "$WORK/tmpfs-upper" | tail -1)" -lt 1024
check "full upper: the file still reads as the lower's" cmp "$M/big10m" "$L/big10m"
check "full upper: filling it with a new file fails with ENOSPC" sh -c "! dd if=/dev/zero of='$M/fill' bs=1M count=20 2>'$WORK/fill.err' && grep -q 'No space left on device' '$WORK/fill.err'"
rm -f "$M/fill"
check "full upper: after freeing space, small writes work again" sh -c "echo hello > '$M/after' && grep -q hello '$M/after'"
unmount_scorpio "$M"
umount "$WORK/tmpfs-upper"
finish
