# shellcheck shell=bash
# Helpers shared by the benchmark scripts in bench/ (run.sh, dicfuse.sh, virtiofs.sh), so that
# the safety-critical ones (unmounting, killing only our own processes, removing run
# directories) exist once. Sourced right after `set -euo pipefail`; it only defines functions
# and variables and runs nothing else.
#
# Sets SCRIPT_DIR, REPO_DIR, OUT_DIR, MOUNTS, OUR_PIDS and CLEANUP_DAEMON. The sourcing script
# sets, before the helpers that read them run:
#   RUN          its private run directory ($X_DIR/run.$$), removed on exit
#   ISSUES_FILE  where issue() appends (a file, so subshells can add to it too)
# and may redefine the cleanup hooks cleanup_first, cleanup_unmount and cleanup_last.

# Every script lives in bench/ next to this file, so this file's directory is the script's.
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SCRIPT_DIR")
# shellcheck disable=SC2034    # used by the sourcing scripts only
OUT_DIR=$SCRIPT_DIR/out

# ------------------------------------------------------------------ basics ---
# print_help SCRIPT: --help is the script's header comment (line 2 up to `set -euo pipefail`),
# so usage and environment knobs are documented in one place.
print_help() { sed -n '2,/^set -euo/p' "$1" | sed '$d; s/^# \{0,1\}//'; }

# Progress goes to stderr, so stdout carries only the report.
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# issue MSG: a problem worth reporting that does not stop the run; the report lists them all.
issue() { printf '%s\n' "$*" >>"$ISSUES_FILE"; log "ISSUE: $*"; }

# secs START END: elapsed seconds between two timestamps with fractions, 3 decimals.
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.3f", e - s }'; }

