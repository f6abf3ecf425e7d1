//! Compression of the records section, as Kafka clients write it.
//!
//! - gzip: RFC 1952 members (several concatenated members are read, as Java's
//!   `GZIPInputStream` does).
//! - Snappy: librdkafka (and so confluent-kafka and kcat) writes one raw Snappy block; the Java
//!   client and kafka-python write xerial's framing (`\x82SNAPPY\0`, two `i32`s, then
//!   `[i32 length][raw block]` chunks). Both are read; raw blocks are written, like librdkafka,
//!   and Java's reader accepts them too.
//! - LZ4: the LZ4 frame format with independent blocks (KIP-57; Kafka cannot read linked blocks).
//! - Zstandard: one or more frames.
//!
//! Decompression output is capped at `max_out` while it is produced: a peer that sends a few
//! KiB that inflate to gigabytes costs at most `max_out` plus one read chunk, on top of the
//! codec's own working memory (an LZ4 block of at most 4 MiB, a zstd window capped below).
//! Snappy states its output length up front, so it is checked before allocating at all.

use std::io::{Read, Write};

use bytes::Bytes;

use super::{CodecError, Compression};

/// Bytes read from a decompressor per call; also the most the output buffer may overshoot
/// `max_out` by before the overflow is noticed.
const CHUNK: usize = 32 * 1024;

/// Snappy's xerial framing, as written by `org.xerial.snappy.SnappyOutputStream`.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Magic plus the version and compatible-version `i32`s.
const XERIAL_HEADER_LEN: usize = 16;

/// Bounds for the zstd window the decoder will allocate. A frame's window is the producer's
/// choice (level 3 uses 2 MiB, level 19 8 MiB, the `--ultra` levels up to 128 MiB) and the
/// decoder allocates it whole when the frame does not declare its size, so it is tied to the
/// output limit: no window larger than the smallest power of two ≥ `max_out`, but never below
/// 8 MiB so every non-ultra level still decodes, and never above zstd's own default of 128 MiB.
const ZSTD_MIN_WINDOW_LOG: u32 = 23;
const ZSTD_MAX_WINDOW_LOG: u32 = 27;

/// Compresses a records section with `codec`.
///
/// # Errors
/// [`CodecError::Compress`] when the codec reports a failure.
pub(super) fn compress(codec: Compression, input: &[u8]) -> Result<Bytes, CodecError> {
    let fail = |e: &dyn std::fmt::Display| CodecError::Compress {
        codec,
        reason: e.to_string(),
    };
    let out = match codec {
        Compression::None => input.to_vec(),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(input.len() / 2),
                flate2::Compression::default(),
            );
            encoder.write_all(input).map_err(|e| fail(&e))?;
            encoder.finish().map_err(|e| fail(&e))?
        }
        Compression::Snappy => snap::raw::Encoder::new()
            .compress_vec(input)
            .map_err(|e| fail(&e))?,
        Compression::Lz4 => {
            // 64 KiB independent blocks, no content checksum: what librdkafka and the Java
            // client write, and what every Kafka reader handles.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent);
            let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(
                info,
                Vec::with_capacity(input.len() / 2),
            );
            encoder.write_all(input).map_err(|e| fail(&e))?;
            encoder.finish().map_err(|e| fail(&e))?
        }
        Compression::Zstd => {
            zstd::bulk::compress(input, zstd::DEFAULT_COMPRESSION_LEVEL).map_err(|e| fail(&e))?
        }
    };
    Ok(Bytes::from(out))
}

/// Decompresses a records section, refusing to produce more than `max_out` bytes.
///
/// # Errors
/// [`CodecError::TooLarge`] (field `"uncompressed records"`) once the output would exceed
/// `max_out`; [`CodecError::Decompress`] for input the codec rejects.
pub(super) fn decompress(
    codec: Compression,
    input: &[u8],
    max_out: usize,
) -> Result<Bytes, CodecError> {
    let fail = |e: &dyn std::fmt::Display| CodecError::Decompress {
        codec,
        reason: e.to_string(),
    };
    match codec {
        Compression::None => {
            check_size(input.len(), max_out)?;
            Ok(Bytes::copy_from_slice(input))
        }
        Compression::Gzip => read_bounded(
            codec,
            flate2::read::MultiGzDecoder::new(input),
            input.len(),
            max_out,
        ),
        Compression::Snappy => {
            if input.starts_with(XERIAL_MAGIC) {
                snappy_xerial(input, max_out)
            } else {
                snappy_raw(input, max_out)
            }
        }
        Compression::Lz4 => {
            lz4_frame_is_whole(input).map_err(|reason| fail(&reason))?;
            read_bounded(
                codec,
                lz4_flex::frame::FrameDecoder::new(input),
                input.len(),
                max_out,
            )
        }
        Compression::Zstd => {
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| fail(&e))?;
            decoder
                .window_log_max(zstd_window_log_max(max_out))
                .map_err(|e| fail(&e))?;
            read_bounded(codec, decoder, input.len(), max_out)
        }
    }
}

/// LZ4 frame magic number (little-endian on the wire).
const LZ4_MAGIC: u32 = 0x184D_2204;
const LZ4_FLG_BLOCK_CHECKSUM: u8 = 0x10;
const LZ4_FLG_CONTENT_SIZE: u8 = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM: u8 = 0x04;
const LZ4_FLG_DICT_ID: u8 = 0x01;
/// Set in a block's size word when the block is stored uncompressed.
const LZ4_BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;

