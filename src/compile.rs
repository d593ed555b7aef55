//! The compiler from the reference trainer's JSON to `.ttm`, and the exporter back to JSON.
//!
//! Accepted JSON shapes (detected automatically):
//! * the tool export of `train_from_3col_sketches.py`: `{model_type, lg_k, hyperparameters,
//!   tree_structure}`;
//! * a bare `tree_to_json` node (printed by the reference scripts);
//! * the `ModelPersistence` dict converted to JSON: `{version, hyperparameters,
//!   fitted_attributes, tree_structure, feature_mapping, is_fitted}` (nodes without `type`);
//! * trees whose leaves carry `class_probabilities` instead of `probabilities`, and whose splits
//!   are recognised by a non-null `feature_idx`;
//! * the regression-baseline wrapper `{<config>: {tree_structure, ...}, ...}`, with a key chosen
//!   by [`CompileOptions::baseline_key`];
//! * thetatree's own export (see [`export`]), so that `compile(export(m)) == m` byte for byte.
//!
//! Leaf probabilities are recomputed from `class_counts` exactly as the reference does; the
//! JSON's 4-decimal `probabilities` are never used. Errors name the JSON path of the node.

use crate::format::{
    self, NodeSpec, MAX_DEPTH, MAX_FEATURES, MAX_NAME_LEN, MAX_NODES, MAX_VERSION_LEN,
};
use crate::model::Model;
pub use crate::pickle::compile_pickle;
use crate::signature;
use crate::validate::{json_nesting_depth, leaf_label, leaf_probabilities, MAX_METADATA_NESTING};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// A compile error: where (a JSON path such as `$.tree_structure.left.right`, or an input name)
/// and what.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for CompileError {}

fn fail<T>(path: &str, message: impl Into<String>) -> Result<T, CompileError> {
    Err(CompileError {
        path: path.to_string(),
        message: message.into(),
    })
}

/// Compiler inputs besides the model JSON.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Text of a feature mapping JSON (`{"name": index, ...}`), e.g. `*_feature_mapping.json`.
    pub feature_mapping: Option<String>,
    /// User-supplied model version string stored in the file.
    pub model_version: Option<String>,
    /// Labels of class 0 (negative) and class 1 (positive).
    pub class_labels: Option<[String; 2]>,
    /// Which entry of a baseline wrapper to compile.
    pub baseline_key: Option<String>,
}

/// Nesting allowed in input JSON: two levels per tree level plus wrappers.
const MAX_JSON_NESTING: usize = 2 * MAX_DEPTH as usize + 16;
/// Stack for parsing and building deep (but capped) JSON trees recursively.
const WORKER_STACK: usize = 256 << 20;

