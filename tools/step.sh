#!/usr/bin/env bash
# Usage: step.sh "what it does" COMMAND [ARG ...]
# Runs a long set-up step quietly but never silently: it says what it does, then every 20 s
# that it is still at it, then how long it took. On failure it prints the end of the output
# and keeps the whole of it in a log file.
set -uo pipefail
label=$1
shift
log=$(mktemp "${TMPDIR:-/tmp}/step.XXXXXX.log")
echo "==> $label"
start=$SECONDS
"$@" >"$log" 2>&1 &
pid=$!
next=20
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  if (( SECONDS - start >= next )); then
    echo "    ... still at it ($(( SECONDS - start )) s)"
    next=$(( next + 20 ))
  fi
done
if wait "$pid"; then
  echo "    done in $(( SECONDS - start )) s"
  rm -f "$log"
else
  rc=$?
  echo "    FAILED after $(( SECONDS - start )) s (exit $rc); last lines (whole output: $log):"
  tail -n 30 "$log" | sed 's/^/    /'
  exit "$rc"
fi
