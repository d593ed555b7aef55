//! The reference's pickles: every `model.pkl` compiles with no feature mapping given, to the
//! same model as its `persistence_tree.json` (same sections; metadata equal but for the
//! source's hash and format), reproduces the golden outputs bit for bit, and reads as exactly
//! the dict the JSON holds. The same for pickles written by numpy 1.x (protocols 2 and 5) and
//! numpy 2.x (protocols 3, 4 and 5, big-endian arrays, an object array of names), in
//! tests/data/pickles (see make_pickles.py there). And the CLI compiles a pickle.

mod common;
use common::*;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use thetatree::compile::{compile, compile_pickle, CompileOptions};
use thetatree::{pickle, signature, Model};

fn read_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn model_dir(name: &str) -> PathBuf {
    reference_dir().join("models").join(name)
}

fn section(m: &Model, k: usize) -> Vec<u8> {
    let (o, l) = m.layout().section(k);
    m.model_bytes()[o..o + l].to_vec()
}

fn metadata(m: &Model) -> serde_json::Map<String, Json> {
    match serde_json::from_str(m.metadata_json()).unwrap() {
        Json::Object(o) => o,
        other => panic!("metadata is not an object: {other}"),
    }
}

/// Assert that `pkl` compiles to the model `json` compiles to, but for the metadata's
/// `source_sha256` (of the pickle) and `source_format` ("pickle").
fn assert_same_model(what: &str, pkl: &[u8], json: &str) -> Vec<u8> {
    let p =
        compile_pickle(pkl, &CompileOptions::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let j = compile(json, &CompileOptions::default()).unwrap();
    let (mp, mj) = (
        Model::from_bytes(&p).unwrap(),
        Model::from_bytes(&j).unwrap(),
    );
    for k in 0..6 {
        assert_eq!(section(&mp, k), section(&mj, k), "{what}: section {k}");
    }
    let (mut a, mut b) = (metadata(&mp), metadata(&mj));
    assert_eq!(
        a.remove("source_sha256").unwrap(),
        signature::hex(&signature::digest(pkl)).as_str()
    );
    assert_eq!(a.remove("source_format").unwrap(), "pickle");
    b.remove("source_sha256");
    assert_eq!(a, b, "{what}: metadata");
    // What the metadata keeps of the fitted attributes.
    let fitted = a["fitted_attributes"].as_object().unwrap();
    let doc: Json = serde_json::from_str(json).unwrap();
    let src = &doc["fitted_attributes"];
    for key in [
        "classes_",
        "n_classes_",
        "n_features_in_",
        "feature_importances",
    ] {
        assert_eq!(fitted[key], src[key], "{what}: {key}");
    }
    assert!(!fitted.contains_key("feature_names_in_"));
    assert_eq!(a["hyperparameters"], doc["hyperparameters"]);
    assert_eq!(a["persistence_version"], "1.0");
    p
}

/// Golden labels and probabilities, bit for bit, on clean and missing inputs (i8 and f64).
fn assert_golden(what: &str, bytes: &[u8], model: &str, dataset: &str) -> usize {
    let m = Model::from_bytes(bytes).unwrap();
    let tree = m.tree();
    let mut rows = 0;
    for missing in [false, true] {
        let inp = input(dataset, missing);
        let names: Vec<&str> = (0..m.n_features())
            .map(|i| m.feature_name(i).unwrap())
            .collect();
        assert_eq!(names, inp.names, "{what}: feature names in column order");
        let gold = golden(model, missing);
        let n = inp.rows.len();
        let (mut labels, mut proba) = (vec![0i32; n], vec![0f64; 2 * n]);
        tree.predict(&inp.i8_flat(), n, &mut labels).unwrap();
        tree.predict_proba(&inp.i8_flat(), n, &mut proba).unwrap();
        rows += assert_matches(
            &format!("{what} i8 missing={missing}"),
            &gold,
            &labels,
            &proba,
        );
        tree.predict(&inp.f64_flat(), n, &mut labels).unwrap();
        tree.predict_proba(&inp.f64_flat(), n, &mut proba).unwrap();
        rows += assert_matches(
            &format!("{what} f64 missing={missing}"),
            &gold,
            &labels,
            &proba,
        );
    }
    rows
}

#[test]
fn every_reference_pickle_compiles_to_its_json_model_and_matches_golden_outputs() {
    let mut rows = 0;
    let mut models = 0;
    for m in manifest() {
        let dir = model_dir(&m.name);
        let pkl = read_bytes(&dir.join("model.pkl"));
        let json = read(&dir.join("persistence_tree.json"));
        let bytes = assert_same_model(&m.name, &pkl, &json);
        rows += assert_golden(&m.name, &bytes, &m.name, &m.dataset);
        // The tree part equals the tool JSON + mapping compile (the parity suite's model).
        let (a, b) = (
            Model::from_bytes(&bytes).unwrap(),
            Model::from_bytes(&compile_ref(&m)).unwrap(),
        );
        for k in 0..5 {
            assert_eq!(section(&a, k), section(&b, k), "{}: section {k}", m.name);
        }
        models += 1;
    }
    assert_eq!(models, 9);
    assert!(rows > 100_000, "checked {rows} rows");
}

/// The pickle's dict, converted, is exactly the JSON the reference's dict gives: every key,
/// every string, every float bit for bit (numpy arrays as lists, numpy scalars as numbers).
#[test]
fn reference_pickles_read_as_exactly_their_persistence_json() {
    for m in manifest() {
        let dir = model_dir(&m.name);
        let got = pickle::persistence_json(&read_bytes(&dir.join("model.pkl"))).unwrap();
        let want: Json = serde_json::from_str(&read(&dir.join("persistence_tree.json"))).unwrap();
        assert_eq!(got, want, "{}", m.name);
        // serde_json compares floats by value; check the bits of every float too.
        let (mut a, mut b) = (vec![], vec![]);
        floats(&got, &mut a);
        floats(&want, &mut b);
        assert_eq!(a, b, "{}", m.name);
        assert!(a.len() > 10);
    }
}

fn floats(v: &Json, out: &mut Vec<u64>) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Json::Number(n) if n.is_f64() => out.push(n.as_f64().unwrap().to_bits()),
            Json::Array(a) => stack.extend(a),
            Json::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
}

