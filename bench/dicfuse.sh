#!/usr/bin/env bash
# Benchmark Dicfuse (scorpio-provider --repo) against `git clone` on a large tree of real files
# served by `git daemon` on loopback, in one run:
#   - time to the first `ls` after a cold mount vs a full `git clone` and a
#     `git clone --filter=blob:none --no-checkout` + `git checkout` of the same commit;
#   - remount with a warm cache (page cache hot, and after drop_caches);
#   - warm reads again on a --no-open remount of the same cache (no OPEN round trips);
#   - reading every file (`tar -cf - . | cat`) cold, batched by --prefetch siblings or by
#     `scorpio-provider prefetch`, vs warm, vs the same tar over the full clone's work tree;
#   - bytes over loopback for each (the script runs in a private network namespace, so the
#     loopback counters hold this run's git traffic only), vs the repository's size.
# and checks the targets: first ls >= 10x faster than a full clone; warm remount < 1 s; reading
# every file cold no slower than a full clone; warm reads at native speed.
#
# Usage: bench/dicfuse.sh     (as root: mounts, drop_caches, a private network namespace)
#
# Environment:
#   SCORPIO_BIN          binary (default .build/release/scorpio-provider, else .build/debug/...);
#                        copied into the run directory first, so a rebuild cannot swap it mid-run
#   SCORPIO_ARGS         extra arguments for every mount (e.g. "--no-passthrough")
#   SCORPIO_LOG_LEVEL    scorpio log level (default info); logs: bench/out/dicfuse-<step>.log
#   DBENCH_DIR           where the served repository, clones, caches and mounts live
#                        (default /var/tmp/scorpio-dbench); the repository is built once and reused
#   DBENCH_FILES         files (regular + symlinks) committed into the repository (50000)
#   DBENCH_SOURCES       directories the files are taken from, in order, globs allowed (default
#                        "/usr/include /usr/lib/python3 /usr/lib/python3.* /usr/share/perl5
#                        /usr/share/perl /usr/lib/x86_64-linux-gnu/perl /opt/swift-packages
#                        /opt/swift/usr/include /usr/share /usr/src /usr/lib")
#   DBENCH_MAX_FILE_KB   larger files are left out (32768)
#   DBENCH_REPS          repetitions of the cheap steps (clones, mounts, warm reads); median (3)
#   DBENCH_COLD_REPS     repetitions of each cold read of every file, median reported (3)
#   DBENCH_READS         cold-read variants, in order (default "siblings prefetch"):
#                          siblings|all|none  mount with --prefetch MODE, then tar
#                          prefetch           mount (--prefetch siblings), `scorpio-provider
#                                             prefetch MNT --jobs DBENCH_PREFETCH_JOBS`, then tar
#   DBENCH_PREFETCH_JOBS --jobs of `scorpio-provider prefetch` (8)
#   DBENCH_LAZY          1 = also time a cold mount + first ls with --trees lazy (1)
#   DBENCH_NATIVE_TOL    warm reads count as "native speed" up to this ratio to native (1.2)
#   DBENCH_PORT          git daemon port (9418; in the private namespace nothing else uses it)
#   DBENCH_NETNS         1 = run in a private network namespace (unshare --net) so the loopback
#                        byte counters are this run's only (1)
#   DBENCH_TIMEOUT       per-command timeout in seconds (3600)
#   DBENCH_VERIFY        1 = check the mount against the full clone's work tree (contents,
#                        symlink targets, sizes, modes), untimed (1)
#   DBENCH_FRESH_FS      1 = clones, caches and mounts live on a fresh journaled ext4 made for
#                        the run (1; see mount_fresh_run_fs in lib.sh for why)
#
# Output: a markdown report on stdout and in bench/out/dicfuse.md; raw timings in
# bench/out/dicfuse-raw.csv; scorpio logs in bench/out/dicfuse-<step>.log, the git daemon's in
# bench/out/dicfuse-gitdaemon.log; problems seen in bench/out/dicfuse-issues.txt.
set -euo pipefail
# SCRIPT_DIR, REPO_DIR, OUT_DIR, log, die, issue, the cleanup trap and the other shared helpers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

while (($#)); do
    case $1 in
        -h|--help) print_help "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "dicfuse.sh: unknown argument: $1" >&2; exit 64 ;;
    esac
done

[[ $EUID -eq 0 ]] || die "must run as root (mounts, drop_caches, unshare --net)"

# Re-run inside a private network namespace: its loopback carries only this run's git traffic,
# so /proc/net/dev's counters measure bytes fetched. Only the network is private: mounts made
# here are visible (and unmounted) as usual.
if [[ ${DBENCH_NETNS:-1} == 1 && ${DBENCH_IN_NETNS:-0} != 1 ]]; then
    if unshare --net true 2>/dev/null; then
        export DBENCH_IN_NETNS=1
        exec unshare --net -- "$BASH" "${BASH_SOURCE[0]}" "$@"
    fi
    log "unshare --net failed; running in the host's network namespace (byte counts then include other loopback traffic)"
fi
PRIVATE_NET=0
if [[ ${DBENCH_IN_NETNS:-0} == 1 ]]; then
    ip link set lo up || die "cannot bring up lo in the private network namespace"
    PRIVATE_NET=1
fi

DBENCH_DIR=${DBENCH_DIR:-/var/tmp/scorpio-dbench}
NFILES=${DBENCH_FILES:-50000}
SOURCES=${DBENCH_SOURCES:-/usr/include /usr/lib/python3 /usr/lib/python3.* /usr/share/perl5 /usr/share/perl /usr/lib/x86_64-linux-gnu/perl /opt/swift-packages /opt/swift/usr/include /usr/share /usr/src /usr/lib}
MAXKB=${DBENCH_MAX_FILE_KB:-32768}
REPS=${DBENCH_REPS:-3}
COLD_REPS=${DBENCH_COLD_REPS:-3}
READS=${DBENCH_READS:-siblings prefetch}
PF_JOBS=${DBENCH_PREFETCH_JOBS:-8}
LAZY=${DBENCH_LAZY:-1}
NATIVE_TOL=${DBENCH_NATIVE_TOL:-1.2}
TMO=${DBENCH_TIMEOUT:-3600}
VERIFY=${DBENCH_VERIFY:-1}
SC_LOG_LEVEL=${SCORPIO_LOG_LEVEL:-info}
read -r -a SC_EXTRA <<<"${SCORPIO_ARGS:-}"
if ((PRIVATE_NET)); then PORT=${DBENCH_PORT:-9418}; else PORT=${DBENCH_PORT:-$((20000 + RANDOM % 20000))}; fi

for v in NFILES MAXKB REPS COLD_REPS PF_JOBS PORT TMO; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done
for r in $READS; do
    case $r in siblings|all|none|prefetch) ;; *) die "DBENCH_READS: unknown variant '$r'" ;; esac
