//! Deterministic synthetic trees and rows for the benchmarks and the wide-input tests.
//!
//! Nothing here is committed data: every tree and row set is regenerated from a seed, so the
//! same seed gives the same bytes on every machine.
//!
//! * [`dense`]: 256 (or any) binary columns, each present with probability 1/2; the tree splits
//!   on random columns and its sample counts follow the data, like a CART tree grown on that
//!   distribution (`max_depth` caps the depth; `None` grows until nodes are too small).
//! * [`onehot`]: the theta-sketch case: 4096 indicator columns `var=value` grouped into
//!   categorical variables, one value per variable set per row (~2 % ones), Zipf-skewed value
//!   frequencies. The tree splits on `var=value` columns; the rare `1` side gets a small subtree
//!   and the `0` side continues, so the tree is a long left chain with short right branches.
//! * [`naive`]: the boxed pointer-chasing baseline built from the same spec.
#![allow(dead_code, clippy::too_many_arguments)]

pub mod families;

use thetatree::format::{encode, ModelSpec, NodeSpec};
use thetatree::validate::{leaf_label, leaf_probabilities};

/// SplitMix64: small, fast, deterministic.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A generated model: its spec, the encoded `.ttm` bytes and a short description.
pub struct Generated {
    pub name: String,
    pub spec: ModelSpec,
    pub bytes: Vec<u8>,
    pub n_features: usize,
    /// For one-hot models: the column range of each categorical variable and each value's
    /// frequency (used by the row generator).
    pub groups: Vec<(usize, usize)>,
    pub freq: Vec<f64>,
    /// For dense models: each column's probability of a `1` (empty: 1/2 for every column).
    pub p1: Vec<f64>,
}

impl Generated {
    pub fn n_nodes(&self) -> usize {
        self.spec.nodes.len()
    }
    pub fn depth(&self) -> u32 {
        thetatree::format::tree_depth(&self.spec.nodes)
    }
}

struct Builder {
    nodes: Vec<NodeSpec>,
    stats: Vec<[f64; 3]>,
}

impl Builder {
    fn leaf(&mut self, n: f64, pos: f64) -> u32 {
        let c = [n - pos, pos];
        let i = self.nodes.len() as u32;
        self.nodes.push(NodeSpec::Leaf {
            label: leaf_label(c),
            probabilities: leaf_probabilities(c),
        });
        self.stats.push([n, c[0], c[1]]);
        i
    }
    /// Reserve a split slot (pre-order: the left child is built right after it).
    fn split_slot(&mut self) -> u32 {
        let i = self.nodes.len() as u32;
        self.nodes.push(NodeSpec::Leaf {
            label: 0,
            probabilities: [0.5, 0.5],
        });
        self.stats.push([0.0; 3]);
        i
    }
    fn finish_split(&mut self, i: u32, feature: u32, left: u32, right: u32) {
        let (l, r) = (self.stats[left as usize], self.stats[right as usize]);
        self.nodes[i as usize] = NodeSpec::Split {
            feature,
            left,
            right,
            missing_right: r[0] > l[0],
        };
        self.stats[i as usize] = [l[0] + r[0], l[1] + r[1], l[2] + r[2]];
    }
    fn spec(self, feature_names: Vec<String>, what: &str) -> ModelSpec {
        ModelSpec {
            nodes: self.nodes,
            stats: self.stats,
            feature_names,
            class_labels: vec!["0".into(), "1".into()],
            model_version: "bench".into(),
            metadata_json: format!("{{\"generator\":\"{what}\"}}"),
        }
    }
}

/// Dense random tree: `n_features` columns, root sample count `n`, `max_depth` cap, leaves when
/// a node holds fewer than `min_split` samples or is (randomly) pure.
const SPREAD: f64 = 0.7;