/// Run `f` on a thread with a stack large enough for the deepest JSON the caps allow.
pub(crate) fn with_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("thetatree-json".into())
            .stack_size(WORKER_STACK)
            .spawn_scoped(s, f)
            .expect("spawn JSON worker thread")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn parse_json(text: &str, what: &str) -> Result<Value, CompileError> {
    let depth = json_nesting_depth(text);
    if depth > MAX_JSON_NESTING {
        return fail(what, format!("JSON nesting depth {depth} exceeds the cap of {MAX_JSON_NESTING} (tree depth cap {MAX_DEPTH})"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = Value::deserialize(&mut de).and_then(|v| de.end().map(|_| v));
    v.map_err(|e| CompileError {
        path: what.to_string(),
        message: format!("invalid JSON: {e}"),
    })
}

/// Which JSON shape the input had (recorded in the metadata).
fn shape_name(root: &Map<String, Value>) -> &'static str {
    if root.contains_key("thetatree_export") {
        "thetatree_export"
    } else if root.contains_key("fitted_attributes") || root.contains_key("feature_mapping") {
        "persistence_dict"
    } else if root.contains_key("tree_structure") {
        "tool_export"
    } else if is_node(root) {
        "tree_to_json"
    } else {
        "baseline_wrapper"
    }
}

fn is_node(o: &Map<String, Value>) -> bool {
    [
        "type",
        "is_leaf",
        "n_samples",
        "feature_idx",
        "class_counts",
    ]
    .iter()
    .any(|k| o.contains_key(*k))
}

/// A parsed feature mapping: index -> name, complete over 0..n.
fn mapping_from_object(obj: &Map<String, Value>, path: &str) -> Result<Vec<String>, CompileError> {
    if obj.len() > MAX_FEATURES as usize {
        return fail(
            path,
            format!("{} features exceed the cap of {MAX_FEATURES}", obj.len()),
        );
    }
    let mut names: Vec<Option<String>> = vec![None; obj.len()];
    for (name, idx) in obj {
        let i = idx.as_u64().ok_or_else(|| CompileError {
            path: format!("{path}[{name:?}]"),
            message: format!("index {idx} is not a non-negative integer"),
        })?;
        let slot = usize::try_from(i)
            .ok()
            .and_then(|i| names.get_mut(i))
            .ok_or_else(|| CompileError {
                path: format!("{path}[{name:?}]"),
                message: format!(
                    "index {i} is outside 0..{} (indices must cover 0..n-1 without gaps)",
                    obj.len()
                ),
            })?;
        if let Some(other) = slot {
            return fail(
                &format!("{path}[{name:?}]"),
                format!("index {i} is also used by {other:?}"),
            );
        }
        *slot = Some(name.clone());
    }
    // n entries, no duplicate index, all < n: every slot is filled.
    Ok(names.into_iter().map(Option::unwrap_or_default).collect())
}

fn parse_mapping(text: &str) -> Result<Vec<String>, CompileError> {
    let v = parse_json(text, "feature mapping")?;
    match &v {
        Value::Object(o) => mapping_from_object(o, "feature mapping"),
        _ => fail(
            "feature mapping",
            "expected a JSON object {\"feature name\": column index, ...}",
        ),
    }
}

fn number(node: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, CompileError> {
    match node.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => fail(
                path,
                format!("{key} {n} is not a finite non-negative number"),
            ),
        },
        Some(other) => fail(path, format!("{key} must be a number, found {other}")),
    }
}

fn class_counts(node: &Map<String, Value>, path: &str) -> Result<Option<[f64; 2]>, CompileError> {
    match node.get("class_counts") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) if a.len() == 2 => {
            let mut c = [0.0; 2];
            for (k, v) in a.iter().enumerate() {
                match v.as_f64() {
                    Some(x) if x.is_finite() && x >= 0.0 => c[k] = x,
                    _ => {
                        return fail(
                            path,
                            format!("class_counts[{k}] = {v} is not a finite non-negative number"),
                        )
                    }
                }
            }
            if !(c[0] + c[1]).is_finite() {
                return fail(
                    path,
                    format!("class_counts [{}, {}] sum to infinity", c[0], c[1]),
                );
            }
            Ok(Some(c))
        }
        Some(other) => fail(
            path,
            format!("class_counts must be [negative, positive], found {other}"),
        ),
    }
}

/// `n_samples` of a node, or the sum of its class counts when absent.
fn n_samples(node: &Map<String, Value>, path: &str) -> Result<f64, CompileError> {
    if let Some(n) = number(node, "n_samples", path)? {
        return Ok(n);
    }
    match class_counts(node, path)? {
        Some(c) => Ok(c[0] + c[1]),
        None => fail(path, "node has neither n_samples nor class_counts"),
    }
}

enum Kind {
    Split,
    Leaf,
}

