#!/usr/bin/env bash
# Spark batch-scoring benchmark (a script, not a test): rows/s on local[2] of ThetaTreeModel vs
# MLlib's DecisionTreeClassificationModel of the same depth vs Python UDFs running the reference
# emulation, on the same generated rows. Prints a markdown table (also in bench/results.md).
#
#   bindings/spark/bench/run.sh [--rows N] [--udf-rows N] [--runs N] [--models a,b]
#
# Builds what it needs: the library (cargo), the reference models, the Java binding and the Spark
# jar (mvn), and a venv in bench/.venv with pyspark matching the Spark version the module is
# compiled against (plus numpy, pandas, pyarrow) from PyPI. Environment: TT_REFERENCE_DIR,
# TT_MODELS_DIR, MVN, PYTHON (default python3), TT_SKIP_CARGO=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module=$(cd "$here/.." && pwd)
repo=$(cd "$module/../.." && pwd)
mvn=${MVN:-mvn}
python=${PYTHON:-python3}
models=${TT_MODELS_DIR:-$repo/target/reference-models}
# shellcheck source=../../../tests/data/reference.sh
. "$repo/tests/data/reference.sh"
ref=$(tt_reference_dir)

if [ "${TT_SKIP_CARGO:-0}" != 1 ]; then
  (cd "$repo" && cargo build --release --quiet)
fi
if [ ! -d "$models" ] || [ -z "$(ls -A "$models" 2>/dev/null)" ]; then
  "$repo/.ci/compile-reference-models" "$models"
fi
(cd "$repo/bindings/java" && TT_SKIP_CARGO=1 "$mvn" -B -q install -DskipTests)
(cd "$module" && "$mvn" -B -q package -DskipTests)
spark_version=$(sed -n 's:.*<spark.version>\(.*\)</spark.version>.*:\1:p' "$module/pom.xml")
jars=$repo/bindings/java/target/thetatree-0.1.0.jar,$module/target/thetatree-spark-0.1.0.jar

venv=$here/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$spark_version')" 2>/dev/null; then
  echo "== venv with pyspark $spark_version in $venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q "pyspark==$spark_version" numpy pandas pyarrow
fi

export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON=$venv/bin/python
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$venv/bin/python" "$here/spark_bench.py" --repo "$repo" --ref-dir "$ref" --models-dir "$models" \
  --jars "$jars" --out "$here/results.md" "$@"
