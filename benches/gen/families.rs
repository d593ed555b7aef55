//! The five tree families of issue 12, each from its own seed, with rows drawn from the same
//! distribution the tree's sample counts describe (so that the expected path length computed
//! from the counts is the one the benchmark rows walk).
//!
//! * [`balanced`]: full balanced trees (depth 6, 12) over 256 columns whose `1` probability is
//!   uniform in [0.05, 0.6]; a column is never split on twice along a path.
//! * [`ragged`]: the same columns, but past depth 3 every node stops with probability 0.3
//!   (depth capped at 23): a tree whose paths have very different lengths.
//! * [`onehot_chain`]: 64 categorical variables x 16 values (1,024 `var=value` columns, one value
//!   present per variable and row), grown like CART on sampled rows: each split is `var=value`
//!   with a rare present side, so the absent (left) side continues and the present side is short.
//! * [`ref_chain`]: shaped like what the reference trains with gain_ratio on one-hot data
//!   (`du_entropy_d14_lgk12` and issue 12's statistics: ~350 columns in ~40 variables of 2-30
//!   values, depth 100-350, 600-10,000 nodes): gain ratio prefers very unbalanced splits, so the
//!   present side of each split holds 0.2-6 % of the node's rows and the chains are long.
//!
//! The one-hot families are grown from sampled training rows (counts are exact row counts,
//! labels from a sparse linear score), the dense ones from the column probabilities.

use super::{Builder, Generated, Rng};
use thetatree::format::encode;

/// Dense column probabilities: uniform in [0.05, 0.6].
fn dense_p1(rng: &mut Rng, nf: usize) -> Vec<f64> {
    (0..nf).map(|_| 0.05 + 0.55 * rng.unit()).collect()
}

/// Dense tree over `p1`: full to `max_depth`, or (with `stop`) each node past depth 3 becomes a
/// leaf with probability `stop`. Sample counts are the expected row mass (fractional, like the
/// reference's sketch estimates).
fn dense_family(seed: u64, name: String, max_depth: u32, stop: Option<f64>) -> Generated {
    let nf = 256;
    let mut rng = Rng::new(seed);
    let p1 = dense_p1(&mut rng, nf);
    let mut b = Builder {
        nodes: Vec::new(),
        stats: Vec::new(),
    };
    let mut on_path = vec![false; nf];
    #[allow(clippy::too_many_arguments)]
    fn grow(
        b: &mut Builder,
        rng: &mut Rng,
        p1: &[f64],
        on_path: &mut [bool],
        n: f64,
        pos_rate: f64,
        depth: u32,
        max_depth: u32,
        stop: Option<f64>,
    ) -> u32 {
        let stopped = stop.is_some_and(|p| depth > 3 && rng.unit() < p);
        if depth >= max_depth || stopped {
            return b.leaf(n, n * pos_rate);
        }
        let i = b.split_slot();
        let f = loop {
            let f = rng.below(p1.len() as u64) as usize;
            if !on_path[f] {
                break f;
            }
        };
        on_path[f] = true;
        let shift = (rng.unit() - 0.5) * 0.6;
        let pl = (pos_rate - shift).clamp(0.001, 0.999);
        let pr = (pos_rate + shift).clamp(0.001, 0.999);
        let p = p1[f];
        let left = grow(
            b,
            rng,
            p1,
            on_path,
            n * (1.0 - p),
            pl,
            depth + 1,
            max_depth,
            stop,
        );
        let right = grow(b, rng, p1, on_path, n * p, pr, depth + 1, max_depth, stop);
        on_path[f] = false;
        b.finish_split(i, f as u32, left, right);
        i
    }
    grow(
        &mut b,
        &mut rng,
        &p1,
        &mut on_path,
        1e6,
        0.4,
        0,
        max_depth,
        stop,
    );
    let names = (0..nf).map(|j| format!("f{j:05}")).collect();
    let spec = b.spec(names, "issue12-dense");
    let bytes = encode(&spec);
    Generated {
        name,
        spec,
        bytes,
        n_features: nf,
        groups: Vec::new(),
        freq: Vec::new(),
        p1,
    }
}

