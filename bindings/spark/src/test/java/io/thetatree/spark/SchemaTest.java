package io.thetatree.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.attribute.Attribute;
import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.attribute.NominalAttribute;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** transformSchema: accepted input types, output columns and their metadata, and every refusal. */
class SchemaTest {
    private static ThetaTreeModel model;
    private static String[] names;

    @BeforeAll
    static void setUp() {
        model = ThetaTreeModel.fromFile(ReferenceData.model("mushroom_gini_d5_lgk12").ttm().toString());
        names = model.getFeatureNames();
    }

    private static ThetaTreeModel fresh() {
        return model.copy(ParamMap.empty());
    }

    private static StructType withFeatures(DataType t) {
        return new StructType().add("id", DataTypes.LongType).add("features", t);
    }

    private static String refusal(ThetaTreeModel m, StructType schema) {
        return assertThrows(IllegalArgumentException.class, () -> m.transformSchema(schema))
                .getMessage();
    }

    @Test
    void acceptedFeatureTypesAndOutputs() {
        DataType[] ok = {DataTypes.createArrayType(DataTypes.ByteType, false),
            DataTypes.createArrayType(DataTypes.ByteType, true),
            DataTypes.createArrayType(DataTypes.IntegerType, true),
            DataTypes.createArrayType(DataTypes.DoubleType, false), DataTypes.BinaryType,
            SQLDataTypes.VectorType()};
        for (DataType t : ok) {
            StructType out = fresh().transformSchema(withFeatures(t));
            assertArrayEquals(new String[] {"id", "features", "prediction", "probability"},
                    out.fieldNames(), t.simpleString());
            assertEquals(DataTypes.DoubleType, out.apply("prediction").dataType());
            assertEquals(SQLDataTypes.VectorType(), out.apply("probability").dataType());
        }
    }

    @Test
    void outputMetadataCarriesClassLabelsAndVectorSize() {
        StructType out = fresh().transformSchema(withFeatures(DataTypes.BinaryType));
        Attribute a = Attribute.fromStructField(out.apply("prediction"));
        assertTrue(a instanceof NominalAttribute, a.toString());
        NominalAttribute nominal = (NominalAttribute) a;
        assertEquals(2, nominal.getNumValues().get());
        assertEquals(model.getClassLabels()[0], nominal.getValue(0));
        assertEquals(model.getClassLabels()[1], nominal.getValue(1));
        assertEquals(2, AttributeGroup.fromStructField(out.apply("probability")).size());
    }

    @Test
    void renamedAndOmittedOutputs() {
        StructType out = fresh().setPredictionCol("label_out").setProbabilityCol("")
                .transformSchema(withFeatures(DataTypes.BinaryType));
        assertArrayEquals(new String[] {"id", "features", "label_out"}, out.fieldNames());
        StructType none = withFeatures(DataTypes.BinaryType);
        ThetaTreeModel silent = fresh().setPredictionCol("").setProbabilityCol("");
        assertEquals(none, silent.transformSchema(none));
        Dataset<Row> df = SparkTestSession.get().createDataFrame(List.of(), none);
        assertEquals(none, silent.transform(df).schema(), "no outputs: the input as it is");
    }