fn node_kind(node: &Map<String, Value>, path: &str) -> Result<Kind, CompileError> {
    match node.get("type").and_then(Value::as_str) {
        Some("split") => return Ok(Kind::Split),
        Some("leaf") => return Ok(Kind::Leaf),
        Some("truncated") => {
            let depth = node.get("depth").map_or("?".to_string(), Value::to_string);
            return fail(
                path,
                format!(
                    "truncated stub at depth {depth}: the exporter cut the tree here (tree_to_json max_depth); \
                     re-export with a larger max_depth or use the persistence dict"
                ),
            );
        }
        Some(t) => return fail(path, format!("unknown node type {t:?}")),
        None if node.contains_key("type") => return fail(path, "node type must be a string"),
        None => {}
    }
    match node.get("is_leaf") {
        Some(Value::Bool(true)) => Ok(Kind::Leaf),
        Some(Value::Bool(false)) => Ok(Kind::Split),
        Some(other) => fail(path, format!("is_leaf must be a boolean, found {other}")),
        None => Ok(match node.get("feature_idx") {
            None | Some(Value::Null) => Kind::Leaf,
            Some(_) => Kind::Split,
        }),
    }
}

/// A node waiting to be laid out: (node, JSON path, depth, parent index and whether it is the
/// parent's right child).
type Pending<'a> = (&'a Value, String, u32, Option<(usize, bool)>);

struct Walk {
    nodes: Vec<NodeSpec>,
    stats: Vec<[f64; 3]>,
    /// feature index -> name seen in the tree (used when no mapping is given).
    tree_names: BTreeMap<u32, String>,
    max_feature: Option<u32>,
}

/// Feature name -> column, from the mapping.
type Lookup<'m> = HashMap<&'m str, u32>;

/// Flatten the tree in pre-order (left child at parent + 1), checking every node.
fn walk_tree(
    root: &Value,
    root_path: &str,
    mapping: Option<&[String]>,
) -> Result<Walk, CompileError> {
    let lookup: Option<Lookup<'_>> = mapping.map(|m| {
        m.iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect()
    });
    let mut w = Walk {
        nodes: Vec::new(),
        stats: Vec::new(),
        tree_names: BTreeMap::new(),
        max_feature: None,
    };
    let mut stack: Vec<Pending> = vec![(root, root_path.to_string(), 0, None)];
    while let Some((value, path, depth, parent)) = stack.pop() {
        let node = w.next_node(value, &path, depth)?;
        let index = w.nodes.len();
        if let Some((p, right)) = parent {
            w.link(p, right, index);
        }
        let kind = node_kind(node, &path)?;
        let counts = class_counts(node, &path)?;
        let ns = n_samples(node, &path)?;
        match kind {
            Kind::Leaf => {
                let (leaf, c) = leaf_spec(node, &path, counts)?;
                w.nodes.push(leaf);
                w.stats.push([ns, c[0], c[1]]);
            }
            Kind::Split => {
                let f = split_feature(node, &path)?;
                w.check_feature_name(f, feature_name(node, &path)?, lookup.as_ref(), &path)?;
                let [(left, lo, lp), (right, ro, rp)] = split_children(node, &path)?;
                let (nl, nr) = (n_samples(lo, &lp)?, n_samples(ro, &rp)?);
                w.nodes.push(NodeSpec::Split {
                    feature: f,
                    left: 0,
                    right: 0,
                    missing_right: nr > nl,
                });
                let c = counts.unwrap_or([f64::NAN, f64::NAN]);
                w.stats.push([ns, c[0], c[1]]);
                // Right is pushed first so that the left subtree is laid out right after this node.
                stack.push((right, rp, depth + 1, Some((index, true))));
                stack.push((left, lp, depth + 1, Some((index, false))));
            }
        }
    }
    Ok(w)
}

