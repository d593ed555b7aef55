//! The CLI's explanation commands on the mushroom reference model: `thetatree rules` against
//! rules built independently from the reference JSON, and `predict --explain` against the
//! golden `leaf_preorder`, the rules and the contributions.
#![cfg(not(miri))]

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

const MODEL: &str = "mushroom_gini_d5_lgk12";

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_thetatree"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The mushroom model compiled by the CLI with class labels `p,e`, in a fresh directory.
fn mushroom(tag: &str) -> (Dir, String, RefModel) {
    let m = manifest().into_iter().find(|m| m.name == MODEL).unwrap();
    let d = std::env::temp_dir().join(format!("thetatree-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let ttm = d.join("m.ttm").to_string_lossy().into_owned();
    let (code, _, e) = cli(&[
        "compile",
        m.json.to_str().unwrap(),
        "--features",
        m.mapping.to_str().unwrap(),
        "--class-labels",
        "p,e",
        "-o",
        &ttm,
    ]);
    assert_eq!(code, 0, "{e}");
    (Dir(d), ttm, m)
}

/// Digits with thousands separators, as the rules print sample counts.
fn sep(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (k, ch) in s.chars().enumerate() {
        if k > 0 && (s.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The expected rules, from the reference JSON in pre-order: (leaf node index, conditions, line).
fn rules_from_json(m: &RefModel) -> Vec<(usize, String, String)> {
    let json: serde_json::Value = serde_json::from_str(&read(&m.json)).unwrap();
    let mut out = vec![];
    let mut index = 0usize;
    let mut stack = vec![(&json["tree_structure"], Vec::<String>::new())];
    while let Some((n, conds)) = stack.pop() {
        let i = index;
        index += 1;
        if n["is_leaf"].as_bool().unwrap() {
            let c = &n["class_counts"];
            let (c0, c1) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            let class = usize::from(c1 > c0);
            let p = [c0, c1][class] / (c0 + c1);
            let text = conds.join(" AND ");
            let line = format!(
                "{text} → class {} (p = {p:.2}, n = {})",
                ["p", "e"][class],
                sep(n["n_samples"].as_f64().unwrap())
            );
            out.push((i, text, line));
        } else {
            let name = n["feature_name"].as_str().unwrap();
            let mut right = conds.clone();
            right.push(format!("{name} present"));
            let mut left = conds;
            left.push(format!("{name} absent"));
            stack.push((&n["right"], right));
            stack.push((&n["left"], left));
        }
    }
    out
}

#[test]
fn rules_prints_one_line_per_leaf_in_preorder() {
    let (_d, ttm, m) = mushroom("rules");
    let (code, out, e) = cli(&["rules", &ttm]);
    assert_eq!(code, 0, "{e}");
    let want: Vec<String> = rules_from_json(&m).into_iter().map(|r| r.2).collect();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got, want);
    assert!(got.len() > 5);
    // Usage errors: no model, a file that is not a model.
    assert_eq!(cli(&["rules"]).0, 2);
    let (code, _, e) = cli(&["rules", m.json.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(e.contains("thetatree: error:"), "{e}");
}

#[test]
fn predict_explain_adds_leaf_path_and_top_contributions() {
    let (d, ttm, m) = mushroom("explain");
    let text = read(&reference_dir().join(format!("inputs/{}_X.csv", m.dataset)));
    let n = 400;
    let csv = d.0.join("rows.csv");
    let head: Vec<&str> = text.lines().take(n + 1).collect();
    std::fs::write(&csv, head.join("\n") + "\n").unwrap();
    let csv = csv.to_str().unwrap();
    let (code, plain, e) = cli(&["predict", &ttm, csv]);
    assert_eq!(code, 0, "{e}");
    let (code, out, e) = cli(&["predict", &ttm, csv, "--explain"]);
    assert_eq!(code, 0, "{e}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("pred,label,p0,p1,leaf,path,top_contributions")
    );
    let gold = golden(MODEL, false);
    let rules = rules_from_json(&m);
    let names: Vec<String> = input(&m.dataset, false).names;
    let plain: Vec<&str> = plain.lines().skip(1).collect();
    let mut rows = 0;
    for (r, line) in lines.enumerate() {
        // No field here needs quoting: mushroom feature names hold no commas.
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 7, "row {r}: {line}");
        assert_eq!(
            f[..4].join(","),
            plain[r],
            "row {r}: prediction columns unchanged"
        );
        let leaf: usize = f[4].parse().unwrap();
        assert_eq!(leaf, gold[r].leaf_preorder, "row {r}: leaf");
        let rule = rules.iter().find(|x| x.0 == leaf).unwrap();
        assert_eq!(f[5], rule.1, "row {r}: path");
        let top: Vec<(&str, f64)> = f[6]
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (name, v) = s.rsplit_once(':').unwrap();
                (name, v.parse::<f64>().unwrap())
            })
            .collect();
        assert!(top.len() <= 3 && !top.is_empty(), "row {r}: {}", f[6]);
        for w in top.windows(2) {
            assert!(w[0].1.abs() >= w[1].1.abs(), "row {r}: sorted by |value|");
        }
        for (name, _) in &top {
            assert!(
                names.iter().any(|n| n == name),
                "row {r}: {name} is a feature"
            );
            assert!(
                f[5].contains(&format!("{name} ")),
                "row {r}: {name} is on the path"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, n);
    // A bad cell is still reported with its line and column under --explain.
    let bad = d.0.join("bad.csv");
    let mut b: Vec<String> = head.iter().take(3).map(|s| s.to_string()).collect();
    let cells: Vec<&str> = b[2].split(',').collect();
    let mut cells: Vec<String> = cells.iter().map(|s| s.to_string()).collect();
    cells[1] = "5".into();
    b[2] = cells.join(",");
    std::fs::write(&bad, b.join("\n") + "\n").unwrap();
    let (code, _, e) = cli(&["predict", &ttm, bad.to_str().unwrap(), "--explain"]);
    assert_eq!(code, 1);
    assert!(e.contains(":3:") && e.contains("value \"5\""), "{e}");
}

#[test]
fn help_documents_the_explain_columns_and_rules() {
    let (code, out, _) = cli(&["--help"]);
    assert_eq!(code, 0);
    for s in [
        "--explain",
        "leaf",
        "path",
        "top_contributions",
        "thetatree rules MODEL.ttm",
    ] {
        assert!(out.contains(s), "--help lacks {s:?}");
    }
}
