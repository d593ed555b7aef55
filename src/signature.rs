//! Model signing (HMAC-SHA256) and model identity (SHA-256).
//!
//! A signed file is the model followed by the 64-byte trailer that [`crate::format`] lays out
//! (magic, key id, signed length, zero, MAC). This module computes and checks the MACs.
//!
//! Verification runs before any parsing: it distinguishes an unsigned file, a file signed with
//! another key (key id differs) and a file modified after signing (key id matches, MAC does not).
//! The MAC is compared in constant time. The key id is itself a MAC, so it reveals nothing about
//! the key.

use crate::error::{Error, Result, Status};
use crate::format::trailer_field::{KEY_ID, MAC, SIGNED_LEN};
use crate::format::{field, is_trailer, HEADER_LEN, MAGIC};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The trailer's layout lives with the format; re-exported for callers of this module.
pub use crate::format::{TRAILER_LEN, TRAILER_MAGIC};

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// The key id written into a trailer.
pub fn key_id(key: &[u8]) -> [u8; 8] {
    let mut m = mac(key);
    m.update(b"thetatree key id");
    let full = m.finalize().into_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(&full[..8]);
    id
}

/// The model length a header declares, if the bytes have a readable header.
fn declared_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
        return None;
    }
    let at = field::FILE_LEN as usize;
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    usize::try_from(u64::from_le_bytes(b)).ok()
}

/// Append a signature trailer to a model (replacing an existing one).
pub fn sign(bytes: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    if key.is_empty() {
        return Err(Error::new(Status::NoKey, "signing needs a non-empty key"));
    }
    let layout = crate::validate::validate(bytes)?;
    let model = &bytes[..layout.model_len()];
    let mut out = model.to_vec();
    let mut trailer = [0u8; TRAILER_LEN];
    trailer[..KEY_ID].copy_from_slice(&TRAILER_MAGIC);
    trailer[KEY_ID..SIGNED_LEN].copy_from_slice(&key_id(key));
    trailer[SIGNED_LEN..SIGNED_LEN + 8].copy_from_slice(&(model.len() as u64).to_le_bytes());
    let mut m = mac(key);
    m.update(model);
    m.update(&trailer[..MAC]);
    trailer[MAC..].copy_from_slice(&m.finalize().into_bytes());
    out.extend_from_slice(&trailer);
    Ok(out)
}

/// Where a file's signature trailer sits, if the file carries one (intact or not).
///
/// A file is treated as signed when its last 64 bytes start with the trailer magic, or when its
/// header's declared length plus 64 is its length (the trailer magic itself was damaged). Either
/// way a damaged signed file is reported as tampered, never as unsigned: "unsigned" invites an
/// operator to re-sign it.
fn trailer_start(bytes: &[u8]) -> Option<usize> {
    let at = bytes.len().checked_sub(TRAILER_LEN)?;
    if bytes[at..at + KEY_ID] == TRAILER_MAGIC || declared_len(bytes) == Some(at) {
        Some(at)
    } else {
        None
    }
}

/// Check the signature of `bytes` with `key`, before any structural parsing.
pub fn verify(bytes: &[u8], key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(
            Status::NoKey,
            "signature verification was requested without a key",
        ));
    }
    let model_len = trailer_start(bytes).ok_or_else(|| {
        Error::new(
            Status::Unsigned,
            "the model carries no signature trailer (sign it with `thetatree sign`)",
        )
    })?;
    let tampered = |at: usize, what: &str| {
        Error::at(
            Status::BadSignature,
            at as u64,
            format!("signature mismatch: {what}; the file was modified after it was signed"),
        )
    };
    let trailer = &bytes[model_len..];
    if trailer[KEY_ID..SIGNED_LEN] != key_id(key) {
        if trailer[..KEY_ID] != TRAILER_MAGIC {
            return Err(tampered(
                model_len,
                "the signature trailer's magic is damaged",
            ));
        }
        return Err(Error::at(
            Status::KeyMismatch,
            (model_len + KEY_ID) as u64,
            "the model is signed with a different key",
        ));
    }
    let mut m = mac(key);
    m.update(&bytes[..model_len]);
    m.update(&trailer[..MAC]);
    // `verify_slice` compares in constant time.
    m.verify_slice(&trailer[MAC..])
        .map_err(|_| tampered(model_len + MAC, "the HMAC does not match"))?;
    // The MAC covers these fields, so they can only disagree if the signer wrote them wrong;
    // check anyway so that a signed file always has exactly the shape `sign` writes.
    if !is_trailer(trailer, model_len as u64) || declared_len(bytes) != Some(model_len) {
        return Err(tampered(
            model_len,
            "the trailer does not match the model's length",
        ));
    }
    Ok(())
}

/// SHA-256 of the model bytes (without any signature trailer): the model's identity.
pub fn digest(model: &[u8]) -> [u8; 32] {
    Sha256::digest(model).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
