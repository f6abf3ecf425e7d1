//! Kafka v2 record batches: the one on-disk and in-flight format of hubgate.
//!
//! Layout (all big-endian), as in Kafka's `DefaultRecordBatch`:
//!
//! | bytes    | field                  | notes                                  |
//! |----------|------------------------|----------------------------------------|
//! | 0..8     | base offset            | patched by the log on append           |
//! | 8..12    | batch length           | bytes after this field                 |
//! | 12..16   | partition leader epoch | patched by the log on append           |
//! | 16       | magic                  | always 2                               |
//! | 17..21   | CRC-32C                | over bytes 21..end                     |
//! | 21..23   | attributes             | codec, timestamp type, txn, control    |
//! | 23..27   | last offset delta      |                                        |
//! | 27..35   | base timestamp         |                                        |
//! | 35..43   | max timestamp          |                                        |
//! | 43..51   | producer id            |                                        |
//! | 51..53   | producer epoch         |                                        |
//! | 53..57   | base sequence          |                                        |
//! | 57..61   | record count           |                                        |
//! | 61..     | records                | compressed as one unit when a codec is set |
//!
//! The codec is written here rather than taken from the `kafka-protocol` crate because that
//! crate's record model collapses duplicate header keys, drops `lastOffsetDelta`/`maxTimestamp`
//! and sizes allocations from wire counts; hubgate needs all three right. Every length and count
//! read from the wire is checked against [`Limits`] before memory is reserved for it.

mod compression;
mod rebuild;
mod records;
mod varint;

use bytes::{BufMut, Bytes, BytesMut};

use crate::record::{Offset, Record};

/// Length of the fixed batch header, up to and including the record count.
pub const HEADER_LEN: usize = 61;
/// Bytes covered by neither the batch length nor the CRC: base offset + batch length.
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the first CRC-covered byte (attributes).
const CRC_START: usize = 21;
/// The only record batch format hubgate reads and writes.
pub const MAGIC: i8 = 2;
/// `producerId` of a batch from a non-idempotent producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producerEpoch` of a batch from a non-idempotent producer.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `baseSequence` of a batch from a non-idempotent producer.
pub const NO_SEQUENCE: i32 = -1;

const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

/// Errors from decoding or encoding record batches. Every one of them describes bad input;
/// none is a reason to panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input ended before a complete field or batch.
    #[error("truncated input: needed {needed} bytes, {available} available")]
    Truncated {
        /// Bytes needed to continue.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A length or count field is negative where that is not allowed.
    #[error("negative {field}: {value}")]
    Negative {
        /// Which field.
        field: &'static str,
        /// The value read.
        value: i64,
    },
    /// A length or count exceeds the configured limit.
    #[error("{field} of {value} exceeds the limit of {limit}")]
    TooLarge {
        /// Which field.
        field: &'static str,
        /// The value read or computed.
        value: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The batch is not magic 2.
    #[error("unsupported record batch magic {0} (only 2 is supported)")]
    UnsupportedMagic(i8),
    /// The stored CRC does not match the content.
    #[error("CRC mismatch: batch says {stored:#010x}, content gives {computed:#010x}")]
    CrcMismatch {
        /// CRC in the batch header.
        stored: u32,
        /// CRC computed over the batch.
        computed: u32,
    },
    /// The compression bits name no known codec.
    #[error("unknown compression codec {0}")]
    UnknownCompression(i16),
    /// Decompressing the records failed.
    #[error("{codec:?} decompression failed: {reason}")]
    Decompress {
        /// Codec that failed.
        codec: Compression,
        /// What the codec reported.
        reason: String,
    },
    /// Compressing the records failed.
    #[error("{codec:?} compression failed: {reason}")]
    Compress {
        /// Codec that failed.
        codec: Compression,
        /// What the codec reported.
        reason: String,
    },
    /// A varint is longer than its type allows.
    #[error("malformed varint")]
    BadVarint,
    /// A header key is not UTF-8.
    #[error("record header key is not valid UTF-8")]
    InvalidHeaderKey,
    /// The records do not match what the batch header says.
    #[error("inconsistent batch: {0}")]
    Inconsistent(&'static str),
}

/// Compression codec of a batch (attributes bits 0–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Uncompressed.
    #[default]
    None,
    /// gzip (RFC 1952).
    Gzip,
    /// Snappy; raw blocks or the xerial framing the Java client writes.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The codec for the attribute bits, if known.
    pub fn from_attributes(attributes: i16) -> Result<Self, CodecError> {
        match attributes & ATTR_COMPRESSION_MASK {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(CodecError::UnknownCompression(other)),
        }
    }

    /// The attribute bits of this codec.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }
}

/// Which clock the record timestamps come from (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the log when the batch was appended; every record takes `max_timestamp`.
    LogAppendTime,
}