/// Full balanced tree of depth `depth` (2^(depth+1) - 1 nodes).
pub fn balanced(seed: u64, depth: u32) -> Generated {
    dense_family(seed, format!("balanced_d{depth}"), depth, None)
}

/// Random stops: probability 0.3 per node past depth 3, depth capped at 23.
pub fn ragged(seed: u64) -> Generated {
    dense_family(seed, "ragged".into(), 23, Some(0.3))
}

/// How a one-hot tree is grown from its training rows.
struct OneHotParams {
    /// Present-side share of a node's rows that a split may take, `[lo, hi]`.
    share: (f64, f64),
    /// Nodes with fewer rows become leaves.
    min_split: usize,
    /// Fewest rows on a split's present side.
    min_leaf: usize,
    max_depth: u32,
    /// Random `var=value` candidates tried per node before it becomes a leaf.
    tries: usize,
}

/// Training rows of a one-hot data set: the present value of each variable, and a label.
struct OneHotData {
    n_vars: usize,
    /// First column of each variable (and the total column count at the end).
    starts: Vec<usize>,
    values: Vec<u16>,
    labels: Vec<u8>,
}

impl OneHotData {
    fn value(&self, r: u32, v: usize) -> u16 {
        self.values[r as usize * self.n_vars + v]
    }
}

