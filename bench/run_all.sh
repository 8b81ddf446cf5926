#!/usr/bin/env bash
# Run every benchmark in bench/ at its full goal size, one after the other (they must not share the 2 cores).
# Usage: bash bench/run_all.sh [--quick]   (from anywhere). Each benchmark prints one result line on stdout;
# the date, machine, commit and the load average before each benchmark go to stderr (the machine is shared).
# A benchmark that fails is reported and the others still run; the exit status is then 1.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "[run_all] $(date -u '+%Y-%m-%d %H:%M:%S UTC') $(cd bench && python -c 'import _common; print(_common.machine())')" >&2
echo "[run_all] commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown);" \
    "uncommitted files in app/: $(git status --short -- app 2>/dev/null | wc -l)" >&2
status=0
# The scheduler benchmarks first, in a fixed order; then any other bench/*.py (not _helpers).
names=(firing_lateness status_latency idle_cpu)
for path in bench/*.py; do
    name=$(basename "$path" .py)
    case " ${names[*]} " in *" $name "*) continue ;; esac
    [[ $name == _* ]] || names+=("$name")
done
for name in "${names[@]}"; do
    echo "[run_all] $name: $(uptime)" >&2
    if ! python "bench/$name.py" "$@"; then
        echo "[run_all] $name FAILED" >&2
        status=1
    fi
done
exit $status
