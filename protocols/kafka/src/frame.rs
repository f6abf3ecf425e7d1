//! Kafka framing: every request and response is an `INT32` size followed by that many bytes.
//!
//! [`decode`] is pure (no I/O): it checks the size prefix against the frame cap before
//! reserving any memory, and returns `Ok(None)` until a whole frame is buffered.

use bytes::{Buf, Bytes, BytesMut};
use hubgate_protocol::{LimitError, checked_len};

/// Size of the length prefix.
pub const PREFIX_LEN: usize = 4;

/// Smallest request a frame can hold: api key, api version and correlation id.
pub const MIN_REQUEST_LEN: usize = 8;

/// Least room added to the read buffer while a frame is incomplete; beyond it the room grows
/// with the bytes already buffered (at most doubling them), so a large frame is read with a
/// logarithmic number of reallocations and a length prefix alone reserves one chunk.
pub const READ_CHUNK: usize = 64 * 1024;

/// A framing error: the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The size prefix is negative or above the cap.
    #[error(transparent)]
    Size(#[from] LimitError),
    /// The frame is too short to hold a request header.
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
}

/// Takes one whole frame (without its prefix) off the front of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed; in that case `buf` gets room for at most
/// [`READ_CHUNK`] or as many bytes as it already holds, whichever is more, never the frame's
/// declared size: memory follows the bytes that actually arrive.
///
/// # Errors
/// [`FrameError`] for a negative, oversized or undersized frame.
pub fn decode(buf: &mut BytesMut, max_frame: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < PREFIX_LEN {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let len = checked_len(i64::from(size), max_frame, "request size")?;
    if len < MIN_REQUEST_LEN {
        return Err(FrameError::TooShort(len));
    }
    if buf.len() < PREFIX_LEN + len {
        buf.reserve((PREFIX_LEN + len - buf.len()).min(READ_CHUNK.max(buf.len())));
        return Ok(None);
    }
    buf.advance(PREFIX_LEN);
    Ok(Some(buf.split_to(len).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> BytesMut {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(body.len() as i32).to_be_bytes());
        buf.extend_from_slice(body);
        buf
    }

    #[test]
    fn needs_more_until_whole() {
        let whole = framed(&[1u8; 10]);
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(decode(&mut part, 100), Ok(None), "cut at {cut}");
        }
        let mut buf = whole.clone();
        buf.extend_from_slice(&[9, 9]);
        assert_eq!(decode(&mut buf, 100).unwrap().unwrap().as_ref(), &[1u8; 10]);
        assert_eq!(buf.as_ref(), &[9, 9]);
    }

    #[test]
    fn size_is_checked_before_reserving() {
        let mut buf = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        assert!(matches!(
            decode(&mut buf, 1000),
            Err(FrameError::Size(LimitError::TooLarge { .. }))
        ));
        assert!(
            buf.capacity() < 1000,
            "nothing reserved for a rejected size"
        );
        let mut buf = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert!(matches!(
            decode(&mut buf, 1000),
            Err(FrameError::Size(LimitError::Negative { .. }))
        ));
    }

    #[test]
    fn one_over_the_cap_is_refused_and_the_cap_itself_accepted() {
        let mut at = BytesMut::from(&100i32.to_be_bytes()[..]);
        assert_eq!(decode(&mut at, 100), Ok(None));
        let mut over = BytesMut::from(&101i32.to_be_bytes()[..]);
        assert!(decode(&mut over, 100).is_err());
    }

    #[test]
    fn a_large_declared_size_reserves_one_chunk_not_the_frame() {
        let mut buf = BytesMut::from(&(90i32 * 1024 * 1024).to_be_bytes()[..]);
        assert_eq!(decode(&mut buf, 100 * 1024 * 1024), Ok(None));
        assert!(
            buf.capacity() <= 2 * (READ_CHUNK + PREFIX_LEN),
            "reserved {} bytes for a frame of which 0 bytes arrived",
            buf.capacity()
        );
    }

    #[test]
    fn too_short_for_a_header_is_a_framing_error() {
        let mut buf = framed(&[0u8; 7]);
        assert_eq!(decode(&mut buf, 100), Err(FrameError::TooShort(7)));
    }
}
