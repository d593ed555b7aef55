#!/usr/bin/env bash
# Build and test the Java binding:
#   1. cargo build --release in the repo root (a no-op when up to date; TT_SKIP_CARGO=1 skips it)
#   2. .ci/compile-reference-models, if the compiled reference models are missing
#   3. mvn -B -q test                (prints Surefire's Tests run: summary)
#   4. mvn -B test -Pcheckjni        (the whole suite again under -Xcheck:jni; fails on any JNI
#                                     warning in the output)
# Environment: TT_REFERENCE_DIR (default: the bundled <repo>/tests/data/reference), TT_MODELS_DIR (default
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

# Sum the <testsuite> counts of a Surefire reports directory into one Surefire-style line.
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
export TT_MODELS_DIR=$models

echo "== mvn -B -q test"
rm -rf target/surefire-reports
rc=0
"$mvn" -B -q -Dstyle.color=never test || rc=$?
summary target/surefire-reports
[ "$rc" -eq 0 ] || { echo "run-tests.sh: mvn test failed (exit $rc)" >&2; exit "$rc"; }

echo "== mvn -B test -Pcheckjni (-Xcheck:jni)"
rm -rf target/surefire-reports-checkjni
log=target/checkjni.log
rc=0
"$mvn" -B -Dstyle.color=never test -Pcheckjni > "$log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  grep -E '^\[(ERROR|WARNING)\]' "$log" | head -50 >&2 || true
fi
# Checked JNI prints to the test JVM's stdout, which Surefire puts in the console log, the
# per-test output files or a .dumpstream file: search all of them.
pattern='WARNING in native method|FATAL ERROR in native method|WARNING: JNI local refs|Warning: Calling other JNI functions'
warnings=$(grep -E -h "$pattern" "$log" target/surefire-reports-checkjni/* 2>/dev/null | sort | uniq -c || true)
summary target/surefire-reports-checkjni
if [ -n "$warnings" ]; then
  echo "run-tests.sh: -Xcheck:jni reported problems:" >&2
  echo "$warnings" >&2
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "run-tests.sh: mvn test -Pcheckjni failed (exit $rc), see bindings/java/$log" >&2; exit "$rc"; }
echo "-Xcheck:jni: no JNI warnings"
