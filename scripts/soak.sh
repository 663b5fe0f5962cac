#!/usr/bin/env bash
# Soak: N consecutive runs of the boot suite on qemu-x86-64 with the good (reference) image.
# Prints each run's exit code and wall time, then the count of passes. Not part of npm test.
#   scripts/soak.sh 20            (reports under $SOAK_REPORTS, default a new temp folder)
set -u
N=${1:?usage: scripts/soak.sh N [board]}
BOARD=${2:-qemu-x86-64}
cd "$(dirname "$0")/.."
[ -f dist/rig/cli/main.js ] || npx tsc -p tsconfig.json
REPORTS=${SOAK_REPORTS:-$(mktemp -d /tmp/hwt-soak-XXXXXX)}
# A soak must not quarantine the user's board after a few infra results: its own health record.
export HW_TEST_HEALTH="$REPORTS/health.json" CI=true
passes=0
times=()
for i in $(seq 1 "$N"); do
  start=$(date +%s.%N)
  node dist/rig/cli/main.js --board "$BOARD" --suite boot --reports "$REPORTS" \
    >"$REPORTS/run-$i.out" 2>"$REPORTS/run-$i.err"
  code=$?
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  times+=("$wall")
  [ "$code" -eq 0 ] && passes=$((passes + 1))
  printf 'run %2d: exit %d, %.1f s\n' "$i" "$code" "$wall"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
printf '%d/%d passed; wall time min %.1f s, median %.1f s, max %.1f s; reports in %s\n' \
  "$passes" "$N" "$(echo "$sorted" | head -1)" "$(echo "$sorted" | sed -n "$(((N + 1) / 2))p")" \
  "$(echo "$sorted" | tail -1)" "$REPORTS"
[ "$passes" -eq "$N" ]
