#!/usr/bin/env bash
# FUSE passthrough: after reading and writing a passthrough-opened file, the daemon saw no
# READ or WRITE request (it logs every request at trace level). The same I/O with
# --no-passthrough must produce READ and WRITE requests, which shows the check can fail.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L=$WORK/lower UP=$WORK/upper M=$WORK/mnt
mkdir -p "$L" "$M"
dd if=/dev/urandom of="$L/data.bin" bs=1M count=4 status=none
do_io() {
    cat "$M/data.bin" > /dev/null &&
    dd if=/dev/urandom of="$M/written.bin" bs=64k count=16 status=none conv=fsync &&
    cat "$M/written.bin" > /dev/null &&
    echo appended >> "$M/data.bin"
}

mount_scorpio "$M" "$WORK/pt.log" --upper "$UP" --lower "$L" --log-level trace || exit 1
check "I/O through passthrough mount" do_io
expect_eq "upper has the appended copy-up" "$(( 4*1024*1024 + 9 ))" "$(stat -c %s "$UP/data.bin")"
unmount_scorpio "$M"
check "session negotiated passthrough" grep -q "passthrough=true" "$WORK/pt.log"
check "files were opened through the daemon" test "$(count_ops 'OPEN|CREATE' "$WORK/pt.log")" -ge 3
expect_eq "no READ requests with passthrough" "0" "$(count_ops READ "$WORK/pt.log")"
expect_eq "no WRITE requests with passthrough" "0" "$(count_ops WRITE "$WORK/pt.log")"

# The kernel passes an inode through to one backing file and fails every other open of it
# with EIO. A file made setgid while open for writing (passed through) still opens; while a
# reader holds a large lower file (passed through to the lower copy), an open for writing,
# which needs the upper copy, is refused with ETXTBSY and a log line, not EIO.
cp "$L/data.bin" "$L/held.bin"
mount_scorpio "$M" "$WORK/pt2.log" --upper "$UP" --lower "$L" || exit 1
expect_eq "an open of a file made setgid while open for writing works" "ok" "$(python3 - "$M/written.bin" <<'PY' 2>&1
import os, sys
w = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.fchmod(w, 0o2755)
with open(sys.argv[1], "rb") as f: f.read(3)
os.write(w, b"x"); os.close(w)
print("ok")
PY
)"
expect_eq "an open for writing while a reader passes through to the lower copy: ETXTBSY" "26 reads" "$(python3 - "$M/held.bin" <<'PY' 2>&1
import os, sys
r = os.open(sys.argv[1], os.O_RDONLY)
try:
    os.open(sys.argv[1], os.O_RDWR); print("opened")
except OSError as e:
    print(e.errno, "reads" if len(os.pread(r, 10, 0)) == 10 else "no read")
PY
)"
check "... said in the log, and no copy-up was made for it" sh -c "grep -q 'open refused while the file is open with passthrough' '$WORK/pt2.log' && test ! -e '$UP/held.bin'"
expect_eq "... and once the reader closed it opens" "ok" "$(python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_RDWR)); print("ok")' "$M/held.bin" 2>&1)"
unmount_scorpio "$M"

rm -rf "$UP"
mount_scorpio "$M" "$WORK/nopt.log" --upper "$UP" --lower "$L" --log-level trace --no-passthrough || exit 1
check "I/O without passthrough" do_io
unmount_scorpio "$M"
check "without passthrough the daemon serves READ" test "$(count_ops READ "$WORK/nopt.log")" -gt 0
check "without passthrough the daemon serves WRITE" test "$(count_ops WRITE "$WORK/nopt.log")" -gt 0
finish
