#!/usr/bin/env bash
# Benchmark scorpio-provider's virtio-fs backend against virtiofsd: boots one QEMU guest (TCG,
# the busybox guest of examples/qemu) per backend over the same generated tree and times, inside
# the guest, a stat walk, reading every file, a sequential read of one big file, untarring small
# files into the workspace, and `ls -lR`. The guest's page cache, dentries and inodes are dropped
# before every workload; the host's caches stay warm.
#
# Usage: bench/virtiofs.sh
#
# Environment:
#   SCORPIO_BIN         scorpio-provider with --virtiofs (default .build/release/scorpio-provider);
#                       copied into the run directory first so a rebuild cannot swap it mid-run
#   VBENCH_DIR          where the tree, the guest and the run directories live
#                       (default /var/tmp/scorpio-vbench); the tree and guest kernel are reused
#   VBENCH_FILES        files in the tree (default 10000, mixed sizes, ~100 per directory)
#   VBENCH_BIG_MB       size of the sequentially read file (default 512)
#   VBENCH_UNTAR_FILES  small files in the untarred archive (default 5000)
#   VBENCH_BACKENDS     backends to run (default "virtiofsd scorpio")
#   VBENCH_TIMEOUT      seconds per guest boot before it is killed (default 900)
#   VIRTIOFSD_DIR       where bench/get-virtiofsd.sh keeps virtiofsd (default /var/cache/scorpio-virtiofsd)
#   GUEST_MEMORY, GUEST_SMP  passed on to examples/qemu/run-guest.sh (defaults 1G, 1)
#
# virtiofsd runs with --cache=auto --sandbox=none --inode-file-handles=prefer (without file
# handles it keeps an fd per inode and runs out of them on large trees, see FACTS.md); scorpio
# with the same 1 s attribute and entry timeouts as --cache=auto and, like virtiofsd without
# --xattr, no extended attributes (--no-xattr), and --log-level info.
#
# Output: a markdown table with the guest-side seconds and the ratio scorpio/virtiofsd on stdout
# and in bench/out/virtiofs.md; consoles and backend logs in bench/out/virtiofs-*.log.
set -euo pipefail
# SCRIPT_DIR, REPO_DIR, OUT_DIR, log, die, the cleanup trap and the other shared helpers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
    -h|--help) print_help "${BASH_SOURCE[0]}"; exit 0 ;;
    "") ;;
    *) echo "virtiofs.sh: unknown argument: $1" >&2; exit 64 ;;
esac

[[ $EUID -eq 0 ]] || die "must run as root (QEMU memfd sharing, virtiofsd)"

VBENCH_DIR=${VBENCH_DIR:-/var/tmp/scorpio-vbench}
NFILES=${VBENCH_FILES:-10000}
BIG_MB=${VBENCH_BIG_MB:-512}
UNTAR_N=${VBENCH_UNTAR_FILES:-5000}
BACKENDS=${VBENCH_BACKENDS:-virtiofsd scorpio}
TMO=${VBENCH_TIMEOUT:-900}
SC_SRC=${SCORPIO_BIN:-$REPO_DIR/.build/release/scorpio-provider}
mkdir -p "$VBENCH_DIR" "$OUT_DIR"
VBENCH_DIR=$(cd "$VBENCH_DIR" && pwd -P)
LOWER=$VBENCH_DIR/lower-v1-f$NFILES-b$BIG_MB-u$UNTAR_N
GUEST=$VBENCH_DIR/guest
RUN=$VBENCH_DIR/run.$$
SOCK=$RUN/vfs.sock

# ----------------------------------------------------------------- cleanup ---
BACKEND_PID=
stop_backend() {
    [[ -n $BACKEND_PID ]] || return 0
    kill -TERM "$BACKEND_PID" 2>/dev/null || true
    for _ in {1..100}; do kill -0 "$BACKEND_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$BACKEND_PID" 2>/dev/null || true
    wait "$BACKEND_PID" 2>/dev/null || true
    BACKEND_PID=
}
# lib.sh's EXIT trap (nothing is mounted on the host here) calls this before removing $RUN.
cleanup_last() { stop_backend; }
install_cleanup_trap
mkdir -p "$RUN"

