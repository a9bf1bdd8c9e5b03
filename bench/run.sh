#!/usr/bin/env bash
# Benchmark scorpio-provider against native ext4, kernel overlayfs and
# fuse-overlayfs on the same generated lower tree, in one run.
#
# Usage: bench/run.sh [--quick]
#
# Environment:
#   SCORPIO_BIN        binary to benchmark (default .build/release/scorpio-provider,
#                      else .build/debug/scorpio-provider). It is copied into the
#                      run directory first so a concurrent rebuild cannot swap it
#                      in the middle of the run.
#   SCORPIO_ARGS       extra arguments for scorpio-provider (e.g. "--no-passthrough")
#   SCORPIO_LOG_LEVEL  scorpio log level (default info); log: bench/out/scorpio.log
#   BENCH_DIR          where the lower tree, tarball and mounts live
#                      (default /var/tmp/scorpio-bench); the lower is reused
#   BENCH_FILES        number of files in the lower tree (100000, --quick 5000)
#   BENCH_BIG_MB       size of the big sequential-read file (1024, --quick 256)
#   BENCH_UNTAR_FILES  files in the untar tarball (10000, --quick 2000)
#   BENCH_C_FILES      .c files in the make project (200, --quick 50)
#   BENCH_RANDIO       number of 4k random reads (200000: with 20000 the 35 ms total varied
#                      by ±20% between runs of one filesystem)
#   BENCH_REPS         repetitions of warm workloads, median reported (3)
#   BENCH_FS           filesystems to run (default "ext4 overlayfs fuse-overlayfs scorpio")
#   BENCH_TIMEOUT      per-command timeout in seconds (1800, --quick 600)
#   BENCH_VERIFY       1 = check that each mount shows the same data as the lower (1)
#   BENCH_FRESH_FS     1 = uppers, work directories, untar targets and mounts live on a fresh
#                      journaled ext4 made for the run; the lower stays where it is (1; see
#                      mount_fresh_run_fs in lib.sh for why)
#
# Output: a markdown table on stdout and in bench/out/results.md; raw timings in
# bench/out/raw.csv; stderr of workloads in bench/out/stderr.log.
set -euo pipefail
# SCRIPT_DIR, REPO_DIR, OUT_DIR, log, die, issue, the cleanup trap and the other shared helpers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUICK=0
while (($#)); do
    case $1 in
        --quick) QUICK=1 ;;
        -h|--help) print_help "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "run.sh: unknown argument: $1" >&2; exit 64 ;;
    esac
    shift
done

[[ $EUID -eq 0 ]] || die "must run as root (mounts, drop_caches)"

BENCH_DIR=${BENCH_DIR:-/var/tmp/scorpio-bench}
if ((QUICK)); then
    NFILES=${BENCH_FILES:-5000}; MAXSZ=16384; LARGE_LO=32768; LARGE_HI=262144
    BIG_MB=${BENCH_BIG_MB:-256}; UNTAR_N=${BENCH_UNTAR_FILES:-2000}; NCFILES=${BENCH_C_FILES:-50}
    TMO=${BENCH_TIMEOUT:-600}
else
    NFILES=${BENCH_FILES:-100000}; MAXSZ=65536; LARGE_LO=262144; LARGE_HI=2097152
    BIG_MB=${BENCH_BIG_MB:-1024}; UNTAR_N=${BENCH_UNTAR_FILES:-10000}; NCFILES=${BENCH_C_FILES:-200}
    TMO=${BENCH_TIMEOUT:-1800}
fi
RANDIO=${BENCH_RANDIO:-200000}
REPS=${BENCH_REPS:-3}
VERIFY=${BENCH_VERIFY:-1}
FS_LIST=${BENCH_FS:-ext4 overlayfs fuse-overlayfs scorpio}
SC_LOG_LEVEL=${SCORPIO_LOG_LEVEL:-info}
read -r -a SC_EXTRA <<<"${SCORPIO_ARGS:-}"

case $BENCH_DIR in *[[:space:]]*) die "BENCH_DIR must not contain whitespace" ;; esac
mkdir -p "$BENCH_DIR" "$OUT_DIR"
: >"$OUT_DIR/issues.txt"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd -P)