/// Caps on everything a peer controls while decoding. Checked before any allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest batch accepted, header included.
    pub max_batch_bytes: usize,
    /// Largest record count accepted in one batch.
    pub max_records: usize,
    /// Largest size the records of one batch may decompress to.
    pub max_uncompressed_bytes: usize,
}

impl Default for Limits {
    /// 16 MiB batches, one million records, 64 MiB decompressed.
    fn default() -> Self {
        Self {
            max_batch_bytes: 16 << 20,
            max_records: 1 << 20,
            max_uncompressed_bytes: 64 << 20,
        }
    }
}

/// The fixed header of a v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// Bytes after the batch length field.
    pub batch_length: i32,
    /// Leader epoch of the partition when appended.
    pub partition_leader_epoch: i32,
    /// Format version; always 2.
    pub magic: i8,
    /// CRC-32C of bytes 21..end.
    pub crc: u32,
    /// Codec, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// Offset of the last record minus the base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (the append time for log-append-time batches).
    pub max_timestamp: i64,
    /// Idempotent producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// Idempotent producer epoch, or [`NO_PRODUCER_EPOCH`].
    pub producer_epoch: i16,
    /// Sequence of the first record, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Decodes the fixed header from the start of `buf` without checking the CRC.
    pub fn decode(buf: &[u8]) -> Result<Self, CodecError> {
        if buf.len() < HEADER_LEN {
            return Err(CodecError::Truncated {
                needed: HEADER_LEN,
                available: buf.len(),
            });
        }
        let header = Self {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, 12),
            magic: buf[16] as i8,
            crc: be_i32(buf, 17) as u32,
            attributes: be_i16(buf, 21),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            record_count: be_i32(buf, 57),
        };
        if header.magic != MAGIC {
            return Err(CodecError::UnsupportedMagic(header.magic));
        }
        Ok(header)
    }

    /// Total size of the batch in bytes, header included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> Offset {
        // Saturating: both fields come from the peer, and overflow must not panic.
        self.base_offset
            .saturating_add(Offset::from(self.last_offset_delta))
    }

    /// The codec of the records section.
    pub fn compression(&self) -> Result<Compression, CodecError> {
        Compression::from_attributes(self.attributes)
    }

    /// Where the record timestamps come from.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_LOG_APPEND_TIME != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Whether the batch comes from an idempotent producer.
    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0
    }
}

/// A validated record batch: one complete v2 batch whose header has been parsed.
///
/// It owns the batch's bytes exactly as they came (or as stored); reading the header or
/// patching the base offset never re-encodes the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    bytes: Bytes,
    header: BatchHeader,
}

impl RecordBatch {
    /// Parses exactly one batch from `bytes`, checking length, magic, counts and CRC.
    ///
    /// # Errors
    /// [`CodecError`] when the batch is truncated, longer than its length field, over a
    /// limit, not magic 2, or fails its CRC.
    pub fn parse(bytes: Bytes, limits: &Limits) -> Result<Self, CodecError> {
        let batch = Self::parse_header(bytes, limits)?;
        if batch.bytes.len() != batch.header.total_len() {
            return Err(CodecError::Inconsistent(
                "batch length field does not match the input",
            ));
        }
        batch.verify_crc()?;
        Ok(batch)
    }

    /// Splits a Kafka `records` field (batches back to back) into validated batches.
    ///
    /// # Errors
    /// As [`RecordBatch::parse`] for any batch; a trailing partial batch is
    /// [`CodecError::Truncated`].
    pub fn split(mut bytes: Bytes, limits: &Limits) -> Result<Vec<Self>, CodecError> {
        let mut batches = Vec::new();
        while !bytes.is_empty() {
            let len = Self::peek_total_len(&bytes, limits)?;
            if bytes.len() < len {
                return Err(CodecError::Truncated {
                    needed: len,
                    available: bytes.len(),
                });
            }
            batches.push(Self::parse(bytes.split_to(len), limits)?);
        }
        Ok(batches)
    }

    /// Rebuilds a batch from bytes the log stored itself: the header is parsed and checked
    /// for consistency, the CRC is not recomputed (it was checked on the way in).
    ///
    /// # Errors
    /// [`CodecError`] when the bytes are not one complete batch.
    pub fn from_stored(bytes: Bytes) -> Result<Self, CodecError> {
        let header = BatchHeader::decode(&bytes)?;
        if bytes.len() != header.total_len() || header.batch_length < 0 {
            return Err(CodecError::Inconsistent(
                "stored batch length does not match its header",
            ));
        }
        Ok(Self { bytes, header })
    }