/// The value tree itself: numpy arrays and scalars with their dtypes.
#[test]
fn numpy_objects_keep_their_dtypes() {
    use pickle::{ArrayData, DType, Value};
    let v = pickle::loads(&read_bytes(
        &model_dir("bcd_gini_d5_lgk12").join("model.pkl"),
    ))
    .unwrap();
    let fitted = v.get("fitted_attributes").unwrap();
    let Some(Value::NdArray(classes)) = fitted.get("classes_") else {
        panic!("classes_ is not an array")
    };
    assert_eq!(
        (classes.dtype, &classes.shape, &classes.data),
        (
            DType::Int { size: 8 },
            &vec![2],
            &ArrayData::Int(vec![0, 1])
        )
    );
    let Some(Value::NdArray(names)) = fitted.get("feature_names_in_") else {
        panic!("feature_names_in_ is not an array")
    };
    assert_eq!(names.dtype, DType::Unicode { chars: 11 });
    assert_eq!(names.data.get(11), Some(Value::Str("feature_5=1".into())));
    let Some(Value::NdArray(imp)) = fitted.get("feature_importances") else {
        panic!("feature_importances is not an array")
    };
    assert_eq!(imp.dtype, DType::Float { size: 8 });
    assert_eq!(
        v.get("tree_structure").unwrap().get("impurity"),
        Some(&Value::Float(0.4992))
    );
    assert_eq!(v.get("is_fitted"), Some(&Value::Bool(true)));
}