GEN_VER=v1
LOWER=$BENCH_DIR/lower-$GEN_VER-f$NFILES-s$MAXSZ-l$LARGE_HI-b$BIG_MB-c$NCFILES
TARBALL=$BENCH_DIR/untar-$GEN_VER-$UNTAR_N.tar
RUN=$BENCH_DIR/run.$$
SC_LOG=$OUT_DIR/scorpio.log
ERR_LOG=$OUT_DIR/stderr.log
RAW=$OUT_DIR/raw.csv

# ----------------------------------------------------------------- cleanup ---
# lib.sh's EXIT trap unmounts MOUNTS (umount -l), stops the daemons in OUR_PIDS, removes $RUN.
declare -A DPID=()            # fs -> pid of its current daemon
install_cleanup_trap

# Run directories left by earlier, killed runs.
remove_stale_runs "$BENCH_DIR"
mkdir -p "$RUN"
[[ ${BENCH_FRESH_FS:-1} == 1 ]] && mount_fresh_run_fs

# ------------------------------------------------------------------- tools ---
if ! command -v fio >/dev/null; then
    log "fio missing; installing it with apt-get"
    { apt-get install -y fio || { apt-get update && apt-get install -y fio; }; } >"$RUN/apt.log" 2>&1 \
        || log "apt-get install fio failed; using the python fallback"
fi
HAVE_FIO=0; command -v fio >/dev/null && HAVE_FIO=1
command -v python3 >/dev/null || die "python3 is needed to generate the lower tree"
for t in make cc tar dd find timeout pgrep; do command -v $t >/dev/null || die "$t missing"; done
if [[ " $FS_LIST " == *" fuse-overlayfs "* ]] && ! command -v fuse-overlayfs >/dev/null; then
    log "fuse-overlayfs missing; installing it with apt-get"
    { apt-get install -y fuse-overlayfs || { apt-get update && apt-get install -y fuse-overlayfs; }; } >>"$RUN/apt.log" 2>&1 \
        || die "fuse-overlayfs missing and apt-get could not install it"
fi

# ------------------------------------------------------------- the binary ---
SC_BIN=
if [[ " $FS_LIST " == *" scorpio "* ]]; then
    copy_scorpio_bin    # sets SC_BIN, SC_SRC, SC_SHA
fi

