//! Arbitrary bytes through the pickle reader (`pickle::loads`, `pickle::persistence_json`) and
//! `compile::compile_pickle`. Nothing may panic, recurse without bound, or allocate past the
//! reader's memory cap (the run's `-rss_limit_mb` catches that); every error names an offset
//! inside the input. The three entry points must agree: `persistence_json` fails whenever
//! `loads` does, and `compile_pickle` fails whenever `persistence_json` does. A pickle that
//! compiles gives a model that loads everywhere, predicts like the reference walk and is a
//! fixed point of export + compile; its metadata says it came from a pickle.
#![no_main]
use libfuzzer_sys::fuzz_target;
use thetatree::compile::{compile_pickle, CompileOptions};
use thetatree::pickle;
use thetatree_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let value = pickle::loads(data);
    if let Err(e) = &value {
        assert!(e.byte_offset <= data.len() as u64, "offset {} past the end", e.byte_offset);
        assert!(!e.message.is_empty());
    }
    let json = pickle::persistence_json(data);
    assert!(value.is_ok() || json.is_err(), "persistence_json accepted what loads refused");
    if let Ok(v) = &value {
        // Conversion to JSON never panics, whatever the value.
        let _ = pickle::to_json(v);
    }
    match compile_pickle(data, &CompileOptions::default()) {
        Err(e) => {
            if e.message.contains("internal error") {
                panic!("the compiler built a model its validator refuses: {e}");
            }
        }
        Ok(bytes) => {
            assert!(json.is_ok(), "compile_pickle accepted what persistence_json refused");
            let model = thetatree::Model::from_bytes(&bytes).expect("compiled model does not load");
            assert!(model.metadata_json().contains("\"source_format\":\"pickle\""));
            let rows = [0.0, 1.0, f64::NAN].repeat(3 * model.n_features().max(1));
            load_everywhere(&bytes, &rows);
            check_roundtrip(&model);
        }
    }
});
