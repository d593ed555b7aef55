//! The load-time native-code kernel's code generator (feature `native`, x86_64 only). No
//! `unsafe` here: this module turns a validated node array into machine code with Cranelift
//! and places it in a private mapping that is written while read-write and only then made
//! read-execute (never both). Calling the code is `kernels.rs`'s business.
//!
//! # The code
//!
//! One function per input kind, `extern "sysv64" fn(row: *const T) -> u64`, in the shape of a
//! compiled if/else of the tree. For dense rows (int8, f64) every split is a block that loads
//! its cell at an immediate offset from `row`; the hot test sends a plainly absent cell (`0`; `0.0` or `-0.0`) to the
//! left child, whose block comes next in the layout (a pre-order chain falls through from split
//! to split), and a present cell (`1`; `1.0`) to the right child. Missing (`-1`; NaN) and
//! invalid values go to cold blocks at the end of the function: a missing cell continues on the
//! split's missing side, exactly as the interpreter routes it, anything else returns
//! [`ERR_BIT`]` | column`. A leaf returns its node index. For bit-packed rows without a missing
//! mask (and the CSR driver's bitset, which has their layout) a split is one block: load the
//! byte `f / 8`, test bit `f % 8`, branch right if set; no value is invalid or missing.
//!
//! The rules are bit for bit those of `cell.rs`: an `f64` cell is tested on its bits (absent:
//! `bits << 1 == 0`; present: `bits == 1.0f64.to_bits()`; missing: `bits << 1 >
//! 0xFFE0_0000_0000_0000`, i.e. a NaN; anything else, infinities, subnormals, 0.5, is invalid).
//!
//! Generation walks the tree with an explicit stack (no recursion: chains can be thousands of
//! nodes deep), and is refused above [`MAX_NODES`] nodes, when the code would need relocations,
//! or when the mapping or its protection change fails; the model then walks with the
//! interpreter.

use crate::format::{RawNode, TAG_LEAF, TAG_SPLIT_MISSING_RIGHT};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, Function, InstBuilder, MemFlagsData, Signature, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetFrontendConfig};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{control::ControlPlane, Context};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use std::collections::HashMap;

/// Trees with more nodes than this are not compiled (code size and load time grow with the
/// node count; the interpreter walks them).
pub use super::NATIVE_MAX_NODES as MAX_NODES;

/// Set in a result that reports an invalid cell; the low bits are its column.
pub const ERR_BIT: u64 = 1 << 63;

/// The input kinds with a native function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `int8_t` cells: 0 absent, 1 present, -1 missing.
    I8,
    /// `double` cells: 0.0 / -0.0 absent, 1.0 present, NaN missing.
    F64,
    /// Bit-packed rows (`u64` words, feature `j` = bit `j % 64` of word `j / 64`, i.e. bit
    /// `j % 8` of byte `j / 8` in little-endian memory): 0 absent, 1 present.
    Bits,
}

/// Compiled functions placed in executable memory: the mapping and each kind's entry offset.
pub struct Placed {
    pub map: memmap2::Mmap,
    pub i8_entry: usize,
    pub f64_entry: usize,
    pub bits_entry: usize,
    /// Bytes of machine code (the three functions, without padding).
    pub code_len: usize,
}

fn isa() -> Option<OwnedTargetIsa> {
    let mut flags = settings::builder();
    // The IR is already the code wanted (one load, test and branch per block): "none" skips
    // the e-graph pass, which on chains found nothing to gain and cost load time. With
    // "speed", alias analysis would also merge the blocks' reloads of a cell (see
    // `load_cell`) and bring the long live ranges back.
    flags.set("opt_level", "none").ok()?;
    // The generator's output is simple and deterministic; the verifier is for debug builds.
    flags
        .set(
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )
        .ok()?;
    let builder = cranelift_native::builder().ok()?;
    builder.finish(settings::Flags::new(flags)).ok()
}