# ---------------------------------------------------------------- backends ---
VIRTIOFSD=
if [[ " $BACKENDS " == *" virtiofsd "* ]]; then
    VIRTIOFSD=$("$SCRIPT_DIR/get-virtiofsd.sh" "${VIRTIOFSD_DIR:-/var/cache/scorpio-virtiofsd}") \
        || die "could not get virtiofsd"
fi
SC_BIN=
if [[ " $BACKENDS " == *" scorpio "* ]]; then
    if [[ -x $SC_SRC ]] && "$SC_SRC" --help 2>&1 | grep -q -- '--virtiofs'; then
        cp "$SC_SRC" "$RUN/scorpio-provider"
        SC_BIN=$RUN/scorpio-provider
        log "scorpio-provider: $SC_SRC (sha256 $(sha256sum "$SC_BIN" | cut -c1-16)...)"
    else
        log "skipping scorpio: $SC_SRC is missing or has no --virtiofs option"
    fi
fi

# ---------------------------------------------------------------- the tree ---
if [[ ! -f $LOWER/.complete ]]; then
    log "generating $LOWER ($NFILES files, $BIG_MB MiB file, tarball of $UNTAR_N files)"
    rm -rf "$LOWER"
    mkdir -p "$LOWER"
    python3 - "$LOWER" "$NFILES" "$BIG_MB" "$UNTAR_N" <<'PY'
import io, math, os, random, sys, tarfile
root, nfiles, big_mb, untar_n = sys.argv[1], *map(int, sys.argv[2:])
pool = random.Random(7).randbytes(4 << 20)
rng = random.Random(20251125)
def data(size):
    start = rng.randrange(0, len(pool) - size) if size < len(pool) else 0
    return pool[start:start + size]