pub fn dense(
    seed: u64,
    n_features: usize,
    n: f64,
    max_depth: Option<u32>,
    min_split: f64,
) -> Generated {
    let mut rng = Rng::new(seed);
    let mut b = Builder {
        nodes: Vec::new(),
        stats: Vec::new(),
    };
    fn grow(
        b: &mut Builder,
        rng: &mut Rng,
        nf: usize,
        n: f64,
        pos_rate: f64,
        depth: u32,
        max_depth: Option<u32>,
        min_split: f64,
    ) -> u32 {
        let pure = !(0.02..=0.98).contains(&pos_rate);
        if n < min_split || pure || max_depth.is_some_and(|d| depth >= d) {
            let pos = (n * pos_rate).round().min(n);
            return b.leaf(n, pos);
        }
        let i = b.split_slot();
        let f = rng.below(nf as u64) as u32;
        // Each column is present with probability 1/2 in the data: the split sends about half
        // of the node's samples each way, with binomial-like noise.
        let frac = (0.5 + (rng.unit() - 0.5) * SPREAD).clamp(0.05, 0.95);
        let nl = (n * frac).round().clamp(1.0, n - 1.0);
        let nr = n - nl;
        // The split separates the classes a little.
        let shift = (rng.unit() - 0.5) * 0.4;
        let pl = (pos_rate - shift).clamp(0.0, 1.0);
        let pr = (pos_rate + shift).clamp(0.0, 1.0);
        let left = grow(b, rng, nf, nl, pl, depth + 1, max_depth, min_split);
        let right = grow(b, rng, nf, nr, pr, depth + 1, max_depth, min_split);
        b.finish_split(i, f, left, right);
        i
    }
    grow(
        &mut b, &mut rng, n_features, n, 0.5, 0, max_depth, min_split,
    );
    let names = (0..n_features).map(|j| format!("f{j:05}")).collect();
    let d = max_depth.map_or("unlimited".to_string(), |d| format!("d{d}"));
    let spec = b.spec(names, "dense");
    let bytes = encode(&spec);
    Generated {
        name: format!("dense{n_features}_{d}"),
        spec,
        bytes,
        n_features,
        groups: Vec::new(),
        freq: Vec::new(),
        p1: Vec::new(),
    }
}

/// The three dense trees of issue 4 (256 columns): depth 6 (127 nodes), depth 12 (~6,000
/// nodes), unlimited (~22,000 nodes, depth ~23).
pub fn dense_d6() -> Generated {
    dense(6, 256, 30000.0, Some(6), 2.0)
}
pub fn dense_d12() -> Generated {
    dense(12, 256, 60000.0, Some(12), 2.0)
}
pub fn dense_unlimited() -> Generated {
    dense(23, 256, 30000.0, None, 3.0)
}

const MIN_FREQ: f64 = 0.01;

/// One-hot sketch-like tree: `n_features` columns in categorical groups of ~50 values.
pub fn onehot(seed: u64, n_features: usize, n: f64, min_leaf: f64) -> Generated {
    let mut rng = Rng::new(seed);
    let group_size = 50usize;
    let mut groups = Vec::new();
    let mut freq = vec![0.0; n_features];
    let mut names = Vec::with_capacity(n_features);
    let mut start = 0;
    while start < n_features {
        let end = (start + group_size).min(n_features);
        let g = groups.len();
        // Zipf(1) frequencies within the group.
        let h: f64 = (1..=end - start).map(|k| 1.0 / k as f64).sum();
        for (k, j) in (start..end).enumerate() {
            freq[j] = 1.0 / ((k + 1) as f64 * h);
            names.push(format!("var{g:03}={k}"));
        }
        groups.push((start, end));
        start = end;
    }
    let mut b = Builder {
        nodes: Vec::new(),
        stats: Vec::new(),
    };
    // Candidate split columns: the frequent values (what a sketch tree finds informative).
    let candidates: Vec<u32> = (0..n_features as u32)
        .filter(|&j| freq[j as usize] > MIN_FREQ)
        .collect();
    fn grow(
        b: &mut Builder,
        rng: &mut Rng,
        cand: &[u32],
        freq: &[f64],
        n: f64,
        pos_rate: f64,
        min_leaf: f64,
    ) -> u32 {
        let pure = !(0.01..=0.99).contains(&pos_rate);
        if n < 2.0 * min_leaf || pure {
            let pos = (n * pos_rate).round().min(n);
            return b.leaf(n, pos);
        }
        let i = b.split_slot();
        let f = cand[rng.below(cand.len() as u64) as usize];
        let q = freq[f as usize] * (0.5 + rng.unit());
        let nr = (n * q).round().clamp(1.0, n - 1.0);
        let nl = n - nr;
        // The rare side is strongly class-skewed; the common side moves a little.
        let pr = if rng.unit() < 0.5 {
            0.1 * rng.unit()
        } else {
            1.0 - 0.1 * rng.unit()
        };
        // The common side drifts slowly (it is most of the node).
        let pl = (pos_rate + (rng.unit() - 0.5) * 0.02).clamp(0.0, 1.0);
        let left = grow(b, rng, cand, freq, nl, pl, min_leaf);
        let right = grow(b, rng, cand, freq, nr, pr, min_leaf);
        b.finish_split(i, f, left, right);
        i
    }
    grow(&mut b, &mut rng, &candidates, &freq, n, 0.5, min_leaf);
    let spec = b.spec(names, "onehot");
    let bytes = encode(&spec);
    Generated {
        name: format!("onehot{n_features}_unlimited"),
        spec,
        bytes,
        n_features,
        groups,
        freq,
        p1: Vec::new(),
    }
}

