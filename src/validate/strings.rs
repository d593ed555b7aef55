//! The string sections: NUL-terminated UTF-8 texts and string tables (layout in
//! [`crate::format`]).

use super::corrupt;
use crate::error::{Error, Result, Status};
use crate::format::MAX_NAME_LEN;

/// Check a NUL-terminated UTF-8 text section; returns the text without its NUL.
pub(super) fn check_text<'a>(sec: &'a [u8], off: usize, cap: usize, what: &str) -> Result<&'a str> {
    let Some((&0, body)) = sec.split_last() else {
        return Err(corrupt(off, format!("{what} is not NUL-terminated")));
    };
    if body.len() > cap {
        return Err(Error::at(
            Status::Limit,
            off as u64,
            format!("{what} is {} bytes, above the cap of {cap}", body.len()),
        ));
    }
    if let Some(p) = body.iter().position(|&b| b == 0) {
        return Err(corrupt(off + p, format!("{what} contains a NUL byte")));
    }
    std::str::from_utf8(body)
        .map_err(|e| corrupt(off + e.valid_up_to(), format!("{what} is not valid UTF-8")))
}

fn u32_at(sec: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([sec[4 * i], sec[4 * i + 1], sec[4 * i + 2], sec[4 * i + 3]])
}

/// Check a string table of `n` strings (layout in [`crate::format`]).
pub(super) fn check_string_table(sec: &[u8], off: usize, n: usize, what: &str) -> Result<()> {
    let index_len = 8 * n;
    if sec.len() < index_len {
        return Err(Error::at(
            Status::Layout,
            off as u64,
            format!(
                "{what}: section of {} bytes cannot hold the index of {n} strings",
                sec.len()
            ),
        ));
    }
    let blob = &sec[index_len..];
    let blob_off = off + index_len;
    let mut start = 0usize;
    for i in 0..n {
        let end = u32_at(sec, i) as usize;
        let at = (off + 4 * i) as u64;
        if end <= start || end > blob.len() {
            return Err(Error::at(
                Status::Bounds,
                at,
                format!(
                    "{what}: string {i} ends at {end}, outside ({start}, {}]",
                    blob.len()
                ),
            ));
        }
        let s = &blob[start..end];
        if end - start - 1 > MAX_NAME_LEN {
            return Err(Error::at(
                Status::Limit,
                at,
                format!(
                    "{what}: string {i} is {} bytes, above the cap of {MAX_NAME_LEN}",
                    end - start - 1
                ),
            ));
        }
        check_text(s, blob_off + start, MAX_NAME_LEN, what)?;
        start = end;
    }
    if start != blob.len() {
        return Err(Error::at(
            Status::Layout,
            (blob_off + start) as u64,
            format!("{what}: {} bytes after the last string", blob.len() - start),
        ));
    }
    let name = |i: usize| -> &[u8] {
        let s = if i == 0 {
            0
        } else {
            u32_at(sec, i - 1) as usize
        };
        &blob[s..u32_at(sec, i) as usize - 1]
    };
    let mut prev: Option<usize> = None;
    for k in 0..n {
        let at = (off + 4 * (n + k)) as u64;
        let idx = u32_at(sec, n + k) as usize;
        if idx >= n {
            return Err(Error::at(
                Status::Corrupt,
                at,
                format!("{what}: sorted index entry {k} is {idx}, out of range"),
            ));
        }
        if let Some(p) = prev {
            if name(p) >= name(idx) {
                return Err(Error::at(Status::Corrupt, at, format!("{what}: sorted index is not strictly increasing at entry {k} (duplicate or unsorted name)")));
            }
        }
        prev = Some(idx);
    }
    Ok(())
}