/// Checks that `input` is exactly one complete LZ4 frame, by walking its block headers
/// without decompressing anything.
///
/// lz4_flex's decoder treats input that stops at a block boundary as a finished frame, and
/// reads on into a second concatenated frame. Kafka's Java reader fails on the first and
/// ignores the second, so accepting either would store batches whose records Java
/// consumers cannot read, or read differently.
fn lz4_frame_is_whole(input: &[u8]) -> Result<(), &'static str> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], &'static str> {
        let field = input
            .get(at..at.saturating_add(n))
            .ok_or("LZ4 frame is cut short")?;
        at += n;
        Ok(field)
    };
    let magic = take(4)?;
    if magic != LZ4_MAGIC.to_le_bytes() {
        return Err("not an LZ4 frame (bad magic number)");
    }
    let flags = take(2)?[0];
    let mut descriptor_rest = 1; // header checksum
    if flags & LZ4_FLG_CONTENT_SIZE != 0 {
        descriptor_rest += 8;
    }
    if flags & LZ4_FLG_DICT_ID != 0 {
        descriptor_rest += 4;
    }
    take(descriptor_rest)?;
    loop {
        let word = take(4)?;
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        if word == 0 {
            break; // end mark
        }
        let data_len = (word & !LZ4_BLOCK_UNCOMPRESSED) as usize;
        take(data_len)?;
        if flags & LZ4_FLG_BLOCK_CHECKSUM != 0 {
            take(4)?;
        }
    }
    if flags & LZ4_FLG_CONTENT_CHECKSUM != 0 {
        take(4)?;
    }
    if at != input.len() {
        return Err("bytes after the end of the LZ4 frame");
    }
    Ok(())
}

fn too_large(value: usize, max_out: usize) -> CodecError {
    CodecError::TooLarge {
        field: "uncompressed records",
        value: value as u64,
        limit: max_out as u64,
    }
}

fn check_size(len: usize, max_out: usize) -> Result<(), CodecError> {
    if len > max_out {
        return Err(too_large(len, max_out));
    }
    Ok(())
}

fn zstd_window_log_max(max_out: usize) -> u32 {
    let wanted = max_out.max(1).next_power_of_two().trailing_zeros();
    wanted.clamp(ZSTD_MIN_WINDOW_LOG, ZSTD_MAX_WINDOW_LOG)
}

/// Drains a streaming decompressor into a buffer that never grows past `max_out + CHUNK`.
///
/// `Read::read_to_end` is not used because it doubles its buffer, which could reserve almost
/// twice the limit; here capacity is grown explicitly and capped.
fn read_bounded(
    codec: Compression,
    mut reader: impl Read,
    input_len: usize,
    max_out: usize,
) -> Result<Bytes, CodecError> {
    // Records usually compress 2–10×; start there and grow, but never beyond the limit.
    let mut out: Vec<u8> =
        Vec::with_capacity(input_len.saturating_mul(4).clamp(CHUNK, CHUNK.max(max_out)));
    let mut chunk = [0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CodecError::Decompress {
                    codec,
                    reason: e.to_string(),
                });
            }
        };
        let total = out.len() + n;
        check_size(total, max_out)?;
        if total > out.capacity() {
            let grown = out.capacity().saturating_mul(2).clamp(total, max_out);
            out.reserve_exact(grown - out.len());
        }
        // `chunk[..n]`: `Read::read` promises n <= chunk.len().
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(Bytes::from(out))
}

fn snappy_error(e: snap::Error) -> CodecError {
    CodecError::Decompress {
        codec: Compression::Snappy,
        reason: e.to_string(),
    }
}

/// Decompresses one raw Snappy block. Its header declares the uncompressed length, which is
/// checked against the limit before anything is allocated.
fn snappy_raw(input: &[u8], max_out: usize) -> Result<Bytes, CodecError> {
    let len = snap::raw::decompress_len(input).map_err(snappy_error)?;
    check_size(len, max_out)?;
    let mut out = vec![0u8; len];
    let written = snap::raw::Decoder::new()
        .decompress(input, &mut out)
        .map_err(snappy_error)?;
    out.truncate(written);
    Ok(Bytes::from(out))
}

/// Reads xerial-framed Snappy: a 16-byte header, then `[i32 BE length][raw block]` chunks.
///
/// A first pass walks the chunk headers and adds up the blocks' declared lengths, so the
/// limit is checked and the output allocated once, before any block is decompressed.
fn snappy_xerial(input: &[u8], max_out: usize) -> Result<Bytes, CodecError> {
    let malformed = |reason: &str| CodecError::Decompress {
        codec: Compression::Snappy,
        reason: format!("malformed xerial framing: {reason}"),
    };
    // The version and compatible-version fields are not checked: every writer in the wild
    // uses 1/1 and the chunk format has never changed.
    let mut rest = input
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| malformed("header shorter than 16 bytes"))?;
    let mut blocks = Vec::new();
    let mut total = 0usize;
    while !rest.is_empty() {
        let (len, after) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("chunk length cut short"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| malformed("negative chunk length"))?;
        if len > after.len() {
            return Err(malformed("chunk longer than the input"));
        }
        let (block, after) = after.split_at(len);
        total = total.saturating_add(snap::raw::decompress_len(block).map_err(snappy_error)?);
        check_size(total, max_out)?;
        blocks.push(block);
        rest = after;
    }

    let mut out = vec![0u8; total];
    let mut at = 0;
    let mut decoder = snap::raw::Decoder::new();
    for block in blocks {
        // `at` never passes `total`: each block writes at most its declared length, and the
        // declared lengths add up to `total`.
        let dest = out.get_mut(at..).unwrap_or_default();
        at += decoder.decompress(block, dest).map_err(snappy_error)?;
    }
    out.truncate(at);
    Ok(Bytes::from(out))
}