/// Work on the explicit stack of [`build`].
enum Work {
    /// Emit node `i`'s block here (right after the previous block: its fall-through).
    Node(u32),
    /// Emit a split's block for a cell that is not on the left side: a present cell (or a
    /// missing one, for a split whose missing side is the right) goes to `right`, anything
    /// else returns the error for `feature`.
    Present {
        block: Block,
        off: i32,
        right: u32,
        missing_right: bool,
        feature: u32,
    },
}

/// The cell at byte offset `off` of the row: an int8 sign-extended to 32 bits, or an f64's
/// bits. Each block loads its own copy (no value lives across blocks but `row`: in a chain,
/// a value kept from a split to its present block would stay live across the whole rest of
/// the chain, which costs registers, spills and quadratic register allocation).
fn load_cell(b: &mut FunctionBuilder, kind: Kind, row: Value, off: i32) -> Value {
    // Plain loads that cannot trap (the row holds n_features cells); no alignment claimed.
    let mem = MemFlagsData::new().with_notrap();
    match kind {
        Kind::I8 => b.ins().sload8(types::I32, mem, row, off),
        Kind::F64 => b.ins().load(types::I64, mem, row, off),
        Kind::Bits => b.ins().uload8(types::I32, mem, row, off),
    }
}

/// For an f64 cell's `bits`: the top eleven bits of `(bits << 1) - 1`, which are all set
/// (`0x7FF`) exactly for +-0.0 (`bits << 1 == 0` wraps to all ones) and NaNs (`bits << 1 >
/// 0xFFE0_0000_0000_0000`: exponent all ones, mantissa nonzero), with an immediate compare.
fn f64_top_bits(b: &mut FunctionBuilder, bits: Value) -> Value {
    let v = b.ins().ishl_imm_u(bits, 1);
    let t = b.ins().iadd_imm_s(v, -1);
    b.ins().ushr_imm_u(t, 53)
}

