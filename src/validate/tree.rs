//! The node graph, node statistics and leaf table of an image whose section table passed:
//! every child index, feature index, leaf index and label, the probabilities against the
//! counts they derive from, the recorded missing-value directions and the depth.

use super::{corrupt, leaf_label, leaf_probabilities, Layout};
use crate::error::{Error, Result, Status};
use crate::format::*;
use zerocopy::little_endian::F64;
use zerocopy::FromBytes;

/// Check the tree sections of `model` (whose section table `l` describes) in one pass over
/// the nodes in index order: children always come after their parent, so a node's depth is
/// known (or it is unreachable) when the pass reaches it. The pass's state stays in locals
/// (the steps below take it explicitly), which keeps it in registers for 10^6-node models.
///
/// Returns the expected path length of a training row, `sum over leaves of depth * n_samples
/// / n_root`, in 1/256 units (the traversal picks its kernel from it; computed here because
/// this pass already has every leaf's depth and count).
pub(super) fn check_tree(model: &[u8], l: &Layout) -> Result<u32> {
    let s = TreeSections::new(model, l)?;
    let n = s.nodes.len();
    // depth[i] == u32::MAX until node i is claimed by a parent (the root claims itself).
    let mut depth = vec![u32::MAX; n];
    depth[0] = 0;
    let mut leaves = Leaves {
        next: 0,
        max_depth: 0,
        weighted_depth: 0.0,
    };
    let left_adjacent = l.flags & FLAG_LEFT_ADJACENT != 0;
    // Splits whose missing direction is checked when their right child is reached; in a
    // pre-order tree this is a stack no deeper than the tree.
    let mut pending: Vec<PendingSplit> =
        Vec::with_capacity(l.max_depth.min(MAX_DEPTH) as usize + 1);
    for i in 0..n {
        let (d, st) = (depth[i], &s.stats[i]);
        let ns = check_reached(&s, i, d, st)?;
        if pending.last().is_some_and(|p| p.right == i) {
            if let Some(p) = pending.pop() {
                p.check(ns, &s)?;
            }
        }
        match s.nodes[i].tag.get() {
            TAG_SPLIT_MISSING_LEFT | TAG_SPLIT_MISSING_RIGHT => {
                check_split(&s, l, i, d, &mut depth, left_adjacent, &mut pending)?;
                check_split_counts(&s, i, st)?;
            }
            TAG_LEAF => check_leaf(&s, l, i, d, st, &mut leaves)?,
            t => {
                return Err(Error::at(
                    Status::Graph,
                    s.node_at(i, 0),
                    format!("node {i}: unknown node tag {t}"),
                ))
            }
        }
    }
    check_totals(&s, l, &pending, &leaves)?;
    let root = s.stats[0].n_samples.get();
    let mean = if root > 0.0 {
        leaves.weighted_depth / root
    } else {
        // No training mass recorded: every leaf counts as reached.
        f64::from(leaves.max_depth)
    };
    // Saturating float-to-int conversion; the depth cap keeps it far below u32::MAX anyway.
    Ok((mean * 256.0).round() as u32)
}

/// Leaves seen so far: the next leaf index expected, the depth of the deepest, and the sum of
/// depth * n_samples over them.
struct Leaves {
    next: u32,
    max_depth: u32,
    weighted_depth: f64,
}

/// The node, stats and probability records, and where they are in the file.
struct TreeSections<'a> {
    nodes: &'a [RawNode],
    stats: &'a [RawStats],
    probs: &'a [F64],
    nodes_off: usize,
    stats_off: usize,
    probs_off: usize,
}

