//! The records section of a v2 batch: one varint-framed record after another.
//!
//! ```text
//! length            varint   bytes after this field
//! attributes        i8       unused by Kafka; written as 0, ignored on read
//! timestampDelta    varlong  from the batch's base timestamp
//! offsetDelta       varint   from the batch's base offset
//! keyLength         varint   -1 = null key
//! key               bytes
//! valueLength       varint   -1 = null value
//! value             bytes
//! headerCount       varint
//!   headerKeyLength   varint  never null
//!   headerKey         UTF-8
//!   headerValueLength varint  -1 = null value
//!   headerValue       bytes
//! ```
//!
//! Decoding hands out `Bytes` slices of the (decompressed) section, so keys, values and header
//! values are never copied. Every count read from the wire only bounds a loop; memory is
//! reserved according to what the remaining bytes could hold, never according to the count.

use bytes::{BufMut, Bytes, BytesMut};

use super::varint::{put_varint, put_varlong, read_varint, read_varlong, varint_len, varlong_len};
use super::{BatchHeader, CodecError, Limits, TimestampType};
use crate::record::{Header, Record};

/// Smallest possible encoded record: length, attributes, timestamp delta, offset delta, key
/// length, value length and header count, one byte each.
const MIN_RECORD_LEN: usize = 7;
/// Smallest possible encoded header: key length and value length, one byte each.
const MIN_HEADER_LEN: usize = 2;

/// Wire length of a field: Kafka lengths are `i32`. Nothing that large fits in a batch
/// (`RecordBatch::encode` refuses sections over `i32::MAX`), so saturating cannot change a
/// batch that is actually written.
fn wire_len(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

fn nullable_len(bytes: Option<&Bytes>) -> i32 {
    bytes.map_or(-1, |b| wire_len(b.len()))
}

fn sized_field_len(len: i32) -> usize {
    varint_len(len) + len.max(0) as usize
}

/// Appends one record to `out`, length prefix included.
pub(super) fn encode_record(
    record: &Record,
    offset_delta: i32,
    timestamp_delta: i64,
    out: &mut BytesMut,
) {
    let key_len = nullable_len(record.key.as_ref());
    let value_len = nullable_len(record.value.as_ref());
    let header_count = wire_len(record.headers.len());

    // The length prefix comes first, so size the body before writing any of it.
    let mut body_len = 1 // attributes
        + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + sized_field_len(key_len)
        + sized_field_len(value_len)
        + varint_len(header_count);
    for header in &record.headers {
        body_len += sized_field_len(wire_len(header.key.len()));
        body_len += sized_field_len(nullable_len(header.value.as_ref()));
    }
    let body_len_wire = wire_len(body_len);

    out.reserve(varint_len(body_len_wire) + body_len);
    put_varint(out, body_len_wire);
    out.put_i8(0);
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    put_nullable(out, record.key.as_ref());
    put_nullable(out, record.value.as_ref());
    put_varint(out, header_count);
    for header in &record.headers {
        put_varint(out, wire_len(header.key.len()));
        out.put_slice(header.key.as_bytes());
        put_nullable(out, header.value.as_ref());
    }
}

fn put_nullable(out: &mut BytesMut, bytes: Option<&Bytes>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, wire_len(b.len()));
            out.put_slice(b);
        }
    }
}

/// Decodes exactly `header.record_count` records from an uncompressed records section.
///
/// # Errors
/// [`CodecError`] for a negative or over-limit record count, malformed varints, negative or
/// out-of-range lengths, non-UTF-8 header keys, records whose length prefix disagrees with
/// their content, fewer records than the header promises, or bytes left after the last one.
pub(super) fn decode_records(
    body: &Bytes,
    header: &BatchHeader,
    limits: &Limits,
) -> Result<Vec<Record>, CodecError> {
    // `RecordBatch::parse` checks these too, but `from_stored` does not, so check again here.
    if header.record_count < 0 {
        return Err(CodecError::Negative {
            field: "record count",
            value: header.record_count.into(),
        });
    }
    let count = header.record_count as usize;
    if count > limits.max_records {
        return Err(CodecError::TooLarge {
            field: "record count",
            value: count as u64,
            limit: limits.max_records as u64,
        });
    }

    let log_append_time = header.timestamp_type() == TimestampType::LogAppendTime;
    let mut section = Reader::new(body);
    let mut records = Vec::with_capacity(count.min(body.len() / MIN_RECORD_LEN));
    // Smallest offset delta the next record may have.
    let mut next_delta = 0i64;
    for _ in 0..count {
        if section.remaining() == 0 {
            return Err(CodecError::Inconsistent(
                "record count is larger than the records present",
            ));
        }
        let len = section.length("record length")?;
        // Parse the record with a reader that ends where the record says it ends, so a field
        // cannot borrow bytes from the next record.
        let mut record = section.split(len)?;
        let (offset_delta, record) = decode_record(&mut record, header, log_append_time)?;
        // Kafka's reader takes any delta, but offsets outside the batch's range or out of
        // order would break the log's offset order (compaction leaves gaps, never reversals).
        if i64::from(offset_delta) < next_delta || offset_delta > header.last_offset_delta {
            return Err(CodecError::Inconsistent(
                "record offsets must ascend within the batch's offset range",
            ));
        }
        next_delta = i64::from(offset_delta) + 1;
        records.push(record);
    }
    if section.remaining() != 0 {
        return Err(CodecError::Inconsistent("bytes left after the last record"));
    }
    Ok(records)
}

