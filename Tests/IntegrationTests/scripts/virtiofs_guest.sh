#!/usr/bin/env bash
# The overlay served to a QEMU guest over vhost-user virtio-fs (TCG; a busybox guest built by
# examples/qemu/build-guest.sh): the guest walks and checksums the whole lower tree, changes it
# (create, write, append, rename, delete, symlink, delete a lower file and a lower directory),
# writes a 100 MiB file and checksums it again after dropping its page cache. The host then finds
# the changes in UPPER as files and whiteouts. With --persist one backend serves two guests in a
# row, the second sees the first one's changes, and SIGTERM stops it.
#
# VIRTIOFS_BACKEND=scorpio (default) runs $BIN --virtiofs; VIRTIOFS_BACKEND=virtiofsd runs the
# reference backend (bench/get-virtiofsd.sh) on a plain copy of the lower tree, to validate this
# script: it has no overlay, so the UPPER/whiteout checks and the --persist part are skipped.
# SCORPIO_GUEST_CACHE (default /var/cache/scorpio-test-guest) keeps the guest kernel between runs.
source "$(dirname "$0")/lib.sh"
BACKEND=${VIRTIOFS_BACKEND:-scorpio}
GUEST_CACHE=${SCORPIO_GUEST_CACHE:-/var/cache/scorpio-test-guest}
QEMU_DIR=$ROOT/examples/qemu
GUEST_TIMEOUT=${GUEST_TIMEOUT:-240}  # per boot; the main guest took 18 s with virtiofsd under TCG
case $BACKEND in
    scorpio) preflight ;;
    virtiofsd) [ "$(id -u)" = 0 ] || { echo "FAIL: virtiofs tests need root (CI runs as root)"; exit 1; } ;;
    *) echo "FAIL: VIRTIOFS_BACKEND must be scorpio or virtiofsd, not $BACKEND"; exit 1 ;;
esac
new_workdir
LOWER=$WORK/lower UPPER=$WORK/upper SOCK=$WORK/vfs.sock
BACKEND_PID=

# stop_backend : SIGTERM to the backend this script started, SIGKILL after 10 s.
stop_backend() {
    [ -n "$BACKEND_PID" ] || return 0
    kill -TERM "$BACKEND_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$BACKEND_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$BACKEND_PID" 2>/dev/null
    wait "$BACKEND_PID" 2>/dev/null
    BACKEND_PID=
}
trap 'stop_backend; cleanup' EXIT

# start_backend LOG [ARGS...] : starts the backend in the background, waits for its socket.
start_backend() {
    local log=$1
    shift
    rm -f "$SOCK"
    if [ "$BACKEND" = scorpio ]; then
        "$BIN" --virtiofs "$SOCK" --lower "$LOWER" --upper "$UPPER" --log-level debug "$@" >"$log" 2>&1 &
    else
        $VIRTIOFSD --socket-path="$SOCK" --shared-dir="$UPPER" --cache=auto --sandbox=none "$@" >"$log" 2>&1 &
    fi
    BACKEND_PID=$! BACKEND_STATUS=
    for _ in $(seq 100); do
        [ -S "$SOCK" ] && return 0
        kill -0 "$BACKEND_PID" 2>/dev/null || { echo "FAIL: backend exited before creating $SOCK:"; cat "$log"; BACKEND_PID=; return 1; }
        sleep 0.1
    done
    echo "FAIL: backend did not create $SOCK within 10 s"; cat "$log"; return 1
}

# wait_backend_exit SECONDS : true when the backend exits within SECONDS; sets BACKEND_STATUS.
# Not through `check`, which runs its command in a subshell that cannot wait for our children.
wait_backend_exit() {
    [ -n "$BACKEND_PID" ] || return 1
    for _ in $(seq $(($1 * 10))); do
        if ! kill -0 "$BACKEND_PID" 2>/dev/null; then
            wait "$BACKEND_PID"; BACKEND_STATUS=$?; BACKEND_PID=; return 0
        fi
        sleep 0.1
    done
    return 1
}