/// The one-hot tree of issue 4: 4096 columns, ~2 % ones per row, long chains.
pub fn onehot_unlimited() -> Generated {
    onehot(4096, 4096, 30000.0, 80.0)
}

/// The four trees of issue 4's table.
pub fn issue4_trees() -> Vec<Generated> {
    vec![
        dense_d6(),
        dense_d12(),
        dense_unlimited(),
        onehot_unlimited(),
    ]
}

/// A dense tree with about `target_nodes` nodes (for the load-time benchmark).
pub fn dense_sized(target_nodes: usize) -> Generated {
    // Node count grows about linearly with the root sample count: one probe, then rescale.
    let seed = target_nodes as u64;
    let probe = dense(seed, 256, target_nodes as f64, None, 2.0).n_nodes();
    let n = target_nodes as f64 * target_nodes as f64 / probe as f64;
    let mut g = dense(seed, 256, n.max(2.0), None, 2.0);
    g.name = format!("dense256_{}nodes", g.n_nodes());
    g
}

/// Rows as int8 cells, row-major. Dense: each cell 0/1 with probability 1/2 (`missing_rate`
/// of them -1). One-hot: one value per group, drawn from the group's frequencies.
pub fn rows_i8(g: &Generated, seed: u64, n_rows: usize, missing_rate: f64) -> Vec<i8> {
    let nf = g.n_features;
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut x = vec![0i8; n_rows * nf];
    if !g.p1.is_empty() {
        for row in x.chunks_mut(nf) {
            for (c, &p) in row.iter_mut().zip(&g.p1) {
                *c = i8::from(rng.unit() < p);
            }
        }
        if missing_rate > 0.0 {
            for c in x.iter_mut() {
                if rng.unit() < missing_rate {
                    *c = -1;
                }
            }
        }
    } else if g.groups.is_empty() {
        for chunk in x.chunks_mut(8) {
            let r = rng.next_u64();
            for (k, c) in chunk.iter_mut().enumerate() {
                *c = ((r >> (8 * k)) & 1) as i8;
            }
        }
        if missing_rate > 0.0 {
            for c in x.iter_mut() {
                if rng.unit() < missing_rate {
                    *c = -1;
                }
            }
        }
    } else {
        for row in x.chunks_mut(nf) {
            for j in onehot_row(g, &mut rng) {
                row[j] = 1;
            }
            if missing_rate > 0.0 {
                for c in row.iter_mut() {
                    if rng.unit() < missing_rate {
                        *c = -1;
                    }
                }
            }
        }
    }
    x
}

