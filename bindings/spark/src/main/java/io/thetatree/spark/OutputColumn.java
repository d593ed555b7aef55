package io.thetatree.spark;

import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.attribute.NominalAttribute;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;

/**
 * The columns a {@link ThetaTreeModel} can append, in the order they are appended: the Spark type
 * and metadata of each, the {@link Kernel} that computes it and how one row's value is read from
 * the batch outputs. Adding an output is one constant here, its kernel, and its param in {@link
 * ThetaTreeModel}.
 */
enum OutputColumn {
    /** The label as a double (0.0 or 1.0), as Spark ML classifiers give it. */
    PREDICTION(Kernel.LABELS) {
        @Override
        StructField field(String name, ModelData model, boolean nullable) {
            StructField f = NominalAttribute.defaultAttr().withName(name)
                    .withValues(model.classLabels()).toStructField();
            return new StructField(name, DataTypes.DoubleType, nullable, f.metadata());
        }

        @Override
        Object value(BatchBuffer b, int slot) {
            return (double) b.labels().get(slot);
        }
    },
    /** An ml Vector [P(class 0), P(class 1)]. */
    PROBABILITY(Kernel.PROBABILITIES) {
        @Override
        StructField field(String name, ModelData model, boolean nullable) {
            StructField f = new AttributeGroup(name, 2).toStructField();
            return new StructField(name, SQLDataTypes.VectorType(), nullable, f.metadata());
        }

        @Override
        Object value(BatchBuffer b, int slot) {
            return Vectors.dense(b.probabilities().get(2 * slot),
                    b.probabilities().get(2 * slot + 1));
        }
    },
    /**
     * The reached leaf's node index in pre-order (root 0, left subtree, right subtree) as a
     * double, the type of Spark's own {@code leafCol}; its nominal attribute has one value per
     * tree node (Spark numbers leaves 0..numLeaves-1 instead: here the number is the node's, so
     * that it is the reference's {@code leaf_preorder} and the C ABI's {@code tt_predict_leaf}).
     */
    LEAF(Kernel.LEAVES) {
        @Override
        StructField field(String name, ModelData model, boolean nullable) {
            StructField f = NominalAttribute.defaultAttr().withName(name)
                    .withNumValues(model.nNodes()).toStructField();
            return new StructField(name, DataTypes.DoubleType, nullable, f.metadata());
        }

        @Override
        Object value(BatchBuffer b, int slot) {
            return (double) b.leaves().get(slot);
        }
    };

    private final Kernel kernel;

    OutputColumn(Kernel kernel) {
        this.kernel = kernel;
    }

    Kernel kernel() {
        return kernel;
    }

    /** The schema field; {@code nullable} when invalid rows are kept with null outputs. */
    abstract StructField field(String name, ModelData model, boolean nullable);

    /** The value of row {@code slot} after this column's kernel ran on the batch. */
    abstract Object value(BatchBuffer b, int slot);
}