impl Walk {
    /// The next node to lay out, as an object, within the depth and node-count caps.
    fn next_node<'v>(
        &self,
        value: &'v Value,
        path: &str,
        depth: u32,
    ) -> Result<&'v Map<String, Value>, CompileError> {
        let Value::Object(node) = value else {
            return fail(path, format!("expected a node object, found {value}"));
        };
        if depth > MAX_DEPTH {
            return fail(path, format!("tree depth exceeds the cap of {MAX_DEPTH}"));
        }
        if self.nodes.len() >= MAX_NODES as usize {
            return fail(path, format!("more than {MAX_NODES} nodes"));
        }
        Ok(node)
    }

    /// Point split `parent`'s left (or right) child at `index`.
    fn link(&mut self, parent: usize, right: bool, index: usize) {
        if let NodeSpec::Split {
            left: l, right: r, ..
        } = &mut self.nodes[parent]
        {
            *(if right { r } else { l }) = index as u32;
        }
    }

    /// A split's `feature_name` must agree with the mapping (when given) or with the other
    /// splits on the same feature; records the name and the largest feature index.
    fn check_feature_name(
        &mut self,
        f: u32,
        name: Option<&str>,
        lookup: Option<&Lookup<'_>>,
        path: &str,
    ) -> Result<(), CompileError> {
        if let Some(map) = lookup {
            let n = map.len();
            if f as usize >= n {
                return fail(
                    path,
                    format!("feature_idx {f} is out of range: the mapping has {n} features"),
                );
            }
            if let Some(name) = name {
                match map.get(name) {
                    Some(&i) if i == f => {}
                    Some(&i) => {
                        return fail(path, format!("feature_name {name:?} has index {i} in the mapping, but the node says feature_idx {f}"));
                    }
                    None => {
                        return fail(
                            path,
                            format!("feature_name {name:?} is not in the feature mapping"),
                        )
                    }
                }
            }
        } else if let Some(name) = name {
            if let Some(prev) = self.tree_names.insert(f, name.to_string()) {
                if prev != name {
                    return fail(
                        path,
                        format!("feature_idx {f} is named both {prev:?} and {name:?}"),
                    );
                }
            }
        }
        self.max_feature = Some(self.max_feature.map_or(f, |m| m.max(f)));
        Ok(())
    }
}

/// A leaf's record and class counts: the label and probabilities are recomputed from the
/// counts (a `prediction` field must agree with them).
fn leaf_spec(
    node: &Map<String, Value>,
    path: &str,
    counts: Option<[f64; 2]>,
) -> Result<(NodeSpec, [f64; 2]), CompileError> {
    let Some(c) = counts else {
        return fail(
            path,
            "leaf has no class_counts: its probabilities cannot be computed exactly",
        );
    };
    let label = leaf_label(c);
    match node.get("prediction") {
        None | Some(Value::Null) => {}
        Some(p) if p.as_u64() == Some(u64::from(label)) => {}
        Some(p) => {
            return fail(
                path,
                format!(
                    "prediction {p} disagrees with class_counts [{}, {}] (majority class {label})",
                    c[0], c[1]
                ),
            );
        }
    }
    let leaf = NodeSpec::Leaf {
        label,
        probabilities: leaf_probabilities(c),
    };
    Ok((leaf, c))
}

/// A split's `feature_idx`: an integer in `0..MAX_FEATURES`.
fn split_feature(node: &Map<String, Value>, path: &str) -> Result<u32, CompileError> {
    match node.get("feature_idx") {
        Some(Value::Number(n)) => match n.as_i64() {
            Some(f) if f < 0 => {
                fail(path, format!("feature_idx {f} is negative (the reference reads the last column for -1; refusing)"))
            }
            Some(f) if f >= i64::from(MAX_FEATURES) => fail(
                path,
                format!("feature_idx {f} exceeds the cap of {MAX_FEATURES}"),
            ),
            Some(f) => Ok(f as u32),
            None => fail(path, format!("feature_idx {n} is not an integer")),
        },
        other => fail(
            path,
            format!("split has no integer feature_idx (found {other:?})"),
        ),
    }
}

/// A split's optional `feature_name` (a string or null).
fn feature_name<'v>(
    node: &'v Map<String, Value>,
    path: &str,
) -> Result<Option<&'v str>, CompileError> {
    match node.get("feature_name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => fail(
            path,
            format!("feature_name must be a string, found {other}"),
        ),
    }
}

