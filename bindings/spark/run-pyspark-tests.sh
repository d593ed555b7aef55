#!/usr/bin/env bash
# thetatree.spark on a real SparkSession (local[2], loopback only, UI off), pytest:
#   * thetatree.spark.predict, the mapInArrow helper over the Python binding (no jar involved);
#   * thetatree.spark.ThetaTreeModel, the JVM stage from Python (the jars on spark.jars):
#     params, getters, transform, stage and Pipeline save/load through PySpark's readers.
# Steps:
#   1. cargo build --release in the repo root (TT_SKIP_CARGO=1 skips it), and the compiled
#      reference models if they are missing (.ci/compile-reference-models)
#   2. the jars, tests skipped: mvn install in bindings/java (the binding, with its JNI library,
#      into the local Maven repository), mvn package here (TT_SKIP_JARS=1 uses the built ones)
#   3. a venv (default <repo>/target/pyspark-venv, TT_PYSPARK_VENV overrides) with pyspark of the
#      Spark version in pom.xml, pyarrow, pandas (PySpark's mapInArrow needs both), pytest and
#      maturin from PyPI; then pip install ./bindings/python into it
#   4. pytest src/test/python (extra arguments go to pytest)
# Environment: TT_REFERENCE_DIR, TT_MODELS_DIR, MVN, PYTHON (default python3), TT_SKIP_CARGO=1,
# TT_SKIP_JARS=1, TT_PYSPARK_VENV.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
mvn=${MVN:-mvn}
python=${PYTHON:-python3}
models=${TT_MODELS_DIR:-$repo/target/reference-models}
venv=${TT_PYSPARK_VENV:-$repo/target/pyspark-venv}
pip_q=(-q --disable-pip-version-check)

if [ "${TT_SKIP_CARGO:-0}" != 1 ]; then
  echo "== cargo build --release"
  (cd "$repo" && cargo build --release --quiet)
fi
if [ ! -d "$models" ] || [ -z "$(ls -A "$models" 2>/dev/null)" ]; then
  echo "== compiling reference models into $models"
  "$repo/.ci/compile-reference-models" "$models"
fi
export TT_MODELS_DIR=$models

jars=$repo/bindings/java/target/thetatree-0.1.0.jar,$here/target/thetatree-spark-0.1.0.jar
if [ "${TT_SKIP_JARS:-0}" != 1 ]; then
  echo "== jars (mvn install bindings/java, mvn package bindings/spark; tests skipped)"
  (cd "$repo/bindings/java" && TT_SKIP_CARGO=1 "$mvn" -B -q -Dstyle.color=never install -DskipTests)
  (cd "$here" && "$mvn" -B -q -Dstyle.color=never package -DskipTests)
fi
for jar in ${jars//,/ }; do
  [ -f "$jar" ] || { echo "run-pyspark-tests.sh: $jar missing (run without TT_SKIP_JARS)" >&2; exit 1; }
done
export TT_SPARK_JARS=$jars

spark_version=$(sed -n 's:.*<spark.version>\(.*\)</spark.version>.*:\1:p' "$here/pom.xml")
if [ ! -x "$venv/bin/python" ]; then
  echo "== venv $venv"
  "$python" -m venv "$venv"
fi
echo "== pip install pyspark==$spark_version pyarrow pandas pytest maturin"
"$venv/bin/pip" install "${pip_q[@]}" "pyspark==$spark_version" pyarrow pandas numpy pytest "maturin>=1.7,<2"
echo "== pip install ./bindings/python"
PYO3_PYTHON="$venv/bin/python" PATH="$venv/bin:$PATH" \
  "$venv/bin/pip" install "${pip_q[@]}" --no-build-isolation --force-reinstall --no-deps "$repo/bindings/python"

echo "== pytest src/test/python (local[2], Spark $spark_version)"
export PYSPARK_PYTHON=$venv/bin/python PYSPARK_DRIVER_PYTHON=$venv/bin/python SPARK_LOCAL_IP=127.0.0.1
cd "$here/src/test/python"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
