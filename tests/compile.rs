//! Compiler behaviour: exact probabilities, labels, missing directions, every rejection with its
//! JSON path, feature count rules, and the export round trip.

mod common;
use common::*;
use thetatree::compile::{compile, export, CompileOptions};
use thetatree::Model;

fn leaf(c0: f64, c1: f64) -> String {
    format!(
        r#"{{"type":"leaf","n_samples":{},"class_counts":[{c0:?},{c1:?}],"prediction":{},"probabilities":[0.1,0.9]}}"#,
        c0 + c1,
        u8::from(c1 > c0)
    )
}

fn split(f: i64, name: &str, n: f64, left: &str, right: &str) -> String {
    format!(
        r#"{{"type":"split","feature_idx":{f},"feature_name":"{name}","n_samples":{n:?},"class_counts":[1.0,1.0],"left":{left},"right":{right}}}"#
    )
}

fn compile_err(json: &str, opts: &CompileOptions) -> (String, String) {
    let e = compile(json, opts).unwrap_err();
    (e.path, e.message)
}

fn mapping(names: &[&str]) -> CompileOptions {
    let m: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("\"{n}\":{i}"))
        .collect();
    CompileOptions {
        feature_mapping: Some(format!("{{{}}}", m.join(","))),
        ..Default::default()
    }
}

#[test]
fn probabilities_are_recomputed_from_counts_not_the_rounded_field() {
    let json = split(0, "a", 3.0, &leaf(98.30222924831075, 1.0), &leaf(0.0, 0.0));
    let m = Model::from_bytes(&compile(&json, &CompileOptions::default()).unwrap()).unwrap();
    let l = m.tree().leaf(&[0i8]).unwrap();
    let t = 98.30222924831075 + 1.0;
    assert_eq!(l.probabilities, [98.30222924831075 / t, 1.0 / t]);
    assert_eq!(l.label, 0);
    // Zero total: [0.5, 0.5] and label 0.
    let z = m.tree().leaf(&[1i8]).unwrap();
    assert_eq!((z.probabilities, z.label), ([0.5, 0.5], 0));
}

#[test]
fn ties_label_class_zero_and_missing_goes_to_heavier_child_left_on_tie() {
    // Equal counts -> label 0.
    let tie = split(0, "a", 2.0, &leaf(5.0, 5.0), &leaf(1.0, 9.0));
    let m = Model::from_bytes(&compile(&tie, &CompileOptions::default()).unwrap()).unwrap();
    assert_eq!(m.tree().leaf(&[0i8]).unwrap().label, 0);
    // Children with 10 and 10 samples: missing goes left.
    assert_eq!(
        m.tree().leaf(&[-1i8]).unwrap().node,
        m.tree().leaf(&[0i8]).unwrap().node
    );
    // Right child heavier: missing goes right.
    let right = split(0, "a", 2.0, &leaf(1.0, 1.0), &leaf(1.0, 9.0));
    let m = Model::from_bytes(&compile(&right, &CompileOptions::default()).unwrap()).unwrap();
    assert_eq!(
        m.tree().leaf(&[f64::NAN]).unwrap().node,
        m.tree().leaf(&[1.0f64]).unwrap().node
    );
}

