//! Arbitrary bytes through the pickle reader (`pickle::loads`, `pickle::to_json`) and
//! `compile::compile_pickle`. Nothing may panic, recurse without bound, or allocate past the
//! reader's memory cap (the run's `-rss_limit_mb` catches that); every error names an offset
//! inside the input. The entry points must agree: `compile_pickle` fails whenever `loads` or
//! the JSON conversion does. A pickle that compiles gives a model that loads everywhere,
//! predicts like the reference walk and is a fixed point of export + compile; its metadata
//! says it came from a pickle. (The reader runs twice per input, not three times: inputs that
//! expand to the memory cap are the slowest, and the smoke run's timeout is 10 s under ASan.)
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
    // Conversion to JSON never panics, whatever the value.
    let converts = value.as_ref().is_ok_and(|v| pickle::to_json(v).is_ok());
    drop(value);
    match compile_pickle(data, &CompileOptions::default()) {
        Err(e) => {
            if e.message.contains("internal error") {
                panic!("the compiler built a model its validator refuses: {e}");
            }
        }
        Ok(bytes) => {
            assert!(converts, "compile_pickle accepted what loads or to_json refused");
            let model = thetatree::Model::from_bytes(&bytes).expect("compiled model does not load");
            assert!(model.metadata_json().contains("\"source_format\":\"pickle\""));
            let rows = [0.0, 1.0, f64::NAN].repeat(3 * model.n_features().max(1));
            load_everywhere(&bytes, &rows);
            check_roundtrip(&model);
        }
    }
});