    /// Reads the total length of the batch at the start of `buf` from its length field, checked
    /// against the limits, without needing the whole batch.
    ///
    /// # Errors
    /// [`CodecError::Truncated`] if fewer than 12 bytes are present, [`CodecError::Negative`]
    /// or [`CodecError::TooLarge`] for a bad length field.
    pub fn peek_total_len(buf: &[u8], limits: &Limits) -> Result<usize, CodecError> {
        if buf.len() < LOG_OVERHEAD {
            return Err(CodecError::Truncated {
                needed: LOG_OVERHEAD,
                available: buf.len(),
            });
        }
        let batch_length = be_i32(buf, 8);
        if batch_length < 0 {
            return Err(CodecError::Negative {
                field: "batch length",
                value: batch_length.into(),
            });
        }
        let total = LOG_OVERHEAD + batch_length as usize;
        if total < HEADER_LEN {
            return Err(CodecError::Inconsistent(
                "batch length shorter than the header",
            ));
        }
        if total > limits.max_batch_bytes {
            return Err(CodecError::TooLarge {
                field: "batch length",
                value: total as u64,
                limit: limits.max_batch_bytes as u64,
            });
        }
        Ok(total)
    }

    fn parse_header(bytes: Bytes, limits: &Limits) -> Result<Self, CodecError> {
        Self::peek_total_len(&bytes, limits)?;
        let header = BatchHeader::decode(&bytes)?;
        if header.record_count < 0 {
            return Err(CodecError::Negative {
                field: "record count",
                value: header.record_count.into(),
            });
        }
        if header.record_count as usize > limits.max_records {
            return Err(CodecError::TooLarge {
                field: "record count",
                value: header.record_count as u64,
                limit: limits.max_records as u64,
            });
        }
        if header.last_offset_delta < 0 {
            return Err(CodecError::Negative {
                field: "last offset delta",
                value: header.last_offset_delta.into(),
            });
        }
        header.compression()?;
        Ok(Self { bytes, header })
    }

    /// Checks the CRC-32C over bytes 21..end.
    ///
    /// # Errors
    /// [`CodecError::CrcMismatch`] when the content does not match.
    pub fn verify_crc(&self) -> Result<(), CodecError> {
        let computed = crc32c::crc32c(&self.bytes[CRC_START..]);
        if computed != self.header.crc {
            return Err(CodecError::CrcMismatch {
                stored: self.header.crc,
                computed,
            });
        }
        Ok(())
    }

