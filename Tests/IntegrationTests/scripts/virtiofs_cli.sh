#!/usr/bin/env bash
# `scorpio-provider --virtiofs`: bad invocations get one line and the documented exit code; the
# socket appears with mode 0600 before anything connects; a live socket is not stolen, a stale
# one is replaced; SIGTERM ends the backend with status 0 and removes the socket.
source "$(dirname "$0")/lib.sh"
preflight
new_workdir
L=$WORK/lower UP=$WORK/upper S=$WORK/ws.sock
mkdir -p "$L"
echo hi > "$L/f"
status_and_message() { timeout 10 "$BIN" "$@" 2>"$WORK/err" >/dev/null; echo "$? $(wc -l < "$WORK/err")"; }
expect_eq "socket directory missing: exit 2, one line" "2 1" "$(status_and_message --virtiofs "$WORK/none/ws.sock" --lower "$L" --upper "$UP")"
touch "$WORK/plain"
expect_eq "socket path is a regular file: exit 2" "2 1" "$(status_and_message --virtiofs "$WORK/plain" --lower "$L" --upper "$UP")"
check "the regular file is left alone" test -f "$WORK/plain"
expect_eq "--mount and --virtiofs together: exit 64" "64" "$(timeout 10 "$BIN" --virtiofs "$S" --mount "$WORK" --lower "$L" --upper "$UP" >/dev/null 2>&1; echo $?)"
expect_eq "--persist without --virtiofs: exit 64" "64" "$(timeout 10 "$BIN" --mount "$WORK" --persist --lower "$L" --upper "$UP" >/dev/null 2>&1; echo $?)"
expect_eq "--queues 0: exit 64" "64" "$(timeout 10 "$BIN" --virtiofs "$S" --queues 0 --lower "$L" --upper "$UP" >/dev/null 2>&1; echo $?)"
expect_eq "missing lower: exit 2" "2 1" "$(status_and_message --virtiofs "$S" --lower "$WORK/nolower" --upper "$UP")"

"$BIN" --virtiofs "$S" --lower "$L" --upper "$UP" >"$WORK/backend.log" 2>&1 &
BACKEND=$!
PIDS+=("$BACKEND")
for _ in $(seq 100); do [ -S "$S" ] && break; sleep 0.1; done
check "socket appears" test -S "$S"
expect_eq "socket mode is 0600" "600" "$(stat -c %a "$S")"
check "upper was created" test -d "$UP"
expect_eq "a second backend on a live socket: exit 2" "2 1" "$(status_and_message --virtiofs "$S" --lower "$L" --upper "$UP")"
check "the message says the socket is in use" grep -q "in use" "$WORK/err"
check "the first backend still runs" kill -0 "$BACKEND"
kill -TERM "$BACKEND"
for _ in $(seq 100); do kill -0 "$BACKEND" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM ends the backend" sh -c "! kill -0 $BACKEND 2>/dev/null"
wait "$BACKEND"
expect_eq "exit status after SIGTERM" "0" "$?"
check "socket removed on exit" test ! -e "$S"

# A stale socket (its listener died with SIGKILL) is replaced.
"$BIN" --virtiofs "$S" --lower "$L" --upper "$UP" >"$WORK/backend2.log" 2>&1 &
KILLED=$!
PIDS+=("$KILLED")
for _ in $(seq 100); do [ -S "$S" ] && break; sleep 0.1; done
kill -9 "$KILLED"; wait "$KILLED" 2>/dev/null
check "the killed backend left its socket" test -S "$S"
"$BIN" --virtiofs "$S" --lower "$L" --upper "$UP" >"$WORK/backend3.log" 2>&1 &
AGAIN=$!
PIDS+=("$AGAIN")
sleep 1
check "a new backend takes over the stale socket" kill -0 "$AGAIN"
check "and listens on it" grep -q "listening" "$WORK/backend3.log"
kill -TERM "$AGAIN"; wait "$AGAIN"
expect_eq "it exits cleanly" "0" "$?"
finish