#[test]
fn rejections_name_the_json_path() {
    let none = CompileOptions::default();
    let stub = r#"{"type":"truncated","depth":1,"message":"Truncated at depth 1"}"#;
    let (p, msg) = compile_err(&split(0, "a", 2.0, &leaf(1.0, 1.0), stub), &none);
    assert_eq!(p, "$.right");
    assert!(msg.contains("truncated"), "{msg}");

    let (p, msg) = compile_err(
        &split(
            0,
            "a",
            2.0,
            &leaf(1.0, 1.0),
            &split(-1, "b", 1.0, &leaf(1.0, 0.0), &leaf(0.0, 1.0)),
        ),
        &none,
    );
    assert_eq!(p, "$.right");
    assert!(msg.contains("negative"), "{msg}");

    let (p, msg) = compile_err(
        &split(
            0,
            "a",
            2.0,
            &leaf(1.0, 1.0),
            &split(5, "b", 1.0, &leaf(1.0, 0.0), &leaf(0.0, 1.0)),
        ),
        &mapping(&["a", "b"]),
    );
    assert_eq!(p, "$.right");
    assert!(msg.contains("out of range"), "{msg}");

    let no_child = r#"{"type":"split","feature_idx":0,"n_samples":2.0,"left":{"type":"leaf","n_samples":1.0,"class_counts":[1.0,0.0]}}"#;
    let (p, msg) = compile_err(no_child, &none);
    assert_eq!(p, "$");
    assert!(msg.contains("two child"), "{msg}");

    let neg = split(
        0,
        "a",
        2.0,
        &leaf(1.0, 1.0),
        r#"{"type":"leaf","n_samples":1.0,"class_counts":[-1.0,2.0]}"#,
    );
    let (p, msg) = compile_err(&neg, &none);
    assert_eq!(p, "$.right");
    assert!(msg.contains("class_counts[0]"), "{msg}");

    let inf = split(
        0,
        "a",
        2.0,
        &leaf(1.0, 1.0),
        r#"{"type":"leaf","n_samples":1.0,"class_counts":[1e999,2.0]}"#,
    );
    assert!(
        compile(&inf, &none).is_err(),
        "an infinite count must be rejected"
    );

    let (p, msg) = compile_err(
        &split(1, "a", 2.0, &leaf(1.0, 1.0), &leaf(0.0, 1.0)),
        &mapping(&["a", "b"]),
    );
    assert_eq!(p, "$");
    assert!(msg.contains("\"a\" has index 0"), "{msg}");

    let (p, msg) = compile_err(
        &split(0, "zzz", 2.0, &leaf(1.0, 1.0), &leaf(0.0, 1.0)),
        &mapping(&["a"]),
    );
    assert_eq!(p, "$");
    assert!(msg.contains("not in the feature mapping"), "{msg}");

    let wrong_pred = split(
        0,
        "a",
        2.0,
        &leaf(1.0, 1.0),
        r#"{"type":"leaf","n_samples":3.0,"class_counts":[1.0,2.0],"prediction":0}"#,
    );
    let (p, msg) = compile_err(&wrong_pred, &none);
    assert_eq!(p, "$.right");
    assert!(msg.contains("disagrees"), "{msg}");

    let no_counts = split(
        0,
        "a",
        2.0,
        &leaf(1.0, 1.0),
        r#"{"type":"leaf","n_samples":3.0,"probabilities":[0.5,0.5]}"#,
    );
    assert_eq!(compile_err(&no_counts, &none).0, "$.right");

    let (p, _) = compile_err("[1,2]", &none);
    assert_eq!(p, "$");
    let (_, msg) = compile_err("{\"type\":", &none);
    assert!(msg.contains("invalid JSON"), "{msg}");
    let (_, msg) = compile_err(&"[".repeat(100_000), &none);
    assert!(msg.contains("nesting"), "{msg}");
}