# ------------------------------------------------------ data generation ---
generate_lower() {
    local tmp=$LOWER.tmp
    rm -rf "$tmp"; mkdir -p "$tmp"
    log "generating lower tree $LOWER ($NFILES files, big file $BIG_MB MiB, $NCFILES .c files)"
    python3 - "$tmp" "$NFILES" "$MAXSZ" "$LARGE_LO" "$LARGE_HI" "$BIG_MB" "$NCFILES" <<'PY'
import math, os, random, sys
root = sys.argv[1]
nfiles, maxsz, large_lo, large_hi, big_mb, ncfiles = map(int, sys.argv[2:])
pool = random.Random(7).randbytes(4 << 20)
rng = random.Random(20251125)
exts = [".c", ".h", ".txt", ".json", ".bin", ".md", "", ".py"]
ndirs = math.ceil(nfiles / 100)
i = 0
for d in range(ndirs):
    dp = os.path.join(root, "g%02d" % (d // 100), "d%04d" % d)
    os.makedirs(dp)
    for f in range(min(100, nfiles - d * 100)):
        if i % 200 == 199:
            size = rng.randint(large_lo, large_hi)
        else:
            size = int(maxsz * rng.random() ** 3)
        off = rng.randrange(len(pool) - size)
        p = os.path.join(dp, "f%02d%s" % (f, exts[i % len(exts)]))
        with open(p, "wb") as fh:
            fh.write(pool[off:off + size])
        if i % 10 == 3:
            os.chmod(p, 0o755)
        i += 1
    os.symlink("f00.c", os.path.join(dp, "link"))
# one big file for the sequential / random read workloads
with open(os.path.join(root, "big.bin"), "wb") as fh:
    for k in range(big_mb):
        o = (k * 65537) % (3 << 20)
        fh.write(pool[o:o + (1 << 20)])
# a small C project for the make workload
proj = os.path.join(root, "proj")
os.makedirs(os.path.join(proj, "src")); os.makedirs(os.path.join(proj, "include"))
with open(os.path.join(proj, "include", "common.h"), "w") as fh:
    fh.write("#ifndef COMMON_H\n#define COMMON_H\n#include <stdint.h>\n")
    fh.write("static inline uint64_t mix(uint64_t x) { x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; return x; }\n")
    for m in range(ncfiles):
        fh.write("uint64_t mod_%03d(uint64_t seed);\n" % m)
    fh.write("#endif\n")
crng = random.Random(99)
for m in range(ncfiles):
    with open(os.path.join(proj, "src", "m%03d.c" % m), "w") as fh:
        fh.write('#include "common.h"\n\n')
        nfun = 12
        for k in range(nfun):
            fh.write("static uint64_t f%d(uint64_t x, int n) {\n    uint64_t a = x;\n" % k)
            fh.write("    for (int i = 0; i < n; i++) {\n        switch ((a + i) & 7) {\n")
            for c in range(8):
                fh.write("        case %d: a = mix(a + %dULL) ^ (a << %d); break;\n"
                         % (c, crng.randrange(1 << 30), crng.randrange(1, 31)))
            fh.write("        }\n    }\n    return a;\n}\n\n")
        fh.write("uint64_t mod_%03d(uint64_t seed) {\n    uint64_t a = seed;\n" % m)
        for k in range(nfun):
            fh.write("    a = f%d(a, %d);\n" % (k, crng.randrange(5, 50)))
        fh.write("    return a;\n}\n")
with open(os.path.join(proj, "src", "main.c"), "w") as fh:
    fh.write('#include <stdio.h>\n#include "common.h"\nint main(void) {\n    uint64_t a = 1;\n')
    for m in range(ncfiles):
        fh.write("    a = mod_%03d(a);\n" % m)
    fh.write('    printf("%llu\\n", (unsigned long long)a);\n    return 0;\n}\n')
with open(os.path.join(proj, "Makefile"), "w") as fh:
    fh.write("""CC ?= cc
CFLAGS ?= -O2 -Wall -Iinclude
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)

app: $(OBJS)
\t$(CC) -o $@ $^

obj/%.o: src/%.c include/common.h | obj
\t$(CC) $(CFLAGS) -c -o $@ $<

obj:
\tmkdir -p obj

clean:
\trm -rf obj app
.PHONY: clean
""")
PY
    sync
    rm -rf "$LOWER"
    mv "$tmp" "$LOWER"
    touch "$LOWER.done"
}

generate_tarball() {
    log "generating tarball $TARBALL ($UNTAR_N files)"
    python3 - "$TARBALL.tmp" "$UNTAR_N" <<'PY'
import io, random, sys, tarfile
out, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(4242)
pool = random.Random(8).randbytes(1 << 20)
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tf:
    ndirs = max(1, n // 100)
    for d in range(ndirs):
        ti = tarfile.TarInfo("t%03d" % d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        ti.mtime = 1700000000; tf.addfile(ti)
    for i in range(n):
        size = int(8192 * rng.random() ** 2)
        off = rng.randrange(len(pool) - size)
        ti = tarfile.TarInfo("t%03d/s%05d.txt" % (i % ndirs, i))
        ti.size = size; ti.mode = 0o644; ti.mtime = 1700000000 + i
        tf.addfile(ti, io.BytesIO(pool[off:off + size]))
PY
    mv "$TARBALL.tmp" "$TARBALL"
}

if [[ -d $LOWER && -e $LOWER.done ]]; then
    log "reusing lower tree $LOWER"
else
    generate_lower
fi
[[ -f $TARBALL ]] || generate_tarball
LOWER_BYTES=$(du -sb "$LOWER" | cut -f1)

# ---------------------------------------------------------------- mounting ---
mnt_of() { echo "$RUN/$1/mnt"; }

find_daemon() {    # fs mnt -> pid of the daemon serving mnt
    local fs=$1 m=$2 pat
    case $fs in
        scorpio) pat="^$SC_BIN .*--mount $m( |\$)" ;;
        fuse-overlayfs) pat="^fuse-overlayfs .* $m\$" ;;
    esac
    pgrep -n -f -- "$pat"
}

mount_failed() {    # fs mnt: a failed mount attempt may still have left a mount and a daemon
    local pid
    pid=$(find_daemon "$1" "$2" || true)
    [[ -n $pid ]] && OUR_PIDS[$pid]=$2
    if is_mounted "$2"; then umount -l "$2" || true; fi
    return 0
}

mount_fs() {
    local fs=$1 m u w i pid
    m=$(mnt_of "$fs"); u=$RUN/$fs/upper; w=$RUN/$fs/work
    mkdir -p "$m" "$u" "$w"
    MOUNTS+=("$m")    # before mounting: the EXIT trap unmounts it if it is mounted
    case $fs in
        overlayfs)
            mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$u,workdir=$w" "$m" 2>>"$ERR_LOG" || return 1 ;;
        fuse-overlayfs)
            local rc=0
            fuse-overlayfs -o "lowerdir=$LOWER,upperdir=$u,workdir=$w" "$m" 2>"$RUN/fov-mount.err" || rc=$?
            # fuse-overlayfs 1.10 always prints "unknown argument ignored: lazytime"
            grep -v 'unknown argument ignored: lazytime' "$RUN/fov-mount.err" >>"$ERR_LOG" || true
            if ((rc)); then
                issue "fuse-overlayfs: mount failed (exit $rc): $(tr '\n' ' ' <"$RUN/fov-mount.err")"
                mount_failed "$fs" "$m"; return 1
            fi ;;
        scorpio)
            local rc=0
            "$SC_BIN" --mount "$m" --upper "$u" --lower "$LOWER" --log-level "$SC_LOG_LEVEL" \
                --log-file "$SC_LOG" "${SC_EXTRA[@]}" 2>"$RUN/sc-mount.err" || rc=$?
            if ((rc)); then
                issue "scorpio: mount failed (exit $rc): $(tr '\n' ' ' <"$RUN/sc-mount.err")"
                mount_failed "$fs" "$m"; return 1
            fi ;;
    esac
    for i in {1..100}; do is_mounted "$m" && break; sleep 0.1; done
    is_mounted "$m" || { issue "$fs: $m not in /proc/mounts after mounting"; return 1; }
    if [[ $fs != overlayfs ]]; then
        pid=$(find_daemon "$fs" "$m" || true)
        if [[ -n $pid ]]; then
            DPID[$fs]=$pid; OUR_PIDS[$pid]=$m
        else
            issue "$fs: no daemon process found for $m (pgrep -f)"
            DPID[$fs]=
        fi
    fi
}