done
case $DBENCH_DIR in *[[:space:]]*) die "DBENCH_DIR must not contain whitespace" ;; esac
for t in git tar timeout pgrep awk sha1sum du diff find flock; do command -v "$t" >/dev/null || die "$t missing"; done

mkdir -p "$DBENCH_DIR" "$OUT_DIR"
DBENCH_DIR=$(cd "$DBENCH_DIR" && pwd -P)
exec 9>"$DBENCH_DIR/lock"
flock -n 9 || die "another dicfuse.sh run holds $DBENCH_DIR/lock"

SERVED=$DBENCH_DIR/served
RUN=$DBENCH_DIR/run.$$
ISSUES_FILE=$OUT_DIR/dicfuse-issues.txt
RAW=$OUT_DIR/dicfuse-raw.csv
GITD_LOG=$OUT_DIR/dicfuse-gitdaemon.log
REPORT=$OUT_DIR/dicfuse.md

# ----------------------------------------------------------------- cleanup ---
# lib.sh's EXIT trap unmounts MOUNTS, stops the scorpio daemons in OUR_PIDS, removes $RUN;
# the hooks below add what only this script starts.
GITD_PID=''
CHILD=''                      # the timeout(1) process of the command running now
CLEANUP_DAEMON='scorpio daemon'

# timeout(1) passes the signal on to the process group of the command it runs.
cleanup_first() {
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then kill -TERM "$CHILD"; wait "$CHILD" 2>/dev/null; fi
}
# scorpio-provider's own unmount first, the kernel's lazy one if that fails or leaves it mounted.
cleanup_unmount() {
    log "cleanup: unmounting $1"
    if [[ $1 == "$RUN" ]]; then umount "$1" || umount -l "$1"; return; fi    # the run's own ext4
    "${SC_BIN:-false}" unmount "$1" >/dev/null 2>&1 || umount -l "$1"
    is_mounted "$1" && umount -l "$1"
}
# The git daemon stops last: a scorpio daemon may fetch from it until it has exited.
cleanup_last() {
    if [[ -n $GITD_PID ]] && kill -0 "$GITD_PID" 2>/dev/null; then
        kill -TERM "$GITD_PID"
        wait "$GITD_PID" 2>/dev/null
    fi
}
install_cleanup_trap

# Run directories of earlier, killed runs (the lock says none is running).
remove_stale_runs "$DBENCH_DIR"
mkdir -p "$RUN" "$SERVED"
[[ ${DBENCH_FRESH_FS:-1} == 1 ]] && mount_fresh_run_fs
: >"$ISSUES_FILE"
for f in "$OUT_DIR"/dicfuse-*.log; do [[ -e $f ]] && : >"$f"; done
echo "step,rep,seconds,loopback_bytes" >"$RAW"
CUR=setup

# ------------------------------------------------------------- the binary ---
SC_BIN='' SC_SRC=''    # empty until copied: cleanup_unmount falls back to umount -l
copy_scorpio_bin      # sets SC_BIN, SC_SRC, SC_SHA

# ------------------------------------------------------ the repository ---
declare -a SRC_DIRS=()
declare -A SEEN_DIR=()
for pat in $SOURCES; do          # word splitting and globbing on purpose
    for d in $pat; do
        [[ -d $d ]] || continue
        d=$(realpath "$d")
        [[ -n ${SEEN_DIR[$d]:-} ]] && continue
        SEEN_DIR[$d]=1; SRC_DIRS+=("$d")
    done
