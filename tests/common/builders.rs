//! Building and patching model images byte by byte (little-endian fields at file offsets).

use thetatree::format::NodeSpec;
use thetatree::validate::{leaf_label, leaf_probabilities};

/// A leaf with the reference's label and probabilities for class counts `c`.
pub fn leaf(c: [f64; 2]) -> NodeSpec {
    NodeSpec::Leaf {
        label: leaf_label(c),
        probabilities: leaf_probabilities(c),
    }
}

pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
pub fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
pub fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn set_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
pub fn set_f64(b: &mut [u8], at: usize, v: f64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