fn decode_record(
    record: &mut Reader<'_>,
    header: &BatchHeader,
    log_append_time: bool,
) -> Result<(i32, Record), CodecError> {
    // Record attributes are unused in v2; Kafka ignores them, and so does hubgate.
    record.skip(1)?;
    let timestamp_delta = record.varlong()?;
    let offset_delta = record.varint()?;
    let key = record.nullable_bytes("key length")?;
    let value = record.nullable_bytes("value length")?;
    let header_count = record.varint()?;
    if header_count < 0 {
        return Err(CodecError::Negative {
            field: "header count",
            value: header_count.into(),
        });
    }
    let header_count = header_count as usize;
    let mut headers = Vec::with_capacity(header_count.min(record.remaining() / MIN_HEADER_LEN));
    for _ in 0..header_count {
        let key_len = record.length("header key length")?;
        let key = record.take_slice(key_len)?;
        let key = std::str::from_utf8(key).map_err(|_| CodecError::InvalidHeaderKey)?;
        let value = record.nullable_bytes("header value length")?;
        headers.push(Header::new(key, value));
    }
    if record.remaining() != 0 {
        return Err(CodecError::Inconsistent(
            "record length does not match its contents",
        ));
    }

    let offset = header
        .base_offset
        .checked_add(offset_delta.into())
        .ok_or(CodecError::Inconsistent("record offset overflows"))?;
    let timestamp = if log_append_time {
        header.max_timestamp
    } else {
        header
            .base_timestamp
            .checked_add(timestamp_delta)
            .ok_or(CodecError::Inconsistent("record timestamp overflows"))?
    };
    let record = Record {
        offset,
        timestamp,
        key,
        value,
        headers,
    };
    Ok((offset_delta, record))
}

/// A read window `pos..end` over the records section; `pos <= end <= buf.len()` always holds,
/// so none of the slicing below can go out of bounds.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a Bytes) -> Self {
        Self {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn rest(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn check(&self, n: usize) -> Result<(), CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated {
                needed: n,
                available: self.remaining(),
            });
        }
        Ok(())
    }

    fn skip(&mut self, n: usize) -> Result<(), CodecError> {
        self.check(n)?;
        self.pos += n;
        Ok(())
    }

    /// Splits off the next `n` bytes as a reader of their own.
    fn split(&mut self, n: usize) -> Result<Reader<'a>, CodecError> {
        self.check(n)?;
        let inner = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + n,
        };
        self.pos += n;
        Ok(inner)
    }

    /// Takes the next `n` bytes as a plain borrow (for data that is copied anyway).
    fn take_slice(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        self.check(n)?;
        let buf: &'a Bytes = self.buf;
        let bytes = &buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Takes the next `n` bytes as a zero-copy slice of the section.
    fn take(&mut self, n: usize) -> Result<Bytes, CodecError> {
        self.check(n)?;
        let bytes = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(bytes)
    }

    fn varint(&mut self) -> Result<i32, CodecError> {
        let (value, used) = read_varint(self.rest())?;
        self.pos += used;
        Ok(value)
    }

    fn varlong(&mut self) -> Result<i64, CodecError> {
        let (value, used) = read_varlong(self.rest())?;
        self.pos += used;
        Ok(value)
    }

    /// Reads a length that may not be negative.
    fn length(&mut self, field: &'static str) -> Result<usize, CodecError> {
        let len = self.varint()?;
        if len < 0 {
            return Err(CodecError::Negative {
                field,
                value: len.into(),
            });
        }
        Ok(len as usize)
    }

    /// Reads a length-prefixed byte field where length -1 means null.
    fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<Bytes>, CodecError> {
        match self.varint()? {
            -1 => Ok(None),
            len if len < 0 => Err(CodecError::Negative {
                field,
                value: len.into(),
            }),
            len => self.take(len as usize).map(Some),
        }
    }
}