    @Test
    void refusedFeatureTypes() {
        DataType[] bad = {DataTypes.StringType, DataTypes.createArrayType(DataTypes.StringType),
            DataTypes.createArrayType(DataTypes.LongType), DataTypes.DoubleType,
            DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.ByteType))};
        for (DataType t : bad) {
            String msg = refusal(fresh(), withFeatures(t));
            assertTrue(msg.contains("features column 'features' has type " + t.simpleString()),
                    msg);
            assertTrue(msg.contains("array<tinyint>, array<int>, array<double>, binary"), msg);
        }
    }

    @Test
    void oldMllibVectorGetsAHint() {
        String msg = refusal(fresh(), withFeatures(new org.apache.spark.mllib.linalg.VectorUDT()));
        assertTrue(msg.contains("MLUtils.convertVectorColumnsToML"), msg);
    }

    @Test
    void missingFeaturesColumnListsTheColumns() {
        String msg = refusal(fresh().setFeaturesCol("f"), withFeatures(DataTypes.BinaryType));
        assertTrue(msg.contains("features column 'f' does not exist"), msg);
        assertTrue(msg.contains("'id', 'features'"), msg);
    }

    @Test
    void vectorSizeFromMetadataMustMatch() {
        StructField f = new AttributeGroup("features", 116).toStructField();
        StructType s = new StructType(new StructField[] {f});
        String msg = refusal(fresh(), s);
        assertTrue(msg.contains("vectors of size 116"), msg);
        assertTrue(msg.contains("the model has 117 features"), msg);
        StructType right = new StructType(new StructField[] {
            new AttributeGroup("features", 117).toStructField()});
        fresh().transformSchema(right);
    }

    @Test
    void existingOutputColumnsAreRefused() {
        StructType s = withFeatures(DataTypes.BinaryType).add("prediction", DataTypes.DoubleType);
        String msg = refusal(fresh(), s);
        assertTrue(msg.contains("output column 'prediction' (predictionCol) already exists"), msg);
        msg = refusal(fresh().setProbabilityCol("prediction"), withFeatures(DataTypes.BinaryType));
        assertTrue(msg.contains("output column 'prediction' (probabilityCol) already exists"),
                msg);
    }

    private static StructType namedColumns(List<String> cols, DataType t) {
        StructType s = new StructType().add("id", DataTypes.LongType);
        for (String c : cols) {
            s = s.add(c, t);
        }
        return s;
    }

    @Test
    void inputColsAcceptNumericAndBooleanColumnsInAnyOrder() {
        List<String> cols = new ArrayList<>(Arrays.asList(names));
        java.util.Collections.reverse(cols);
        for (DataType t : new DataType[] {DataTypes.BooleanType, DataTypes.ByteType,
            DataTypes.ShortType, DataTypes.IntegerType, DataTypes.LongType, DataTypes.FloatType,
            DataTypes.DoubleType}) {
            StructType out = fresh().setInputCols(cols.toArray(new String[0]))
                    .transformSchema(namedColumns(cols, t));
            assertEquals(names.length + 3, out.size(), t.simpleString());
        }
    }

    @Test
    void inputColsRefusals() {
        List<String> all = Arrays.asList(names);
        StructType schema = namedColumns(all, DataTypes.IntegerType);

        List<String> lacking = new ArrayList<>(all.subList(2, all.size()));
        String msg = refusal(fresh().setInputCols(lacking.toArray(new String[0])), schema);
        assertTrue(msg.contains("2 of the model's 117 features have no column in inputCols: '"
                + names[0] + "', '" + names[1] + "'"), msg);

        List<String> extra = new ArrayList<>(all);
        extra.add("id");
        msg = refusal(fresh().setInputCols(extra.toArray(new String[0])), schema);
        assertTrue(msg.contains("input column 'id' is not a feature of the model"), msg);

        List<String> twice = new ArrayList<>(all);
        twice.add(names[3]);
        msg = refusal(fresh().setInputCols(twice.toArray(new String[0])), schema);
        assertTrue(msg.contains("names column '" + names[3] + "' twice"), msg);

        msg = refusal(fresh().setInputCols(names), namedColumns(all.subList(1, all.size()),
                DataTypes.IntegerType));
        assertTrue(msg.contains("input column '" + names[0] + "' does not exist"), msg);

        StructType strings = namedColumns(all, DataTypes.StringType);
        msg = refusal(fresh().setInputCols(names), strings);
        assertTrue(msg.contains("input column '" + names[0] + "' has type string"), msg);

        StructType decimals = namedColumns(all, DataTypes.createDecimalType(10, 0));
        msg = refusal(fresh().setInputCols(names), decimals);
        assertTrue(msg.contains("(cast it to double or int)"), msg);

        msg = refusal(fresh().setInputCols(), schema);
        assertTrue(msg.contains("inputCols is empty"), msg);

        msg = refusal(fresh().setInputCols(names).setFeaturesCol("features"), schema);
        assertTrue(msg.contains("both featuresCol ('features') and inputCols are set"), msg);
    }

    @Test
    void paramValidation() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> fresh().setHandleInvalid("ignore"));
        assertTrue(e.getMessage().contains("handleInvalid"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> fresh().setBatchSize(0));
        assertEquals("error", fresh().getHandleInvalid());
        assertEquals("features", fresh().getFeaturesCol());
        assertEquals(4096, fresh().getBatchSize());
        assertEquals(null, fresh().getInputCols());
        assertTrue(fresh().explainParams().contains("handleInvalid"));
    }
}
