//! Produce v0–2: advertised (old librdkafka enables compression only when Produce v0 is listed)
//! but not served, since they carry message format v0/v1. The `kafka-protocol` crate cannot
//! decode them, so the request is walked here just far enough to answer every partition with
//! UNSUPPORTED_VERSION, as Kafka 4 does.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::dispatch::Outcome;
use crate::error::code;

/// One topic of the request: its name bytes and partition indexes.
type Topic = (Bytes, Vec<i32>);

/// Answers a Produce v0–2 request (`body` is after the request header).
pub(crate) fn handle(version: i16, correlation_id: i32, body: Bytes) -> Outcome {
    let Some((acks, topics)) = parse(body) else {
        return Outcome::Close("malformed produce request");
    };
    if acks == 0 {
        return Outcome::NoResponse;
    }
    let mut out = BytesMut::new();
    out.put_i32(0);
    out.put_i32(correlation_id);
    out.put_i32(topics.len() as i32);
    for (name, partitions) in topics {
        out.put_i16(name.len() as i16);
        out.put_slice(&name);
        out.put_i32(partitions.len() as i32);
        for index in partitions {
            out.put_i32(index);
            out.put_i16(code::UNSUPPORTED_VERSION);
            out.put_i64(-1);
            if version >= 2 {
                out.put_i64(-1);
            }
        }
    }
    if version >= 1 {
        out.put_i32(0);
    }
    let len = (out.len() - 4) as i32;
    out[0..4].copy_from_slice(&len.to_be_bytes());
    Outcome::Respond(out.freeze())
}

fn parse(mut buf: Bytes) -> Option<(i16, Vec<Topic>)> {
    let acks = get_i16(&mut buf)?;
    let _timeout = get_i32(&mut buf)?;
    // Every topic takes at least 6 bytes and every partition 8, so counts beyond what the
    // bytes left could hold are refused before anything is reserved.
    let count = usize::try_from(get_i32(&mut buf)?).ok()?;
    if count > buf.remaining() / 6 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(get_i16(&mut buf)?).ok()?;
        if buf.remaining() < len {
            return None;
        }
        let name = buf.split_to(len);
        let partitions = usize::try_from(get_i32(&mut buf)?).ok()?;
        if partitions > buf.remaining() / 8 {
            return None;
        }
        let mut indexes = Vec::with_capacity(partitions);
        for _ in 0..partitions {
            indexes.push(get_i32(&mut buf)?);
            let size = get_i32(&mut buf)?;
            if size > 0 {
                let size = size as usize;
                if buf.remaining() < size {
                    return None;
                }
                buf.advance(size);
            }
        }
        topics.push((name, indexes));
    }
    Some((acks, topics))
}

fn get_i16(buf: &mut Bytes) -> Option<i16> {
    (buf.remaining() >= 2).then(|| buf.get_i16())
}

fn get_i32(buf: &mut Bytes) -> Option<i32> {
    (buf.remaining() >= 4).then(|| buf.get_i32())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(acks: i16) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(acks);
        b.put_i32(1000);
        b.put_i32(1);
        b.put_i16(1);
        b.put_u8(b't');
        b.put_i32(2);
        for index in [0, 3] {
            b.put_i32(index);
            b.put_i32(3);
            b.put_slice(b"abc");
        }
        b.freeze()
    }

    #[test]
    fn every_partition_gets_unsupported_version() {
        let Outcome::Respond(frame) = handle(2, 9, request(-1)) else {
            panic!("no response");
        };
        let mut f = frame;
        assert_eq!(f.get_i32() as usize, f.remaining());
        assert_eq!(f.get_i32(), 9);
        assert_eq!(f.get_i32(), 1);
        assert_eq!(f.get_i16(), 1);
        assert_eq!(f.get_u8(), b't');
        assert_eq!(f.get_i32(), 2);
        for index in [0, 3] {
            assert_eq!(f.get_i32(), index);
            assert_eq!(f.get_i16(), code::UNSUPPORTED_VERSION);
            assert_eq!(f.get_i64(), -1);
            assert_eq!(f.get_i64(), -1);
        }
        assert_eq!(f.get_i32(), 0);
        assert!(!f.has_remaining());
    }

    #[test]
    fn acks_zero_and_malformed_requests() {
        assert_eq!(handle(0, 1, request(0)), Outcome::NoResponse);
        let whole = request(1);
        for cut in 0..whole.len() {
            assert!(
                matches!(handle(0, 1, whole.slice(..cut)), Outcome::Close(_)),
                "{cut}"
            );
        }
        let mut huge = BytesMut::new();
        huge.put_i16(1);
        huge.put_i32(0);
        huge.put_i32(i32::MAX);
        assert!(matches!(handle(0, 1, huge.freeze()), Outcome::Close(_)));
    }
}
