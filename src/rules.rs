//! Readable rules from a model (the CLI's `rules` and `predict --explain`):
//! `odor=n absent AND spore_print_color=r present → class e (p = 0.98, n = 2,160)`.
//!
//! A condition names the split's feature and the value the path takes: `present` (1, the
//! right child) or `absent` (0, the left child). Missing values follow the split's recorded
//! direction and are not spelled out. Built on [`Tree::node`] and [`Tree::decision_path`] only.

use crate::model::Model;
use crate::traverse::Tree;

/// One condition of a path: `NAME present` / `NAME absent`.
pub fn condition(model: &Model, feature: usize, present: bool) -> String {
    let name = model.feature_name(feature).unwrap_or("?");
    format!("{name} {}", if present { "present" } else { "absent" })
}

/// The conditions along a root-to-leaf path of node indices, joined by ` AND ` (`always` for
/// a tree whose root is its leaf).
pub fn path_text(model: &Model, path: &[usize]) -> String {
    let tree = model.tree();
    let parts: Vec<String> = path
        .windows(2)
        .filter_map(|e| {
            let n = tree.node(e[0])?;
            Some(condition(model, n.feature?, n.right == Some(e[1])))
        })
        .collect();
    if parts.is_empty() {
        "always".to_string()
    } else {
        parts.join(" AND ")
    }
}

/// `→ class LABEL (p = 0.98, n = 2,160)` for leaf node `leaf`: the leaf's class (its label
/// from the model's class labels, else its index), that class's probability with 2 decimals
/// and the leaf's training samples with thousands separators.
pub fn outcome_text(model: &Model, leaf: usize) -> String {
    let Some(n) = model.tree().node(leaf) else {
        return format!("→ node {leaf} out of range");
    };
    let class = n.label.clamp(0, 1) as usize;
    let label = model
        .class_label(class)
        .map_or_else(|| class.to_string(), str::to_string);
    format!(
        "→ class {label} (p = {:.2}, n = {})",
        n.probabilities[class],
        thousands(n.n_samples)
    )
}

/// A sample count rounded to an integer, with `,` between thousands: `2,160`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if x < 0.0 && digits != "0" {
        out.push('-');
    }
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Every leaf's rule, one per leaf in pre-order (left subtree first):
/// `(leaf node index, "CONDITIONS → class ...")`.
pub fn leaf_rules(model: &Model) -> Vec<(usize, String)> {
    let tree: Tree<'_> = model.tree();
    let mut out = Vec::with_capacity(model.n_leaves());
    // Depth-first, left first; each entry carries its path from the root.
    let mut stack = vec![vec![0usize]];
    while let Some(path) = stack.pop() {
        let Some(&at) = path.last() else { continue };
        let Some(n) = tree.node(at) else { continue };
        match (n.left, n.right) {
            (Some(l), Some(r)) => {
                let mut right = path.clone();
                right.push(r);
                let mut left = path;
                left.push(l);
                stack.push(right);
                stack.push(left);
            }
            _ => out.push((
                at,
                format!("{} {}", path_text(model, &path), outcome_text(model, at)),
            )),
        }
    }
    out
}

/// The `k` largest contributions by absolute value (non-zero only, ties by feature index) as
/// `name:+0.123` separated by spaces; `row` is one row's `n_features + 1` contributions.
pub fn top_contributions(model: &Model, row: &[f64], k: usize) -> String {
    let nf = model.n_features().min(row.len());
    let mut idx: Vec<usize> = (0..nf).filter(|&f| row[f] != 0.0).collect();
    idx.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()).then(a.cmp(&b)));
    idx.truncate(k);
    idx.iter()
        .map(|&f| format!("{}:{:+.3}", model.feature_name(f).unwrap_or("?"), row[f]))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(2160.0), "2,160");
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(-1000.0), "-1,000");
    }
}
