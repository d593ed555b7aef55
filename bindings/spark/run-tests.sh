#!/usr/bin/env bash
# Build and test the Spark binding (JUnit 5 on a local[2] SparkSession, loopback only):
#   1. cargo build --release in the repo root (a no-op when up to date; TT_SKIP_CARGO=1 skips it)
#   2. .ci/compile-reference-models, if the compiled reference models are missing
#   3. mvn -q install -DskipTests in bindings/java: the Java binding (with its JNI library) into
#      the local Maven repository, where this module's dependency on it resolves
#   4. mvn -B test here, printing Surefire's Tests run: summary and the parity row count
# Spark 4 jars come from Maven Central into the local repository (268 MB with the plugins on a cold
# machine; reused by later runs). Environment: TT_REFERENCE_DIR, TT_MODELS_DIR (default
# <repo>/target/reference-models), MVN (default mvn), TT_SKIP_CARGO=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
mvn=${MVN:-mvn}
models=${TT_MODELS_DIR:-$repo/target/reference-models}

if [ "${TT_SKIP_CARGO:-0}" != 1 ]; then
  echo "== cargo build --release"
  (cd "$repo" && cargo build --release --quiet)
fi
for f in "$repo/target/release/libthetatree.a" "$repo/target/release/thetatree"; do
  [ -e "$f" ] || { echo "run-tests.sh: $f missing" >&2; exit 1; }
done

if [ ! -d "$models" ] || [ -z "$(ls -A "$models" 2>/dev/null)" ]; then
  echo "== compiling reference models into $models"
  "$repo/.ci/compile-reference-models" "$models"
fi
export TT_MODELS_DIR=$models

echo "== mvn install (bindings/java, tests skipped: bindings/java/run-tests.sh runs them)"
(cd "$repo/bindings/java" && TT_SKIP_CARGO=1 "$mvn" -B -q -Dstyle.color=never install -DskipTests)

# Sum the <testsuite> counts of the Surefire reports into one Surefire-style line.
summary() {
  local dir=$1
  if ! compgen -G "$dir/TEST-*.xml" > /dev/null; then
    echo "Tests run: 0, Failures: 0, Errors: 0, Skipped: 0 (no reports in $dir)"
    return
  fi
  cat "$dir"/TEST-*.xml | grep -o '<testsuite [^>]*>' | awk '
    function attr(s, name,   m) {
      if (match(s, name "=\"[0-9]+\"")) { m = substr(s, RSTART, RLENGTH); gsub(/[^0-9]/, "", m); return m + 0 }
      return 0
    }
    { t += attr($0, "tests"); f += attr($0, "failures"); e += attr($0, "errors"); s += attr($0, "skipped") }
    END { printf "Tests run: %d, Failures: %d, Errors: %d, Skipped: %d\n", t, f, e, s }'
}

cd "$here"
echo "== mvn -B test (bindings/spark)"
rm -rf target/surefire-reports
rc=0
"$mvn" -B -q -Dstyle.color=never test || rc=$?
grep -h "^spark parity:" target/surefire-reports/*-output.txt 2>/dev/null || true
summary target/surefire-reports
[ "$rc" -eq 0 ] || { echo "run-tests.sh: mvn test failed (exit $rc), see bindings/spark/target/surefire-reports" >&2; exit "$rc"; }