done
((${#SRC_DIRS[@]})) || die "none of the DBENCH_SOURCES directories exists: $SOURCES"
SRC_KEY=$(printf '%s\n' "${SRC_DIRS[@]}" "$MAXKB" | sha1sum | cut -c1-8)
REPO_NAME=dbench-v1-f$NFILES-$SRC_KEY.git
REPO=$SERVED/$REPO_NAME
URL=git://127.0.0.1:$PORT/$REPO_NAME

build_repo() {
    local tmp=$SERVED/.build.$$ n rc=0
    rm -rf --one-file-system "$SERVED"/.build.*
    mkdir -p "$tmp/src"
    log "collecting up to $NFILES files (regular, <= $MAXKB KiB, and symlinks) from: ${SRC_DIRS[*]}"
    # .git, .gitattributes and .gitmodules are left out: they would make git treat the tree
    # differently from its plain files (nested repositories, eol or LFS filters).
    (
        set +o pipefail
        for d in "${SRC_DIRS[@]}"; do
            find "$d" -xdev \( -name .git -o -name .gitattributes -o -name .gitmodules \) -prune \
                -o \( -type f -size -$((MAXKB + 1))k -o -type l \) -print0 | LC_ALL=C sort -z
        done | awk -v n="$NFILES" 'BEGIN { RS = ORS = "\0" } !seen[$0]++ { print; if (++c >= n) exit }' \
             | sed -z 's|^/||'
    ) >"$tmp/list"
    n=$(tr -cd '\0' <"$tmp/list" | wc -c)
    ((n >= NFILES)) || log "only $n files found (DBENCH_FILES=$NFILES)"
    log "copying $n files into $tmp/src"
    tar -C / --null -T "$tmp/list" --ignore-failed-read -cf - 2>"$tmp/tar.err" | tar -C "$tmp/src" -xf - || rc=$?
    ((rc == 0)) || log "copying reported exit $rc: $(head -n 3 "$tmp/tar.err" | tr '\n' '|')"
    log "committing them (git add of $n files)"
    (
        cd "$tmp/src"
        git init -q -b main .
        git config core.autocrlf false
        git config gc.auto 0
        git add -f -A .
        GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' \
            git -c user.name='dicfuse bench' -c user.email=bench@localhost commit -q \
            -m "real source trees for the Dicfuse benchmark ($n files from ${SRC_DIRS[*]})"
    ) || die "cannot commit the tree in $tmp/src"
    log "packing it as a server would (bare clone with deltas, repack with a bitmap)"
    git clone -q --bare --no-local "$tmp/src" "$tmp/repo.git" || die "git clone --bare failed"
    git -C "$tmp/repo.git" repack -q -a -d -b || die "git repack failed"
    git -C "$tmp/repo.git" config uploadpack.allowFilter true
    git -C "$tmp/repo.git" config uploadpack.allowAnySHA1InWant true
    git -C "$tmp/repo.git" config transfer.advertiseObjectInfo true
    rm -rf --one-file-system "$tmp/src"
    mv "$tmp/repo.git" "$REPO"
    rm -rf --one-file-system "$tmp"
}

if [[ -d $REPO && -e $REPO/dbench-complete ]]; then
    log "reusing $REPO"
else
    rm -rf --one-file-system "$REPO"
    T_BUILD0=$(date +%s)
    build_repo
    touch "$REPO/dbench-complete"
    log "repository built in $(( $(date +%s) - T_BUILD0 )) s"
fi
COMMIT=$(git -C "$REPO" rev-parse HEAD)
read -r R_FILES R_LINKS R_BLOBBYTES R_BIG < <(git -C "$REPO" ls-tree -r -l HEAD \
    | awk '$1 == "100644" || $1 == "100755" { f++; b += $4; if ($4 >= 1048576) big++ }
           $1 == "120000" { l++; b += $4 } END { print f + 0, l + 0, b + 0, big + 0 }')
R_DIRS=$(git -C "$REPO" ls-tree -r -t HEAD | awk '$2 == "tree"' | wc -l)
R_DU=$(du -sb "$REPO" | cut -f1)
R_PACK=$(stat -c %s "$REPO"/objects/pack/*.pack | awk '{ s += $1 } END { print s }')
log "repository: $R_FILES files, $R_LINKS symlinks, $R_DIRS directories, $((R_BLOBBYTES / 1048576)) MiB of content; pack $((R_PACK / 1048576)) MiB"

# ------------------------------------------------------------- git daemon ---
: >"$GITD_LOG"
git daemon --reuseaddr --verbose --export-all --listen=127.0.0.1 --port="$PORT" \
    --base-path="$SERVED" "$SERVED" >>"$GITD_LOG" 2>&1 &
GITD_PID=$!
for _ in {1..100}; do git ls-remote "$URL" >/dev/null 2>&1 && break; sleep 0.1; done
git ls-remote "$URL" >/dev/null 2>&1 || die "git daemon does not answer on $URL (log: $GITD_LOG)"
log "git daemon $GITD_PID serves $URL"

# ------------------------------------------------------------------ helpers ---
now() { echo "${EPOCHREALTIME/,/.}"; }
# Bytes through lo (each packet counted once: on lo, received == sent).
lo_bytes() { sed -n 's/^ *lo: *//p' /proc/net/dev | awk '{ print $1 }'; }
gitd_requests() { grep -c 'Request upload-pack' "$GITD_LOG" || true; }
# Server side warm, as a busy server's would be: its pack and git's own binaries in the page cache.
warm_server() { cat "$REPO"/objects/pack/* >/dev/null; git ls-remote "$URL" >/dev/null 2>&1 || true; }

add() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "FAIL" || b == "FAIL") print "FAIL"; else printf "%.3f", a + b }'; }

declare -A RES=() BYT=() REQ=() NOTE=()
record() {   # step rep seconds [bytes]
    echo "$1,$2,$3,${4:-}" >>"$RAW"
}
# finish step values... : the median becomes RES[step]
finish() {
    local step=$1; shift
    RES[$step]=$(median "$@")
    log "  $step: ${RES[$step]} s (runs: $*)"
}

# tmo OUT ERR CMD...: runs CMD under timeout(1) in the background and waits for it, so a
# signal to this script is handled at once (bash defers traps until a foreground child exits).
tmo() {
    local out=$1 err=$2 rc=0
    shift 2
    timeout -k 10 "$TMO" "$@" >"$out" 2>"$err" &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=''
    return "$rc"
}

# run_t CMD... : runs CMD with a timeout in this shell; T_LAST = seconds, or FAIL. Lines on
# stderr are an issue unless they match the regex in STDERR_OK.
T_LAST=
run_t() {
    local s e rc=0
    s=$(now)
    tmo "$RUN/cmd.out" "$RUN/cmd.err" "$@" || rc=$?
    e=$(now)
    if ((rc == 124)); then
        issue "$CUR: timed out after $TMO s: $*"
    elif ((rc)); then
        issue "$CUR: exit status $rc: $* : $(head -n 3 "$RUN/cmd.err" | tr '\n' '|')"
    elif grep -qvE "${STDERR_OK:-^\$}" "$RUN/cmd.err"; then
        issue "$CUR: stderr: $(head -n 3 "$RUN/cmd.err" | tr '\n' '|')"
    fi
    if ((rc)); then T_LAST=FAIL; else T_LAST=$(secs "$s" "$e"); fi
}

SH_TAR='set -o pipefail; cd "$1" && tar -cf - --exclude=.git . | cat >/dev/null'

# ----------------------------------------------------------------- scorpio ---
SC_MNT='' SC_PID='' SC_N=0 T_MOUNT=''
find_daemon() { pgrep -n -f -- "^$SC_BIN .*--mount $1( |\$)"; }

# sc_mount LOGTAG CACHE [ARGS...]: mounts $URL on a new mount point with a fresh upper; sets
# SC_MNT, SC_PID and T_MOUNT (seconds until the CLI returned, i.e. the mount was ready).
sc_mount() {
    local tag=$1 cache=$2 rc=0 s e
    shift 2
    SC_N=$((SC_N + 1))
    SC_MNT=$RUN/m/$tag.$SC_N; SC_PID=
    mkdir -p "$SC_MNT" "$RUN/u"
    MOUNTS+=("$SC_MNT")    # before mounting: the EXIT trap unmounts it if it is mounted
    s=$(now)
    tmo "$RUN/mount.out" "$RUN/mount.err" "$SC_BIN" --mount "$SC_MNT" --repo "$URL" --cache "$cache" \
        --upper "$RUN/u/$tag.$SC_N" --log-level "$SC_LOG_LEVEL" --log-file "$OUT_DIR/dicfuse-$tag.log" \
        "${SC_EXTRA[@]}" "$@" || rc=$?
    e=$(now)
    T_MOUNT=$(secs "$s" "$e")
    SC_PID=$(find_daemon "$SC_MNT" || true)
    [[ -n $SC_PID ]] && OUR_PIDS[$SC_PID]=$SC_MNT
    if ((rc)); then
        issue "$CUR: mount failed (exit $rc): $(head -n 3 "$RUN/mount.err" | tr '\n' '|')"
        if is_mounted "$SC_MNT"; then umount -l "$SC_MNT" || true; fi
        T_MOUNT=FAIL
        return 1
    fi
    if ! is_mounted "$SC_MNT"; then
        issue "$CUR: the mount CLI returned but $SC_MNT is not in /proc/mounts"
        T_MOUNT=FAIL
        return 1
    fi
    [[ -n $SC_PID ]] || issue "$CUR: no daemon process found for $SC_MNT"
    return 0
}

sc_unmount() {
    local m=$SC_MNT pid=$SC_PID rc=0
    [[ -n $m ]] || return 0
    if [[ -n $pid ]] && ! pid_is_ours "$pid" "$m"; then issue "$CUR: daemon $pid had exited before unmount"; fi
    if is_mounted "$m"; then
        "$SC_BIN" unmount "$m" >/dev/null 2>"$RUN/umount.err" || rc=$?
        if ((rc)); then
            issue "$CUR: 'scorpio-provider unmount' exited $rc: $(head -n 2 "$RUN/umount.err" | tr '\n' '|'); umount -l"
            umount -l "$m" || true
        fi
    fi
    if [[ -n $pid ]] && ! daemon_gone "$pid" "$m" 150; then
        issue "$CUR: daemon $pid still running 15 s after unmount; SIGTERM"
        kill -TERM "$pid" || true
    fi
    SC_MNT='' SC_PID=''
}

# mount_and_ls STEP REP LOGTAG CACHE [ARGS...]: times mount + first `ls` of the root from the
# start of the mount command to the end of the listing; leaves the mount up (sc_unmount).
# Sets T_LAST (total), T_MOUNT, B_LAST (loopback bytes), Q_LAST (upload-pack requests).
B_LAST='' Q_LAST=''
mount_and_ls() {
    local step=$1 rep=$2 tag=$3 b0 q0 s e rc=0
    shift 3
    b0=$(lo_bytes); q0=$(gitd_requests)
    s=$(now)
    if sc_mount "$tag" "$@"; then
        tmo "$RUN/ls.out" "$RUN/ls.err" ls "$SC_MNT" || rc=$?
        e=$(now)
        if ((rc)); then
            issue "$CUR: ls exited $rc: $(head -n 2 "$RUN/ls.err" | tr '\n' '|')"; T_LAST=FAIL
        elif ! [[ -s $RUN/ls.out ]]; then
            issue "$CUR: the first ls of the mount printed nothing"; T_LAST=FAIL
        else
            T_LAST=$(secs "$s" "$e")
        fi
    else
        T_LAST=FAIL
    fi
    B_LAST=$(( $(lo_bytes) - b0 )); Q_LAST=$(( $(gitd_requests) - q0 ))
    record "$step" "$rep" "$T_LAST" "$B_LAST"
    record "$step.mount-cli" "$rep" "$T_MOUNT"
}

# Blob fetches logged in LOG from line FROM on: "requests blobs".
blob_fetch_stats() {
    tail -n +"$2" "$1" | awk '/fetched blobs/ { r++; for (i = 1; i <= NF; i++) if ($i ~ /^count=/) { split($i, a, "="); b += a[2] } } END { print r + 0, b + 0 }'
}
log_lines() { [[ -e $1 ]] && wc -l <"$1" || echo 0; }

daemon_hwm() {
    [[ -n $SC_PID && -r /proc/$SC_PID/status ]] || { echo "?"; return; }
    awk '/^VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$SC_PID/status"
}

# verify MNT REF: the mount holds what the clone's work tree holds (untimed).
verify_tree() {
    ((VERIFY)) || return 0
    local m=$1 ref=$2 out
    (cd "$ref" && find . -path ./.git -prune -o \( -type f -o -type l \) -printf '%P|%y|%s|%m\n' | LC_ALL=C sort) >"$RUN/list.ref"
    (cd "$m" && find . \( -type f -o -type l \) -printf '%P|%y|%s|%m\n' | LC_ALL=C sort) >"$RUN/list.mnt" 2>"$RUN/verify.err" || true
    if ! cmp -s "$RUN/list.ref" "$RUN/list.mnt"; then
        out=$(diff "$RUN/list.ref" "$RUN/list.mnt" | grep '^[<>]' | head -n 6 | tr '\n' ' ')
        issue "$CUR: listing (path|type|size|mode; < clone, > mount) differs: $out $(head -n 2 "$RUN/verify.err" | tr '\n' ' ')"
    fi
    out=$(diff -r -q --no-dereference -x .git "$ref" "$m" 2>&1 | head -n 6 | tr '\n' ' ') || true
    [[ -z $out ]] || issue "$CUR: contents differ from the full clone: $out"
    if [[ $(wc -l <"$RUN/list.mnt") -ne $((R_FILES + R_LINKS)) ]]; then
        issue "$CUR: the mount lists $(wc -l <"$RUN/list.mnt") files and symlinks, the commit has $((R_FILES + R_LINKS))"
    fi
    log "  verified $m against the full clone: $(wc -l <"$RUN/list.mnt") entries"
}

# ------------------------------------------------------------------- main ---
# What creating a file costs on this filesystem: clones and scorpio's cache both create one
# file per blob, so on a slow filesystem this bounds both.
mkdir "$RUN/create-probe"
s=$(now)
for ((i = 0; i < 2000; i++)); do : >"$RUN/create-probe/f$i"; done
CREATE_MS=$(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.3f", (e - s) * 1000 / 2000 }')
rm -rf --one-file-system "$RUN/create-probe"
log "creating an empty file in $RUN takes $CREATE_MS ms"
note_run_start    # DMESG_START, START_LOAD, T0
FULL=$RUN/clone-full

# 1. git clone, full.
CUR=clone-full; log "=== git clone (full), $REPS runs"
vals=() bvals=()
for ((r = 1; r <= REPS; r++)); do
    rm -rf --one-file-system "$FULL"; sync; warm_server
    b0=$(lo_bytes); q0=$(gitd_requests)
    run_t git clone -q "$URL" "$FULL"
    vals+=("$T_LAST"); bvals+=("$(( $(lo_bytes) - b0 ))"); REQ[clone-full]=$(( $(gitd_requests) - q0 ))
    record clone-full "$r" "$T_LAST" "${bvals[-1]}"
    sync
done
finish clone-full "${vals[@]}"; BYT[clone-full]=$(median "${bvals[@]}")
[[ -d $FULL ]] || die "the full clone failed; nothing to compare with"
WT_BYTES=$(du -sb --exclude=.git "$FULL" | cut -f1)
CLONE_GIT_BYTES=$(du -sb "$FULL/.git" | cut -f1)

# 2. git clone --filter=blob:none --no-checkout, then git checkout of the commit.
CUR=clone-blobless; log "=== git clone --filter=blob:none --no-checkout + git checkout, $REPS runs"
v1=() v2=() vt=() b1=() b2=()
BL=$RUN/clone-blobless
for ((r = 1; r <= REPS; r++)); do
    rm -rf --one-file-system "$BL"; sync; warm_server
    b0=$(lo_bytes); q0=$(gitd_requests)
    run_t git clone -q --filter=blob:none --no-checkout "$URL" "$BL"; t1=$T_LAST
    b1+=("$(( $(lo_bytes) - b0 ))"); b0=$(lo_bytes)
    CUR=checkout-blobless
    if [[ $t1 != FAIL ]]; then run_t git -C "$BL" checkout -q "$COMMIT"; t2=$T_LAST; else t2=FAIL; fi
    CUR=clone-blobless
    b2+=("$(( $(lo_bytes) - b0 ))"); REQ[blobless-total]=$(( $(gitd_requests) - q0 ))
    v1+=("$t1"); v2+=("$t2"); vt+=("$(add "$t1" "$t2")")
    record clone-blobless "$r" "$t1" "${b1[-1]}"; record checkout-blobless "$r" "$t2" "${b2[-1]}"
    record blobless-total "$r" "${vt[-1]}"
    [[ $r -lt $REPS ]] && { rm -rf --one-file-system "$BL"; }
    sync
done
finish clone-blobless "${v1[@]}"; finish checkout-blobless "${v2[@]}"; finish blobless-total "${vt[@]}"
BYT[clone-blobless]=$(median "${b1[@]}"); BYT[checkout-blobless]=$(median "${b2[@]}")
BYT[blobless-total]=$(add "${BYT[clone-blobless]}" "${BYT[checkout-blobless]}" | cut -d. -f1)
if [[ -d $BL ]]; then
    out=$(diff -r -q --no-dereference -x .git "$FULL" "$BL" 2>&1 | head -n 3 | tr '\n' ' ') || true
    [[ -z $out ]] || issue "blobless checkout differs from the full clone: $out"
    rm -rf --one-file-system "$BL"
fi

# 3. Native reads of every file over the full clone's work tree.
CUR=native-warm; log "=== native: tar of the full clone's work tree"
run_t bash -c "$SH_TAR" _ "$FULL"    # warm-up
vals=()
for ((r = 1; r <= REPS; r++)); do run_t bash -c "$SH_TAR" _ "$FULL"; vals+=("$T_LAST"); record native-warm "$r" "$T_LAST"; done
finish native-warm "${vals[@]}"
CUR=native-drop; vals=()
for ((r = 1; r <= REPS; r++)); do drop_caches; run_t bash -c "$SH_TAR" _ "$FULL"; vals+=("$T_LAST"); record native-drop "$r" "$T_LAST"; done
finish native-drop "${vals[@]}"

# 4. Scorpio: cold mount (fresh cache) + first ls.
CUR=sc-cold-ls; log "=== scorpio: cold mount + first ls, $REPS runs"
vals=() mvals=() bvals=()
WARM_CACHE=$RUN/cache-warm
for ((r = 1; r <= REPS; r++)); do
    c=$RUN/cache-cold.$r; rm -rf --one-file-system "$c"; warm_server
    mount_and_ls sc-cold-ls "$r" cold-ls "$c"
    vals+=("$T_LAST"); mvals+=("$T_MOUNT"); bvals+=("$B_LAST"); REQ[sc-cold-ls]=$Q_LAST
    sc_unmount
    if [[ ! -d $WARM_CACHE && $T_LAST != FAIL ]]; then mv "$c" "$WARM_CACHE"; else rm -rf --one-file-system "$c"; fi
done
finish sc-cold-ls "${vals[@]}"; RES[sc-cold-ls.mount]=$(median "${mvals[@]}"); BYT[sc-cold-ls]=$(median "${bvals[@]}")
TREE_BYTES_LOG=$(grep -m1 'fetched the trees' "$OUT_DIR/dicfuse-cold-ls.log" 2>/dev/null | grep -o 'bytes=[0-9]*' | cut -d= -f2 || true)
TREE_MS_LOG=$(grep -m1 'fetched the trees' "$OUT_DIR/dicfuse-cold-ls.log" 2>/dev/null | grep -o 'elapsed=[0-9]* ms' | tr -dc 0-9 || true)

if ((LAZY)); then
    CUR=sc-lazy-ls; log "=== scorpio: cold mount --trees lazy + first ls, $REPS runs"
    vals=() mvals=() bvals=()
    for ((r = 1; r <= REPS; r++)); do
        c=$RUN/cache-lazy.$r; rm -rf --one-file-system "$c"; warm_server
        mount_and_ls sc-lazy-ls "$r" cold-ls-lazy "$c" --trees lazy
        vals+=("$T_LAST"); mvals+=("$T_MOUNT"); bvals+=("$B_LAST"); REQ[sc-lazy-ls]=$Q_LAST
        sc_unmount
        rm -rf --one-file-system "$c"
    done
    finish sc-lazy-ls "${vals[@]}"; RES[sc-lazy-ls.mount]=$(median "${mvals[@]}"); BYT[sc-lazy-ls]=$(median "${bvals[@]}")
fi

# 5. Warm remount: same cache, new mount point and upper.
for mode in warm drop; do
    if [[ ! -d $WARM_CACHE ]]; then
        issue "sc-remount-$mode: skipped, no cold mount succeeded to warm a cache"
        RES[sc-remount-$mode]=FAIL; continue
    fi
    CUR=sc-remount-$mode; log "=== scorpio: remount with the warm cache ($mode page cache) + first ls, $REPS runs"
    vals=() mvals=() bvals=()
    for ((r = 1; r <= REPS; r++)); do
        if [[ $mode == drop ]]; then drop_caches; warm_server; fi    # the client cold, the server not
        mount_and_ls "sc-remount-$mode" "$r" remount "$WARM_CACHE"
        vals+=("$T_LAST"); mvals+=("$T_MOUNT"); bvals+=("$B_LAST"); REQ[sc-remount-$mode]=$Q_LAST
        sc_unmount
    done
    finish "sc-remount-$mode" "${vals[@]}"; RES[sc-remount-$mode.mount]=$(median "${mvals[@]}")
    BYT[sc-remount-$mode]=$(median "${bvals[@]}")
done
rm -rf --one-file-system "$WARM_CACHE"

# 6. Read every file cold (fresh cache), then warm; one mount per variant.
declare -A CACHE_STATS=() HWM=()
VERIFIED=0
for variant in $READS; do
    case $variant in prefetch) pmode=siblings ;; *) pmode=$variant ;; esac
    tag=read-$variant
    CUR=sc-$tag; log "=== scorpio: read every file cold, $variant, $COLD_REPS run(s)"
    vm=() vp=() vr=() vt=() bv=() rq=()
    for ((r = 1; r <= COLD_REPS; r++)); do
        c=$RUN/cache-$tag; rm -rf --one-file-system "$c"; warm_server
        l0=$(( $(log_lines "$OUT_DIR/dicfuse-$tag.log") + 1 ))
        b0=$(lo_bytes); q0=$(gitd_requests)
        if ! sc_mount "$tag" "$c" --prefetch "$pmode"; then
            vm+=(FAIL); vt+=(FAIL); continue
        fi
        vm+=("$T_MOUNT"); tp=0
        if [[ $variant == prefetch ]]; then
            STDERR_OK='^prefetch: ([0-9]+/[0-9]+ files, 0 failed|[0-9]+ objects, [0-9.]+ MiB received in )' run_t "$SC_BIN" prefetch "$SC_MNT" --jobs "$PF_JOBS"
            tp=$T_LAST; PF_SUMMARY=$(tail -n 1 "$RUN/cmd.err")
            if [[ $tp != FAIL && $PF_SUMMARY == "prefetch: 0/0 files"* ]]; then
                # Seen with the 2026-11-25 build: the mount's root reports st_nlink 2 (its upper
                # directory's) although it holds lower subdirectories, so the walk's nlink
                # shortcut lists no subdirectory. Name the top-level directories instead; the
                # time of both calls counts.
                issue "$CUR: 'scorpio-provider prefetch MNT' found no files ($PF_SUMMARY; root st_nlink $(stat -c %h "$SC_MNT")); retried with the top-level directories as paths"
                mapfile -t tops < <(find "$SC_MNT" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
                STDERR_OK='^prefetch: ([0-9]+/[0-9]+ files, 0 failed|[0-9]+ objects, [0-9.]+ MiB received in )' run_t "$SC_BIN" prefetch "$SC_MNT" "${tops[@]}" --jobs "$PF_JOBS"
                tp=$(add "$tp" "$T_LAST"); PF_SUMMARY=$(tail -n 1 "$RUN/cmd.err")
            fi
            vp+=("$tp")
        fi
        run_t bash -c "$SH_TAR" _ "$SC_MNT"; vr+=("$T_LAST")
        bv+=("$(( $(lo_bytes) - b0 ))"); rq+=("$(( $(gitd_requests) - q0 ))")
        vt+=("$(add "$(add "$T_MOUNT" "$tp")" "$T_LAST")")
        record "sc-$tag.total" "$r" "${vt[-1]}" "${bv[-1]}"; record "sc-$tag.tar" "$r" "$T_LAST"
        [[ $variant == prefetch ]] && record "sc-$tag.prefetch" "$r" "$tp"
        read -r nreq nblob < <(blob_fetch_stats "$OUT_DIR/dicfuse-$tag.log" "$l0")
        NOTE[sc-$tag]="$nreq blob requests, $nblob blobs"
        [[ $variant == prefetch ]] && NOTE[sc-$tag]+="; \`$PF_SUMMARY\`"
        CACHE_STATS[$tag]=$("$SC_BIN" cache stats --cache "$c" 2>&1 | grep -v '^cache:' | tr '\n' ';' | sed 's/;$//; s/;/; /g')
        CACHE_STATS[$tag.du]=$(du -sb "$c" | cut -f1)
        HWM[$tag]=$(daemon_hwm)
        if ((r < COLD_REPS)); then sc_unmount; fi
    done
    finish "sc-$tag.total" "${vt[@]}"; finish "sc-$tag.mount" "${vm[@]}"
    [[ $variant == prefetch ]] && finish "sc-$tag.prefetch" "${vp[@]}"
    finish "sc-$tag.tar" "${vr[@]}"
    ((${#bv[@]})) && BYT[sc-$tag]=$(median "${bv[@]}") && REQ[sc-$tag]=$(median "${rq[@]}" | cut -d. -f1)

    # Warm reads on the first variant's mount: page cache hot, then dropped.
    if ((VERIFIED == 0)) && [[ -n $SC_MNT ]] && is_mounted "$SC_MNT"; then
        VERIFIED=1
        CUR=sc-warm; log "=== scorpio: read every file warm ($variant mount)"
        b0=$(lo_bytes)
        run_t bash -c "$SH_TAR" _ "$SC_MNT"    # warm-up
        vals=()
        for ((r = 1; r <= REPS; r++)); do run_t bash -c "$SH_TAR" _ "$SC_MNT"; vals+=("$T_LAST"); record sc-warm "$r" "$T_LAST"; done
        finish sc-warm "${vals[@]}"
        CUR=sc-warm-drop; vals=()
        for ((r = 1; r <= REPS; r++)); do drop_caches; run_t bash -c "$SH_TAR" _ "$SC_MNT"; vals+=("$T_LAST"); record sc-warm-drop "$r" "$T_LAST"; done
        finish sc-warm-drop "${vals[@]}"
        warm_bytes=$(( $(lo_bytes) - b0 )); BYT[sc-warm]=$warm_bytes
        if ((warm_bytes > 0)); then issue "sc-warm: warm reads moved $warm_bytes bytes over loopback (expected none)"; fi
        HWM[warm]=$(daemon_hwm)
        CUR=sc-verify; verify_tree "$SC_MNT" "$FULL"
        # The same cache remounted with --no-open: the kernel opens files without asking the
        # daemon and keeps their page cache across opens.
        CUR=sc-warm-noopen; sc_unmount
        if sc_mount warm-noopen "$c" --prefetch none --no-open; then
            log "=== scorpio --no-open: read every file warm"
            run_t bash -c "$SH_TAR" _ "$SC_MNT"    # warm-up: fills this mount's page cache
            vals=()
            for ((r = 1; r <= REPS; r++)); do run_t bash -c "$SH_TAR" _ "$SC_MNT"; vals+=("$T_LAST"); record sc-warm-noopen "$r" "$T_LAST"; done
            finish sc-warm-noopen "${vals[@]}"
            CUR=sc-warm-noopen-drop; vals=()
            for ((r = 1; r <= REPS; r++)); do drop_caches; run_t bash -c "$SH_TAR" _ "$SC_MNT"; vals+=("$T_LAST"); record sc-warm-noopen-drop "$r" "$T_LAST"; done
            finish sc-warm-noopen-drop "${vals[@]}"
            CUR=sc-verify-noopen; verify_tree "$SC_MNT" "$FULL"
        fi
    fi
    CUR=sc-$tag; sc_unmount
    rm -rf --one-file-system "$c"
done
CUR=

# Errors and warnings from scorpio's logs; kernel messages.
SC_LOG_ISSUES=$(log_warnings 's/[0-9a-f]{40}/<id>/g' "$OUT_DIR"/dicfuse-*.log)
DMESG_NEW=$(new_kernel_messages 'fuse|scorpio|segfault|blocked for more|oom')

# ------------------------------------------------------------------ report ---
# speedup A B: B / A as "N.NNx" (how many times faster A is than B).
speedup() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "FAIL" || b == "FAIL" || a + 0 == 0) print "–"; else printf "%.2fx", b / a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "FAIL" || b == "FAIL" || b + 0 == 0) print "–"; else printf "%.2f", a / b }'; }
sec() { fmt_secs "${RES[$1]:-}"; }
mib() { local v=${1:-}; [[ -z $v || $v == FAIL ]] && echo "–" || awk -v b="$v" 'BEGIN { if (b < 1048576) printf "%.1f KiB", b / 1024; else printf "%.1f MiB", b / 1048576 }'; }
byt() { mib "${BYT[$1]:-}"; }
# met COND-AWK-EXPR: "met" / "**missed**" / "–" (when a value is missing)
met() { awk "BEGIN { if ($1) print \"met\"; else print \"**missed**\" }" 2>/dev/null || echo "–"; }
have() { local v; for v in "$@"; do [[ -z $v || $v == FAIL || $v == – ]] && return 1; done; return 0; }

CF=${RES[clone-full]}
{
    echo "# Dicfuse benchmark: scorpio-provider --repo vs git clone"
    echo
    echo "- $(run_conditions); $(git --version)"
    echo "- scorpio-provider: \`$SC_SRC\` (sha256 $SC_SHA…), extra args: \`${SC_EXTRA[*]:-(none)}\`, log level $SC_LOG_LEVEL"
    echo "- repository: \`$REPO\`, commit ${COMMIT:0:12}: $R_FILES files ($R_BIG of 1 MiB or more) + $R_LINKS symlinks in $R_DIRS directories, $(mib "$R_BLOBBYTES") of content (work tree $(mib "$WT_BYTES") on disk); repository on disk $(mib "$R_DU"), pack $(mib "$R_PACK"); taken from ${SRC_DIRS[*]} (DBENCH_FILES=$NFILES)"
    echo "- served by \`git daemon\` on 127.0.0.1:$PORT (protocol v2; allowFilter, allowAnySHA1InWant, advertiseObjectInfo), server's pack in the page cache before each network step; $( ((PRIVATE_NET)) && echo 'private network namespace: loopback bytes are this run'"'"'s git traffic only (both directions, with TCP/IP headers)' || echo 'host network namespace: loopback bytes include other traffic')"
    echo "- creating an empty file on the run's filesystem ($([[ -n $FRESH_FS ]] && echo 'a fresh journaled ext4 loop image' || echo "\`$DBENCH_DIR\`'s")) took $CREATE_MS ms (2,000 files; clones and scorpio's cache both create one file per blob)"
    echo "- medians of $REPS runs (cold reads of every file: $COLD_REPS); times from the command's start to its end (\`EPOCHREALTIME\`); \"cold\" = a fresh, empty scorpio cache"
    echo
    echo "## Time to the first \`ls\`"
    echo
    echo "| step | time | speedup vs full clone | bytes over loopback | upload-pack requests |"
    echo "|---|---|---|---|---|"
    echo "| \`git clone\` (full, with checkout) | $(sec clone-full) | 1.00x | $(byt clone-full) | ${REQ[clone-full]:-–} |"
    echo "| \`git clone --filter=blob:none --no-checkout\` | $(sec clone-blobless) | $(speedup "${RES[clone-blobless]}" "$CF") | $(byt clone-blobless) | |"
    echo "| then \`git checkout <commit>\` (fetches every blob) | $(sec checkout-blobless) | | $(byt checkout-blobless) | |"
    echo "| blobless clone + checkout, total | $(sec blobless-total) | $(speedup "${RES[blobless-total]}" "$CF") | $(byt blobless-total) | ${REQ[blobless-total]:-–} |"
    echo "| scorpio cold mount + first \`ls\` (mount CLI alone: $(sec sc-cold-ls.mount)) | $(sec sc-cold-ls) | $(speedup "${RES[sc-cold-ls]}" "$CF") | $(byt sc-cold-ls) | ${REQ[sc-cold-ls]:-–} |"
    ((LAZY)) && echo "| scorpio cold mount \`--trees lazy\` + first \`ls\` (mount CLI alone: $(sec sc-lazy-ls.mount)) | $(sec sc-lazy-ls) | $(speedup "${RES[sc-lazy-ls]}" "$CF") | $(byt sc-lazy-ls) | ${REQ[sc-lazy-ls]:-–} |"
    echo "| scorpio warm remount + first \`ls\` (mount CLI alone: $(sec sc-remount-warm.mount)) | $(sec sc-remount-warm) | $(speedup "${RES[sc-remount-warm]}" "$CF") | $(byt sc-remount-warm) | ${REQ[sc-remount-warm]:-–} |"
    echo "| scorpio warm remount + first \`ls\` after drop_caches (mount CLI alone: $(sec sc-remount-drop.mount)) | $(sec sc-remount-drop) | $(speedup "${RES[sc-remount-drop]}" "$CF") | $(byt sc-remount-drop) | ${REQ[sc-remount-drop]:-–} |"
    echo
    [[ -n $TREE_BYTES_LOG ]] && echo "scorpio's log: the trees' pack was $(mib "$TREE_BYTES_LOG"), fetched in ${TREE_MS_LOG:-?} ms (first cold mount). A full clone's \`.git\` holds $(mib "$CLONE_GIT_BYTES")." && echo
    echo "## Read every file (\`tar -cf - . | cat >/dev/null\`)"
    echo
    echo "| step | time | vs full clone (clone ÷ this) | vs native (this ÷ native) | bytes over loopback | upload-pack requests | notes |"
    echo "|---|---|---|---|---|---|---|"
    echo "| \`git clone\` (full), for reference | $(sec clone-full) | 1.00x | | $(byt clone-full) | ${REQ[clone-full]:-–} | |"
    echo "| native: full clone's work tree, page cache dropped | $(sec native-drop) | | 1.00 | | | |"
    echo "| native: full clone's work tree, warm | $(sec native-warm) | | 1.00 | | | |"
    for variant in $READS; do
        tag=read-$variant
        case $variant in
            prefetch) lbl="cold: mount + \`scorpio-provider prefetch --jobs $PF_JOBS\` + tar" ;;
            *) lbl="cold: mount \`--prefetch $variant\` + tar" ;;
        esac
        parts="mount $(sec sc-$tag.mount)"
        [[ $variant == prefetch ]] && parts+=", prefetch $(sec sc-$tag.prefetch)"
        parts+=", tar $(sec sc-$tag.tar); ${NOTE[sc-$tag]:-}; cache after: ${CACHE_STATS[$tag]:-?} ($(mib "${CACHE_STATS[$tag.du]:-}") on disk); daemon VmHWM ${HWM[$tag]:-?}"
        echo "| scorpio $lbl | $(sec sc-$tag.total) | $(speedup "${RES[sc-$tag.total]}" "$CF") | | $(byt sc-$tag) | ${REQ[sc-$tag]:-–} | $parts |"
    done
    echo "| scorpio warm (cache and page cache hot) | $(sec sc-warm) | | $(ratio "${RES[sc-warm]:-}" "${RES[native-warm]}") | $(mib "${BYT[sc-warm]:-}") | | daemon VmHWM ${HWM[warm]:-?} |"
    echo "| scorpio warm cache, page cache dropped | $(sec sc-warm-drop) | | $(ratio "${RES[sc-warm-drop]:-}" "${RES[native-drop]}") | | | vs native with page cache dropped |"
    echo "| scorpio \`--no-open\` warm (cache and page cache hot) | $(sec sc-warm-noopen) | | $(ratio "${RES[sc-warm-noopen]:-}" "${RES[native-warm]}") | | | no OPEN/RELEASE round trips |"
    echo "| scorpio \`--no-open\` warm cache, page cache dropped | $(sec sc-warm-noopen-drop) | | $(ratio "${RES[sc-warm-noopen-drop]:-}" "${RES[native-drop]}") | | | vs native with page cache dropped |"
    echo
    echo "## Bytes fetched vs repository size"
    echo
    echo "| what | bytes |"
    echo "|---|---|"
    echo "| content of the commit (sum of blob sizes) | $(mib "$R_BLOBBYTES") |"
    echo "| served repository on disk (\`du -sb\`) / its pack | $(mib "$R_DU") / $(mib "$R_PACK") |"
    echo "| full clone over loopback / its \`.git\` on disk | $(byt clone-full) / $(mib "$CLONE_GIT_BYTES") |"
    echo "| blobless clone + checkout over loopback | $(byt blobless-total) |"
    echo "| scorpio cold mount (commit + trees) over loopback | $(byt sc-cold-ls) |"
    for variant in $READS; do
        echo "| scorpio mount + read every file ($variant) over loopback / cache on disk | $(byt sc-read-$variant) / $(mib "${CACHE_STATS[read-$variant.du]:-}") |"
    done
    echo
    echo "## Targets"
    echo
    echo "| target | measured | result |"
    echo "|---|---|---|"
    a=${RES[sc-cold-ls]}
    if have "$a" "$CF"; then r=$(speedup "$a" "$CF"); m=$(met "$CF / $a >= 10"); else r=–; m=–; fi
    echo "| first \`ls\` at least 10x faster than a full clone | $(fmt_secs "$a") vs $(fmt_secs "$CF"): $r | $m |"
    if ((LAZY)); then
        a=${RES[sc-lazy-ls]:-}
        if have "$a" "$CF"; then r=$(speedup "$a" "$CF"); m=$(met "$CF / $a >= 10"); else r=–; m=–; fi
        echo "| (same, \`--trees lazy\`) | $(fmt_secs "$a") vs $(fmt_secs "$CF"): $r | $m |"
    fi
    for mode in warm drop; do
        a=${RES[sc-remount-$mode]}
        if have "$a"; then m=$(met "$a < 1"); else m=–; fi
        echo "| warm remount + first \`ls\` under 1 s ($([[ $mode == warm ]] && echo 'page cache hot' || echo 'after drop_caches')) | $(fmt_secs "$a") | $m |"
    done
    for variant in $READS; do
        a=${RES[sc-read-$variant.total]:-}
        if have "$a" "$CF"; then m=$(met "$a <= $CF"); else m=–; fi
        echo "| reading every file cold ($variant) no slower than a full clone | $(fmt_secs "$a") vs $(fmt_secs "$CF") | $m |"
    done
    a=${RES[sc-warm]:-}
    if have "$a" "${RES[native-warm]}"; then r=$(ratio "$a" "${RES[native-warm]}"); m=$(met "$r <= $NATIVE_TOL"); r+=x; else r=–; m=–; fi
    echo "| warm reads at native speed (≤ ${NATIVE_TOL}x native, page cache hot) | $(fmt_secs "$a") vs $(fmt_secs "${RES[native-warm]}"): $r | $m |"
    a=${RES[sc-warm-drop]:-}
    if have "$a" "${RES[native-drop]}"; then r=$(ratio "$a" "${RES[native-drop]}"); m=$(met "$r <= $NATIVE_TOL"); r+=x; else r=–; m=–; fi
    echo "| (same, page cache dropped) | $(fmt_secs "$a") vs $(fmt_secs "${RES[native-drop]}"): $r | $m |"
    for mode in "" -drop; do
        a=${RES[sc-warm-noopen$mode]:-}; n=${RES[native${mode:--warm}]}
        if have "$a" "$n"; then r=$(ratio "$a" "$n"); m=$(met "$r <= $NATIVE_TOL"); r+=x; else r=–; m=–; fi
        echo "| (same with \`--no-open\`, page cache $([[ -z $mode ]] && echo hot || echo dropped)) | $(fmt_secs "$a") vs $(fmt_secs "$n"): $r | $m |"
    done
    echo
    if [[ -s $ISSUES_FILE ]]; then
        echo "Issues seen during the run (bench/out/dicfuse-issues.txt):"
        echo
        sed 's/^/- /' "$ISSUES_FILE"
    else
        echo "Issues seen during the run: none$( ((VERIFY)) && echo '; the mount matched the full clone (contents, symlink targets, sizes, modes)')"
    fi
    md_block "scorpio-provider log warnings/errors (count, message; logs: bench/out/dicfuse-*.log):" "$SC_LOG_ISSUES"
    md_block "Kernel messages during the run:" "$DMESG_NEW"
    echo
    echo "Total run time: $(( $(date +%s) - T0 )) s (without building the repository)"
} | tee "$REPORT"