/// The function body for one input kind. `nodes` are validated: children are in range and
/// greater than their parent, features `< n_features`.
///
/// Each split is two blocks. The split's own block decides "left" with one test: the cell is
/// absent (or, for a split whose missing values go left, missing). Otherwise its present block
/// decides "right" (present, or missing for a split whose missing values go right) or returns
/// the error. So no edge enters a node's block but from its parent, which is what lets the
/// left child follow its parent in the layout (Cranelift places blocks in a reverse postorder:
/// an edge from a later block, such as a cold "missing" block, would push the child after it).
fn build(
    func: &mut Function,
    nodes: &[RawNode],
    kind: Kind,
    config: TargetFrontendConfig,
) -> Option<()> {
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let row = b.block_params(entry)[0];
    let mut blocks: Vec<Option<Block>> = vec![None; nodes.len()];
    let mut placed = vec![false; nodes.len()];
    let mut block_of = |b: &mut FunctionBuilder, i: u32| -> Block {
        *blocks[i as usize].get_or_insert_with(|| b.create_block())
    };
    let root = block_of(&mut b, 0);
    b.ins().jump(root, &[]);
    let mut errors: HashMap<u32, Block> = HashMap::new();
    let mut stack = vec![Work::Node(0)];
    while let Some(w) = stack.pop() {
        match w {
            Work::Node(i) => {
                let node = nodes.get(i as usize)?;
                if std::mem::replace(&mut placed[i as usize], true) {
                    continue;
                }
                let blk = block_of(&mut b, i);
                b.switch_to_block(blk);
                let tag = node.tag.get();
                if tag == TAG_LEAF {
                    let r = b.ins().iconst(types::I64, i64::from(i));
                    b.ins().return_(&[r]);
                    continue;
                }
                let (f, left, right) = (node.a.get(), node.b.get(), node.c.get());
                let missing_right = tag == TAG_SPLIT_MISSING_RIGHT;
                if kind == Kind::Bits {
                    // One block: the feature's bit decides (no missing or invalid values).
                    let off = i32::try_from(f >> 3).ok()?;
                    let byte = load_cell(&mut b, kind, row, off);
                    let bit = b.ins().band_imm_s(byte, i64::from(1u8 << (f & 7)));
                    let right_blk = block_of(&mut b, right);
                    let left_blk = block_of(&mut b, left);
                    b.ins().brif(bit, right_blk, &[], left_blk, &[]);
                    stack.push(Work::Node(right));
                    stack.push(Work::Node(left));
                    continue;
                }
                let cell_bytes = if kind == Kind::F64 { 8 } else { 1 };
                let off = i32::try_from(u64::from(f) * cell_bytes).ok()?;
                let present = b.create_block();
                let left_blk = block_of(&mut b, left);
                let cell = load_cell(&mut b, kind, row, off);
                // Whether the cell does NOT go left (the branch's first target; Cranelift lays
                // out the second one, the left child, next: the chain falls through).
                let not_left = match (kind, missing_right) {
                    // Left: 0 only.
                    (Kind::I8, true) => b.ins().icmp_imm_u(IntCC::NotEqual, cell, 0),
                    // Left: 0 or -1, i.e. cell + 1 in {1, 0}.
                    (Kind::I8, false) => {
                        let t = b.ins().iadd_imm_s(cell, 1);
                        b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, t, 1)
                    }
                    // Left: 0.0 or -0.0, i.e. the bits without the sign are zero.
                    (Kind::F64, true) => {
                        let v = b.ins().ishl_imm_u(cell, 1);
                        b.ins().icmp_imm_u(IntCC::NotEqual, v, 0)
                    }
                    // Left: +-0.0 or NaN.
                    (Kind::F64, false) => {
                        let t = f64_top_bits(&mut b, cell);
                        b.ins().icmp_imm_u(IntCC::NotEqual, t, 0x7FF)
                    }
                    (Kind::Bits, _) => return None,
                };
                b.ins().brif(not_left, present, &[], left_blk, &[]);
                stack.push(Work::Present {
                    block: present,
                    off,
                    right,
                    missing_right,
                    feature: f,
                });
                stack.push(Work::Node(left));
            }
            Work::Present {
                block,
                off,
                right,
                missing_right,
                feature,
            } => {
                b.switch_to_block(block);
                let cell = load_cell(&mut b, kind, row, off);
                // Whether the cell is invalid (the branch's first target, so that the right
                // child is laid out next).
                let invalid = match (kind, missing_right) {
                    // Right: 1.
                    (Kind::I8, false) => b.ins().icmp_imm_u(IntCC::NotEqual, cell, 1),
                    // Right: 1 or -1, i.e. cell + 1 in {2, 0}: zero without bit 1.
                    (Kind::I8, true) => {
                        let t = b.ins().iadd_imm_s(cell, 1);
                        let t = b.ins().band_imm_s(t, !2);
                        b.ins().icmp_imm_u(IntCC::NotEqual, t, 0)
                    }
                    // Right: 1.0.
                    (Kind::F64, false) => {
                        b.ins()
                            .icmp_imm_u(IntCC::NotEqual, cell, 1.0f64.to_bits() as i64)
                    }
                    // Right: 1.0 or NaN (the cell is not +-0.0 here).
                    (Kind::F64, true) => {
                        let not_one =
                            b.ins()
                                .icmp_imm_u(IntCC::NotEqual, cell, 1.0f64.to_bits() as i64);
                        let t = f64_top_bits(&mut b, cell);
                        let not_nan = b.ins().icmp_imm_u(IntCC::NotEqual, t, 0x7FF);
                        b.ins().band(not_one, not_nan)
                    }
                    (Kind::Bits, _) => return None,
                };
                let right_blk = block_of(&mut b, right);
                let err = *errors.entry(feature).or_insert_with(|| b.create_block());
                b.ins().brif(invalid, err, &[], right_blk, &[]);
                stack.push(Work::Node(right));
            }
        }
    }
    let mut errors: Vec<(u32, Block)> = errors.into_iter().collect();
    errors.sort_unstable_by_key(|&(f, _)| f);
    for (f, blk) in errors {
        b.switch_to_block(blk);
        b.set_cold_block(blk);
        let r = b.ins().iconst(types::I64, (ERR_BIT | u64::from(f)) as i64);
        b.ins().return_(&[r]);
    }
    // Every node block that was referenced was placed (validated children are in range).
    if blocks
        .iter()
        .zip(&placed)
        .any(|(blk, &done)| blk.is_some() && !done)
    {
        return None;
    }
    b.seal_all_blocks();
    b.finalize(config);
    Some(())
}