unmount_fs() {
    local fs=$1 m pid rc=0
    m=$(mnt_of "$fs")
    pid=${DPID[$fs]:-}
    if [[ -n $pid ]] && ! pid_is_ours "$pid" "$m"; then
        issue "$fs: daemon $pid had exited before unmount"
    fi
    if is_mounted "$m"; then
        case $fs in
            scorpio) "$SC_BIN" unmount "$m" 2>"$RUN/sc-umount.err" || rc=$?
                     ((rc)) && issue "scorpio: 'scorpio-provider unmount' exited $rc: $(tr '\n' ' ' <"$RUN/sc-umount.err")" ;;
            *) umount "$m" 2>>"$ERR_LOG" || rc=$? ;;
        esac
        if is_mounted "$m"; then
            ((rc)) || issue "$fs: still mounted after unmount"
            umount -l "$m" || true
        fi
    fi
    if [[ -n $pid ]] && ! daemon_gone "$pid" "$m" 150; then
        issue "$fs: daemon $pid still running 15 s after unmount; killing it"
        kill -TERM "$pid" || true
    fi
    DPID[$fs]=
}

# Make sure the mount is up and its daemon alive before a workload.
ensure_mounted() {
    local fs=$1 m
    [[ $fs == ext4 ]] && return 0
    m=$(mnt_of "$fs")
    if [[ $fs != overlayfs && -n ${DPID[$fs]:-} ]] && ! pid_is_ours "${DPID[$fs]}" "$m"; then
        issue "$fs: daemon ${DPID[$fs]} died (before $CUR_WL); remounting"
        [[ $fs == scorpio ]] && issue "scorpio: last log lines: $(tail -n 5 "$SC_LOG" 2>/dev/null | tr '\n' '|')"
        umount -l "$m" 2>/dev/null || true
        DPID[$fs]=
        mount_fs "$fs"
        return
    fi
    if ! is_mounted "$m"; then mount_fs "$fs"; return; fi
    if ! stat "$m/big.bin" >/dev/null 2>&1; then
        issue "$fs: mount not usable before $CUR_WL ($(stat "$m/big.bin" 2>&1 | head -n1)); remounting"
        umount -l "$m" 2>/dev/null || true
        mount_fs "$fs"
    fi
}