/// A child node: its value, as an object, and its JSON path.
type Child<'v> = (&'v Value, &'v Map<String, Value>, String);

/// A split's two child objects with their paths, classified first so that a truncated stub is
/// reported as such.
fn split_children<'v>(
    node: &'v Map<String, Value>,
    path: &str,
) -> Result<[Child<'v>; 2], CompileError> {
    let (Some(left @ Value::Object(lo)), Some(right @ Value::Object(ro))) =
        (node.get("left"), node.get("right"))
    else {
        return fail(
            path,
            "split node does not have two child objects (left and right)",
        );
    };
    let (lp, rp) = (format!("{path}.left"), format!("{path}.right"));
    node_kind(lo, &lp)?;
    node_kind(ro, &rp)?;
    Ok([(left, lo, lp), (right, ro, rp)])
}

fn check_string(s: &str, what: &str, cap: usize) -> Result<(), CompileError> {
    if s.len() > cap {
        return fail(what, format!("{} bytes, above the cap of {cap}", s.len()));
    }
    if s.contains('\0') {
        return fail(what, "contains a NUL character");
    }
    Ok(())
}

fn string_list(v: Option<&Value>, path: &str) -> Result<Option<Vec<String>>, CompileError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s.clone()),
                other => fail(
                    &format!("{path}[{i}]"),
                    format!("expected a string, found {other}"),
                ),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => fail(path, format!("expected an array of strings, found {other}")),
    }
}

/// Compile reference JSON text into `.ttm` bytes.
pub fn compile(json: &str, opts: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    with_big_stack(|| compile_inner(json, opts))
}

fn compile_inner(json: &str, opts: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    let doc = parse_json(json, "$")?;
    compile_document(&doc, json.as_bytes(), false, opts)
}

/// Compile a parsed document; `source` is what its SHA-256 in the metadata is taken of,
/// `pickled` whether it is a pickle's persistence dict (see [`compile_pickle`]).
pub(crate) fn compile_document(
    doc: &Value,
    source: &[u8],
    pickled: bool,
    opts: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let Value::Object(top) = doc else {
        return fail(
            "$",
            "expected a JSON object (a model export, a persistence dict or a tree node)",
        );
    };
    // A pickle is always the persistence dict, whatever keys it has.
    let shape = if pickled {
        "persistence_dict"
    } else {
        shape_name(top)
    };
    let doc = locate_tree(doc, top, shape, opts)?;
    let mapping = feature_mapping(&doc, opts)?;
    if shape == "persistence_dict" {
        crate::persistence::check(doc.holder, &doc.holder_path, mapping.as_deref())?;
    }
    let walk = walk_tree(doc.root, &doc.root_path, mapping.as_deref())?;
    let feature_names = feature_names(mapping, &walk)?;
    let class_labels = class_labels(opts, doc.own)?;
    let model_version = model_version(opts, doc.own)?;
    let metadata = metadata(&doc, shape, source, pickled, opts)?;
    let metadata_json = metadata_json(&metadata)?;
    encode_checked(&format::ModelSpec {
        nodes: walk.nodes,
        stats: walk.stats,
        feature_names,
        class_labels,
        model_version,
        metadata_json,
    })
}

/// Where the tree and its companions are in a document.
struct Located<'a> {
    /// The object that holds `tree_structure` (the top level, or a baseline wrapper's entry).
    holder: &'a Map<String, Value>,
    holder_path: String,
    /// The root node and its JSON path.
    root: &'a Value,
    root_path: String,
    /// The holder, when the document is thetatree's own export (names, labels, version and
    /// metadata then come from it).
    own: Option<&'a Map<String, Value>>,
}

