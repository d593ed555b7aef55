package io.thetatree.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A compiled theta-sketch decision tree ({@code .ttm} file) as a Spark ML {@link Model}: appends
 * the reference classifier's predictions, bit for bit, to a DataFrame.
 *
 * <pre>{@code
 * ThetaTreeModel model = ThetaTreeModel.fromFile("s3a://bucket/models/trips.ttm")
 *     .setFeaturesCol("f");
 * Dataset<Row> scored = model.transform(df);   // + prediction (double), probability ([P0, P1])
 * }</pre>
 *
 * <p><b>Input.</b> Either one features column ({@link #setFeaturesCol}, default {@code
 * "features"}) of type {@code array<tinyint>} or {@code array<int>} (0 absent, 1 present, -1 or
 * null missing), {@code binary} (one byte per feature, same values), {@code array<double>} or an ml
 * {@code Vector} (dense or sparse; 0.0 absent, 1.0 present, NaN missing; a sparse vector's absent
 * entries are 0), with {@link #numFeatures()} values in {@link #getFeatureNames()} order. Or, with
 * {@link #setInputCols}, one boolean or numeric column per feature, named like the feature (null
 * missing). {@link #transformSchema} checks all of this before any data is read.
 *
 * <p><b>Output.</b> {@code predictionCol} ({@code "prediction"}): the label as a double, 0.0 or
 * 1.0, with the class labels in its ML attribute metadata; {@code probabilityCol} ({@code
 * "probability"}): an ml Vector [P(class 0), P(class 1)]; {@code leafCol} (default {@code ""},
 * off, as in Spark's tree models): the reached leaf's node index in the reference's pre-order
 * numbering (root 0, left subtree, right subtree: the index {@code tt_predict_leaf} gives) as a
 * double, Spark's type for it. Set any of them to {@code ""} to leave it out.
 *
 * <p><b>Invalid rows</b> — a value other than 0, 1 or missing on the row's path through the tree,
 * a null features value, a features value of the wrong length: {@code handleInvalid} {@code
 * "error"} (default) fails the task naming the row, the feature and its value; {@code "skip"}
 * drops the row; {@code "keep"} keeps it with null outputs.
 *
 * <p><b>Execution.</b> The model bytes are broadcast once per SparkContext; each executor JVM loads
 * a model once (keyed by its digest) and shares it across tasks and jobs; partitions are scored
 * in batches of up to {@code batchSize} rows through the Java binding's zero-copy direct-buffer
 * calls, one native call per batch.
 *
 * <p><b>Persistence.</b> {@link #write()} / {@link #load(String)} (and any {@code Pipeline} holding
 * the stage) store the params and the {@code .ttm} bytes, which are validated again on load.
 */
public final class ThetaTreeModel extends Model<ThetaTreeModel> implements MLWritable {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ThetaTreeModel.class);

    /** Upper bound on the input cells of one batch, whatever {@code batchSize} says. */
    static final long MAX_BATCH_BYTES = 8L << 20;

    private final String uid;
    private final ModelData data;

    private final Param<String> featuresCol;
    private final StringArrayParam inputCols;
    private final Param<String> predictionCol;
    private final Param<String> probabilityCol;
    private final Param<String> leafCol;
    private final Param<String> handleInvalid;
    private final IntParam batchSize;

    ThetaTreeModel(String uid, ModelData data) {
        this.uid = Objects.requireNonNull(uid, "uid");
        this.data = Objects.requireNonNull(data, "data");
        featuresCol = new Param<>(this, "featuresCol", "features column: array<tinyint>, "
                + "array<int>, array<double>, binary or ml Vector, one value per model feature");
        inputCols = new StringArrayParam(this, "inputCols", "one boolean or numeric column per "
                + "model feature, named like the feature (instead of featuresCol)");
        predictionCol = new Param<>(this, "predictionCol", "prediction column (double label); "
                + "empty to leave it out");
        probabilityCol = new Param<>(this, "probabilityCol", "probability column (ml Vector "
                + "[P(class 0), P(class 1)]); empty to leave it out");
        leafCol = new Param<>(this, "leafCol", "leaf column (double: the reached leaf's "
                + "pre-order node index, root 0); empty (the default) to leave it out");
        handleInvalid = new Param<>(this, "handleInvalid", "how to handle rows that cannot be "
                + "scored (a value other than 0, 1 or missing, a null or wrong-length features "
                + "value): 'error' fails the task, 'skip' drops the row, 'keep' gives it null "
                + "outputs", ParamValidators.inArray(HandleInvalid.NAMES));
        batchSize = new IntParam(this, "batchSize", "rows per native batch call (capped so that "
                + "one batch holds at most " + (MAX_BATCH_BYTES >> 20) + " MiB of input cells)",
                ParamValidators.gt(0));
        setDefault(featuresCol, "features");
        setDefault(predictionCol, "prediction");
        setDefault(probabilityCol, "probability");
        setDefault(leafCol, "");
        setDefault(handleInvalid, "error");
        setDefault(batchSize, 4096);
    }

    // ------------------------------------------------------------------ creating

    /**
     * Loads a {@code .ttm} file from a local path or any Hadoop FileSystem URI ({@code file:},
     * {@code hdfs:}, {@code s3a:}, ...), with the Hadoop configuration of the active SparkSession
     * (so {@code spark.hadoop.*} settings such as S3 credentials apply) or a default one without a
     * session. A path without a scheme is resolved against {@code fs.defaultFS}. The model is
     * fully validated; failures are {@link io.thetatree.ThetaTreeException}s naming the path
     * (code {@code IO} for file system errors).
     */
    public static ThetaTreeModel fromFile(String path) {
        return fromFile(path, ModelFiles.defaultConfiguration());
    }

    /** {@link #fromFile(String)} with an explicit Hadoop configuration. */
    public static ThetaTreeModel fromFile(String path, Configuration hadoopConf) {
        Objects.requireNonNull(hadoopConf, "hadoopConf");
        byte[] bytes = ModelFiles.read(path, hadoopConf);
        return new ThetaTreeModel(Identifiable.randomUID("thetatree"), ModelData.of(bytes, path));
    }

    /** A model from the bytes of a {@code .ttm} file (copied, then validated). */
    public static ThetaTreeModel fromBytes(byte[] bytes) {
        Objects.requireNonNull(bytes, "bytes");
        return new ThetaTreeModel(Identifiable.randomUID("thetatree"),
                ModelData.of(bytes.clone(), "fromBytes"));
    }

    /** Reads a stage saved with {@link #write()} (or inside a Pipeline). */
    public static MLReader<ThetaTreeModel> read() {
        return new Persistence.Reader();
    }

    /** Loads a stage saved with {@code save(path)}; for a {@code .ttm} file use {@link #fromFile}. */
    public static ThetaTreeModel load(String path) {
        return read().load(path);
    }

    // ------------------------------------------------------------------ the model

    /** SHA-256 of the model (without signature trailer), lowercase hex: its identity. */
    public String getDigest() {
        return data.digest();
    }

    /** The model version recorded at compile time ({@code --model-version}; may be empty). */
    public String getVersion() {
        return data.version();
    }

    /** The feature names, in input order (a copy). */
    public String[] getFeatureNames() {
        return data.featureNames();
    }

    /** The class labels: index 0 negative, 1 positive (a copy). */
    public String[] getClassLabels() {
        return data.classLabels();
    }

    /** The number of input features (values per row). */
    public int numFeatures() {
        return data.nFeatures();
    }

    /** The number of classes (always 2). */
    public int numClasses() {
        return 2;
    }

    /** The number of tree nodes. */
    public int numNodes() {
        return data.nNodes();
    }

    /** The depth of the tree. */
    public int depth() {
        return data.maxDepth();
    }

    /** The {@code .ttm} bytes (a copy). */
    public byte[] getModelBytes() {
        return data.bytes().clone();
    }

    ModelData data() {
        return data;
    }

    // ------------------------------------------------------------------ params

    public Param<String> featuresCol() {
        return featuresCol;
    }

    public StringArrayParam inputCols() {
        return inputCols;
    }

    public Param<String> predictionCol() {
        return predictionCol;
    }

    public Param<String> probabilityCol() {
        return probabilityCol;
    }

    public Param<String> leafCol() {
        return leafCol;
    }

    public Param<String> handleInvalid() {
        return handleInvalid;
    }

    public IntParam batchSize() {
        return batchSize;
    }

    public String getFeaturesCol() {
        return $(featuresCol);
    }

    /** The per-feature input columns, or null when the features column is used. */
    public String[] getInputCols() {
        return isDefined(inputCols) ? $(inputCols).clone() : null;
    }

    public String getPredictionCol() {
        return $(predictionCol);
    }

    public String getProbabilityCol() {
        return $(probabilityCol);
    }

    /** The leaf column, or {@code ""} (the default) when it is left out. */
    public String getLeafCol() {
        return $(leafCol);
    }

    public String getHandleInvalid() {
        return $(handleInvalid);
    }

    public int getBatchSize() {
        return (Integer) $(batchSize);
    }

    public ThetaTreeModel setFeaturesCol(String value) {
        set(featuresCol, value);
        return this;
    }

    /** Reads one column per feature, matched to the model's features by name. */
    public ThetaTreeModel setInputCols(String... value) {
        set(inputCols, value.clone());
        return this;
    }

    public ThetaTreeModel setPredictionCol(String value) {
        set(predictionCol, value);
        return this;
    }

    public ThetaTreeModel setProbabilityCol(String value) {
        set(probabilityCol, value);
        return this;
    }

    /**
     * Appends the reached leaf's pre-order node index (a double, as Spark's {@code leafCol});
     * {@code ""} (the default) leaves it out.
     */
    public ThetaTreeModel setLeafCol(String value) {
        set(leafCol, value);
        return this;
    }

    /** {@code "error"} (default), {@code "skip"} or {@code "keep"}. */
    public ThetaTreeModel setHandleInvalid(String value) {
        set(handleInvalid, value);
        return this;
    }

    public ThetaTreeModel setBatchSize(int value) {
        set(batchSize, value);
        return this;
    }

    // ------------------------------------------------------------------ transforming

    /** What one transform reads and appends, checked against the input schema. */
    private record Plan(RowReader reader, OutputColumn[] outputs, StructType schema,
            HandleInvalid handleInvalid) {}

    private Plan plan(StructType input) {
        HandleInvalid mode = HandleInvalid.of($(handleInvalid));
        RowReader reader;
        if (isDefined(inputCols)) {
            if (isSet(featuresCol)) {
                throw new IllegalArgumentException("both featuresCol ('" + $(featuresCol)
                        + "') and inputCols are set; set only one");
            }
            reader = InputSchema.featureColumns(input, $(inputCols), data);
        } else {
            reader = InputSchema.featuresColumn(input, $(featuresCol), data);
        }
        List<OutputColumn> outputs = new ArrayList<>();
        StructType schema = input;
        schema = append(schema, outputs, OutputColumn.PREDICTION, predictionCol, mode);
        schema = append(schema, outputs, OutputColumn.PROBABILITY, probabilityCol, mode);
        schema = append(schema, outputs, OutputColumn.LEAF, leafCol, mode);
        return new Plan(reader, outputs.toArray(new OutputColumn[0]), schema, mode);
    }

    private StructType append(StructType schema, List<OutputColumn> outputs, OutputColumn column,
            Param<String> param, HandleInvalid mode) {
        String name = $(param);
        if (name.isEmpty()) {
            return schema;
        }
        InputSchema.checkNewColumn(schema, name, param.name());
        outputs.add(column);
        return schema.add(column.field(name, data, mode == HandleInvalid.KEEP));
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return plan(schema).schema();
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        Plan plan = plan(dataset.schema());
        if (plan.outputs().length == 0) {
            LOG.warn("{}: transform() does nothing because predictionCol, probabilityCol and "
                    + "leafCol are all empty", uid);
            return dataset.toDF();
        }
        long rowBytes = Math.max(1L, data.nFeatures()); // one int8 cell per feature
        int batchRows = (int) Math.max(1, Math.min(getBatchSize(), MAX_BATCH_BYTES / rowBytes));
        BatchScorer scorer = new BatchScorer(
                data.broadcast(dataset.sparkSession().sparkContext()), data.digest(),
                plan.reader(), plan.outputs(), plan.handleInvalid(), batchRows, data.nFeatures());
        Dataset<Row> scored = dataset.toDF().mapPartitions(scorer, Encoders.row(plan.schema()));
        return withMetadata(scored, plan.schema());
    }

    /**
     * The rows with every column's metadata as {@code schema} declares it: a row encoder keeps
     * types and nullability but drops field metadata, and downstream ML stages (evaluators,
     * IndexToString) read the class labels and vector size from it.
     */
    private static Dataset<Row> withMetadata(Dataset<Row> rows, StructType schema) {
        Column[] columns = new Column[schema.fields().length];
        for (int i = 0; i < columns.length; i++) {
            StructField f = schema.fields()[i];
            Column c = rows.col("`" + f.name().replace("`", "``") + "`");
            columns[i] = f.metadata().json().equals("{}") ? c : c.as(f.name(), f.metadata());
        }
        return rows.select(columns);
    }

    // ------------------------------------------------------------------ the rest of a stage

    @Override
    public String uid() {
        return uid;
    }

    @Override
    public ThetaTreeModel copy(ParamMap extra) {
        ThetaTreeModel copy = copyValues(new ThetaTreeModel(uid, data), extra);
        return copy.setParent(parent());
    }

    @Override
    public MLWriter write() {
        return new Persistence.Writer(this);
    }

    @Override
    public String toString() {
        return "ThetaTreeModel: uid=" + uid + ", digest=" + data.digest() + ", version="
                + data.version() + ", depth=" + data.maxDepth() + ", numNodes=" + data.nNodes()
                + ", numFeatures=" + data.nFeatures();
    }
}