tree = os.path.join(root, "tree")
for d in range(math.ceil(nfiles / 100)):
    dp = os.path.join(tree, "g%02d" % (d // 100), "d%04d" % d)
    os.makedirs(dp)
    for f in range(min(100, nfiles - d * 100)):
        # mostly small source-like files, one in 50 between 64 KiB and 1 MiB
        size = rng.randint(64 << 10, 1 << 20) if f % 50 == 49 else int(rng.expovariate(1 / 6000))
        with open(os.path.join(dp, "f%03d.dat" % f), "wb") as out:
            out.write(data(size))
    if d % 10 == 0:
        os.symlink("f000.dat", os.path.join(dp, "link"))
with open(os.path.join(root, "big.bin"), "wb") as out:
    for _ in range(big_mb):
        out.write(rng.randbytes(1 << 20))
with tarfile.open(os.path.join(root, "untar.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
    for i in range(untar_n):
        body = data(rng.randint(100, 4000))
        info = tarfile.TarInfo("u%02d/file%05d.txt" % (i // 250, i))
        info.size, info.mode, info.mtime = len(body), 0o644, 1700000000
        tar.addfile(info, io.BytesIO(body))
PY
    touch "$LOWER/.complete"
fi
FILES_IN_TREE=$(find "$LOWER/tree" -type f | wc -l)
TREE_MB=$(du -sm "$LOWER/tree" | cut -f1)

# --------------------------------------------------------------- the guest ---
cat >"$RUN/guest.sh" <<'GUEST'
# Each workload runs after the guest dropped its caches; times from /proc/uptime (10 ms steps).
now() { cut -d' ' -f1 /proc/uptime; }
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }
timed() {
    name=$1; shift
    cold
    t=$(now)
    "$@" || echo "G:FAILED $name"
    echo "G:TIME $name $(awk -v a="$t" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')"
}
walk() { find tree | xargs stat -c '%s %a' >/dev/null; }
read_all() { tar -cf - tree | cat >/dev/null; }
seq_read() { cat big.bin >/dev/null; }
untar() { mkdir out && tar -xf untar.tar -C out && sync; }
lslr() { ls -lR tree >/dev/null; }
echo "G:COUNT $(find tree -type f | wc -l)"
timed walk_stat walk
timed read_all read_all
timed seq_read seq_read
timed untar untar
echo "G:UNTARRED $(find out -type f | wc -l)"
timed ls_lR lslr
GUEST
SCORPIO_GUEST_CACHE=$VBENCH_DIR/guest-cache "$REPO_DIR/examples/qemu/build-guest.sh" "$GUEST" "$RUN/guest.sh" \
    2> >(grep -v '^Get:\|^Fetched' >&2)

# ---------------------------------------------------------------- run ---
declare -A T=()
WORKLOADS=(walk_stat read_all seq_read untar ls_lR)
run_backend() {
    local b=$1 console=$OUT_DIR/virtiofs-$1.console.log blog=$OUT_DIR/virtiofs-$1.backend.log
    local upper=$RUN/upper-$b rc=0 start
    rm -f "$SOCK"
    if [[ $b == virtiofsd ]]; then
        # No overlay in virtiofsd: a hard-linked copy (the guest only creates files in out/).
        cp -al "$LOWER" "$upper"
        $VIRTIOFSD --socket-path="$SOCK" --shared-dir="$upper" --cache=auto --sandbox=none \
            --inode-file-handles=prefer >"$blog" 2>&1 &
    else
        mkdir -p "$upper"
        "$SC_BIN" --virtiofs "$SOCK" --lower "$LOWER" --upper "$upper" --attr-timeout 1 --entry-timeout 1 --no-xattr --log-level info >"$blog" 2>&1 &
    fi
    BACKEND_PID=$!
    for _ in {1..100}; do [[ -S $SOCK ]] && break; sleep 0.1; done
    [[ -S $SOCK ]] || { log "$b did not create its socket; see $blog"; stop_backend; return 1; }
    log "$b: booting the guest (console: $console)"
    start=$(date +%s)
    "$REPO_DIR/examples/qemu/run-guest.sh" "$GUEST" "$SOCK" "$TMO" 2>&1 | tr -d '\r' >"$console" || rc=$?
    log "$b: guest exit $rc after $(($(date +%s) - start)) s"
    stop_backend
    rm -rf --one-file-system "$upper"
    local count untarred
    count=$(sed -n 's/^G:COUNT //p' "$console")
    untarred=$(sed -n 's/^G:UNTARRED //p' "$console")
    [[ $count == "$FILES_IN_TREE" ]] || log "$b: WARNING guest saw ${count:-no} files, the tree has $FILES_IN_TREE"
    [[ $untarred == "$UNTAR_N" ]] || log "$b: WARNING guest untarred ${untarred:-no} files of $UNTAR_N"
    grep '^G:FAILED' "$console" >&2 || true
    local w v
    while read -r w v; do T[$b.$w]=$v; done < <(sed -n 's/^G:TIME //p' "$console")
}
for b in $BACKENDS; do
    case $b in
        virtiofsd) run_backend virtiofsd || true ;;
        scorpio) [[ -n $SC_BIN ]] && { run_backend scorpio || true; } ;;
        *) die "unknown backend $b (virtiofsd, scorpio)" ;;
    esac
done

# ---------------------------------------------------------------- table ---
{
    echo "virtio-fs guest (QEMU TCG, $(nproc) host cores), guest caches dropped before each workload;"
    echo "tree: $FILES_IN_TREE files, $TREE_MB MB; big file $BIG_MB MiB; untar $UNTAR_N files. Seconds inside the guest."
    echo
    echo "| workload | virtiofsd | scorpio | scorpio/virtiofsd |"
    echo "|---|---:|---:|---:|"
    for w in "${WORKLOADS[@]}"; do
        v=${T[virtiofsd.$w]:--} s=${T[scorpio.$w]:--} ratio=-
        if [[ $v != - && $s != - ]]; then
            ratio=$(awk -v s="$s" -v v="$v" 'BEGIN { if (v > 0) printf "%.2f", s / v; else print "-" }')
        fi
        echo "| $w | $v | $s | $ratio |"
    done
} | tee "$OUT_DIR/virtiofs.md"