#[test]
fn feature_count_comes_from_the_mapping_else_max_index_plus_one() {
    let json = split(3, "d", 2.0, &leaf(1.0, 1.0), &leaf(0.0, 1.0));
    let m = Model::from_bytes(&compile(&json, &CompileOptions::default()).unwrap()).unwrap();
    assert_eq!(m.n_features(), 4);
    assert_eq!(m.feature_name(3), Some("d"));
    assert_eq!(m.feature_name(0), Some("feature_0"));
    let m = Model::from_bytes(&compile(&json, &mapping(&["a", "b", "c", "d", "e", "f"])).unwrap())
        .unwrap();
    assert_eq!(m.n_features(), 6);
    assert_eq!(m.feature_index(b"e"), Some(4));
    assert_eq!(m.feature_index(b"nope"), None);
    // A mapping with a gap or a duplicate index is refused.
    let gap = CompileOptions {
        feature_mapping: Some(r#"{"a":0,"d":3}"#.into()),
        ..Default::default()
    };
    assert!(compile(&json, &gap)
        .unwrap_err()
        .message
        .contains("outside"));
    let dup = CompileOptions {
        feature_mapping: Some(r#"{"a":0,"b":0}"#.into()),
        ..Default::default()
    };
    assert!(compile(&json, &dup)
        .unwrap_err()
        .message
        .contains("also used"));
}

#[test]
fn class_probabilities_leaves_and_typeless_nodes_are_accepted() {
    // The compare_trees variant: no `type`, splits recognised by feature_idx, leaves with
    // class_probabilities.
    let json = r#"{"feature_idx":0,"feature_name":"a","n_samples":4.0,"class_counts":[2.0,2.0],
        "left":{"feature_idx":null,"n_samples":3.0,"class_counts":[1.0,2.0],"class_probabilities":[0.3333333333333333,0.6666666666666666]},
        "right":{"n_samples":1.0,"class_counts":[1.0,0.0],"class_probabilities":[1.0,0.0]}}"#;
    let m = Model::from_bytes(&compile(json, &CompileOptions::default()).unwrap()).unwrap();
    assert_eq!(
        m.tree().leaf(&[0i8]).unwrap().probabilities,
        [1.0 / 3.0, 2.0 / 3.0]
    );
    assert_eq!(
        m.tree().leaf(&[-1i8]).unwrap().label,
        1,
        "missing goes to the heavier left child"
    );
}

#[test]
fn options_are_stored_and_baseline_wrapper_needs_a_key() {
    let json = split(0, "a", 2.0, &leaf(1.0, 1.0), &leaf(0.0, 1.0));
    let opts = CompileOptions {
        model_version: Some("2026.11-rc1".into()),
        class_labels: Some(["p".into(), "e".into()]),
        ..Default::default()
    };
    let m = Model::from_bytes(&compile(&json, &opts).unwrap()).unwrap();
    assert_eq!(m.model_version(), "2026.11-rc1");
    assert_eq!(
        (m.class_label(0), m.class_label(1), m.class_label(2)),
        (Some("p"), Some("e"), None)
    );
    let meta: serde_json::Value = serde_json::from_str(m.metadata_json()).unwrap();
    assert_eq!(meta["source_shape"], "tree_to_json");
    assert_eq!(meta["source_sha256"].as_str().unwrap().len(), 64);

    let wrapper =
        format!(r#"{{"cfg_a":{{"tree_structure":{json}}},"cfg_b":{{"tree_structure":{json}}}}}"#);
    let (_, msg) = compile_err(&wrapper, &CompileOptions::default());
    assert!(msg.contains("--key") && msg.contains("cfg_a"), "{msg}");
    let keyed = CompileOptions {
        baseline_key: Some("cfg_b".into()),
        ..Default::default()
    };
    assert!(compile(&wrapper, &keyed).is_ok());
    let missing = CompileOptions {
        baseline_key: Some("nope".into()),
        ..Default::default()
    };
    assert!(compile_err(&wrapper, &missing).1.contains("no entry"));
    let same = CompileOptions {
        class_labels: Some(["x".into(), "x".into()]),
        ..Default::default()
    };
    assert!(compile(&json, &same).is_err());
}

#[test]
fn compile_of_export_is_byte_identical_for_every_reference_model() {
    for m in manifest() {
        let bytes = compile_ref(&m);
        let model = Model::from_bytes(&bytes).unwrap();
        let json = export(&model);
        let again = compile(&json, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        assert!(
            again == bytes,
            "{}: compile(export(m)) differs from m",
            m.name
        );
    }
    // Also with labels, a version and an unlabelled feature.
    let json = split(2, "c", 2.0, &leaf(1.0, 1.0), &leaf(0.0, 1.0));
    let opts = CompileOptions {
        model_version: Some("v9".into()),
        class_labels: Some(["no".into(), "yes".into()]),
        ..Default::default()
    };
    let bytes = compile(&json, &opts).unwrap();
    let again = compile(
        &export(&Model::from_bytes(&bytes).unwrap()),
        &CompileOptions::default(),
    )
    .unwrap();
    assert_eq!(again, bytes);
}

#[test]
fn deep_trees_compile_without_recursion_limits() {
    // A one-hot style chain of depth 2000 (deeper than serde_json's default limit of 128).
    let depth = 2000;
    let mut json = leaf(1.0, 0.0);
    for d in (0..depth).rev() {
        json = split(d, &format!("f{d}"), 10.0 + d as f64, &json, &leaf(0.0, 1.0));
    }
    let m = Model::from_bytes(&compile(&json, &CompileOptions::default()).unwrap()).unwrap();
    assert_eq!(m.max_depth(), depth as usize);
    let mut row = vec![0i8; depth as usize];
    assert_eq!(m.tree().leaf(&row).unwrap().label, 0);
    row[depth as usize - 1] = 1;
    assert_eq!(m.tree().leaf(&row).unwrap().label, 1);
    let again = compile(&export(&m), &CompileOptions::default()).unwrap();
    assert_eq!(again, m.model_bytes());
}
