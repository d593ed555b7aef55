"""Throughput of batch scoring on Spark local[2]: thetatree's ThetaTreeModel against Spark MLlib's
DecisionTreeClassificationModel of the same depth and against Python UDFs running the reference
emulation (service/loadtest/reference_emulation.py), all on the same generated rows.

The rows: the reference input rows of the model's dataset, repeated to --rows rows by a broadcast
join on id % n (so nothing is cached and every run generates its input the same way). Each case
scores the rows and writes them to Spark's "noop" sink; "input only" runs the same job without
scoring, so (case - input only) is the time spent scoring. Medians of --runs runs; thread and
process counts are whatever local[2] gives (2 task threads, 2 Python workers).

Run through bench/run.sh, which builds the jars and the venv.
"""
import argparse
import csv
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np


def open_csv(ref_dir, relative):
    """A reference CSV stored plain or gzip-compressed."""
    path = os.path.join(ref_dir, relative)
    if os.path.exists(path):
        return open(path, newline="")
    return gzip.open(path + ".gz", "rt", newline="")


def load_rows(ref_dir, dataset, model):
    """(feature names, int8 matrix, labels) of the clean reference input and its golden y_true."""
    with open_csv(ref_dir, f"inputs/{dataset}_X.csv") as f:
        r = csv.reader(f)
        names = next(r)[1:]
        cells = np.array([[int(c) for c in row[1:]] for row in r], dtype=np.int8)
    with open_csv(ref_dir, f"golden/{model}__X.csv") as f:
        labels = np.array([int(row["y_true"]) for row in csv.DictReader(f)], dtype=np.float64)
    return names, cells, labels


