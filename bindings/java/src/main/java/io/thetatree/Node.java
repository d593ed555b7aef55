package io.thetatree;

/**
 * One node of the tree, as {@code tt_node_info} reads it ({@link Model#node(int)}). Nodes are
 * numbered in the reference's pre-order: the root is 0, then the left subtree, then the right
 * subtree; {@link Model#predictLeaf(byte[], int)} and {@link Model#decisionPath(byte[])} use the
 * same numbers.
 *
 * @param index this node's index
 * @param isLeaf whether this is a leaf
 * @param feature the split's feature (input column) index; -1 for a leaf
 * @param left the child for feature value 0 (absent); -1 for a leaf
 * @param right the child for feature value 1 (present); -1 for a leaf
 * @param missingRight whether a missing value goes to {@code right} (else to {@code left});
 *     false for a leaf
 * @param label the majority class index at this node (0 or 1), as a prediction stopping here
 *     would give it
 * @param nSamples the training samples that reached this node
 * @param classCount0 training samples of class 0 at this node
 * @param classCount1 training samples of class 1 at this node
 * @param probability0 P(class 0) from the counts, computed exactly as the leaves' are
 * @param probability1 P(class 1) from the counts
 */
public record Node(
        int index,
        boolean isLeaf,
        int feature,
        int left,
        int right,
        boolean missingRight,
        int label,
        double nSamples,
        double classCount0,
        double classCount1,
        double probability0,
        double probability1) {

    /** The training samples of class {@code c} (0 or 1) at this node. */
    public double classCount(int c) {
        return switch (c) {
            case 0 -> classCount0;
            case 1 -> classCount1;
            default -> throw new IndexOutOfBoundsException("class " + c + " (a model has 2)");
        };
    }

    /** P(class {@code c}) at this node (0 or 1). */
    public double probability(int c) {
        return switch (c) {
            case 0 -> probability0;
            case 1 -> probability1;
            default -> throw new IndexOutOfBoundsException("class " + c + " (a model has 2)");
        };
    }

    /** The child a row goes to with this feature value: 1 present, 0 absent, -1 missing. */
    public int child(int value) {
        if (isLeaf) {
            throw new IllegalStateException("node " + index + " is a leaf");
        }
        return switch (value) {
            case 0 -> left;
            case 1 -> right;
            case -1 -> missingRight ? right : left;
            default -> throw new IllegalArgumentException("value " + value
                    + " (must be 0, 1 or -1 for missing)");
        };
    }
}