remount_cold() {    # fs: unmount, drop every cache, mount again
    local fs=$1
    if [[ $fs == ext4 ]]; then drop_caches; return 0; fi
    unmount_fs "$fs"
    drop_caches
    mount_fs "$fs"
}

remount_fresh() {   # fs: unmount, empty upper (and workdir), mount again
    local fs=$1
    unmount_fs "$fs"
    rm -rf --one-file-system "$RUN/$fs/upper" "$RUN/$fs/work"
    mount_fs "$fs"
}

# ----------------------------------------------------------------- results ---
declare -A RES=()          # "wl|fs" -> seconds or FAIL
ISSUES_FILE=$OUT_DIR/issues.txt    # issue() appends; a file, so subshells ($(...)) can add to it
declare -a DSTATS=()       # daemon stats lines
CUR_FS=; CUR_WL=

WL_ORDER=(stat_cold stat_warm lslr tar_cold tar_warm seq rand untar make)
declare -A WL_LABEL=(
    [stat_cold]="stat walk, cold (\`find -printf '%s %m'\`)"
    [stat_warm]="stat walk, warm"
    [lslr]="\`ls -lR\`, warm"
    [tar_cold]="read every file, cold (\`tar -cf - . \\| cat\`)"
    [tar_warm]="read every file, warm"
    [seq]="$BIG_MB MiB sequential read, warm (\`dd bs=1M\`)"
    [rand]="4k random read x$RANDIO, warm ($( ((HAVE_FIO)) && echo fio psync || echo python pread), time in reads)"
    [untar]="untar $UNTAR_N small files + sync"
    [make]="\`make -j2\`, $NCFILES .c files"
)

# timed CMD...: runs CMD with a timeout, prints elapsed seconds or FAIL.
timed() {
    local s e rc=0 errf=$RUN/cmd.err
    s=$(date +%s.%N)
    timeout -k 10 "$TMO" "$@" 2>"$errf" || rc=$?
    e=$(date +%s.%N)
    if [[ -s $errf ]]; then
        { echo "=== [$CUR_FS] $CUR_WL (exit $rc): $*"; head -n 50 "$errf"; } >>"$ERR_LOG"
        issue "$CUR_FS/$CUR_WL: stderr (exit $rc): $(head -n 3 "$errf" | tr '\n' '|')"
    elif ((rc == 124)); then
        issue "$CUR_FS/$CUR_WL: timed out after $TMO s: $*"
    elif ((rc)); then
        issue "$CUR_FS/$CUR_WL: exit status $rc: $*"
    fi
    if ((rc)); then echo FAIL; else secs "$s" "$e"; fi
}

record() {   # wl fs value...
    local wl=$1 fs=$2; shift 2
    local v
    for v in "$@"; do echo "$fs,$wl,$v" >>"$RAW"; done
    RES["$wl|$fs"]=$(median "$@")
    log "  $fs $wl: ${RES[$wl|$fs]} (runs: $*)"
}

# Workload bodies, run through bash -c so timeout can kill them.
SH_STAT='cd "$1" && find . -printf "%s %m\n" >/dev/null'
SH_LSLR='cd "$1" && ls -lR . >/dev/null'
SH_TAR='set -o pipefail; cd "$1" && tar -cf - --exclude=./big.bin . | cat >/dev/null'
SH_SEQ='dd if="$1/big.bin" of=/dev/null bs=1M status=none'
SH_UNTAR='mkdir "$2" && tar -xf "$1" -C "$2" && sync'
SH_MAKE='cd "$1" && make -j2 -s >/dev/null'

run_warm() {    # wl fs body args... : one warm-up, then REPS timed runs
    local wl=$1 fs=$2 body=$3; shift 3
    local -a vals=()
    CUR_WL=$wl; ensure_mounted "$fs" || { record "$wl" "$fs" FAIL; return; }
    timed bash -c "$body" _ "$@" >/dev/null
    for ((r = 0; r < REPS; r++)); do vals+=("$(timed bash -c "$body" _ "$@")"); done
    record "$wl" "$fs" "${vals[@]}"
}

