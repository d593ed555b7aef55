//! Arbitrary text through the JSON compiler. It must never panic; if it compiles, the result
//! must load, predict consistently, and be a fixed point of export + compile.
//!
//! The compiler must also never build a model that its own validator refuses ("internal
//! error"): each cause found so far has a regression test in tests/hostile.rs
//! (`compiler_refuses_*`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use thetatree::compile::{compile, CompileOptions};
use thetatree::Model;
use thetatree_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match compile(text, &CompileOptions::default()) {
        Err(e) => {
            if e.message.contains("internal error") {
                panic!("the compiler built a model its validator refuses: {e}");
            }
        }
        Ok(bytes) => {
            let m = Model::from_bytes(&bytes).expect("compiled model does not load");
            let rows = [0.0, 1.0, f64::NAN].repeat(3 * m.n_features().max(1));
            load_everywhere(&bytes, &rows);
            check_roundtrip(&m);
            // The compiler's output is canonical: it is its own export's compilation.
            let again = compile(&thetatree::compile::export(&m), &CompileOptions::default()).unwrap();
            assert_eq!(again, bytes, "compile(export(compile(json))) != compile(json)");
        }
    }
});