/// The present columns of one generated one-hot row (sorted).
pub fn onehot_row(g: &Generated, rng: &mut Rng) -> Vec<usize> {
    let mut cols = Vec::with_capacity(g.groups.len());
    for &(s, e) in &g.groups {
        let u = rng.unit();
        let mut acc = 0.0;
        let mut pick = e - 1;
        for j in s..e {
            acc += g.freq[j];
            if u < acc {
                pick = j;
                break;
            }
        }
        cols.push(pick);
    }
    cols
}

/// Words per bit-packed row.
pub fn words_per_row(n_features: usize) -> usize {
    n_features.div_ceil(64)
}

/// Bit-pack int8 rows: returns (values, missing mask). Bit j of word j/64 = feature j.
pub fn pack_bits(x: &[i8], n_features: usize) -> (Vec<u64>, Vec<u64>) {
    let wpr = words_per_row(n_features);
    let n_rows = x.len().checked_div(n_features).unwrap_or(0);
    let mut v = vec![0u64; n_rows * wpr];
    let mut m = vec![0u64; n_rows * wpr];
    for r in 0..n_rows {
        for j in 0..n_features {
            let c = x[r * n_features + j];
            let (w, b) = (r * wpr + j / 64, j % 64);
            if c == 1 {
                v[w] |= 1 << b;
            } else if c == -1 {
                m[w] |= 1 << b;
            }
        }
    }
    (v, m)
}

/// CSR of int8 rows that hold only 0/1: (row_offsets, indices).
pub fn to_csr(x: &[i8], n_features: usize) -> (Vec<usize>, Vec<u32>) {
    let n_rows = x.len().checked_div(n_features).unwrap_or(0);
    let mut off = Vec::with_capacity(n_rows + 1);
    let mut idx = Vec::new();
    off.push(0);
    for r in 0..n_rows {
        for j in 0..n_features {
            if x[r * n_features + j] == 1 {
                idx.push(j as u32);
            }
        }
        off.push(idx.len());
    }
    (off, idx)
}

/// The naive baseline: a boxed tree walked by pointer chasing.
pub mod naive {
    use thetatree::format::{ModelSpec, NodeSpec};

    pub enum Node {
        Split {
            feature: usize,
            missing_right: bool,
            left: Box<Node>,
            right: Box<Node>,
        },
        Leaf {
            label: i32,
            probabilities: [f64; 2],
        },
    }

    pub fn build(spec: &ModelSpec) -> Box<Node> {
        fn go(spec: &ModelSpec, i: usize) -> Box<Node> {
            Box::new(match spec.nodes[i] {
                NodeSpec::Split {
                    feature,
                    left,
                    right,
                    missing_right,
                } => Node::Split {
                    feature: feature as usize,
                    missing_right,
                    left: go(spec, left as usize),
                    right: go(spec, right as usize),
                },
                NodeSpec::Leaf {
                    label,
                    probabilities,
                } => Node::Leaf {
                    label: label as i32,
                    probabilities,
                },
            })
        }
        go(spec, 0)
    }

    /// Walk one int8 row; `Err(column)` on an invalid value.
    #[inline(never)]
    pub fn leaf<'a>(mut n: &'a Node, row: &[i8]) -> Result<&'a Node, usize> {
        loop {
            match n {
                Node::Leaf { .. } => return Ok(n),
                Node::Split {
                    feature,
                    missing_right,
                    left,
                    right,
                } => {
                    n = match row[*feature] {
                        0 => left,
                        1 => right,
                        -1 => {
                            if *missing_right {
                                right
                            } else {
                                left
                            }
                        }
                        _ => return Err(*feature),
                    }
                }
            }
        }
    }

    /// Probabilities for `n_rows` rows into `out` (2 per row).
    pub fn predict_proba(root: &Node, x: &[i8], nf: usize, out: &mut [f64]) -> Result<(), usize> {
        for (r, row) in x.chunks_exact(nf).enumerate() {
            if let Node::Leaf { probabilities, .. } = leaf(root, row)? {
                out[2 * r] = probabilities[0];
                out[2 * r + 1] = probabilities[1];
            }
        }
        Ok(())
    }

    pub fn drop_deep(root: Box<Node>) {
        // Recursion depth is the tree depth (capped), fine for the generated trees.
        drop(root);
    }
}