/// Machine code of one kind's function (position-independent, no relocations), or `None`.
fn compile(isa: &OwnedTargetIsa, nodes: &[RawNode], kind: Kind) -> Option<Vec<u8>> {
    let mut sig = Signature::new(CallConv::SystemV);
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    let mut func = Function::with_name_signature(UserFuncName::default(), sig);
    build(&mut func, nodes, kind, isa.frontend_config())?;
    let mut ctx = Context::for_function(func);
    let code = ctx.compile(&**isa, &mut ControlPlane::default()).ok()?;
    if !code.buffer.relocs().is_empty() {
        return None;
    }
    Some(code.code_buffer().to_vec())
}

/// Generate and place the functions for a validated tree of `nodes` (root not a leaf), or
/// `None` (too many nodes, a code generator refusal, relocations, or memory that cannot be
/// mapped or made executable).
pub fn generate(nodes: &[RawNode]) -> Option<Placed> {
    if nodes.is_empty() || nodes.len() > MAX_NODES {
        return None;
    }
    let isa = isa()?;
    let i8_code = compile(&isa, nodes, Kind::I8)?;
    let f64_code = compile(&isa, nodes, Kind::F64)?;
    let bits_code = compile(&isa, nodes, Kind::Bits)?;
    // Each function starts on a cache line.
    let f64_entry = i8_code.len().next_multiple_of(64);
    let bits_entry = (f64_entry + f64_code.len()).next_multiple_of(64);
    let total = bits_entry + bits_code.len();
    let mut map = memmap2::MmapMut::map_anon(total).ok()?;
    map[..i8_code.len()].copy_from_slice(&i8_code);
    map[f64_entry..f64_entry + f64_code.len()].copy_from_slice(&f64_code);
    map[bits_entry..total].copy_from_slice(&bits_code);
    let map = map.make_exec().ok()?;
    Some(Placed {
        map,
        i8_entry: 0,
        f64_entry,
        bits_entry,
        code_len: i8_code.len() + f64_code.len() + bits_code.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(tag: u32, a: u32, b: u32, c: u32) -> RawNode {
        RawNode {
            tag: tag.into(),
            a: a.into(),
            b: b.into(),
            c: c.into(),
        }
    }

    #[test]
    fn dump_small_chain() {
        // split0(f3) -> split1(f5) -> leaf; right leaves.
        let nodes = [
            node(0, 3, 1, 4),
            node(1, 5, 2, 3),
            node(TAG_LEAF, 0, 0, 0),
            node(TAG_LEAF, 1, 1, 0),
            node(TAG_LEAF, 2, 0, 0),
        ];
        let isa = isa().unwrap();
        for kind in [Kind::I8, Kind::F64, Kind::Bits] {
            let code = compile(&isa, &nodes, kind).unwrap();
            if let Some(dir) = std::env::var_os("TT_NATIVE_DUMP") {
                std::fs::write(
                    std::path::Path::new(&dir).join(format!("{kind:?}.bin")),
                    &code,
                )
                .unwrap();
            }
            assert!(!code.is_empty());
        }
    }
}