/// Pickles written by numpy 1.x and 2.x at other protocols and byte orders compile to the
/// same models as the reference JSON.
#[test]
fn numpy1_numpy2_protocol_2_to_5_and_big_endian_pickles_compile_identically() {
    let data = repo().join("tests/data/pickles");
    let cases = [
        ("bcd_numpy1_protocol2.pkl", "bcd_gini_d5_lgk12", "bcd"),
        ("bcd_numpy1_protocol5.pkl", "bcd_gini_d5_lgk12", "bcd"),
        ("bcd_numpy2_protocol4.pkl", "bcd_gini_d5_lgk12", "bcd"),
        (
            "bcd_numpy2_protocol3_bigendian_objectnames.pkl",
            "bcd_gini_d5_lgk12",
            "bcd",
        ),
        (
            "bcd_numpy2_protocol5_bigendian.pkl",
            "bcd_gini_d5_lgk12",
            "bcd",
        ),
        (
            "pruned_numpy1_protocol2.pkl",
            "mushroom_gini_pruned_lgk12",
            "mushroom",
        ),
    ];
    let mut rows = 0;
    for (file, model, dataset) in cases {
        let pkl = read_bytes(&data.join(file));
        assert_eq!(pkl[0], 0x80);
        let protocol = pkl[1];
        let expected: u8 = file.split("protocol").nth(1).unwrap().as_bytes()[0] - b'0';
        assert_eq!(protocol, expected, "{file}");
        let json = read(&model_dir(model).join("persistence_tree.json"));
        assert_eq!(
            pickle::persistence_json(&pkl).unwrap(),
            serde_json::from_str::<Json>(&json).unwrap(),
            "{file}"
        );
        let bytes = assert_same_model(file, &pkl, &json);
        rows += assert_golden(file, &bytes, model, dataset);
    }
    assert!(rows > 30_000, "{rows}");
}