/// Per-variable value frequencies: Zipf(1.1) over the values, in a random order.
fn onehot_groups(rng: &mut Rng, sizes: &[usize]) -> (Vec<(usize, usize)>, Vec<f64>) {
    let mut groups = Vec::new();
    let mut freq = Vec::new();
    let mut start = 0;
    for &k in sizes {
        let mut w: Vec<f64> = (1..=k).map(|i| 1.0 / (i as f64).powf(1.1)).collect();
        // Shuffle so that column order says nothing about frequency.
        for i in (1..k).rev() {
            w.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let h: f64 = w.iter().sum();
        freq.extend(w.iter().map(|x| x / h));
        groups.push((start, start + k));
        start += k;
    }
    (groups, freq)
}

fn sample_value(rng: &mut Rng, freq: &[f64]) -> u16 {
    let u = rng.unit();
    let mut acc = 0.0;
    for (k, &p) in freq.iter().enumerate() {
        acc += p;
        if u < acc {
            return k as u16;
        }
    }
    (freq.len() - 1) as u16
}

fn onehot_family(
    seed: u64,
    name: String,
    sizes: &[usize],
    n_train: usize,
    pos_rate: f64,
    params: OneHotParams,
) -> Generated {
    let mut rng = Rng::new(seed);
    let (groups, freq) = onehot_groups(&mut rng, sizes);
    let n_vars = sizes.len();
    let nf = groups.last().map_or(0, |g| g.1);
    let mut starts: Vec<usize> = groups.iter().map(|g| g.0).collect();
    starts.push(nf);
    // Labels: a sparse linear score over the columns (a fifth of them matter), thresholded at
    // the quantile that gives `pos_rate` positives, with 5 % label noise.
    let weight: Vec<f64> = (0..nf)
        .map(|_| {
            if rng.unit() < 0.2 {
                (rng.unit() - 0.5) * 4.0
            } else {
                0.0
            }
        })
        .collect();
    let mut values = Vec::with_capacity(n_train * n_vars);
    let mut score = Vec::with_capacity(n_train);
    for _ in 0..n_train {
        let mut s = 0.0;
        for (v, &(a, b)) in groups.iter().enumerate() {
            let k = sample_value(&mut rng, &freq[a..b]);
            values.push(k);
            s += weight[starts[v] + k as usize];
        }
        score.push(s + rng.unit() * 0.5);
    }
    let mut sorted = score.clone();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted[((1.0 - pos_rate) * n_train as f64) as usize];
    let labels = score
        .iter()
        .map(|&s| u8::from((s > cut) ^ (rng.unit() < 0.05)))
        .collect();
    let data = OneHotData {
        n_vars,
        starts,
        values,
        labels,
    };
    let mut b = Builder {
        nodes: Vec::new(),
        stats: Vec::new(),
    };
    let mut idx: Vec<u32> = (0..n_train as u32).collect();
    fn grow(
        b: &mut Builder,
        rng: &mut Rng,
        d: &OneHotData,
        p: &OneHotParams,
        idx: &mut [u32],
        depth: u32,
    ) -> u32 {
        let n = idx.len();
        let pos = idx.iter().filter(|&&r| d.labels[r as usize] == 1).count();
        if n < p.min_split || pos == 0 || pos == n || depth >= p.max_depth {
            return b.leaf(n as f64, pos as f64);
        }
        let (lo, hi) = (
            ((p.share.0 * n as f64).ceil() as usize).max(p.min_leaf),
            ((p.share.1 * n as f64) as usize).min(n - 1),
        );
        let mut pick = None;
        for _ in 0..p.tries {
            let v = rng.below(d.n_vars as u64) as usize;
            let k = rng.below((d.starts[v + 1] - d.starts[v]) as u64) as u16;
            let c = idx.iter().filter(|&&r| d.value(r, v) == k).count();
            if (lo..=hi).contains(&c) {
                pick = Some((v, k));
                break;
            }
        }
        let Some((v, k)) = pick else {
            return b.leaf(n as f64, pos as f64);
        };
        let i = b.split_slot();
        // Absent rows first (left), present rows after (right).
        let mut m = 0;
        for j in 0..n {
            if d.value(idx[j], v) != k {
                idx.swap(j, m);
                m += 1;
            }
        }
        let (l, r) = idx.split_at_mut(m);
        let left = grow(b, rng, d, p, l, depth + 1);
        let right = grow(b, rng, d, p, r, depth + 1);
        b.finish_split(i, (d.starts[v] + k as usize) as u32, left, right);
        i
    }
    grow(&mut b, &mut rng, &data, &params, &mut idx, 0);
    let mut names = Vec::with_capacity(nf);
    for (v, &(a, e)) in groups.iter().enumerate() {
        names.extend((0..e - a).map(|k| format!("var{v:03}={k}")));
    }
    let spec = b.spec(names, "issue12-onehot");
    let bytes = encode(&spec);
    Generated {
        name,
        spec,
        bytes,
        n_features: nf,
        groups,
        freq,
        p1: Vec::new(),
    }
}

/// 64 variables x 16 values, present side of each split 1-25 % of the node's rows.
pub fn onehot_chain(seed: u64) -> Generated {
    onehot_family(
        seed,
        "onehot_chain".into(),
        &[16; 64],
        60_000,
        0.3,
        OneHotParams {
            share: (0.01, 0.25),
            min_split: 50,
            min_leaf: 1,
            max_depth: 80,
            tries: 24,
        },
    )
}

/// Variable cardinalities summing to 354 columns (DU's width), 2 to 30 values each.
fn ref_sizes(rng: &mut Rng) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = 354usize;
    while left > 0 {
        let k = (2 + rng.below(29) as usize).min(left);
        sizes.push(k);
        left -= k;
    }
    sizes
}

/// Reference-like gain_ratio chains: `large` is the lg_k 14 shape (~8,000 nodes, depth ~300),
/// otherwise the ~700-node, depth ~100 one.
pub fn ref_chain(seed: u64, large: bool) -> Generated {
    let sizes = ref_sizes(&mut Rng::new(seed ^ 0xD0));
    let (n_train, share, min_split, min_leaf, max_depth, name) = if large {
        (80_000, (0.001, 0.025), 40, 5, 350, "ref_chain_large")
    } else {
        (20_000, (0.005, 0.04), 300, 1, 110, "ref_chain_small")
    };
    onehot_family(
        seed,
        name.into(),
        &sizes,
        n_train,
        0.13,
        OneHotParams {
            share,
            min_split,
            min_leaf,
            max_depth,
            tries: 48,
        },
    )
}

/// Issue 12's table, one tree per family (two sizes of reference-like chains).
pub fn issue12_trees(seed: u64) -> Vec<Generated> {
    vec![
        balanced(seed ^ 0x6, 6),
        balanced(seed ^ 0xC, 12),
        ragged(seed ^ 0x3),
        onehot_chain(seed ^ 0x64),
        ref_chain(seed ^ 0x1, false),
        ref_chain(seed ^ 0x2, true),
    ]
}