    /// The parsed header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The batch's bytes (header included).
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Consumes the batch, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Size of the batch in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the batch has no bytes (never true for a parsed batch; see
    /// [`BatchHeader::record_count`] for the number of records).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> Offset {
        self.header.base_offset
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> Offset {
        self.header.last_offset()
    }

    /// Sets the base offset and partition leader epoch. Both lie outside the CRC, so the
    /// records and checksum stay as they are.
    pub fn assign(&mut self, base_offset: Offset, partition_leader_epoch: i32) {
        let mut bytes = self.take_mut();
        bytes[0..8].copy_from_slice(&base_offset.to_be_bytes());
        bytes[12..16].copy_from_slice(&partition_leader_epoch.to_be_bytes());
        self.bytes = bytes.freeze();
        self.header.base_offset = base_offset;
        self.header.partition_leader_epoch = partition_leader_epoch;
    }

    /// Marks the batch as log-append-time stamped at `timestamp` (Kafka's
    /// `message.timestamp.type=LogAppendTime`): sets the attribute bit and the max timestamp and
    /// recomputes the CRC.
    pub fn stamp_log_append_time(&mut self, timestamp: i64) {
        let mut bytes = self.take_mut();
        let attributes = self.header.attributes | ATTR_LOG_APPEND_TIME;
        bytes[21..23].copy_from_slice(&attributes.to_be_bytes());
        bytes[35..43].copy_from_slice(&timestamp.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[CRC_START..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        self.bytes = bytes.freeze();
        self.header.attributes = attributes;
        self.header.max_timestamp = timestamp;
        self.header.crc = crc;
    }

    fn take_mut(&mut self) -> BytesMut {
        // `try_into_mut` avoids the copy when this is the only handle to the buffer.
        match std::mem::take(&mut self.bytes).try_into_mut() {
            Ok(bytes) => bytes,
            Err(shared) => BytesMut::from(&shared[..]),
        }
    }

    /// Decompresses and decodes the records, with absolute offsets and timestamps.
    ///
    /// # Errors
    /// [`CodecError`] for a malformed, oversized or inconsistent records section.
    pub fn records(&self, limits: &Limits) -> Result<Vec<Record>, CodecError> {
        let body = self.bytes.slice(HEADER_LEN..);
        let body = match self.header.compression()? {
            Compression::None => body,
            codec => compression::decompress(codec, &body, limits.max_uncompressed_bytes)?,
        };
        records::decode_records(&body, &self.header, limits)
    }

    /// Encodes `records` into a new batch. Offsets are taken relative to
    /// `options.base_offset`; they must be ascending and within `i32` of it.
    ///
    /// # Errors
    /// [`CodecError`] if the offsets do not fit the batch or compression fails.
    pub fn encode(records: &[Record], options: &EncodeOptions) -> Result<Self, CodecError> {
        let base_timestamp = records.first().map_or(-1, |r| r.timestamp);
        let mut max_timestamp = base_timestamp;
        let mut last_offset_delta = 0i32;
        let mut body = BytesMut::new();
        let mut previous = None;
        for record in records {
            let delta = record
                .offset
                .checked_sub(options.base_offset)
                .and_then(|d| i32::try_from(d).ok())
                .ok_or(CodecError::Inconsistent(
                    "record offset too far from the batch base offset",
                ))?;
            if delta < 0 || previous.is_some_and(|p| delta <= p) {
                return Err(CodecError::Inconsistent(
                    "record offsets must be ascending from the base offset",
                ));
            }
            previous = Some(delta);
            last_offset_delta = delta;
            max_timestamp = max_timestamp.max(record.timestamp);
            // Deltas beyond i64 would wrap and decode as different timestamps.
            let timestamp_delta = record
                .timestamp
                .checked_sub(base_timestamp)
                .ok_or(CodecError::Inconsistent("record timestamps too far apart"))?;
            records::encode_record(record, delta, timestamp_delta, &mut body);
        }
        // Record lengths are i32 on the wire; a section this size cannot be framed.
        if i32::try_from(body.len()).is_err() {
            return Err(CodecError::Inconsistent("records larger than 2 GiB"));
        }
        let body = match options.compression {
            Compression::None => body.freeze(),
            codec => compression::compress(codec, &body)?,
        };
        let record_count = i32::try_from(records.len())
            .map_err(|_| CodecError::Inconsistent("too many records for one batch"))?;
        let batch_length = i32::try_from(HEADER_LEN - LOG_OVERHEAD + body.len())
            .map_err(|_| CodecError::Inconsistent("batch larger than 2 GiB"))?;
        let mut attributes = options.compression.attribute_bits();
        if options.timestamp_type == TimestampType::LogAppendTime {
            attributes |= ATTR_LOG_APPEND_TIME;
        }
        if options.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        if options.control {
            attributes |= ATTR_CONTROL;
        }
        let mut out = BytesMut::with_capacity(HEADER_LEN + body.len());
        out.put_i64(options.base_offset);
        out.put_i32(batch_length);
        out.put_i32(options.partition_leader_epoch);
        out.put_i8(MAGIC);
        out.put_u32(0); // CRC, filled in below
        out.put_i16(attributes);
        out.put_i32(last_offset_delta);
        out.put_i64(base_timestamp);
        out.put_i64(max_timestamp);
        out.put_i64(options.producer_id);
        out.put_i16(options.producer_epoch);
        out.put_i32(options.base_sequence);
        out.put_i32(record_count);
        out.extend_from_slice(&body);
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        let bytes = out.freeze();
        let header = BatchHeader::decode(&bytes)?;
        Ok(Self { bytes, header })
    }
}

/// How [`RecordBatch::encode`] builds a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Base offset written into the header; record offsets are relative to it.
    pub base_offset: Offset,
    /// Partition leader epoch written into the header.
    pub partition_leader_epoch: i32,
    /// Codec for the records section.
    pub compression: Compression,
    /// Timestamp type bit.
    pub timestamp_type: TimestampType,
    /// Producer id, or [`NO_PRODUCER_ID`].
    pub producer_id: i64,
    /// Producer epoch, or [`NO_PRODUCER_EPOCH`].
    pub producer_epoch: i16,
    /// First sequence, or [`NO_SEQUENCE`].
    pub base_sequence: i32,
    /// Transactional bit.
    pub transactional: bool,
    /// Control bit.
    pub control: bool,
}

impl Default for EncodeOptions {
    /// An uncompressed, create-time batch from a non-idempotent producer at offset 0.
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: 0,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
        }
    }
}

// The callers check `buf.len() >= HEADER_LEN` (or `LOG_OVERHEAD`) first, so the fixed-size
// slices below are always in bounds.
fn be_i64(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

fn be_i32(buf: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    i32::from_be_bytes(b)
}

fn be_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}

#[cfg(test)]
mod tests;