def datasets(repo):
    """model name -> dataset, from tests/reference_models.tsv."""
    out = {}
    with open(os.path.join(repo, "tests/reference_models.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, _, _, dataset = line.rstrip("\n").split("\t")
                out[name] = dataset
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ref-dir", required=True)
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--jars", required=True, help="comma-separated thetatree jars")
    ap.add_argument("--models", default="mushroom_gini_d5_lgk12,du_entropy_d14_lgk12")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--udf-rows", type=int, default=0, help="rows for the Python UDFs (default --rows)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-udfs", action="store_true", help="only the JVM cases")
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--out", help="also write the table (markdown) here")
    args = ap.parse_args()
    udf_rows = args.udf_rows or args.rows

    from pyspark.ml.classification import DecisionTreeClassifier
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.wrapper import JavaModel
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, BinaryType, ByteType, DoubleType, IntegerType, StructField, StructType
    import pyspark

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("thetatree-spark-bench")
        .config("spark.jars", args.jars)
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    spark.sparkContext.addPyFile(os.path.join(args.repo, "service/loadtest/reference_emulation.py"))
    spark.sparkContext.addPyFile(os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulation_udfs.py"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import emulation_udfs

    jvm = spark._jvm
    dataset_of = datasets(args.repo)

    results = []  # (model, case, rows, median s, all s)

    def timed(model, case, df, rows):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            df.write.format("noop").mode("overwrite").save()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        results.append((model, case, rows, med, times))
        print(f"  {case:<48} {rows:>11,} rows  median {med:8.2f} s  ({', '.join(f'{t:.2f}' for t in times)})  "
              f"{rows / med:,.0f} rows/s", flush=True)

    for name in args.models.split(","):
        ttm = os.path.join(args.models_dir, name + ".ttm")
        jmodel = jvm.io.thetatree.spark.ThetaTreeModel.fromFile(ttm)
        dataset = dataset_of[name]
        names, cells, labels = load_rows(args.ref_dir, dataset, name)
        assert list(jmodel.getFeatureNames()) == names, "feature order"
        depth = jmodel.depth()
        n, nf = cells.shape
        print(f"{name}: {n} reference rows x {nf} features, depth {depth}, {jmodel.numNodes()} nodes", flush=True)

        schema = StructType([
            StructField("k", IntegerType(), False),
            StructField("label", DoubleType(), False),
            StructField("bin", BinaryType(), False),
            StructField("i8", ArrayType(ByteType(), False), False),
            StructField("vec", pyspark.ml.linalg.VectorUDT(), False),
        ])
        base_rows = []
        for k in range(n):
            x = cells[k]
            nz = np.flatnonzero(x)
            base_rows.append((k, float(labels[k]), bytearray(x.tobytes()), [int(v) for v in x],
                              Vectors.sparse(nf, nz.tolist(), x[nz].astype(float).tolist())))
        base = spark.createDataFrame(base_rows, schema).cache()
        base.count()

        def data(rows):
            return (spark.range(rows).withColumn("k", (F.col("id") % n).cast("int"))
                    .join(F.broadcast(base), "k").drop("k"))

        # MLlib's tree of the same depth, trained on the reference rows.
        dt = DecisionTreeClassifier(featuresCol="vec", labelCol="label", maxDepth=depth, seed=1).fit(base)
        print(f"  MLlib tree: depth {dt.depth}, {dt.numNodes} nodes", flush=True)

        tt_vec = JavaModel(jmodel.copy(jvm.org.apache.spark.ml.param.ParamMap()).setFeaturesCol("vec"))
        tt_bin = JavaModel(jmodel.copy(jvm.org.apache.spark.ml.param.ParamMap()).setFeaturesCol("bin"))

        # Parity of the two JVM scorers' inputs on the base rows (same rows, same answers).
        a = tt_vec.transform(base).select("k", "probability").orderBy("k").collect()
        b = tt_bin.transform(base).select("k", "probability").orderBy("k").collect()
        assert [r.probability for r in a] == [r.probability for r in b]

        # Warm-up (JIT, codegen, the executors' model cache), untimed.
        for df in (data(1_000_000).select("id", "vec"), tt_vec.transform(data(1_000_000).select("id", "vec")),
                   dt.transform(data(1_000_000).select("id", "vec")), tt_bin.transform(data(1_000_000).select("id", "bin"))):
            df.write.format("noop").mode("overwrite").save()

        rows = args.rows
        timed(name, "input only: sparse Vector column", data(rows).select("id", "vec"), rows)
        timed(name, "thetatree ThetaTreeModel, sparse Vector input", tt_vec.transform(data(rows).select("id", "vec")), rows)
        timed(name, "MLlib DecisionTreeClassificationModel, sparse Vector input", dt.transform(data(rows).select("id", "vec")), rows)
        timed(name, "input only: binary column", data(rows).select("id", "bin"), rows)
        timed(name, "thetatree ThetaTreeModel, binary input", tt_bin.transform(data(rows).select("id", "bin")), rows)

        persistence = os.path.join(args.ref_dir, "models", name, "persistence_tree.json")

        row_udf = F.udf(emulation_udfs.row_scorer(persistence), DoubleType())
        batch_udf = F.pandas_udf(emulation_udfs.batch_scorer(persistence), DoubleType())
        # The emulation agrees with thetatree on the base rows before it is timed.
        got = base.select("k", row_udf("i8").alias("p1")).orderBy("k").collect()
        assert [r.p1 for r in got] == [r.probability[1] for r in a], "row UDF vs thetatree"
        got = base.select("k", batch_udf("i8").alias("p1")).orderBy("k").collect()
        assert [r.p1 for r in got] == [r.probability[1] for r in a], "pandas UDF vs thetatree"

        if args.no_udfs:
            base.unpersist()
            continue
        timed(name, "input only: array<tinyint> column", data(udf_rows).select("id", "i8"), udf_rows)
        timed(name, "Python UDF, reference emulation, 1 row/call", data(udf_rows).select("id", row_udf("i8").alias("p1")), udf_rows)
        timed(name, "pandas UDF (Arrow batches), reference emulation", data(udf_rows).select("id", batch_udf("i8").alias("p1")), udf_rows)
        base.unpersist()

    spark.stop()
    table = render(results)
    print()
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
            json.dump([dict(model=m, case=c, rows=r, median_s=s, runs_s=t) for m, c, r, s, t in results], f)
            f.write("\n")


def render(results):
    """Markdown: rows/s end to end, and rows/s of the scoring alone: the time above the "input
    only" job that reads the same input column (the row before it in the same model's results)."""
    lines = ["| model | case | rows | median s | rows/s end to end | scoring rows/s (time above input only) |",
             "|---|---|---:|---:|---:|---:|"]
    baseline = 0.0
    for model, case, rows, med, _ in results:
        if case.startswith("input only"):
            baseline = med
            lines.append(f"| {model} | {case} | {rows:,} | {med:.2f} | {rows / med:,.0f} | |")
            continue
        extra = med - baseline
        net = f"{rows / extra:,.0f}" if extra > 0 else "n/a (within noise)"
        lines.append(f"| {model} | {case} | {rows:,} | {med:.2f} | {rows / med:,.0f} | {net} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
