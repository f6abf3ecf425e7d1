//! Zig-zag varints as Kafka's v2 records use them (protobuf-style base-128, zig-zag signed).
//!
//! Readers take a slice and return the value with the number of bytes it took, so callers keep
//! their own cursor and never slice past the end. Non-minimal encodings (`0x80 0x00` for 0) are
//! accepted, as Kafka's `ByteUtils` accepts them; bits beyond the type's width are not, because
//! Java would silently drop them and the value read would then differ from the one meant.

use bytes::BufMut;

use super::CodecError;

/// Longest varint that can hold an `i32`.
pub(super) const MAX_VARINT_LEN: usize = 5;
/// Longest varint that can hold an `i64`.
pub(super) const MAX_VARLONG_LEN: usize = 10;

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn unsigned_len(mut v: u64) -> usize {
    let mut len = 1;
    while v >= 0x80 {
        v >>= 7;
        len += 1;
    }
    len
}

fn put_unsigned(out: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Reads an unsigned base-128 number of at most `max_len` bytes whose value fits in `bits` bits.
fn read_unsigned(buf: &[u8], max_len: usize, bits: u32) -> Result<(u64, usize), CodecError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().take(max_len).enumerate() {
        let shift = 7 * i as u32;
        let payload = u64::from(byte & 0x7f);
        // The last permitted byte may only carry the bits left over from the type's width.
        if bits - shift < 7 && payload >> (bits - shift) != 0 {
            return Err(CodecError::BadVarint);
        }
        value |= payload << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= max_len {
        Err(CodecError::BadVarint)
    } else {
        Err(CodecError::Truncated {
            needed: buf.len() + 1,
            available: buf.len(),
        })
    }
}

/// Encoded size of `v` as a zig-zag varint.
pub(super) fn varint_len(v: i32) -> usize {
    unsigned_len(u64::from(zigzag32(v)))
}

/// Encoded size of `v` as a zig-zag varlong.
pub(super) fn varlong_len(v: i64) -> usize {
    unsigned_len(zigzag64(v))
}

/// Appends `v` as a zig-zag varint (1–5 bytes).
pub(super) fn put_varint(out: &mut impl BufMut, v: i32) {
    put_unsigned(out, u64::from(zigzag32(v)));
}

/// Appends `v` as a zig-zag varlong (1–10 bytes).
pub(super) fn put_varlong(out: &mut impl BufMut, v: i64) {
    put_unsigned(out, zigzag64(v));
}

/// Reads a zig-zag varint from the start of `buf`, returning it and the bytes it took.
///
/// # Errors
/// [`CodecError::BadVarint`] when it runs past 5 bytes or past 32 bits,
/// [`CodecError::Truncated`] when `buf` ends inside it.
pub(super) fn read_varint(buf: &[u8]) -> Result<(i32, usize), CodecError> {
    let (raw, len) = read_unsigned(buf, MAX_VARINT_LEN, 32)?;
    // read_unsigned rejected every bit above 32, so this conversion is exact.
    Ok((unzigzag32(raw as u32), len))
}

/// Reads a zig-zag varlong from the start of `buf`, returning it and the bytes it took.
///
/// # Errors
/// [`CodecError::BadVarint`] when it runs past 10 bytes or past 64 bits,
/// [`CodecError::Truncated`] when `buf` ends inside it.
pub(super) fn read_varlong(buf: &[u8]) -> Result<(i64, usize), CodecError> {
    let (raw, len) = read_unsigned(buf, MAX_VARLONG_LEN, 64)?;
    Ok((unzigzag64(raw), len))
}