/// Resolve the object that holds `tree_structure` (or is the root node itself).
fn locate_tree<'a>(
    doc: &'a Value,
    top: &'a Map<String, Value>,
    shape: &str,
    opts: &CompileOptions,
) -> Result<Located<'a>, CompileError> {
    let (holder, holder_path): (&Map<String, Value>, String) = if shape == "baseline_wrapper" {
        let keys: Vec<&String> = top.keys().collect();
        let Some(key) = &opts.baseline_key else {
            return fail("$", format!("this looks like a baseline wrapper; choose an entry with --key (one of {keys:?})"));
        };
        match top.get(key) {
            Some(Value::Object(o)) if o.contains_key("tree_structure") => {
                (o, format!("$[{key:?}]"))
            }
            Some(_) => return fail(&format!("$[{key:?}]"), "entry has no tree_structure"),
            None => return fail("$", format!("no entry {key:?} (available: {keys:?})")),
        }
    } else {
        (top, "$".to_string())
    };
    let (root, root_path) = if shape == "tree_to_json" {
        (doc, "$".to_string())
    } else {
        match holder.get("tree_structure") {
            Some(r) => (r, format!("{holder_path}.tree_structure")),
            None => return fail(&holder_path, "no tree_structure"),
        }
    };
    Ok(Located {
        holder,
        holder_path,
        root,
        root_path,
        own: (shape == "thetatree_export").then_some(holder),
    })
}

/// Feature names by column: `--features`, else the file's own mapping or export names.
fn feature_mapping(
    doc: &Located<'_>,
    opts: &CompileOptions,
) -> Result<Option<Vec<String>>, CompileError> {
    let mapping: Option<Vec<String>> = if let Some(text) = &opts.feature_mapping {
        Some(parse_mapping(text)?)
    } else if let Some(Value::Object(m)) = doc.holder.get("feature_mapping") {
        Some(mapping_from_object(
            m,
            &format!("{}.feature_mapping", doc.holder_path),
        )?)
    } else if let Some(own) = doc.own {
        string_list(own.get("feature_names"), "$.feature_names")?
    } else {
        None
    };
    if let Some(m) = &mapping {
        for (i, n) in m.iter().enumerate() {
            check_string(n, &format!("feature name {i}"), MAX_NAME_LEN)?;
        }
    }
    Ok(mapping)
}

/// The model's feature names: the mapping's (distinct), else the tree's own names (or
/// `feature_{i}`) for columns `0..=max feature index`.
fn feature_names(mapping: Option<Vec<String>>, walk: &Walk) -> Result<Vec<String>, CompileError> {
    if let Some(m) = mapping {
        let mut seen = HashMap::new();
        for (i, n) in m.iter().enumerate() {
            if let Some(j) = seen.insert(n.as_str(), i) {
                return fail(
                    "feature names",
                    format!("features {j} and {i} are both called {n:?}"),
                );
            }
        }
        return Ok(m);
    }
    let n = walk.max_feature.map_or(0, |m| m as usize + 1);
    let names: Vec<String> = (0..n as u32)
        .map(|i| {
            walk.tree_names
                .get(&i)
                .cloned()
                .unwrap_or_else(|| format!("feature_{i}"))
        })
        .collect();
    let mut seen = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        check_string(n, &format!("feature name {i}"), MAX_NAME_LEN)?;
        if let Some(j) = seen.insert(n.as_str(), i) {
            return fail(
                "feature names",
                format!("features {j} and {i} are both called {n:?}; pass --features"),
            );
        }
    }
    Ok(names)
}

