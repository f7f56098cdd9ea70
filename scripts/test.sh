#!/usr/bin/env bash
# The whole check: the suite on SQLite (every test, slow and browser ones included), the suite on
# PostgreSQL (all but browser tests), then ruff. Starts PostgreSQL and Redis first when they are
# installed but not answering. Exits non-zero if any part fails; ends with one summary line per part.
#
#   bash scripts/test.sh              # extra arguments go to both pytest runs, e.g. -x or -k jobs
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[test] %s\n' "$*"; }

[[ -x .venv/bin/pytest ]] || { say ".venv is missing: run bash scripts/install.sh first"; exit 2; }

# ---------------------------------------------------------------- services
wait_for() {  # wait_for SECONDS COMMAND...
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

redis_up() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

if command -v pg_isready >/dev/null 2>&1; then
    if pg_isready -q -h 127.0.0.1; then
        say "PostgreSQL is up"
    elif command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
        version="$(ls /etc/postgresql | sort -V | tail -1)"
        say "starting PostgreSQL $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || say "could not start PostgreSQL"
        wait_for 30 pg_isready -q -h 127.0.0.1 || say "PostgreSQL is still not answering"
    fi
else
    say "PostgreSQL is not installed: its tests fail in CI and are skipped elsewhere"
fi

if command -v redis-server >/dev/null 2>&1; then
    if redis_up; then
        say "Redis is up"
    else
        say "starting Redis"
        mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log || say "could not start Redis"
        wait_for 15 redis_up || say "Redis is still not answering"
    fi
else
    say "Redis is not installed: its tests fail in CI and are skipped elsewhere"
fi

# ---------------------------------------------------------------- the parts
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
names=() results=() seconds=()
failed=0

part() {  # part NAME COMMAND...
    local name="$1" start=$SECONDS rc
    shift
    say "== $name: $*"
    "$@"
    rc=$?
    names+=("$name")
    seconds+=($((SECONDS - start)))
    if ((rc == 0)); then results+=("passed"); else results+=("FAILED (exit $rc)"); failed=1; fi
}

part "pytest on SQLite" .venv/bin/pytest -q --junitxml="$reports/sqlite.xml" "$@"
part "pytest on PostgreSQL" .venv/bin/pytest -q --db postgres -m "not browser" --junitxml="$reports/postgres.xml" "$@"
part "ruff" .venv/bin/ruff check zhimei tests bench scripts

echo
for i in "${!names[@]}"; do
    say "$(printf '%-22s %-18s %5ss' "${names[$i]}:" "${results[$i]}" "${seconds[$i]}")"
done
# One closing line over both pytest runs.
.venv/bin/python - "$reports" <<'PY' || true
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for report in sorted(Path(sys.argv[1]).glob("*.xml")):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"total: {passed} passed, {failed} failed, {totals['skipped']} skipped")
PY
exit "$failed"