# Cold reads mean cold page, dentry and inode caches, with dirty data written out first.
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# median VALUE...: the median, 3 decimals; FAIL when there is no value or any one FAILed, so a
# partly failed measurement never looks like a result.
median() {
    local v
    (($#)) || { echo FAIL; return; }
    for v in "$@"; do [[ $v == FAIL ]] && { echo FAIL; return; }; done
    printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ------------------------------------------------------- our mounts, pids ---
declare -ga MOUNTS=()      # every mount point this run mounted (or tried to): cleanup unmounts them
declare -gA OUR_PIDS=()    # daemon pid -> its mount point: the only processes cleanup may kill

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

# A pid is ours only while its command line still names our mount point: a pid of a daemon
# that exited may have been reused by an unrelated process, which must not be killed.
pid_is_ours() {
    local pid=$1 m=$2
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$m"
}

# daemon_gone PID MNT TENTHS: waits up to TENTHS x 0.1 s for our daemon PID (serving MNT) to
# exit after its unmount; false if it still runs, and the caller decides how to stop it.
daemon_gone() {
    local i
    for ((i = 0; i < $3; i++)); do
        pid_is_ours "$1" "$2" || return 0
        sleep 0.1
    done
    ! pid_is_ours "$1" "$2"
}

# ----------------------------------------------------------------- cleanup ---
# Hooks for cleanup; a script redefines the ones it needs after sourcing this file.
# cleanup_first: before anything is unmounted (e.g. stop the command running now).
cleanup_first() { :; }
# cleanup_unmount MNT: unmount MNT, which is still mounted; lazily, so a busy mount cannot block.
cleanup_unmount() { log "cleanup: umount -l $1"; umount -l "$1"; }
# cleanup_last: after mounts and daemons, before the run directory goes (other helpers).
cleanup_last() { :; }
CLEANUP_DAEMON=daemon    # what cleanup's log calls the daemons in OUR_PIDS

# A daemon may outlive a lazy unmount while its mount is busy: stop ours (and only ours,
# pid_is_ours), politely first.
cleanup_daemons() {
    local pid m
    for pid in "${!OUR_PIDS[@]}"; do
        m=${OUR_PIDS[$pid]}
        daemon_gone "$pid" "$m" 50 && continue
        log "cleanup: $CLEANUP_DAEMON $pid still running after unmount; SIGTERM"
        kill -TERM "$pid"
        sleep 1
        pid_is_ours "$pid" "$m" && kill -KILL "$pid"
    done
}

# The run directory goes unless something is still mounted below it: rm must never reach
# into a mount (--one-file-system is the second guard).
cleanup_run_dir() {
    [[ -d $RUN ]] || return 0
    if grep -qF " $RUN/" /proc/mounts; then
        log "cleanup: mounts still present under $RUN; not deleting it"
    else
        rm -rf --one-file-system "$RUN"
    fi
}

# The EXIT trap: unmount newest first (a mount may sit inside an older one), stop our daemons,
# remove the run directory; exits with the status the script was exiting with.
cleanup() {
    local rc=$? i
    [[ $BASHPID == "$$" ]] || return 0    # only the main shell cleans up
    set +e
    trap - EXIT INT TERM
    cleanup_first
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        is_mounted "${MOUNTS[i]}" && cleanup_unmount "${MOUNTS[i]}"
    done
    cleanup_daemons
    cleanup_last
    [[ -n ${FRESH_FS:-} ]] && ! is_mounted "$RUN" && rm -f "$FRESH_FS"
    cleanup_run_dir
    exit "$rc"
}

# Ctrl-C and kill become plain exits (with the usual 128+signal status), so the EXIT trap
# cleans up in every case.
install_cleanup_trap() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# mount_fresh_run_fs: puts the run directory $RUN on a fresh journaled ext4 (a sparse loop image
# next to it, removed by the EXIT trap), so every run and every filesystem measured in it start
# from the same clean disk. The root filesystem of these machines has no journal, and ext4
# without one skips inodes deleted in the last 60-360 s when it allocates (recently_deleted()
# in fs/ext4/ialloc.c): a step that created many files soon after another deleted many ran up
# to 3x slower (three full clones in one run: 13.8, 30.8 and 40.3 s).
FRESH_FS=''
mount_fresh_run_fs() {
    truncate -s 64G "$RUN.img" && mkfs.ext4 -q -F "$RUN.img" && mount -o loop "$RUN.img" "$RUN" ||
        die "cannot make and mount a fresh ext4 for the run at $RUN (BENCH_FRESH_FS=0 or DBENCH_FRESH_FS=0 runs on the root filesystem)"
    MOUNTS+=("$RUN")    # unmounted last, after the mounts inside it
    FRESH_FS=$RUN.img
}

# remove_stale_runs DIR: removes the DIR/run.* directories of earlier, killed runs, except those
# with something still mounted below them.
remove_stale_runs() {
    local d
    for d in "$1"/run.*; do
        [[ -d $d ]] || continue
        grep -qE " $d[/ ]" /proc/mounts && continue
        rm -rf --one-file-system "$d"
        rm -f "$d.img"    # dicfuse.sh's filesystem image of that run
    done
}

# -------------------------------------------------------------- the binary ---
# Where the binary comes from: SCORPIO_BIN, else the release build, else the debug build;
# nothing while none is executable (a concurrent build may briefly remove it).
scorpio_bin_source() {
    if [[ -n ${SCORPIO_BIN:-} ]]; then
        [[ -x $SCORPIO_BIN ]] && echo "$SCORPIO_BIN"
    elif [[ -x $REPO_DIR/.build/release/scorpio-provider ]]; then
        echo "$REPO_DIR/.build/release/scorpio-provider"
    elif [[ -x $REPO_DIR/.build/debug/scorpio-provider ]]; then
        echo "$REPO_DIR/.build/debug/scorpio-provider"
    fi
    return 0
}

# copy_stable_bin SRC: copies SRC to $RUN/bin/scorpio-provider if its size and mtime held still
# for a second (no build is writing it) and the copy runs.
copy_stable_bin() {
    local s1 s2
    mkdir -p "$RUN/bin"
    s1=$(stat -c %s.%Y "$1" 2>/dev/null || true); sleep 1
    s2=$(stat -c %s.%Y "$1" 2>/dev/null || true)
    [[ -n $s1 && $s1 == "$s2" ]] && cp "$1" "$RUN/bin/scorpio-provider" 2>/dev/null \
        && "$RUN/bin/scorpio-provider" --help >/dev/null 2>&1
}

# copy_scorpio_bin: benchmarks a private copy, so a rebuild cannot swap the binary mid-run.
# Sets SC_BIN (the copy), SC_SRC (where it came from) and SC_SHA; waits about 3 minutes for a
# usable binary, then dies.
copy_scorpio_bin() {
    local src
    for _ in {1..90}; do
        src=$(scorpio_bin_source)
        if [[ -n $src ]] && copy_stable_bin "$src"; then
            SC_BIN=$RUN/bin/scorpio-provider SC_SRC=$src
            SC_SHA=$(sha256sum "$SC_BIN" | cut -c1-16)
            log "scorpio-provider: $SC_SRC (sha256 $SC_SHA..., copied to $SC_BIN)"
            return 0
        fi
        log "waiting for the scorpio-provider binary (${SCORPIO_BIN:-$REPO_DIR/.build/*/scorpio-provider})"
        sleep 2
    done
    die "no usable scorpio-provider binary"
}

# ------------------------------------------------------------------ report ---
# note_run_start: what the report compares the end of the run with (DMESG_START, START_LOAD, T0).
# shellcheck disable=SC2034    # T0 is read by the sourcing scripts
note_run_start() {
    DMESG_START=$(dmesg 2>/dev/null | wc -l || echo 0)
    START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
    T0=$(date +%s)
}

# run_conditions: when and where the run happened and how busy the host was, for the report.
run_conditions() {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) cores, load at start $START_LOAD, at end $(cut -d' ' -f1-3 /proc/loadavg)"
}

# new_kernel_messages REGEX: up to 20 kernel messages since note_run_start matching REGEX; our
# own drop_caches writes are left out.
new_kernel_messages() {
    dmesg 2>/dev/null | tail -n +$((DMESG_START + 1)) | grep -iE "$1" | grep -v drop_caches | head -n 20 || true
}

# log_warnings SED-EXPR LOG...: the 20 commonest warning/error/critical messages in scorpio's
# logs, with counts; SED-EXPR (may be empty) first masks what differs between equal messages.
log_warnings() {
    local fold=$1; shift
    cat -- "$@" 2>/dev/null | grep -E '^[^ ]+ (warning|error|critical) ' | cut -d' ' -f2- \
        | sed -E "$fold" | sort | uniq -c | sort -rn | head -n 20 || true
}

# fmt_secs VALUE: a report cell for seconds: "–" when there is no value, FAIL, or "N s".
fmt_secs() {
    if [[ -z $1 ]]; then echo "–"; elif [[ $1 == FAIL ]]; then echo FAIL; else echo "$1 s"; fi
}

# md_block HEADING TEXT: TEXT as a fenced block under HEADING (blank line first); nothing when
# TEXT is empty, so optional sections disappear.
md_block() {
    [[ -n $2 ]] || return 0
    echo
    echo "$1"
    echo
    echo '```'
    echo "$2"
    echo '```'
}
