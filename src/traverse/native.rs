//! The load-time native-code kernel's code generator (feature `native`, x86_64 only). No
//! `unsafe` here: this module turns a validated node array into machine code with Cranelift
//! and places it in a private mapping that is written while read-write and only then made
//! read-execute (never both). Calling the code is `kernels.rs`'s business.
//!
//! # The code
//!
//! One function per input kind, `extern "sysv64" fn(row: *const T) -> u64`, in the shape of a
//! compiled if/else of the tree: every split is a block that loads its cell at an immediate
//! offset from `row`; the hot test sends a plainly absent cell (`0`; `0.0` or `-0.0`) to the
//! left child, whose block comes next in the layout (a pre-order chain falls through from split
//! to split), and a present cell (`1`; `1.0`) to the right child. Missing (`-1`; NaN) and
//! invalid values go to cold blocks at the end of the function: a missing cell continues on the
//! split's missing side, exactly as the interpreter routes it, anything else returns
//! [`ERR_BIT`]` | column`. A leaf returns its node index.
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
pub const MAX_NODES: usize = 65_536;

/// Set in a result that reports an invalid cell; the low bits are its column.
pub const ERR_BIT: u64 = 1 << 63;

/// The input kinds with a native function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `int8_t` cells: 0 absent, 1 present, -1 missing.
    I8,
    /// `double` cells: 0.0 / -0.0 absent, 1.0 present, NaN missing.
    F64,
}

impl Kind {
    fn cell_bytes(self) -> usize {
        match self {
            Kind::I8 => 1,
            Kind::F64 => 8,
        }
    }
}

/// Compiled functions placed in executable memory: the mapping and each kind's entry offset.
pub struct Placed {
    pub map: memmap2::Mmap,
    pub i8_entry: usize,
    pub f64_entry: usize,
    /// Bytes of machine code (both functions, without padding).
    pub code_len: usize,
}

fn isa() -> Option<OwnedTargetIsa> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").ok()?;
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

/// Work on the explicit stack of [`emit`].
enum Work {
    /// Emit node `i`'s block here (right after the previous block: its fall-through).
    Node(u32),
    /// Emit a split's "not absent" block: present goes to `right`, anything else to `cold`.
    Present {
        block: Block,
        cell: Value,
        right: u32,
        cold: Block,
    },
}

/// A split's cold block: `v` (the loaded cell, or for `f64` its bits shifted left by one) is
/// missing (go to `missing`) or invalid (return the error for `feature`).
struct Cold {
    block: Block,
    v: Value,
    missing: u32,
    feature: u32,
}

/// The function body for one input kind. `nodes` are validated: children are in range and
/// greater than their parent, features `< n_features`.
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
    // Cells are read as plain loads that cannot trap (the row holds n_features cells); no
    // alignment is claimed.
    let mem = MemFlagsData::new().with_notrap().with_readonly();
    let mut colds: Vec<Cold> = Vec::new();
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
                let off = i32::try_from(u64::from(f) * kind.cell_bytes() as u64).ok()?;
                let present = b.create_block();
                let cold = b.create_block();
                let left_blk = block_of(&mut b, left);
                // `cell` is the int8 value (zero-extended) or the f64's bits; `v` is nonzero
                // unless the cell is plainly absent (for f64: the bits without the sign).
                let (cell, v) = match kind {
                    Kind::I8 => {
                        let cell = b.ins().uload8(types::I32, mem, row, off);
                        (cell, cell)
                    }
                    Kind::F64 => {
                        let bits = b.ins().load(types::I64, mem, row, off);
                        (bits, b.ins().ishl_imm_u(bits, 1))
                    }
                };
                b.ins().brif(v, present, &[], left_blk, &[]);
                let missing = if tag == TAG_SPLIT_MISSING_RIGHT {
                    right
                } else {
                    left
                };
                colds.push(Cold {
                    block: cold,
                    v,
                    missing,
                    feature: f,
                });
                stack.push(Work::Present {
                    block: present,
                    cell,
                    right,
                    cold,
                });
                stack.push(Work::Node(left));
            }
            Work::Present {
                block,
                cell,
                right,
                cold,
            } => {
                b.switch_to_block(block);
                let one = match kind {
                    Kind::I8 => 1,
                    Kind::F64 => 1.0f64.to_bits() as i64,
                };
                let is_one = b.ins().icmp_imm_u(IntCC::Equal, cell, one);
                let right_blk = block_of(&mut b, right);
                b.ins().brif(is_one, right_blk, &[], cold, &[]);
                stack.push(Work::Node(right));
            }
        }
    }
    let mut errors: HashMap<u32, Block> = HashMap::new();
    for c in &colds {
        b.switch_to_block(c.block);
        b.set_cold_block(c.block);
        let is_missing = match kind {
            Kind::I8 => b.ins().icmp_imm_u(IntCC::Equal, c.v, 0xFF),
            // NaN: exponent all ones and a nonzero mantissa, i.e. (bits << 1) > 0xFFE0...0.
            Kind::F64 => b.ins().icmp_imm_u(
                IntCC::UnsignedGreaterThan,
                c.v,
                0xFFE0_0000_0000_0000u64 as i64,
            ),
        };
        let missing_blk = block_of(&mut b, c.missing);
        let err = *errors.entry(c.feature).or_insert_with(|| b.create_block());
        b.ins().brif(is_missing, missing_blk, &[], err, &[]);
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
    let f64_entry = i8_code.len().next_multiple_of(64);
    let total = f64_entry + f64_code.len();
    let mut map = memmap2::MmapMut::map_anon(total).ok()?;
    map[..i8_code.len()].copy_from_slice(&i8_code);
    map[f64_entry..total].copy_from_slice(&f64_code);
    let map = map.make_exec().ok()?;
    Some(Placed {
        map,
        i8_entry: 0,
        f64_entry,
        code_len: i8_code.len() + f64_code.len(),
    })
}