impl<'a> TreeSections<'a> {
    fn new(model: &'a [u8], l: &Layout) -> Result<TreeSections<'a>> {
        let (noff, nlen) = l.sections[SEC_NODES];
        let (soff, slen) = l.sections[SEC_STATS];
        let (poff, plen) = l.sections[SEC_PROBS];
        match (
            <[RawNode]>::ref_from_bytes(&model[noff..noff + nlen]),
            <[RawStats]>::ref_from_bytes(&model[soff..soff + slen]),
            <[F64]>::ref_from_bytes(&model[poff..poff + plen]),
        ) {
            (Ok(nodes), Ok(stats), Ok(probs)) => Ok(TreeSections {
                nodes,
                stats,
                probs,
                nodes_off: noff,
                stats_off: soff,
                probs_off: poff,
            }),
            _ => Err(corrupt(
                noff,
                "section lengths are not whole records".into(),
            )),
        }
    }

    /// File offset of 32-bit word `word` of node `i`.
    fn node_at(&self, i: usize, word: usize) -> u64 {
        (self.nodes_off + i * NODE_SIZE + 4 * word) as u64
    }

    /// File offset of node `i`'s stats record.
    fn stat_at(&self, i: usize) -> u64 {
        (self.stats_off + i * STATS_SIZE) as u64
    }
}

/// A split whose missing-value direction is yet to be compared with its children's counts.
struct PendingSplit {
    parent: usize,
    right: usize,
    missing_right: bool,
    n_left: f64,
}

impl PendingSplit {
    /// The missing direction must name the child with more training samples (left on a tie).
    fn check(&self, n_right: f64, s: &TreeSections<'_>) -> Result<()> {
        let (i, nl, nr) = (self.parent, self.n_left, n_right);
        if self.missing_right != (nr > nl) {
            return Err(Error::at(
                Status::Corrupt,
                s.node_at(i, 0),
                format!("node {i}: missing-value direction disagrees with the children's sample counts ({nl} left, {nr} right)"),
            ));
        }
        Ok(())
    }
}

/// Node `i` at depth `d` (`u32::MAX`: no parent claimed it) is reachable and its sample
/// count is a finite non-negative number; returns the count.
#[inline(always)]
fn check_reached(s: &TreeSections<'_>, i: usize, d: u32, st: &RawStats) -> Result<f64> {
    if d == u32::MAX {
        return Err(Error::at(
            Status::Graph,
            s.node_at(i, 0),
            format!("node {i} is unreachable: no parent points to it"),
        ));
    }
    let ns = st.n_samples.get();
    if !(ns.is_finite() && ns >= 0.0) {
        return Err(Error::at(
            Status::Corrupt,
            s.stat_at(i),
            format!("node {i}: n_samples {ns} is not a finite non-negative number"),
        ));
    }
    Ok(ns)
}

/// Split `i` at depth `d`: feature in range, children in range and claimed once (their depth
/// recorded), depth cap, the pre-order promise, and its missing direction: checked now, or,
/// in a pre-order tree, pushed on `pending` until the pass reaches its right child.
#[inline(always)]
fn check_split(
    s: &TreeSections<'_>,
    l: &Layout,
    i: usize,
    d: u32,
    depth: &mut [u32],
    left_adjacent: bool,
    pending: &mut Vec<PendingSplit>,
) -> Result<()> {
    let n = s.nodes.len();
    let node = &s.nodes[i];
    let (f, left, right) = (node.a.get(), node.b.get() as usize, node.c.get() as usize);
    if f >= l.n_features {
        return Err(Error::at(
            Status::Corrupt,
            s.node_at(i, 1),
            format!(
                "node {i}: feature index {f} is out of range (n_features = {})",
                l.n_features
            ),
        ));
    }
    for (word, c, side) in [(2, left, "left"), (3, right, "right")] {
        if c <= i || c >= n {
            return Err(Error::at(
                Status::Graph,
                s.node_at(i, word),
                format!("node {i}: {side} child {c} must be greater than {i} and less than {n}"),
            ));
        }
        if depth[c] != u32::MAX {
            return Err(Error::at(
                Status::Graph,
                s.node_at(i, word),
                format!("node {c} has two parents (second: node {i})"),
            ));
        }
        depth[c] = d + 1;
    }
    if d + 1 > MAX_DEPTH {
        return Err(Error::at(
            Status::Limit,
            s.node_at(i, 0),
            format!("tree depth exceeds the cap of {MAX_DEPTH}"),
        ));
    }
    if left_adjacent && left != i + 1 {
        return Err(Error::at(
            Status::Layout,
            s.node_at(i, 2),
            format!(
                "node {i}: left child {left} is not at {} as the header's pre-order flag promises",
                i + 1
            ),
        ));
    }
    let split = PendingSplit {
        parent: i,
        right,
        missing_right: node.tag.get() == TAG_SPLIT_MISSING_RIGHT,
        n_left: s.stats[left].n_samples.get(),
    };
    if left_adjacent {
        // Pre-order: the right child follows the whole left subtree; compare when the pass
        // reaches it (a sequential read, not a cache miss into the stats).
        pending.push(split);
        Ok(())
    } else {
        split.check(s.stats[right].n_samples.get(), s)
    }
}

/// A split's class counts: finite and non-negative, or both NaN (not recorded).
#[inline(always)]
fn check_split_counts(s: &TreeSections<'_>, i: usize, st: &RawStats) -> Result<()> {
    let (c0, c1) = (st.count_neg.get(), st.count_pos.get());
    let counts_ok = (c0.is_finite() && c0 >= 0.0 && c1.is_finite() && c1 >= 0.0)
        || (c0.is_nan() && c1.is_nan());
    if !counts_ok {
        return Err(Error::at(
            Status::Corrupt,
            s.stat_at(i) + 8,
            format!("node {i}: class counts [{c0}, {c1}] are invalid"),
        ));
    }
    Ok(())
}

/// Leaf `i` at depth `d`: numbered in node order, label in range and equal to the majority
/// class, reserved word zero, counts sane, probabilities in range and equal to the counts'.
#[inline(always)]
fn check_leaf(
    s: &TreeSections<'_>,
    l: &Layout,
    i: usize,
    d: u32,
    st: &RawStats,
    leaves: &mut Leaves,
) -> Result<()> {
    leaves.max_depth = leaves.max_depth.max(d);
    leaves.weighted_depth += f64::from(d) * st.n_samples.get();
    let node = &s.nodes[i];
    let (leaf, label, pad) = (node.a.get(), node.b.get(), node.c.get());
    let next_leaf = leaves.next;
    if leaf != next_leaf {
        return Err(Error::at(Status::Corrupt, s.node_at(i, 1), format!("node {i}: leaf index {leaf}, expected {next_leaf} (leaves are numbered in node order)")));
    }
    leaves.next += 1;
    if label >= l.n_classes {
        return Err(Error::at(
            Status::Corrupt,
            s.node_at(i, 2),
            format!("node {i}: class label {label} is out of range"),
        ));
    }
    if pad != 0 {
        return Err(Error::at(
            Status::Layout,
            s.node_at(i, 3),
            format!("node {i}: reserved leaf word is not zero"),
        ));
    }
    let (c0, c1) = (st.count_neg.get(), st.count_pos.get());
    if !(c0.is_finite() && c0 >= 0.0 && c1.is_finite() && c1 >= 0.0) {
        return Err(Error::at(
            Status::Corrupt,
            s.stat_at(i) + 8,
            format!("leaf node {i}: class counts [{c0}, {c1}] are not finite non-negative numbers"),
        ));
    }
    let pi = 2 * leaf as usize;
    if pi + 1 >= s.probs.len() {
        return Err(Error::at(
            Status::Corrupt,
            s.node_at(i, 1),
            format!(
                "node {i}: leaf index {leaf} exceeds n_leaves {}",
                l.n_leaves
            ),
        ));
    }
    let (p0, p1) = (s.probs[pi].get(), s.probs[pi + 1].get());
    let p_at = (s.probs_off + 8 * pi) as u64;
    for (k, p) in [(0, p0), (1, p1)] {
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            return Err(Error::at(
                Status::Corrupt,
                p_at + 8 * k,
                format!(
                    "leaf {leaf}: probability {p} of class {k} is not a finite number in [0, 1]"
                ),
            ));
        }
    }
    let want = leaf_probabilities([c0, c1]);
    if [p0.to_bits(), p1.to_bits()] != [want[0].to_bits(), want[1].to_bits()] {
        return Err(Error::at(
            Status::Corrupt,
            p_at,
            format!(
                "leaf {leaf}: probabilities [{p0}, {p1}] do not equal the class counts' [{}, {}]",
                want[0], want[1]
            ),
        ));
    }
    if label != leaf_label([c0, c1]) {
        return Err(Error::at(
            Status::Corrupt,
            s.node_at(i, 2),
            format!("node {i}: label {label} is not the majority class of counts [{c0}, {c1}]"),
        ));
    }
    Ok(())
}

/// After the pass: splits left pending, and the header's leaf count and depth.
fn check_totals(
    s: &TreeSections<'_>,
    l: &Layout,
    pending: &[PendingSplit],
    leaves: &Leaves,
) -> Result<()> {
    // Left-adjacent but not in pre-order (right children reached out of stack order): check
    // the rest directly.
    for p in pending {
        p.check(s.stats[p.right].n_samples.get(), s)?;
    }
    if leaves.next != l.n_leaves {
        return Err(Error::at(
            Status::Corrupt,
            field::N_LEAVES,
            format!(
                "header says {} leaves, the node array has {}",
                l.n_leaves, leaves.next
            ),
        ));
    }
    if leaves.max_depth != l.max_depth {
        return Err(Error::at(
            Status::Corrupt,
            field::MAX_DEPTH,
            format!(
                "header says max_depth {}, the tree's depth is {}",
                l.max_depth, leaves.max_depth
            ),
        ));
    }
    Ok(())
}