run_cold() {    # wl fs body : drop caches / remount, one timed run
    local wl=$1 fs=$2 body=$3
    CUR_WL=$wl
    remount_cold "$fs" || { record "$wl" "$fs" FAIL; return; }
    local dir; [[ $fs == ext4 ]] && dir=$LOWER || dir=$(mnt_of "$fs")
    record "$wl" "$fs" "$(timed bash -c "$body" _ "$dir")"
}

RAND_PY='
import os, random, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
blocks = os.fstat(fd).st_size // 4096
rng = random.Random(1234)
offs = [rng.randrange(blocks) * 4096 for _ in range(int(sys.argv[2]))]
for o in offs[:2000]:
    os.pread(fd, 4096, o)
t = time.perf_counter()
for o in offs:
    if len(os.pread(fd, 4096, o)) != 4096:
        sys.exit("short read")
print("%.4f" % (time.perf_counter() - t))
'

rand_once() {   # file -> seconds spent in the 4k reads, or FAIL
    local f=$1 rc=0
    if ((HAVE_FIO)); then
        timeout -k 10 "$TMO" fio --name=rand4k --filename="$f" --readonly --rw=randread --bs=4k \
            --ioengine=psync --number_ios="$RANDIO" --randrepeat=1 --randseed=1234 --invalidate=0 \
            --output-format=json --output="$RUN/fio.json" >/dev/null 2>"$RUN/cmd.err" || rc=$?
        if ((rc == 0)); then
            python3 - "$RUN/fio.json" 2>>"$RUN/cmd.err" <<'PY' || rc=1
import json, sys
r = json.load(open(sys.argv[1]))["jobs"][0]["read"]
if r["total_ios"] <= 0 or r.get("short_ios", 0) or r.get("drop_ios", 0):
    sys.exit("fio: total_ios=%s" % r["total_ios"])
print("%.4f" % (r["total_ios"] * r["lat_ns"]["mean"] / 1e9))
PY
        fi
    else
        timeout -k 10 "$TMO" python3 -c "$RAND_PY" "$f" "$RANDIO" 2>"$RUN/cmd.err" || rc=$?
    fi
    if [[ -s $RUN/cmd.err ]]; then
        { echo "=== [$CUR_FS] $CUR_WL (exit $rc)"; head -n 50 "$RUN/cmd.err"; } >>"$ERR_LOG"
        issue "$CUR_FS/$CUR_WL: stderr (exit $rc): $(head -n 3 "$RUN/cmd.err" | tr '\n' '|')"
    fi
    ((rc == 0)) || echo FAIL
}

daemon_stats() {    # fs checkpoint
    local fs=$1 cp=$2 pid hwm rss thr fds
    [[ $fs == scorpio || $fs == fuse-overlayfs ]] || return 0
    pid=$(find_daemon "$fs" "$(mnt_of "$fs")" || true)
    if [[ -z $pid ]]; then
        DSTATS+=("| $fs | $cp | (no daemon) | | | |")
        issue "$fs: no daemon found at checkpoint '$cp'"
        return
    fi
    hwm=$(awk '/^VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status")
    rss=$(awk '/^VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status")
    thr=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status")
    fds=$(ls "/proc/$pid/fd" | wc -l)
    DSTATS+=("| $fs | $cp | $hwm | $rss | $thr | $fds |")
    log "  $fs daemon $pid at '$cp': VmHWM $hwm, VmRSS $rss, threads $thr, fds $fds"
}

verify() {    # fs what : check the mount shows what the lower holds (untimed)
    ((VERIFY)) || return 0
    local fs=$1 what=$2 m out rc=0
    [[ $fs == ext4 ]] && return 0
    m=$(mnt_of "$fs")
    case $what in
        listing)
            (cd "$m" && find . -mindepth 1 -printf '%P|%y|%s|%m|%l\n' | LC_ALL=C sort) >"$RUN/list.$fs" 2>"$RUN/verify.err" || rc=$?
            if ! cmp -s "$RUN/list.$fs" "$RUN/list.ref" || ((rc)); then
                out=$(diff "$RUN/list.ref" "$RUN/list.$fs" | grep '^[<>]' | head -n 6 | tr '\n' ' ')
                issue "$fs: stat listing differs from the lower (path|type|size|mode|link; < lower, > mount): $out $(head -n 2 "$RUN/verify.err" | tr '\n' ' ')"
            fi ;;
        content)
            out=$(cd "$LOWER" && ls -A | grep -vx big.bin | LC_ALL=C sort | tr '\n' '\0' \
                  | xargs -0 tar -cf - | tar -df - -C "$m" 2>&1 | head -n 6 | tr '\n' ' ') || true
            [[ -z $out ]] || issue "$fs: 'tar -d' of lower vs mount (contents, mode, mtime, uid, links) differs: $out"
            cmp "$LOWER/big.bin" "$m/big.bin" >"$RUN/verify.err" 2>&1 \
                || issue "$fs: big.bin differs from the lower: $(head -n 2 "$RUN/verify.err" | tr '\n' ' ')" ;;
    esac
}