# boot NAME SCRIPT : builds a guest running SCRIPT and boots it; the console (carriage returns
# removed) ends up in $WORK/NAME.console, the guest script's exit code in GUEST_RC.
boot() {
    local name=$1 script=$2 start
    SCORPIO_GUEST_CACHE=$GUEST_CACHE "$QEMU_DIR/build-guest.sh" "$WORK/guest-$name" "$script" \
        >"$WORK/build-$name.log" 2>&1 || { echo "FAIL: build-guest.sh:"; cat "$WORK/build-$name.log"; exit 1; }
    start=$(date +%s)
    "$QEMU_DIR/run-guest.sh" "$WORK/guest-$name" "$SOCK" "$GUEST_TIMEOUT" 2>&1 | tr -d '\r' >"$WORK/$name.console"
    GUEST_RC=${PIPESTATUS[0]}
    CONSOLE=$WORK/$name.console
    echo "     guest $name: exit $GUEST_RC after $(($(date +%s) - start)) s," \
        "share mounted at guest uptime $(grep -o 'SCORPIO-GUEST-MOUNTED.*uptime=[0-9.]*' "$CONSOLE" | sed 's/.*=//') s"
}

# end : on failure shows the tails of the consoles and backend logs (WORK is deleted on exit).
end() {
    if [ "$FAILURES" != 0 ]; then
        for f in "$WORK"/*.console "$WORK"/backend-*.log; do
            [ -f "$f" ] || continue
            echo "----- last lines of $(basename "$f") (without checksum lines)"
            grep -v '^G:SUM' "$f" | tail -40
        done
    fi
    finish
}

# g KEY : the value the guest printed as "G:KEY value" in the last boot's console.
g() { sed -n "s/^G:$1 //p" "$CONSOLE" | head -1; }

# --- lower tree: 10 directories with 3 subdirectories each, 321 files from 0 bytes to 3 MiB,
# one symlink (plus one dangling), random contents.
mkdir -p "$LOWER" "$UPPER"
python3 - "$LOWER" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(7)
for d in range(10):
    for s in range(3):
        path = os.path.join(root, f"d{d}", f"sub{s}")
        os.makedirs(path)
        for f in range(10):
            size = rng.choice([0, 1, 100, 4095, 4096, 4097, 20000, 70000])
            with open(os.path.join(path, f"f{f}.dat"), "wb") as out:
                out.write(rng.randbytes(size))
    for f in range(2):
        with open(os.path.join(root, f"d{d}", f"f{f}.txt"), "w") as out:
            out.write(f"lower d{d} f{f}\n")
with open(os.path.join(root, "big-lower.bin"), "wb") as out:
    out.write(rng.randbytes(3 * 1024 * 1024 + 17))
os.symlink("sub0/f1.dat", os.path.join(root, "d0", "link"))
os.symlink("/nonexistent", os.path.join(root, "dangling"))
PY
lower_sums() { (cd "$LOWER" && find . -type f | LC_ALL=C sort | xargs sha256sum); }
lower_sums >"$WORK/lower.sums"
LOWER_COUNT=$(cd "$LOWER" && find . | wc -l)
LOWER_FILES=$(cd "$LOWER" && find . -type f | wc -l)
GONE_DIR_ENTRIES=$(find "$LOWER/d2/sub0" | wc -l)

if [ "$BACKEND" = virtiofsd ]; then
    VIRTIOFSD=$("$ROOT/bench/get-virtiofsd.sh" "${SCORPIO_VIRTIOFSD_DIR:-/var/cache/scorpio-virtiofsd}") ||
        { echo "FAIL: could not get virtiofsd"; exit 1; }
    # No overlay: the guest works on a plain copy of the lower tree.
    rmdir "$UPPER" && cp -a "$LOWER" "$UPPER"
fi

# --- the main guest --------------------------------------------------------------------------
cat >"$WORK/main.sh" <<'GUEST'
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
say() { echo "G:$*"; }
there() { if [ -e "$1" ] || [ -L "$1" ]; then echo present; else echo absent; fi; }
t=$(now)
say COUNT "$(find . | wc -l)"
say FILES "$(find . -type f | wc -l)"
say WALK_SECONDS "$(since "$t")"
say SYMLINK "$(readlink d0/link)"
say THROUGH_SYMLINK "$(sha256sum < d0/link | cut -d' ' -f1)"
say DANGLING "$(readlink dangling)"
t=$(now)
find . -type f | sort | xargs sha256sum | sed 's/^/G:SUM /'
say SUM_SECONDS "$(since "$t")"

# New files and directories, written, appended, renamed, deleted; a symlink.
mkdir -p new/dir/deep
echo hello > new/a.txt
echo world >> new/a.txt
mv new/a.txt new/renamed.txt
echo deep > new/dir/deep/file.txt
mv new/dir new/dir2
echo scratch > new/tmp.txt
rm new/tmp.txt
mkdir new/tmpdir
rmdir new/tmpdir
ln -s renamed.txt new/link
say RENAMED "$(tr '\n' '|' < new/renamed.txt)"
say OLD_NAME "$(there new/a.txt)"
say DEEP "$(cat new/dir2/deep/file.txt)"
say OLD_DIR "$(there new/dir)"
say NEW_LIST "$(ls -A new | tr '\n' ' ')"
say NEW_LINK "$(readlink new/link) $(head -1 new/link)"
# Lower files and directories: delete, append (copy-up), rename.
rm d1/f0.txt
rm -r d2/sub0
echo appended >> d3/f0.txt
mv d4/sub1/f1.dat moved.dat
say LOWER_FILE "$(there d1/f0.txt)"
say LOWER_DIR "$(there d2/sub0)"
say D2_LIST "$(ls d2 | tr '\n' ' ')"
say APPENDED "$(tr '\n' '|' < d3/f0.txt)"
say MOVED "$(sha256sum moved.dat | cut -d' ' -f1) $(there d4/sub1/f1.dat)"

# 100 MiB of random data, checksummed from the page cache and again from the backend.
t=$(now)
dd if=/dev/urandom of=big.bin bs=1M count=100 2>/dev/null
sync
say BIG_WRITE_SECONDS "$(since "$t")"
say BIG_SIZE "$(stat -c %s big.bin)"
say BIG_SUM "$(sha256sum big.bin | cut -d' ' -f1)"
sync
echo 3 > /proc/sys/vm/drop_caches
t=$(now)
say BIG_SUM_COLD "$(sha256sum big.bin | cut -d' ' -f1)"
say BIG_READ_SECONDS "$(since "$t")"
say RENAMED_COLD "$(tr '\n' '|' < new/renamed.txt)"
say APPENDED_COLD "$(tr '\n' '|' < d3/f0.txt)"
say MOVED_COLD "$(sha256sum moved.dat | cut -d' ' -f1)"
say COUNT_AFTER "$(find . | wc -l)"
say DONE yes
GUEST

start_backend "$WORK/backend-main.log" || exit 1
boot main "$WORK/main.sh"
expect_eq "guest script exit code" "0" "$GUEST_RC"
check "guest mounted the share" grep -q "SCORPIO-GUEST-MOUNTED" "$CONSOLE"
expect_eq "guest ran to the end" "yes" "$(g DONE)"
expect_eq "guest sees every entry of the lower tree" "$LOWER_COUNT" "$(g COUNT)"
expect_eq "guest sees every regular file" "$LOWER_FILES" "$(g FILES)"
expect_eq "symlink target" "sub0/f1.dat" "$(g SYMLINK)"
expect_eq "read through symlink" "$(sha256sum <"$LOWER/d0/sub0/f1.dat" | cut -d' ' -f1)" "$(g THROUGH_SYMLINK)"
expect_eq "dangling symlink target" "/nonexistent" "$(g DANGLING)"
sed -n 's/^G:SUM //p' "$CONSOLE" | LC_ALL=C sort -k2 >"$WORK/guest.sums"
check "guest checksums of all $LOWER_FILES lower files equal the host's" \
    diff <(LC_ALL=C sort -k2 "$WORK/lower.sums") "$WORK/guest.sums"
expect_eq "write, append, rename of a new file" "hello|world|" "$(g RENAMED)"
expect_eq "renamed file's old name is gone" "absent" "$(g OLD_NAME)"
expect_eq "file inside a renamed directory" "deep" "$(g DEEP)"
expect_eq "renamed directory's old name is gone" "absent" "$(g OLD_DIR)"
expect_eq "deleted file and directory are gone" "dir2 link renamed.txt " "$(g NEW_LIST)"
expect_eq "new symlink" "renamed.txt hello" "$(g NEW_LINK)"
expect_eq "deleted lower file is gone" "absent" "$(g LOWER_FILE)"
expect_eq "deleted lower directory is gone" "absent" "$(g LOWER_DIR)"
expect_eq "parent of the deleted lower directory" "f0.txt f1.txt sub1 sub2 " "$(g D2_LIST)"
expect_eq "append to a lower file" "lower d3 f0|appended|" "$(g APPENDED)"
expect_eq "rename of a lower file" "$(sha256sum <"$LOWER/d4/sub1/f1.dat" | cut -d' ' -f1) absent" "$(g MOVED)"
expect_eq "100 MiB file size" "104857600" "$(g BIG_SIZE)"
check "100 MiB file has a checksum" test -n "$(g BIG_SUM)"
expect_eq "100 MiB file reads back the same after drop_caches" "$(g BIG_SUM)" "$(g BIG_SUM_COLD)"
expect_eq "new file after drop_caches" "hello|world|" "$(g RENAMED_COLD)"
expect_eq "copied-up lower file after drop_caches" "lower d3 f0|appended|" "$(g APPENDED_COLD)"
expect_eq "renamed lower file after drop_caches" "$(sha256sum <"$LOWER/d4/sub1/f1.dat" | cut -d' ' -f1)" "$(g MOVED_COLD)"
# + new new/dir2 new/dir2/deep new/dir2/deep/file.txt new/renamed.txt new/link big.bin
# - d1/f0.txt and d2/sub0 with its entries; the lower file renamed to moved.dat counts once.
expect_eq "entry count after the changes" "$((LOWER_COUNT + 7 - 1 - GONE_DIR_ENTRIES))" "$(g COUNT_AFTER)"
echo "     guest times (s): walk $(g WALK_SECONDS), checksum all $(g SUM_SECONDS), 100 MiB write+sync $(g BIG_WRITE_SECONDS), 100 MiB cold read $(g BIG_READ_SECONDS)"
wait_backend_exit 15
expect_eq "backend exits with status 0 after the guest disconnects" "0" "${BACKEND_STATUS:-still running}"
stop_backend

# --- on the host -----------------------------------------------------------------------------
lower_sums >"$WORK/lower-after.sums"
check "lower tree unchanged" diff "$WORK/lower.sums" "$WORK/lower-after.sums"
expect_eq "host: written file" "hello|world|" "$(tr '\n' '|' <"$UPPER/new/renamed.txt")"
expect_eq "host: file in renamed directory" "deep" "$(cat "$UPPER/new/dir2/deep/file.txt")"
expect_eq "host: symlink" "renamed.txt" "$(readlink "$UPPER/new/link")"
check "host: deleted new file is gone" test ! -e "$UPPER/new/tmp.txt" -a ! -e "$UPPER/new/tmpdir" -a ! -e "$UPPER/new/a.txt"
expect_eq "host: copied-up lower file" "lower d3 f0|appended|" "$(tr '\n' '|' <"$UPPER/d3/f0.txt")"
expect_eq "host: renamed lower file" "$(sha256sum <"$LOWER/d4/sub1/f1.dat")" "$(sha256sum <"$UPPER/moved.dat")"
expect_eq "host: 100 MiB file checksum equals the guest's" "$(g BIG_SUM)" "$(sha256sum "$UPPER/big.bin" | cut -d' ' -f1)"
is_whiteout() { test -c "$1" && test "$(stat -c %t:%T "$1")" = 0:0; }
if [ "$BACKEND" = scorpio ]; then
    check "host: deleted lower file is a whiteout in UPPER" is_whiteout "$UPPER/d1/f0.txt"
    check "host: deleted lower directory is a whiteout in UPPER" is_whiteout "$UPPER/d2/sub0"
    check "host: renamed lower file leaves a whiteout" is_whiteout "$UPPER/d4/sub1/f1.dat"
    check "host: untouched lower files are not copied up" test ! -e "$UPPER/d5"
    check "no errors in the backend log" sh -c "! grep -E ' (error|critical) ' '$WORK/backend-main.log'"
else
    echo "     (virtiofsd has no overlay: whiteout checks skipped)"
    check "host: deleted files are gone from the shared copy" test ! -e "$UPPER/d1/f0.txt" -a ! -e "$UPPER/d2/sub0"
fi

# --- --persist: one backend, two guests in a row, then SIGTERM -------------------------------
if [ "$BACKEND" != scorpio ]; then
    echo "     (virtiofsd exits when its guest disconnects: --persist part skipped)"
    end
    exit
fi
cat >"$WORK/persist1.sh" <<'GUEST'
there() { if [ -e "$1" ] || [ -L "$1" ]; then echo present; else echo absent; fi; }
echo "G:EARLIER $(tr '\n' '|' < new/renamed.txt) $(there d1/f0.txt)"
echo "persist marker" > marker.txt
rm d5/f1.txt
mkdir persist-dir && echo inside > persist-dir/file.txt
sync
echo "G:DONE yes"
GUEST
cat >"$WORK/persist2.sh" <<'GUEST'
there() { if [ -e "$1" ] || [ -L "$1" ]; then echo present; else echo absent; fi; }
echo "G:MARKER $(cat marker.txt)"
echo "G:DELETED $(there d5/f1.txt)"
echo "G:DIR $(cat persist-dir/file.txt)"
echo "G:DONE yes"
GUEST
# The persistent backend also offers two request queues, and the guests' devices use them.
export GUEST_REQUEST_QUEUES=2
start_backend "$WORK/backend-persist.log" --persist --queues 2 || exit 1
boot persist1 "$WORK/persist1.sh"
expect_eq "persist: first guest exit code" "0" "$GUEST_RC"
expect_eq "persist: a new backend serves the earlier UPPER" "hello|world| absent" "$(g EARLIER)"
expect_eq "persist: first guest ran to the end" "yes" "$(g DONE)"
check "persist: backend still running after the first guest" kill -0 "$BACKEND_PID"
check "persist: socket still there" test -S "$SOCK"
check "persist: all three queues (hiprio and two request queues) started" grep -q "queue 2 started" "$WORK/backend-persist.log"
boot persist2 "$WORK/persist2.sh"
expect_eq "persist: second guest exit code" "0" "$GUEST_RC"
expect_eq "persist: second guest sees the marker" "persist marker" "$(g MARKER)"
expect_eq "persist: second guest sees the first guest's delete" "absent" "$(g DELETED)"
expect_eq "persist: second guest sees the first guest's directory" "inside" "$(g DIR)"
check "persist: backend still running after the second guest" kill -0 "$BACKEND_PID"
[ -n "$BACKEND_PID" ] && kill -TERM "$BACKEND_PID" 2>/dev/null
wait_backend_exit 10
expect_eq "persist: backend exits with status 0 on SIGTERM" "0" "${BACKEND_STATUS:-still running}"
check "persist: marker in UPPER" test "$(cat "$UPPER/marker.txt")" = "persist marker"
check "persist: whiteout in UPPER" is_whiteout "$UPPER/d5/f1.txt"
check "no errors in the persist backend log" sh -c "! grep -E ' (error|critical) ' '$WORK/backend-persist.log'"

# --- --no-open: the guest's kernel opens files without asking; I/O arrives with handle 0 ------
unset GUEST_REQUEST_QUEUES
cat >"$WORK/noopen.sh" <<'GUEST'
find d6 d7 -type f | sort | xargs sha256sum | sed 's/^/G:SUM /'
echo "G:AGAIN $(cat d6/f0.txt)"
echo "noopen data" > noopen.txt
echo "G:NEW $(cat noopen.txt)"
echo "appended" >> d4/f1.txt
echo "G:APPENDED $(tr '\n' '|' < d4/f1.txt)"
echo "unlinked data" > gone.txt
exec 3< gone.txt
rm gone.txt
echo "G:UNLINKED $(cat <&3)"
exec 3<&-
sync
echo "G:DONE yes"
GUEST
start_backend "$WORK/backend-noopen.log" --no-open --log-level trace || exit 1
boot noopen "$WORK/noopen.sh"
stop_backend
expect_eq "no-open: guest exit code" "0" "$GUEST_RC"
expect_eq "no-open: guest ran to the end" "yes" "$(g DONE)"
sed -n 's/^G:SUM //p' "$CONSOLE" | LC_ALL=C sort -k2 >"$WORK/noopen.sums"
check "no-open: guest checksums of d6 and d7 equal the host's" \
    diff <(grep -E ' \./(d6|d7)/' "$WORK/lower.sums" | sed 's| \./| |' | LC_ALL=C sort -k2) "$WORK/noopen.sums"
expect_eq "no-open: a file read twice" "lower d6 f0" "$(g AGAIN)"
expect_eq "no-open: a new file reads back" "noopen data" "$(g NEW)"
expect_eq "no-open: an append to a lower file" "lower d4 f1|appended|" "$(g APPENDED)"
expect_eq "no-open: a file unlinked while open still reads" "unlinked data" "$(g UNLINKED)"
check "no-open: the append reached UPPER" grep -q appended "$UPPER/d4/f1.txt"
expect_eq "no-open: only the first OPEN reached the backend" "1" "$(grep -c 'op=OPEN ' "$WORK/backend-noopen.log")"
expect_eq "no-open: no RELEASE reached the backend" "0" "$(grep -c 'op=RELEASE ' "$WORK/backend-noopen.log")"
check "no-open: no errors in the backend log" sh -c "! grep -E ' (error|critical) ' '$WORK/backend-noopen.log'"
end
