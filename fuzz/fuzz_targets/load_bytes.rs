//! Arbitrary bytes through `Model::from_bytes` and `tt_load_bytes` (copy and borrow): the three
//! must agree on the status; nothing may panic or read out of bounds. If the bytes load, every
//! predict entry point is compared with an independent reference walk, and the model must
//! export and recompile to one that predicts the same.
#![no_main]
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use thetatree_fuzz::*;

fuzz_target!(|data: &[u8]| {
    // Rows come from the input's own bytes, so they vary with it.
    let mut u = Unstructured::new(data);
    let rows = cells(&mut u, 64);
    if let Some(m) = load_everywhere(data, &rows) {
        check_roundtrip(&m);
    }
});
