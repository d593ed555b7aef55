//! `thetatree`: compile, export, inspect, verify, sign, predict with and explain `.ttm` models.
//! Errors are one line on stderr (`thetatree: error: <file>: <where>: <what>`), exit status 1;
//! usage errors exit with status 2.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use thetatree::compile::{compile, compile_pickle, export, CompileOptions};
use thetatree::format::{RawHeader, SECTION_NAMES};
use thetatree::{rules, signature};
use thetatree::{Model, OpenOptions};
use zerocopy::FromBytes;

const USAGE: &str = "\
usage:
  thetatree compile MODEL.json|MODEL.pkl [--features MAPPING.json] [--model-version V]
                    [--class-labels NEG,POS] [--key BASELINE_KEY] -o MODEL.ttm
  thetatree export MODEL.ttm [-o MODEL.json]
  thetatree inspect MODEL.ttm [--all-features]
  thetatree verify MODEL.ttm [--key-file KEY]
  thetatree sign --key-file KEY MODEL.ttm [-o SIGNED.ttm]
  thetatree predict MODEL.ttm INPUT.csv [-o OUTPUT.csv] [--copy] [--explain]
  thetatree rules MODEL.ttm

compile reads the trainer's JSON export (give --features), or a ModelPersistence pickle
(recognised by its content or a .pkl extension; read without running any code; its own
feature mapping is used unless --features is given).
predict reads a CSV whose header names the model's features (other columns are ignored);
cells are 0, 1, or empty for missing. It writes `pred,label,p0,p1` per row.
predict --explain adds three columns per row: `leaf` (the reached leaf's node index, in the
reference's pre-order numbering), `path` (the path as rules, e.g. `odor=n absent AND
spore_print_color=r present`) and `top_contributions` (the 3 largest per-feature
contributions to P(class 1) by absolute value, `name:+0.123`, space-separated).
rules prints one line per leaf, in pre-order:
  odor=n absent AND spore_print_color=r present → class e (p = 0.98, n = 2,160)
(present = value 1, absent = value 0; p = probability of the leaf's class; n = training samples).
A key file's bytes are the key (trailing newline characters are ignored).";

/// A CLI failure: message and exit status.
struct Fail(String, u8);

fn usage(msg: impl Into<String>) -> Fail {
    Fail(format!("{}\n{USAGE}", msg.into()), 2)
}

fn err(msg: impl Into<String>) -> Fail {
    Fail(msg.into(), 1)
}

/// Parsed command line: positional arguments and `--flag value` options.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

const VALUE_OPTS: &[&str] = &[
    "--features",
    "--model-version",
    "--class-labels",
    "--key",
    "-o",
    "--output",
    "--key-file",
];
const BOOL_OPTS: &[&str] = &["--all-features", "--copy", "--explain"];

impl Args {
    fn parse(raw: &[String]) -> Result<Args, Fail> {
        let mut a = Args {
            positional: vec![],
            options: vec![],
        };
        let mut it = raw.iter();
        while let Some(s) = it.next() {
            if VALUE_OPTS.contains(&s.as_str()) {
                let v = it
                    .next()
                    .ok_or_else(|| usage(format!("{s} needs a value")))?;
                a.options.push((s.clone(), Some(v.clone())));
            } else if BOOL_OPTS.contains(&s.as_str()) {
                a.options.push((s.clone(), None));
            } else if s.starts_with('-') && s.len() > 1 {
                return Err(usage(format!("unknown option {s}")));
            } else {
                a.positional.push(s.clone());
            }
        }
        Ok(a)
    }
    fn get(&self, names: &[&str]) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .and_then(|(_, v)| v.as_deref())
    }
    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(k, _)| k == name)
    }
    fn only(&self, n: usize, what: &str) -> Result<&[String], Fail> {
        if self.positional.len() != n {
            return Err(usage(format!("expected {what}")));
        }
        Ok(&self.positional)
    }
}

fn read_text(path: &str) -> Result<String, Fail> {
    fs::read_to_string(path).map_err(|e| err(format!("{path}: cannot read: {e}")))
}

fn read_key(path: &str) -> Result<Vec<u8>, Fail> {
    let mut k = fs::read(path).map_err(|e| err(format!("{path}: cannot read key: {e}")))?;
    while matches!(k.last(), Some(b'\n' | b'\r')) {
        k.pop();
    }
    if k.is_empty() {
        return Err(err(format!("{path}: the key file is empty")));
    }
    Ok(k)
}

/// Write via a temporary file in the same directory and rename it into place, so a process
/// that has the old file mapped never sees a half-written model.
fn write_atomic(path: &str, bytes: &[u8]) -> Result<(), Fail> {
    let target = PathBuf::from(path);
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err(format!("{path}: cannot write: {e}"))
    })
}

fn load(path: &str, copy: bool) -> Result<Model, Fail> {
    Model::open(
        Path::new(path),
        OpenOptions {
            copy,
            verify_key: None,
            ..Default::default()
        },
    )
    .map_err(|e| err(format!("{} (offset {})", e, e.byte_offset)))
}

fn cmd_compile(a: &Args) -> Result<(), Fail> {
    let [input] = a.only(1, "one MODEL.json or MODEL.pkl")? else {
        unreachable!()
    };
    let out = a
        .get(&["-o", "--output"])
        .ok_or_else(|| usage("compile needs -o MODEL.ttm"))?;
    let class_labels = match a.get(&["--class-labels"]) {
        None => None,
        Some(s) => match s.split_once(',') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() && !p.contains(',') => {
                Some([n.to_string(), p.to_string()])
            }
            _ => return Err(usage(format!("--class-labels takes NEG,POS, got {s:?}"))),
        },
    };
    let opts = CompileOptions {
        feature_mapping: a.get(&["--features"]).map(read_text).transpose()?,
        model_version: a.get(&["--model-version"]).map(str::to_string),
        class_labels,
        baseline_key: a.get(&["--key"]).map(str::to_string),
    };
    let source = fs::read(input).map_err(|e| err(format!("{input}: cannot read: {e}")))?;
    let result = if is_pickle(input, &source) {
        compile_pickle(&source, &opts)
    } else {
        let json = String::from_utf8(source)
            .map_err(|e| err(format!("{input}: not UTF-8 text (nor a pickle): {e}")))?;
        compile(&json, &opts)
    };
    let bytes = result.map_err(|e| {
        let file = if e.path.starts_with("feature mapping") {
            a.get(&["--features"]).unwrap_or(input)
        } else {
            input
        };
        err(format!("{file}: {e}"))
    })?;
    write_atomic(out, &bytes)?;
    let m = Model::from_bytes(&bytes).map_err(|e| err(format!("{out}: {e}")))?;
    eprintln!(
        "compiled {input} -> {out}: {} nodes, {} leaves, depth {}, {} features, {} bytes, crc32 0x{:08x}",
        m.n_nodes(),
        m.n_leaves(),
        m.max_depth(),
        m.n_features(),
        bytes.len(),
        m.crc32()
    );
    Ok(())
}

/// A pickle starts with PROTO (0x80), which no JSON text does; a .pkl name with other content
/// goes to the pickle reader too, which then says what the first byte is.
fn is_pickle(path: &str, bytes: &[u8]) -> bool {
    let ext = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    bytes.first() == Some(&0x80) || matches!(ext.as_deref(), Some("pkl" | "pickle"))
}

fn cmd_export(a: &Args) -> Result<(), Fail> {
    let [input] = a.only(1, "one MODEL.ttm")? else {
        unreachable!()
    };
    let m = load(input, true)?;
    let json = export(&m);
    match a.get(&["-o", "--output"]) {
        Some(out) => write_atomic(out, json.as_bytes()),
        None => std::io::stdout()
            .write_all(json.as_bytes())
            .map_err(|e| err(format!("stdout: {e}"))),
    }
}

fn cmd_inspect(a: &Args) -> Result<(), Fail> {
    let [input] = a.only(1, "one MODEL.ttm")? else {
        unreachable!()
    };
    let bytes = fs::read(input).map_err(|e| err(format!("{input}: cannot read: {e}")))?;
    let mut o = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(o, "file:        {input} ({} bytes)", bytes.len());
    if let Ok((h, _)) = RawHeader::read_from_prefix(&bytes) {
        let _ = writeln!(o, "magic:       {:?}", String::from_utf8_lossy(&h.magic));
        let _ = writeln!(
            o,
            "format:      {}.{}  endian tag 0x{:08x}  flags 0x{:x}",
            h.format_major.get(),
            h.format_minor.get(),
            h.endian_tag.get(),
            h.flags.get()
        );
        let _ = writeln!(
            o,
            "file_len:    {}  crc32 0x{:08x}",
            h.file_len.get(),
            h.crc32.get()
        );
        let _ = writeln!(
            o,
            "counts:      {} nodes, {} leaves, depth {}, {} features, {} classes",
            h.n_nodes.get(),
            h.n_leaves.get(),
            h.max_depth.get(),
            h.n_features.get(),
            h.n_classes.get()
        );
        for (k, s) in h.sections.iter().enumerate() {
            let _ = writeln!(
                o,
                "section {k}:   {:<19} offset {:>9} length {:>9}",
                SECTION_NAMES[k],
                s.offset.get(),
                s.length.get()
            );
        }
    }
    match Model::from_bytes(&bytes) {
        Err(e) => {
            print!("{o}");
            println!("validation:  FAILED");
            Err(err(format!("{input}: {e} (offset {})", e.byte_offset)))
        }
        Ok(m) => {
            let _ = writeln!(o, "validation:  OK (checksum verified, structure valid)");
            let _ = writeln!(
                o,
                "signature:   {}",
                if m.is_signed() {
                    "present (check it with `verify --key-file`)"
                } else {
                    "none"
                }
            );
            let _ = writeln!(o, "sha256:      {}", signature::hex(m.digest()));
            let _ = writeln!(o, "version:     {:?}", m.model_version());
            let _ = writeln!(
                o,
                "classes:     0 = {:?}, 1 = {:?}",
                m.class_label(0).unwrap_or(""),
                m.class_label(1).unwrap_or("")
            );
            let _ = writeln!(o, "metadata:    {}", m.metadata_json());
            let shown = if a.flag("--all-features") {
                m.n_features()
            } else {
                m.n_features().min(20)
            };
            let _ = writeln!(o, "features:    {}", m.n_features());
            for i in 0..shown {
                let _ = writeln!(o, "  {i:>6}  {}", m.feature_name(i).unwrap_or(""));
            }
            if shown < m.n_features() {
                let _ = writeln!(o, "  ... {} more (--all-features)", m.n_features() - shown);
            }
            print!("{o}");
            Ok(())
        }
    }
}

fn cmd_verify(a: &Args) -> Result<(), Fail> {
    let [input] = a.only(1, "one MODEL.ttm")? else {
        unreachable!()
    };
    let key = a.get(&["--key-file"]).map(read_key).transpose()?;
    let m = Model::open(
        Path::new(input),
        OpenOptions {
            copy: true,
            verify_key: key.as_deref(),
            ..Default::default()
        },
    )
    .map_err(|e| err(format!("{e} (offset {})", e.byte_offset)))?;
    println!(
        "{input}: OK: {} nodes, depth {}, {} features, crc32 0x{:08x}, sha256 {}{}",
        m.n_nodes(),
        m.max_depth(),
        m.n_features(),
        m.crc32(),
        signature::hex(m.digest()),
        if key.is_some() {
            ", signature valid"
        } else if m.is_signed() {
            ", signed (not verified: no --key-file)"
        } else {
            ""
        }
    );
    Ok(())
}

fn cmd_sign(a: &Args) -> Result<(), Fail> {
    let [input] = a.only(1, "one MODEL.ttm")? else {
        unreachable!()
    };
    let key = read_key(
        a.get(&["--key-file"])
            .ok_or_else(|| usage("sign needs --key-file KEY"))?,
    )?;
    let bytes = fs::read(input).map_err(|e| err(format!("{input}: cannot read: {e}")))?;
    let signed = signature::sign(&bytes, &key).map_err(|e| err(format!("{input}: {e}")))?;
    let out = a.get(&["-o", "--output"]).unwrap_or(input);
    write_atomic(out, &signed)?;
    eprintln!(
        "signed {input} -> {out} (HMAC-SHA256, key id {})",
        signature::hex(&signature::key_id(&key))
    );
    Ok(())
}

/// Split one CSV record (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) =
        (vec![], String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn cmd_predict(a: &Args) -> Result<(), Fail> {
    let [model_path, csv_path] = a.only(2, "MODEL.ttm INPUT.csv")? else {
        unreachable!()
    };
    let m = load(model_path, a.flag("--copy"))?;
    let text = read_text(csv_path)?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| err(format!("{csv_path}: empty file, expected a header row")))?;
    let header = csv_fields(header);
    // Map each model feature to its CSV column.
    let mut col_of = vec![usize::MAX; m.n_features()];
    for (c, name) in header.iter().enumerate() {
        if let Some(f) = m.feature_index(name.trim().as_bytes()) {
            if col_of[f] != usize::MAX {
                return Err(err(format!("{csv_path}:1: column {name:?} appears twice")));
            }
            col_of[f] = c;
        }
    }
    let absent: Vec<&str> = (0..m.n_features())
        .filter(|&f| col_of[f] == usize::MAX)
        .map(|f| m.feature_name(f).unwrap_or(""))
        .collect();
    if !absent.is_empty() {
        let more = if absent.len() > 5 {
            format!(" and {} more", absent.len() - 5)
        } else {
            String::new()
        };
        return Err(err(format!(
            "{csv_path}:1: the header lacks {} model feature(s): {:?}{more}",
            absent.len(),
            &absent[..absent.len().min(5)]
        )));
    }
    let out_path = a.get(&["-o", "--output"]);
    let mut out: Box<dyn Write> = match out_path {
        Some(p) => Box::new(BufWriter::new(
            fs::File::create(p).map_err(|e| err(format!("{p}: cannot create: {e}")))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let labels = [
        m.class_label(0).unwrap_or("0").to_string(),
        m.class_label(1).unwrap_or("1").to_string(),
    ];
    let io = |e: std::io::Error| {
        err(format!(
            "{}: write failed: {e}",
            out_path.unwrap_or("stdout")
        ))
    };
    let explain = a.flag("--explain");
    let header_line = if explain {
        "pred,label,p0,p1,leaf,path,top_contributions"
    } else {
        "pred,label,p0,p1"
    };
    writeln!(out, "{header_line}").map_err(io)?;
    let tree = m.tree();
    let mut row = vec![0f64; m.n_features()];
    let mut path = vec![0i32; m.max_depth() + 1];
    let mut contrib = vec![0f64; tree.contrib_width()];
    for (lineno, line) in lines {
        let lineno = lineno + 1;
        let fields = csv_fields(line);
        if fields.len() != header.len() {
            return Err(err(format!(
                "{csv_path}:{lineno}: {} fields, the header has {}",
                fields.len(),
                header.len()
            )));
        }
        for (f, cell) in row.iter_mut().enumerate() {
            let c = col_of[f];
            let s = fields[c].trim();
            *cell = if s.is_empty() {
                f64::NAN
            } else {
                s.parse::<f64>().ok().filter(|v| *v == 0.0 || *v == 1.0).ok_or_else(|| {
                    err(format!("{csv_path}:{lineno}: column {} ({:?}): value {s:?} is not 0, 1 or empty (missing)", c + 1, header[c]))
                })?
            };
        }
        // Cells were checked above, so the walk cannot meet an invalid value.
        let leaf = tree.leaf(&row).map_err(|f| {
            err(format!(
                "{csv_path}:{lineno}: invalid value in column {:?}",
                header[col_of[f]]
            ))
        })?;
        let p = leaf.probabilities;
        write!(
            out,
            "{},{},{:?},{:?}",
            leaf.label, labels[leaf.label as usize], p[0], p[1]
        )
        .map_err(io)?;
        if explain {
            let fail = |e: thetatree::Error| err(format!("{csv_path}:{lineno}: {e}"));
            let len = tree.decision_path(&row, &mut path).map_err(fail)?;
            tree.predict_contrib(&row, 1, &mut contrib).map_err(fail)?;
            let nodes: Vec<usize> = path[..len].iter().map(|&i| i as usize).collect();
            write!(
                out,
                ",{},{},{}",
                leaf.node,
                csv_quote(&rules::path_text(&m, &nodes)),
                csv_quote(&rules::top_contributions(&m, &contrib, 3))
            )
            .map_err(io)?;
        }
        writeln!(out).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn cmd_rules(a: &Args) -> Result<(), Fail> {
    let [model_path] = a.only(1, "MODEL.ttm")? else {
        unreachable!()
    };
    let m = load(model_path, a.flag("--copy"))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let io = |e: std::io::Error| err(format!("stdout: write failed: {e}"));
    for (_, rule) in rules::leaf_rules(&m) {
        writeln!(out, "{rule}").map_err(io)?;
    }
    out.flush().map_err(io)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = Args::parse(rest).and_then(|a| match cmd.as_str() {
        "compile" => cmd_compile(&a),
        "export" => cmd_export(&a),
        "inspect" => cmd_inspect(&a),
        "verify" => cmd_verify(&a),
        "sign" => cmd_sign(&a),
        "predict" => cmd_predict(&a),
        "rules" => cmd_rules(&a),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(usage(format!("unknown command {other:?}"))),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg, code)) => {
            eprintln!("thetatree: error: {msg}");
            ExitCode::from(code)
        }
    }
}