/// Labels of class 0 and 1: `--class-labels`, else an export's own, else "0" and "1".
fn class_labels(
    opts: &CompileOptions,
    own: Option<&Map<String, Value>>,
) -> Result<Vec<String>, CompileError> {
    let class_labels: Vec<String> = match (&opts.class_labels, own) {
        (Some([neg, pos]), _) => vec![neg.clone(), pos.clone()],
        (None, Some(own)) => string_list(own.get("class_labels"), "$.class_labels")?
            .unwrap_or_else(|| vec!["0".into(), "1".into()]),
        (None, None) => vec!["0".into(), "1".into()],
    };
    if class_labels.len() != 2 || class_labels[0] == class_labels[1] {
        return fail(
            "class labels",
            format!("need two distinct labels (negative, positive), got {class_labels:?}"),
        );
    }
    for (i, l) in class_labels.iter().enumerate() {
        check_string(l, &format!("class label {i}"), MAX_NAME_LEN)?;
    }
    Ok(class_labels)
}

/// The version string: `--model-version`, else an export's own, else empty.
fn model_version(
    opts: &CompileOptions,
    own: Option<&Map<String, Value>>,
) -> Result<String, CompileError> {
    let model_version = match (&opts.model_version, own) {
        (Some(v), _) => v.clone(),
        (None, Some(own)) => own
            .get("model_version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        (None, None) => String::new(),
    };
    check_string(&model_version, "model version", MAX_VERSION_LEN)?;
    Ok(model_version)
}

/// The metadata object: an export's own, else what the compiler records about the source.
fn metadata(
    doc: &Located<'_>,
    shape: &str,
    source: &[u8],
    pickled: bool,
    opts: &CompileOptions,
) -> Result<Value, CompileError> {
    if let Some(own) = doc.own {
        return match own.get("metadata") {
            Some(m @ Value::Object(_)) => Ok(m.clone()),
            _ => fail(
                "$.metadata",
                "a thetatree export must carry its metadata object",
            ),
        };
    }
    let mut m = Map::new();
    m.insert(
        "compiler".into(),
        Value::String(format!("thetatree {}", env!("CARGO_PKG_VERSION"))),
    );
    m.insert(
        "format".into(),
        Value::String(format!(
            "ttm {}.{}",
            format::FORMAT_MAJOR,
            format::FORMAT_MINOR
        )),
    );
    m.insert(
        "source_sha256".into(),
        Value::String(signature::hex(&signature::digest(source))),
    );
    m.insert("source_shape".into(), Value::String(shape.into()));
    if pickled {
        m.insert("source_format".into(), Value::String("pickle".into()));
    }
    if shape == "persistence_dict" {
        if let Some(fitted) = crate::persistence::fitted_metadata(doc.holder) {
            m.insert("fitted_attributes".into(), fitted);
        }
    }
    if let Some(k) = &opts.baseline_key {
        m.insert("baseline_key".into(), Value::String(k.clone()));
    }
    for key in ["model_type", "lg_k", "hyperparameters", "version"] {
        if let Some(v) = doc.holder.get(key) {
            let name = if key == "version" {
                "persistence_version"
            } else {
                key
            };
            m.insert(name.into(), v.clone());
        }
    }
    Ok(Value::Object(m))
}

/// The metadata as JSON text, within the loader's caps (nesting, size).
fn metadata_json(metadata: &Value) -> Result<String, CompileError> {
    let metadata_json = serde_json::to_string(metadata).map_err(|e| CompileError {
        path: "metadata".into(),
        message: e.to_string(),
    })?;
    if json_nesting_depth(&metadata_json) > MAX_METADATA_NESTING {
        return fail(
            "metadata",
            format!("nested deeper than {MAX_METADATA_NESTING} levels"),
        );
    }
    if metadata_json.len() > format::MAX_METADATA_LEN {
        return fail(
            "metadata",
            format!(
                "{} bytes, above the cap of {}",
                metadata_json.len(),
                format::MAX_METADATA_LEN
            ),
        );
    }
    Ok(metadata_json)
}

/// Encode, then validate: the compiler never writes a file the loader would refuse.
fn encode_checked(spec: &format::ModelSpec) -> Result<Vec<u8>, CompileError> {
    let bytes = format::encode(spec);
    if let Err(e) = crate::validate::validate(&bytes) {
        return fail(
            "output",
            format!("internal error: the encoded model fails validation: {e}"),
        );
    }
    Ok(bytes)
}

/// Export a model as JSON (thetatree's own shape, reference-compatible node objects).
pub fn export(model: &Model) -> String {
    with_big_stack(|| {
        let tree = export_tree(model);
        let metadata: Value = serde_json::from_str(model.metadata_json()).unwrap_or(Value::Null);
        let mut top = Map::new();
        top.insert("thetatree_export".into(), Value::from(1));
        top.insert(
            "model_version".into(),
            Value::String(model.model_version().into()),
        );
        top.insert(
            "class_labels".into(),
            (0..model.n_classes())
                .map(|i| Value::String(model.class_label(i).unwrap_or("").into()))
                .collect(),
        );
        top.insert(
            "feature_names".into(),
            (0..model.n_features())
                .map(|i| Value::String(model.feature_name(i).unwrap_or("").into()))
                .collect(),
        );
        top.insert("metadata".into(), metadata);
        top.insert("tree_structure".into(), tree);
        let mut s = serde_json::to_string_pretty(&Value::Object(top)).unwrap_or_default();
        s.push('\n');
        s
    })
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn export_tree(model: &Model) -> Value {
    use crate::format::{RawNode, RawStats, SEC_NODES, SEC_STATS, TAG_LEAF};
    use zerocopy::FromBytes;
    let l = model.layout();
    let bytes = model.model_bytes();
    let (no, nl) = l.section(SEC_NODES);
    let (so, sl) = l.section(SEC_STATS);
    let nodes = <[RawNode]>::ref_from_bytes(&bytes[no..no + nl]).unwrap_or(&[]);
    let stats = <[RawStats]>::ref_from_bytes(&bytes[so..so + sl]).unwrap_or(&[]);
    let tree = model.tree();
    // Children have larger indices, so build bottom-up (no recursion while building).
    let mut built: Vec<Option<Value>> = vec![None; nodes.len()];
    let mut depth = vec![0u32; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        if n.tag.get() != TAG_LEAF {
            depth[n.b.get() as usize] = depth[i] + 1;
            depth[n.c.get() as usize] = depth[i] + 1;
        }
    }
    for i in (0..nodes.len()).rev() {
        let (n, s) = (&nodes[i], &stats[i]);
        let (c0, c1) = (s.count_neg.get(), s.count_pos.get());
        let counts = if c0.is_nan() {
            Value::Null
        } else {
            Value::Array(vec![num(c0), num(c1)])
        };
        let mut o = Map::new();
        o.insert("depth".into(), Value::from(depth[i]));
        o.insert("n_samples".into(), num(s.n_samples.get()));
        o.insert("class_counts".into(), counts);
        if n.tag.get() == TAG_LEAF {
            let p = tree.leaf_at(i).map_or([f64::NAN; 2], |l| l.probabilities);
            o.insert("is_leaf".into(), Value::Bool(true));
            o.insert("type".into(), Value::String("leaf".into()));
            o.insert("prediction".into(), Value::from(n.b.get()));
            o.insert(
                "probabilities".into(),
                Value::Array(vec![num(p[0]), num(p[1])]),
            );
        } else {
            let f = n.a.get();
            o.insert("is_leaf".into(), Value::Bool(false));
            o.insert("type".into(), Value::String("split".into()));
            o.insert("feature_idx".into(), Value::from(f));
            o.insert(
                "feature_name".into(),
                Value::String(model.feature_name(f as usize).unwrap_or("").into()),
            );
            o.insert(
                "left".into(),
                built[n.b.get() as usize].take().unwrap_or(Value::Null),
            );
            o.insert(
                "right".into(),
                built[n.c.get() as usize].take().unwrap_or(Value::Null),
            );
        }
        built[i] = Some(Value::Object(o));
    }
    built
        .first_mut()
        .and_then(Option::take)
        .unwrap_or(Value::Null)
}
