package io.thetatree.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.thetatree.Model;
import io.thetatree.ThetaTreeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fromFile over Hadoop FileSystem URIs, fromBytes, the getters, and every load failure. */
class FromFileTest {
    private static ReferenceData.RefModel ref;
    private static byte[] bytes;
    @TempDir
    Path tmp;

    @BeforeAll
    static void setUp() {
        SparkTestSession.get(); // fromFile(String) takes the active session's Hadoop settings
        ref = ReferenceData.model("du_gini_d6_lgk16");
        bytes = ref.bytes();
    }

    private static void assertSameModel(ThetaTreeModel m) {
        try (Model direct = Model.load(bytes)) {
            assertEquals(HexFormat.of().formatHex(direct.digest()), m.getDigest());
            assertEquals(direct.featureNames(), List.of(m.getFeatureNames()));
            assertEquals(direct.classLabels(), List.of(m.getClassLabels()));
            assertEquals(direct.nNodes(), m.numNodes());
            assertEquals(direct.maxDepth(), m.depth());
        }
        assertArrayEquals(bytes, m.getModelBytes());
    }

    @Test
    void gettersDescribeTheModel() throws NoSuchAlgorithmException {
        ThetaTreeModel m = ThetaTreeModel.fromFile(ref.ttm().toString());
        assertSameModel(m);
        // An unsigned model's digest is the SHA-256 of its file.
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)),
                m.getDigest());
        assertEquals(ref.name(), m.getVersion(), ".ci/compile-reference-models sets the version");
        assertEquals(ReferenceData.input(ref.dataset(), false).featureNames(),
                List.of(m.getFeatureNames()));
        assertEquals(354, m.numFeatures());
        assertEquals(2, m.numClasses());
        assertTrue(m.toString().contains(m.getDigest()), m.toString());
        assertTrue(m.uid().startsWith("thetatree_"), m.uid());
    }

    @Test
    void localPathsAndFileUris() {
        assertSameModel(ThetaTreeModel.fromFile(ref.ttm().toString()));
        assertSameModel(ThetaTreeModel.fromFile(ref.ttm().toUri().toString())); // file:/...
        assertSameModel(ThetaTreeModel.fromFile(ref.ttm().toString(), new Configuration()));
    }

    @Test
    void anyHadoopFileSystem() {
        MemoryFileSystem.put("/models/du.ttm", bytes);
        // The scheme is known only through the session's spark.hadoop.fs.ttmem.impl.
        assertSameModel(ThetaTreeModel.fromFile("ttmem://bucket/models/du.ttm"));
        Configuration bare = new Configuration();
        bare.setBoolean("fs.ttmem.impl.disable.cache", true); // else Hadoop's FS cache answers
        ThetaTreeException e = assertThrows(ThetaTreeException.class,
                () -> ThetaTreeModel.fromFile("ttmem://bucket/models/du.ttm", bare));
        assertEquals(ThetaTreeException.IO, e.code());
        assertTrue(e.getMessage().contains("ttmem"), e.getMessage());
    }

    @Test
    void fileSystemFailuresNameThePath() throws IOException {
        String missing = tmp.resolve("nope.ttm").toString();
        ThetaTreeException e = assertThrows(ThetaTreeException.class,
                () -> ThetaTreeModel.fromFile(missing));
        assertEquals(ThetaTreeException.IO, e.code());
        assertTrue(e.getMessage().contains(missing), e.getMessage());

        e = assertThrows(ThetaTreeException.class, () -> ThetaTreeModel.fromFile(tmp.toString()));
        assertEquals(ThetaTreeException.IO, e.code());
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());

        String stage = tmp.resolve("stage").toString();
        ThetaTreeModel.fromBytes(bytes).save(stage);
        e = assertThrows(ThetaTreeException.class, () -> ThetaTreeModel.fromFile(stage));
        assertTrue(e.getMessage().contains("use ThetaTreeModel.load"), e.getMessage());

        e = assertThrows(ThetaTreeException.class,
                () -> ThetaTreeModel.fromFile("nosuchscheme://host/model.ttm"));
        assertEquals(ThetaTreeException.IO, e.code());
        assertTrue(e.getMessage().contains("nosuchscheme://host/model.ttm"), e.getMessage());

        assertThrows(IllegalArgumentException.class, () -> ThetaTreeModel.fromFile(""));
        assertThrows(NullPointerException.class, () -> ThetaTreeModel.fromFile(null));
    }

    @Test
    void invalidModelsKeepTheLibrarysCodeAndOffset() throws IOException {
        byte[] damaged = bytes.clone();
        damaged[200] ^= 1;
        Path p = tmp.resolve("damaged.ttm");
        Files.write(p, damaged);
        ThetaTreeException direct = assertThrows(ThetaTreeException.class, () -> Model.load(damaged));
        ThetaTreeException e = assertThrows(ThetaTreeException.class,
                () -> ThetaTreeModel.fromFile(p.toString()));
        assertEquals(direct.code(), e.code());
        assertEquals(direct.byteOffset(), e.byteOffset());
        assertTrue(e.getMessage().startsWith(direct.codeName() + ": " + p), e.getMessage());

        for (byte[] junk : new byte[][] {"not a model".getBytes(), new byte[4096]}) {
            int code = assertThrows(ThetaTreeException.class, () -> Model.load(junk)).code();
            e = assertThrows(ThetaTreeException.class, () -> ThetaTreeModel.fromBytes(junk));
            assertEquals(code, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("fromBytes"), e.getMessage());
        }
        assertEquals(ThetaTreeException.BAD_MAGIC, e.code(), "4096 zero bytes: " + e.getMessage());
    }

    @Test
    void fromBytesCopiesItsInput() {
        byte[] mine = bytes.clone();
        ThetaTreeModel m = ThetaTreeModel.fromBytes(mine);
        mine[100] ^= 0x55;
        assertSameModel(m);
        byte[] out = m.getModelBytes();
        out[0] = 0;
        assertNotEquals(0, m.getModelBytes()[0], "getModelBytes returns a copy");
    }
}