verify_untar() {   # fs dir
    ((VERIFY)) || return 0
    local out
    out=$(tar -df "$TARBALL" -C "$2" 2>&1 | head -n 6 | tr '\n' ' ') || true
    [[ -z $out ]] || issue "$1: extracted tree differs from the tarball: $out"
}

MAKE_REF=
verify_make() {    # fs projdir
    ((VERIFY)) || return 0
    local out
    out=$("$2/app" 2>&1) || { issue "$1: built app failed to run: $out"; return; }
    if [[ -z $MAKE_REF ]]; then MAKE_REF=$out
    elif [[ $out != "$MAKE_REF" ]]; then issue "$1: built app prints '$out', expected '$MAKE_REF'"; fi
}

# ----------------------------------------------------------------- per fs ---
bench_fs() {
    local fs=$1 rd wd i s vals
    CUR_FS=$fs; CUR_WL=setup
    log "=== $fs"
    if [[ $fs == ext4 ]]; then
        rd=$LOWER; wd=$RUN/ext4/w; mkdir -p "$wd"
    else
        if ! mount_fs "$fs"; then
            issue "$fs: could not mount; skipping it"
            for wl in "${WL_ORDER[@]}"; do RES["$wl|$fs"]=FAIL; done
            return
        fi
        rd=$(mnt_of "$fs"); wd=$rd
    fi

    log "  stat walks"
    run_cold stat_cold "$fs" "$SH_STAT"
    run_warm stat_warm "$fs" "$SH_STAT" "$rd"
    daemon_stats "$fs" "after stat walks (1 cold + $((REPS + 1)) warm) of the whole tree"
    verify "$fs" listing

    log "  ls -lR"
    run_warm lslr "$fs" "$SH_LSLR" "$rd"

    log "  read every file"
    run_cold tar_cold "$fs" "$SH_TAR"
    run_warm tar_warm "$fs" "$SH_TAR" "$rd"
    daemon_stats "$fs" "after reading every file"

    log "  sequential read"
    run_warm seq "$fs" "$SH_SEQ" "$rd"

    log "  random read"
    CUR_WL=rand
    vals=()
    if ensure_mounted "$fs"; then
        rand_once "$rd/big.bin" >/dev/null    # warm-up
        for ((i = 0; i < REPS; i++)); do vals+=("$(rand_once "$rd/big.bin")"); done
    else
        vals=(FAIL)
    fi
    record rand "$fs" "${vals[@]}"
    verify "$fs" content

    log "  untar"
    CUR_WL=untar
    cat "$TARBALL" >/dev/null
    vals=()
    if ensure_mounted "$fs"; then
        for ((i = 0; i < REPS; i++)); do vals+=("$(timed bash -c "$SH_UNTAR" _ "$TARBALL" "$wd/untar.$i")"); done
        verify_untar "$fs" "$wd/untar.0"
    else
        vals=(FAIL)
    fi
    record untar "$fs" "${vals[@]}"
    daemon_stats "$fs" "after untar"

    log "  make"
    CUR_WL=make
    vals=()
    for ((i = 0; i < REPS; i++)); do
        local pd
        if [[ $fs == ext4 ]]; then
            pd=$wd/proj.$i
            cp -a "$LOWER/proj" "$pd"
        else
            pd=$rd/proj
            remount_fresh "$fs" || { vals+=(FAIL); continue; }
        fi
        vals+=("$(timed bash -c "$SH_MAKE" _ "$pd")")
        [[ ${vals[-1]} == FAIL ]] || verify_make "$fs" "$pd"
    done
    record make "$fs" "${vals[@]}"

    if [[ $fs != ext4 ]]; then unmount_fs "$fs"; fi
    grep -qF " $RUN/$fs/" /proc/mounts || rm -rf --one-file-system "$RUN/$fs"
}

