package io.thetatree.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.thetatree.ThetaTreeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saving and loading the stage alone and inside Pipelines; damaged saves are refused. */
class PersistenceTest {
    private static ReferenceData.RefModel ref;
    private static Dataset<Row> df;
    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        ref = ReferenceData.model("mushroom_entropy_d8_lgk14");
        df = Frames.of(ReferenceData.input(ref.dataset(), true), 2).cache();
    }

    private static ThetaTreeModel configured() {
        return ThetaTreeModel.fromFile(ref.ttm().toString()).setFeaturesCol("sparse")
                .setPredictionCol("p").setHandleInvalid("keep").setBatchSize(100);
    }

    /** (row, p, probability) sorted by row. */
    private static List<Row> scores(Transformer t) {
        return t.transform(df).select("row", "p", "probability").orderBy("row").collectAsList();
    }

    @Test
    void stageRoundTrip() throws IOException {
        ThetaTreeModel m = configured();
        String dir = tmp.resolve("stage").toString();
        m.write().save(dir);
        ThetaTreeModel back = ThetaTreeModel.load(dir);
        assertEquals(m.uid(), back.uid());
        assertEquals(m.getDigest(), back.getDigest());
        assertEquals(m.getVersion(), back.getVersion());
        assertEquals("sparse", back.getFeaturesCol());
        assertEquals("p", back.getPredictionCol());
        assertEquals("keep", back.getHandleInvalid());
        assertEquals(100, back.getBatchSize());
        assertEquals("probability", back.getProbabilityCol());
        assertTrue(back.isSet(back.featuresCol()) && !back.isSet(back.probabilityCol()),
                "set vs default params survive");
        assertArrayEquals(Files.readAllBytes(ref.ttm()),
                Files.readAllBytes(tmp.resolve("stage/data/model.ttm")), "the .ttm is stored as is");
        assertEquals(scores(m), scores(back));

        JsonNode meta = metadata(tmp.resolve("stage"));
        assertEquals(ThetaTreeModel.class.getName(), meta.get("class").asText());
        assertEquals(m.getDigest(), meta.get("thetatree").get("digest").asText());
        assertEquals("sparse", meta.get("paramMap").get("featuresCol").asText());
        assertEquals("features", meta.get("defaultParamMap").get("featuresCol").asText());

        assertThrows(IOException.class, () -> m.write().save(dir), "no silent overwrite");
        m.setBatchSize(7).write().overwrite().save(dir);
        assertEquals(7, ThetaTreeModel.load(dir).getBatchSize());
    }

    @Test
    void inputColsSurvive() throws IOException {
        ThetaTreeModel m = ThetaTreeModel.fromFile(ref.ttm().toString());
        m.setInputCols(m.getFeatureNames());
        String dir = tmp.resolve("named").toString();
        m.save(dir);
        assertArrayEquals(m.getFeatureNames(), ThetaTreeModel.load(dir).getInputCols());
    }

    @Test
    void pipelineRoundTrip() throws IOException {
        ThetaTreeModel tt = configured();
        SQLTransformer before = new SQLTransformer().setStatement("SELECT * FROM __THIS__ WHERE row >= 0");
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {before, tt});
        String pdir = tmp.resolve("pipeline").toString();
        pipeline.save(pdir);
        Pipeline loadedPipeline = Pipeline.load(pdir);
        assertEquals(2, loadedPipeline.getStages().length);
        PipelineModel fitted = loadedPipeline.fit(df);

        String mdir = tmp.resolve("pipeline-model").toString();
        fitted.save(mdir);
        PipelineModel back = PipelineModel.load(mdir);
        assertTrue(back.stages()[1] instanceof ThetaTreeModel, back.stages()[1].toString());
        assertEquals(tt.getDigest(), ((ThetaTreeModel) back.stages()[1]).getDigest());
        assertEquals(scores(tt), scores(back));
    }

    @Test
    void damagedModelBytesAreRefused() throws IOException {
        String dir = tmp.resolve("damaged").toString();
        configured().save(dir);
        Path ttm = tmp.resolve("damaged/data/model.ttm");
        byte[] b = Files.readAllBytes(ttm);
        b[b.length / 2] ^= 0x10;
        Files.write(ttm, b);
        deleteChecksums(tmp.resolve("damaged/data"));
        ThetaTreeException e = assertThrows(ThetaTreeException.class, () -> ThetaTreeModel.load(dir));
        assertEquals(ThetaTreeException.CHECKSUM, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("data/model.ttm"), e.getMessage());
    }

    @Test
    void replacedModelBytesAreRefused() throws IOException {
        String dir = tmp.resolve("swapped").toString();
        configured().save(dir);
        Path ttm = tmp.resolve("swapped/data/model.ttm");
        Files.write(ttm, ReferenceData.model("mushroom_gini_d5_lgk12").bytes());
        deleteChecksums(tmp.resolve("swapped/data"));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ThetaTreeModel.load(dir));
        assertTrue(e.getMessage().contains("but the stage metadata records"), e.getMessage());
    }

    @Test
    void wrongThingsToLoad() throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ThetaTreeModel.load(ref.ttm().toString()));
        assertTrue(e.getMessage().contains("use ThetaTreeModel.fromFile"), e.getMessage());

        String sql = tmp.resolve("sql").toString();
        new SQLTransformer().setStatement("SELECT * FROM __THIS__").save(sql);
        e = assertThrows(IllegalArgumentException.class, () -> ThetaTreeModel.load(sql));
        assertTrue(e.getMessage().contains("holds a saved org.apache.spark.ml.feature.SQLTransformer"),
                e.getMessage());
    }

    /** Hadoop's local file system keeps .crc files; remove them so the library sees the bytes. */
    private static void deleteChecksums(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".crc")).toList()) {
                Files.delete(p);
            }
        }
    }

    private static JsonNode metadata(Path stage) throws IOException {
        try (Stream<Path> s = Files.list(stage.resolve("metadata"))) {
            Path part = s.filter(p -> p.getFileName().toString().startsWith("part-")).findFirst()
                    .orElseThrow();
            return new ObjectMapper().readTree(Files.readString(part));
        }
    }
}
