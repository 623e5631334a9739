#!/usr/bin/env bash
# Crash test of the enrollment imports at scale (not run in CI; the test suite runs the same
# scenario with 400 rows): a card-issuance file and a link file of ROWS rows are imported by
# relay-admin, which is killed with SIGKILL part-way through each; a re-run must then leave every
# row exactly once and the access-record chain intact.
#
#   wsp-relay/scripts/crash-test.sh [ROWS] [DATABASE_URL]
#
# ROWS defaults to 1000000; DATABASE_URL to a fresh SQLite file in a temporary folder (pass
# e.g. postgres://postgres@127.0.0.1:5432/relay_crash, an existing empty database, for PostgreSQL).
set -euo pipefail
ROWS=${1:-1000000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export RELAY_DATABASE_URL=${2:-sqlite://$WORK/relay.sqlite3}
export RELAY_KEK_FILE=$WORK/kek.hex
unset RELAY_IMPORT_PAUSE_MS RELAY_CONFIG

cd "$(dirname "$0")/../.."
cargo build --release -p wsp-relay --bin relay-admin
ADMIN=$PWD/target/release/relay-admin

"$ADMIN" gen-kek "$RELAY_KEK_FILE" >/dev/null
echo "generating $ROWS rows in $WORK"
awk -v n="$ROWS" 'BEGIN {
  print "resident_number,household_number,name,auth_ca_key_id,auth_serial,auth_subject,auth_not_before,auth_not_after,sign_ca_key_id,sign_serial,sign_subject,sign_not_before,sign_not_after"
  for (i = 0; i < n; i++)
    printf "3%010d,4%06d,髙𠮷 %d,c0ffee01,%08x,C=JP CN=crash%d,2026-01-01T00:00:00Z,2031-01-01T00:00:00Z,c0ffee02,%08x,C=JP L=Mie CN=crash%d,1767225600,1924992000\n", i, int(i / 3), i, i + 1, i, i + 1, i
}' >"$WORK/cards.csv"
awk -v n="$ROWS" 'BEGIN { print "resident_number,local_key"; for (i = 0; i < n; i++) printf "3%010d,記号𠮷-%d\n", i, i }' >"$WORK/links.csv"

stat() { "$ADMIN" stats | awk -v k="$1" '$1 == k { print $2 }'; }

# Runs "$@" in the background and kills it with SIGKILL once the `stats` counter $1 passes a third.
kill_midway() {
  local counter=$1; shift
  "$ADMIN" "$@" --no-progress >"$WORK/killed.out" 2>&1 &
  local pid=$! target=$((ROWS / 3)) seen=0
  while kill -0 "$pid" 2>/dev/null; do
    seen=$(stat "$counter")
    if [ "${seen:-0}" -ge "$target" ]; then
      kill -9 "$pid"
      break
    fi
    sleep 0.5
  done
  if wait "$pid"; then
    echo "FAIL: $1 finished before it could be killed (use more rows)" >&2
    exit 1
  fi
  echo "killed $1 at $(stat "$counter") $counter of $ROWS"
}

check() {
  local what=$1 expected=$2 got
  got=$(stat "$what")
  if [ "$got" != "$expected" ]; then
    echo "FAIL: $what = $got, expected $expected" >&2
    exit 1
  fi
  echo "ok: $what = $got"
}

kill_midway persons import-cards "$WORK/cards.csv"
time "$ADMIN" import-cards "$WORK/cards.csv"
check persons "$ROWS"
check certificates $((2 * ROWS))

"$ADMIN" provider add --entity-id https://kenpo.nabari.test/wsp --name-ja 名張健保 --name-en "Nabari HI" --pilot-mode --approve
kill_midway links import-links https://kenpo.nabari.test/wsp "$WORK/links.csv"
time "$ADMIN" import-links https://kenpo.nabari.test/wsp "$WORK/links.csv"
check links "$ROWS"
check access_records "$ROWS"

# A third run changes nothing and reports every row applied exactly once.
"$ADMIN" import-cards "$WORK/cards.csv" | tee "$WORK/third.out"
grep -q "$ROWS applied, 0 unchanged, 0 rejected (0 batches committed now" "$WORK/third.out" || { echo "FAIL: third run" >&2; exit 1; }
"$ADMIN" verify-chain
echo "crash test passed with $ROWS rows"