/// The tool's JSON of the 14-deep DU tree is cut at depth 10 and refused; its pickle is whole.
#[test]
fn the_deep_du_tree_compiles_from_its_pickle() {
    let dir = model_dir("du_entropy_d14_lgk12");
    let opts = CompileOptions {
        feature_mapping: Some(read(
            &reference_dir().join("datasets/du_feature_mapping.json"),
        )),
        ..Default::default()
    };
    let e = compile(&read(&dir.join("model.json")), &opts).unwrap_err();
    assert!(e.message.contains("truncated"), "{e}");
    let m = Model::from_bytes(
        &compile_pickle(
            &read_bytes(&dir.join("model.pkl")),
            &CompileOptions::default(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!((m.n_nodes(), m.max_depth(), m.n_features()), (651, 14, 354));
}

/// Options work as for JSON: a version, labels, and an explicit mapping that must agree.
#[test]
fn options_apply_to_pickles() {
    let dir = model_dir("mushroom_gini_d5_lgk12");
    let pkl = read_bytes(&dir.join("model.pkl"));
    let mapping = read(&reference_dir().join("datasets/mushroom_feature_mapping.json"));
    let opts = CompileOptions {
        feature_mapping: Some(mapping),
        model_version: Some("2026-01-02".into()),
        class_labels: Some(["p".into(), "e".into()]),
        baseline_key: None,
    };
    let m = Model::from_bytes(&compile_pickle(&pkl, &opts).unwrap()).unwrap();
    assert_eq!(m.model_version(), "2026-01-02");
    assert_eq!(m.class_label(1), Some("e"));
    // A mapping that names the columns differently contradicts feature_names_in_.
    let inmem = read(&reference_dir().join("datasets/mushroom_inmem_feature_mapping.json"));
    let e = compile_pickle(
        &pkl,
        &CompileOptions {
            feature_mapping: Some(inmem),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.path.starts_with("$.fitted_attributes.feature_names_in_[")
            && e.message.contains("disagrees"),
        "{e}"
    );
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_thetatree"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(miri, ignore)]
fn cli_compiles_a_pickle_without_a_mapping() {
    let tmp = std::env::temp_dir().join(format!("tt-pickle-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let dir = model_dir("du_entropy_d14_lgk12");
    let out = tmp.join("m.ttm");
    let o = cli(&[
        "compile",
        dir.join("model.pkl").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = read_bytes(&out);
    assert_eq!(
        bytes,
        compile_pickle(
            &read_bytes(&dir.join("model.pkl")),
            &CompileOptions::default()
        )
        .unwrap()
    );
    assert_golden("cli", &bytes, "du_entropy_d14_lgk12", "du");
    // Detected by content whatever the name; a .pkl that is not a pickle says so.
    let renamed = tmp.join("model.bin");
    std::fs::copy(dir.join("model.pkl"), &renamed).unwrap();
    let o = cli(&[
        "compile",
        renamed.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fake = tmp.join("fake.pkl");
    std::fs::write(&fake, b"{\"not\": \"a pickle\"}").unwrap();
    let o = cli(&[
        "compile",
        fake.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("fake.pkl: pickle byte offset 0: TT_ERR_BAD_MAGIC"),
        "{err}"
    );
    // A hostile pickle: refused with its offset, nothing run.
    let evil = tmp.join("evil.pkl");
    std::fs::write(&evil, b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94.").unwrap();
    let o = cli(&[
        "compile",
        evil.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("pickle byte offset 25: TT_ERR_CORRUPT: global os.system is not allowed"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// A chain tree at the depth cap (4096) compiles from a pickle; one level more is refused by
/// the compiler's depth rule, not by the reader's nesting cap.
#[test]
#[cfg_attr(miri, ignore)]
fn trees_at_the_depth_cap_compile_from_pickles() {
    fn chain(depth: usize) -> Vec<u8> {
        // Pickle, bottom-up: leaf, then `depth` splits whose right child is the tree so far.
        let leaf = |out: &mut Vec<u8>, c0: f64, c1: f64| {
            out.extend(b"}(");
            out.extend(b"\x8c\x0cclass_counts](G");
            out.extend(c0.to_be_bytes());
            out.push(b'G');
            out.extend(c1.to_be_bytes());
            out.extend(b"e\x8c\x07is_leaf\x88u");
        };
        let mut p = vec![0x80, 4];
        p.extend(b"}(\x8c\x0etree_structure");
        // Open every split, then close them innermost first.
        for i in 0..depth {
            p.extend(b"}(\x8c\x09n_samplesG");
            p.extend(((depth - i) as f64 + 2.0).to_be_bytes());
            p.extend(b"\x8c\x07is_leaf\x89\x8c\x0bfeature_idxK\x00\x8c\x04left");
            leaf(&mut p, 1.0, 0.0);
            p.extend(b"\x8c\x05right");
        }
        leaf(&mut p, 0.0, 2.0);
        p.extend(vec![b'u'; depth]);
        p.extend(b"\x8c\x0ffeature_mapping}\x8c\x01aK\x00su.");
        p
    }
    let run = |depth| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || compile_pickle(&chain(depth), &CompileOptions::default()))
            .unwrap()
            .join()
            .unwrap()
    };
    let m = Model::from_bytes(&run(4096).unwrap()).unwrap();
    assert_eq!((m.max_depth(), m.n_nodes()), (4096, 2 * 4096 + 1));
    let e = run(4097).unwrap_err();
    assert!(
        e.message.contains("tree depth exceeds the cap of 4096"),
        "{e}"
    );
    // Far deeper: the reader's own nesting cap, at the byte offset of the container.
    let e = run(5000).unwrap_err();
    assert!(
        e.path.starts_with("pickle byte offset ") && e.message.contains("TT_ERR_LIMIT"),
        "{e}"
    );
}
