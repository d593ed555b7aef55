package io.thetatree.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Saving and loading a {@link ThetaTreeModel} stage in Spark ML's layout, so that a Pipeline
 * holding it saves and loads like any other:
 *
 * <pre>
 *   PATH/metadata/part-*    one JSON line, as Spark's DefaultParamsWriter writes it: class, uid,
 *                           sparkVersion, timestamp, paramMap, defaultParamMap, plus a
 *                           "thetatree" object (digest, version, numFeatures, file)
 *   PATH/data/model.ttm     the model bytes, unchanged
 * </pre>
 *
 * On load the bytes are validated by the library again and their digest must match the metadata.
 */
final class Persistence {
    private Persistence() {}

    static final String DATA_FILE = "data/model.ttm";
    private static final ObjectMapper JSON = new ObjectMapper();

    static final class Writer extends MLWriter {
        private final ThetaTreeModel stage;

        Writer(ThetaTreeModel stage) {
            this.stage = stage;
        }

        @Override
        public void saveImpl(String path) {
            SparkSession spark = sparkSession();
            String json = metadataJson(stage, spark.version());
            spark.createDataset(List.of(json), Encoders.STRING()).coalesce(1).write()
                    .text(new Path(path, "metadata").toString());
            try {
                ModelFiles.write(new Path(path, DATA_FILE), stage.data().bytes(),
                        sc().hadoopConfiguration());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + new Path(path, DATA_FILE), e);
            }
        }
    }

    static final class Reader extends MLReader<ThetaTreeModel> {
        @Override
        public ThetaTreeModel load(String path) {
            Configuration conf = sc().hadoopConfiguration();
            if (ModelFiles.isTtmFile(path, conf)) {
                throw new IllegalArgumentException(path + " is a .ttm model file, not a saved "
                        + "stage: use ThetaTreeModel.fromFile");
            }
            String metadataDir = new Path(path, "metadata").toString();
            List<Row> lines = sparkSession().read().text(metadataDir).takeAsList(1);
            if (lines.isEmpty()) {
                throw new IllegalArgumentException(metadataDir + " is empty: not a saved stage");
            }
            JsonNode meta = parse(lines.get(0).getString(0), metadataDir);
            String cls = meta.path("class").asText();
            if (!cls.equals(ThetaTreeModel.class.getName())) {
                throw new IllegalArgumentException(path + " holds a saved " + cls + ", not a "
                        + ThetaTreeModel.class.getName());
            }
            String location = new Path(path, DATA_FILE).toString();
            ModelData data = ModelData.of(ModelFiles.read(location, conf), location);
            String digest = meta.path("thetatree").path("digest").asText();
            if (!data.digest().equals(digest)) {
                throw new IllegalStateException(location + " has digest " + data.digest()
                        + " but the stage metadata records " + digest + ": the saved stage was "
                        + "modified");
            }
            ThetaTreeModel stage = new ThetaTreeModel(meta.path("uid").asText(), data);
            setParams(stage, meta.path("defaultParamMap"), true, metadataDir);
            setParams(stage, meta.path("paramMap"), false, metadataDir);
            return stage;
        }
    }

    static String metadataJson(ThetaTreeModel stage, String sparkVersion) {
        ObjectNode root = JSON.createObjectNode();
        root.put("class", ThetaTreeModel.class.getName());
        root.put("timestamp", System.currentTimeMillis());
        root.put("sparkVersion", sparkVersion);
        root.put("uid", stage.uid());
        ObjectNode set = root.putObject("paramMap");
        ObjectNode defaults = root.putObject("defaultParamMap");
        for (Param<?> p : stage.params()) {
            if (stage.isSet(p)) {
                set.set(p.name(), parse(encode(p, stage.get(p).get()), p.name()));
            }
            if (stage.hasDefault(p)) {
                defaults.set(p.name(), parse(encode(p, stage.getDefault(p).get()), p.name()));
            }
        }
        ObjectNode tt = root.putObject("thetatree");
        tt.put("digest", stage.getDigest());
        tt.put("version", stage.getVersion());
        tt.put("numFeatures", stage.numFeatures());
        tt.put("file", DATA_FILE);
        return root.toString();
    }

    /** Sets (or, for {@code defaults}, defaults) every param in a saved param map. */
    private static void setParams(ThetaTreeModel stage, JsonNode map, boolean defaults,
            String where) {
        Iterator<Map.Entry<String, JsonNode>> it = map.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!stage.hasParam(e.getKey())) {
                throw new IllegalArgumentException(where + ": unknown param '" + e.getKey()
                        + "' (saved by a newer thetatree-spark?)");
            }
            Param<Object> p = stage.getParam(e.getKey());
            Object value = p.jsonDecode(e.getValue().toString());
            if (defaults) {
                stage.setDefault(p, value);
            } else {
                stage.set(p, value);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static String encode(Param<?> p, Object value) {
        return ((Param<Object>) p).jsonEncode(value);
    }

    private static JsonNode parse(String json, String where) {
        try {
            return JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + e.getOriginalMessage(),
                    e);
        }
    }
}