# ------------------------------------------------------------------- main ---
: >"$ERR_LOG"
echo "fs,workload,seconds" >"$RAW"
: >"$SC_LOG"
note_run_start    # DMESG_START, START_LOAD, T0

if ((VERIFY)); then
    (cd "$LOWER" && find . -mindepth 1 -printf '%P|%y|%s|%m|%l\n' | LC_ALL=C sort) >"$RUN/list.ref"
fi

for fs in $FS_LIST; do
    case $fs in ext4|overlayfs|fuse-overlayfs|scorpio) bench_fs "$fs" ;; *) die "unknown fs in BENCH_FS: $fs" ;; esac
done
CUR_FS=; CUR_WL=

# Errors and warnings from scorpio's own log.
SC_LOG_ISSUES=
if [[ -s $SC_LOG ]]; then
    SC_LOG_ISSUES=$(log_warnings '' "$SC_LOG")
fi
DMESG_NEW=$(new_kernel_messages 'fuse|overlay|scorpio|segfault|blocked for more|oom')

# ------------------------------------------------------------------ report ---
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "FAIL" || b == "FAIL" || b + 0 == 0) print "–"; else printf "%.2fx", a / b }'
}
cell() { fmt_secs "${RES["$1|$2"]:-}"; }

{
    echo "# scorpio-provider benchmark"
    echo
    echo "- $(run_conditions)"
    echo "- lower: \`$LOWER\`: $NFILES files + $(( (NFILES + 99) / 100 )) symlinks, $((LOWER_BYTES / 1048576)) MiB in all (incl. ${BIG_MB} MiB big.bin)$( ((QUICK)) && echo ', --quick')"
    [[ -n $SC_BIN ]] && echo "- scorpio-provider: \`$SC_SRC\` (sha256 $SC_SHA…), args: \`${SC_EXTRA[*]:-(defaults: passthrough on)}\`"
    echo "- fuse-overlayfs $(fuse-overlayfs --version 2>&1 | awk '/^fuse-overlayfs/ { print $NF }'); warm rows: median of $REPS after one warm-up; cold rows: 1 run after drop_caches and a remount; untar/make: median of $REPS, each into a fresh dir/upper"
    echo "- times in seconds, lower is better; ratio columns: scorpio time / other time (< 1 means scorpio is faster)"
    echo
    echo "| workload | ext4 | overlayfs | fuse-overlayfs | scorpio | scorpio/fuse-overlayfs | scorpio/overlayfs |"
    echo "|---|---|---|---|---|---|---|"
    for wl in "${WL_ORDER[@]}"; do
        echo "| ${WL_LABEL[$wl]} | $(cell "$wl" ext4) | $(cell "$wl" overlayfs) | $(cell "$wl" fuse-overlayfs) | $(cell "$wl" scorpio) | $(ratio "${RES["$wl|scorpio"]:-}" "${RES["$wl|fuse-overlayfs"]:-}") | $(ratio "${RES["$wl|scorpio"]:-}" "${RES["$wl|overlayfs"]:-}") |"
    done
    if ((${#DSTATS[@]})); then
        echo
        echo "FUSE daemons (VmHWM = peak RSS; a daemon is restarted by every cold remount, so each line covers the life of the current daemon):"
        echo
        echo "| daemon | checkpoint | VmHWM | VmRSS | threads | open fds |"
        echo "|---|---|---|---|---|---|"
        printf '%s\n' "${DSTATS[@]}"
    fi
    echo
    if [[ -s $ISSUES_FILE ]]; then
        echo "Issues seen during the run (also in bench/out/issues.txt, stderr in bench/out/stderr.log):"
        echo
        sed 's/^/- /' "$ISSUES_FILE"
    else
        echo "Issues seen during the run: none"
    fi
    md_block "scorpio-provider log warnings/errors (count, message; full log: bench/out/scorpio.log):" "$SC_LOG_ISSUES"
    md_block "Kernel messages during the run:" "$DMESG_NEW"
    echo
    echo "Total run time: $(( $(date +%s) - T0 )) s"
} | tee "$OUT_DIR/results.md"
