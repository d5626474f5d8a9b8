#!/usr/bin/env bash
# Fuzzes every fuzz target of the tree in turn, FUZZTIME each (found by
# name, so that a new target is never left out). Used by `make fuzz`.
#
# A target fails when the fuzzer writes a failing input under
# testdata/fuzz/<target>/ or fails in any other way, except one: Go 1.26's
# fuzz coordinator can end a run that found nothing with a bare "context
# deadline exceeded" when a worker is still busy at the -fuzztime boundary
# (go.dev/issue/75804, fixed in Go 1.27). Such a run wrote no input; it is
# run once more, and if that also ends so, reported and not counted.
set -uo pipefail
fuzztime=${FUZZTIME:-20s}
go=${GO:-go}
cd "$(dirname "$0")/.."
failed=0 flaked=0 passed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sort -u)
while IFS=: read -r file fn; do
	name=${fn#func }
	dir=$(dirname "$file")
	corpus="$dir/testdata/fuzz/$name"
	for attempt in 1 2; do
		echo "vpclab: fuzz $dir $name for $fuzztime"
		before=$(ls "$corpus" 2>/dev/null | sort)
		$go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$dir/" </dev/null 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
		if [ "$rc" -eq 0 ]; then
			passed=$((passed + 1))
			break
		fi
		after=$(ls "$corpus" 2>/dev/null | sort)
		if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$out" &&
			[ "$(grep -c -- '--- FAIL' "$out")" -eq 1 ]; then
			if [ "$attempt" -eq 1 ]; then
				echo "vpclab: $name ended with Go's fuzz deadline race (go.dev/issue/75804) and wrote no input; once more"
				continue
			fi
			echo "vpclab: $name ended with Go's fuzz deadline race twice and wrote no input; not counted as a failure"
			flaked=$((flaked + 1))
			break
		fi
		echo "vpclab: $name FAILED (exit $rc)"
		comm -13 <(echo "$before") <(echo "$after") | sed "s|^|vpclab: failing input $corpus/|"
		failed=$((failed + 1))
		break
	done
done <<<"$targets"
echo "vpclab: fuzz: $passed passed, $failed failed, $flaked ended by the deadline race"
[ "$failed" -eq 0 ]
