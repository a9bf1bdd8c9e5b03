#!/usr/bin/env bash
# A normal user mounts through fusermount3 (libfuse's setuid helper): reading, copy-up,
# whiteouts (mknod 0/0 needs no privilege since Linux 5.8) and user.overlay.opaque markers
# work without root; passthrough falls back to READ/WRITE (BACKING_OPEN needs CAP_SYS_ADMIN).
source "$(dirname "$0")/lib.sh"
preflight
command -v fusermount3 >/dev/null || { echo "FAIL: fusermount3 (package fuse3) is missing"; exit 1; }
new_workdir
# Debian's udev rule makes /dev/fuse 0666 so that users can mount; some containers create it
# 0600. Give it the usual mode for this test and put the old one back afterwards.
FUSE_MODE=$(stat -c %a /dev/fuse)
chmod 666 /dev/fuse
trap 'chmod "$FUSE_MODE" /dev/fuse; cleanup' EXIT
chmod 755 "$WORK"
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L/dir" "$M" "$UP"
echo lower > "$L/file.txt"; echo x > "$L/dir/x"
chmod 777 "$L/dir"
mkdir -p "$WORK/logs"; chown nobody:nogroup "$WORK/logs"
cp "$BIN" "$WORK/scorpio-provider"; chmod 755 "$WORK/scorpio-provider"
chown nobody:nogroup "$M" "$UP"
AS_USER="setpriv --reuid=nobody --regid=nogroup --clear-groups"
mkdir -p "$WORK/root-only"  # root's, mode 755: fusermount3 refuses a user's mount there
expect_eq "a mount fusermount3 refuses: exit 3, one line" "3 1" \
    "$($AS_USER "$WORK/scorpio-provider" --mount "$WORK/root-only" --upper "$UP" --lower "$L" 2>"$WORK/refused.err" >/dev/null; echo "$? $(wc -l < "$WORK/refused.err")")"
check "... with fusermount3's reason" grep -q "fusermount3.*mountpoint" "$WORK/refused.err"
MOUNTS+=("$M")
check "a normal user mounts with fusermount3" $AS_USER "$WORK/scorpio-provider" --mount "$M" --upper "$UP" --lower "$L" --log-file "$WORK/logs/user.log"
check "mount is owned by the user's fusermount3" grep -q " $M fuse.scorpio " /proc/mounts
expect_eq "reads a lower file" "lower" "$($AS_USER cat "$M/file.txt")"
check "writes a new file" $AS_USER sh -c "echo new > '$M/new.txt'"
expect_eq "new file in upper owned by the user" "nobody" "$(stat -c %U "$UP/new.txt")"
check "copy-up of a lower file the user may not write fails with EACCES" sh -c "! $AS_USER sh -c \"echo more >> '$M/file.txt'\" 2>/dev/null"
check "unlink of a lower file in a user-writable dir leaves a whiteout" sh -c "$AS_USER rm -f '$M/dir/x' && test -c '$UP/dir/x'"
check "rmdir + mkdir gives a user.overlay.opaque directory" sh -c "$AS_USER rmdir '$M/dir' && $AS_USER mkdir '$M/dir' && getfattr --only-values -n user.overlay.opaque '$UP/dir' | grep -q y"
# O_TMPFILE: the daemon links the unnamed file by its /proc/self/fd path (linkat with
# AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH).
expect_eq "an O_TMPFILE file is linked into place" "unnamed" "$($AS_USER /usr/bin/python3 - "$M/dir" <<'PY' 2>&1
import ctypes, os, sys
fd = os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o644)
os.write(fd, b"unnamed")
libc = ctypes.CDLL(None, use_errno=True)
if libc.linkat(-100, f"/proc/self/fd/{fd}".encode(), -100, f"{sys.argv[1]}/tmp".encode(), 0x400) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
print(open(f"{sys.argv[1]}/tmp").read())
PY
)"
expect_eq "... in the upper, the user's" "unnamed nobody" "$(cat "$UP/dir/tmp") $(stat -c %U "$UP/dir/tmp")"
check "the user unmounts with scorpio-provider unmount" $AS_USER "$WORK/scorpio-provider" unmount "$M"
check "nothing left mounted" sh -c "! grep -q ' $M ' /proc/mounts"
# With --writeback-cache, write-only opens get descriptors that can read; a file the user may
# only write (mode 0200) still opens write-only, so it can be rewritten (an append, which makes
# the kernel read the last page first, fails: the daemon may not read it either).
check "a normal user mounts with --writeback-cache" $AS_USER "$WORK/scorpio-provider" --mount "$M" --upper "$UP" --lower "$L" --writeback-cache --log-file "$WORK/logs/user-wb.log"
check "writeback cache: a write-only file of the user's opens and is rewritten" $AS_USER sh -c "echo one > '$M/wonly' && chmod 200 '$M/wonly' && echo two > '$M/wonly'"
check "... with the new content" sh -c "sync; grep -qx two '$UP/wonly'"
check "the user unmounts the writeback-cache mount" $AS_USER "$WORK/scorpio-provider" unmount "$M"
finish
