//! Which partition an event goes to: the Event Hubs partition-key hash, and round robin for
//! events sent without a key or a partition id.
//!
//! The service hashes the key's UTF-8 bytes with Bob Jenkins' lookup3 `hashlittle2` (seeds
//! `pc = pb = 0`), folds the two 32-bit outputs into `hash = (c ^ b) as i16`, and picks
//! `|hash % partition_count|` with a truncating remainder (the sign follows the dividend, as in
//! C# and JavaScript). The Azure SDKs port the same code for client-side routing, so matching it
//! keeps keyed events on the partition an SDK user expects.
//!
//! `hashlittle2` is written out here because no maintained crate exposes it with both outputs
//! and caller-chosen seeds; the crates that ship lookup3 return only the primary 32-bit hash.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// The Event Hubs hash of a partition key (its UTF-8 bytes): `(c ^ b) as i16` of
/// `hashlittle2(key, 0, 0)`.
///
/// # Examples
///
/// ```
/// use hubgate_protocol::partition_hash;
/// assert_eq!(partition_hash(b"$0cb"), 26269);
/// assert_eq!(partition_hash("p4*!jioeO/z-!-;w:dh".as_bytes()), -3104);
/// ```
pub fn partition_hash(key: &[u8]) -> i16 {
    let (c, b) = hashlittle2(key, 0, 0);
    // Keeping the low 16 bits is the point: the service computes `(short)(c ^ b)`.
    (c ^ b) as u16 as i16
}

/// The partition (`0..partition_count`) that Event Hubs assigns to `key`.
///
/// Takes [`NonZeroU32`] because a hub always has at least one partition; a count of zero is
/// caught where the hub's metadata is read, not here.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU32;
/// use hubgate_protocol::partition_for_key;
/// let four = NonZeroU32::new(4).unwrap();
/// assert!(partition_for_key(b"device-17", four) < 4);
/// ```
pub fn partition_for_key(key: &[u8], partition_count: NonZeroU32) -> u32 {
    partition_for_hash(partition_hash(key), partition_count)
}

/// Maps a [`partition_hash`] to a partition: `|hash % partition_count|` with the remainder
/// truncated towards zero (so `-5` over 4 partitions is `|-1| = 1`, not the floored `3`).
pub fn partition_for_hash(hash: i16, partition_count: NonZeroU32) -> u32 {
    // Rust's `%` on signed integers truncates like C#'s and JavaScript's. Widening to i64 keeps
    // every count representable and makes `abs` of `i16::MIN` safe.
    let remainder = i64::from(hash) % i64::from(partition_count.get());
    // |remainder| < partition_count, so it fits in u32; the fallback is unreachable.
    u32::try_from(remainder.unsigned_abs()).unwrap_or(0)
}

/// Round-robin partition choice for events sent with neither a partition key nor a partition id.
///
/// One per hub (or per gateway); lock-free and shared freely between connections.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicU64,
}

impl RoundRobin {
    /// A round robin that starts at partition 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next partition in `0..partition_count`.
    ///
    /// The counter is shared across partition counts, so after a hub grows the sequence simply
    /// continues over the new range.
    pub fn next(&self, partition_count: NonZeroU32) -> u32 {
        // Relaxed: only the counter's own atomicity matters, it orders no other memory.
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // The remainder is below a u32, so the conversion cannot fail.
        u32::try_from(n % u64::from(partition_count.get())).unwrap_or(0)
    }
}

/// Bob Jenkins' lookup3 `hashlittle2` over `key`, returning `(c, b)` as the C function leaves
/// them in `*pc` and `*pb`.
///
/// This is the byte-at-a-time form; it gives the same result as the C version's word-aligned
/// fast paths on little-endian machines, which is what the service and SDKs use. Tail bytes are
/// zero-padded to a full 12-byte block, which is exactly what the C version's fall-through
/// `switch` over the remaining length computes.
pub(crate) fn hashlittle2(key: &[u8], pc: u32, pb: u32) -> (u32, u32) {
    // The C code takes `(uint32_t)length`; truncation for keys over 4 GiB is part of the spec.
    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(pc);
    let (mut a, mut b, mut c) = (init, init, init.wrapping_add(pb));

    let mut rest = key;
    // Strictly more than 12: a final full block is handled as the tail, with `final`.
    while rest.len() > 12 {
        let (block, tail) = rest.split_at(12);
        a = a.wrapping_add(word(&block[0..4]));
        b = b.wrapping_add(word(&block[4..8]));
        c = c.wrapping_add(word(&block[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }

    if rest.is_empty() {
        // Zero-length tail (only for an empty key): lookup3 returns without the final mix.
        return (c, b);
    }
    let mut block = [0u8; 12];
    block[..rest.len()].copy_from_slice(rest);
    a = a.wrapping_add(word(&block[0..4]));
    b = b.wrapping_add(word(&block[4..8]));
    c = c.wrapping_add(word(&block[8..12]));
    final_mix(&mut a, &mut b, &mut c);
    (c, b)
}

/// Four bytes as a little-endian word; `bytes` is always a 4-byte slice of a 12-byte block.
fn word(bytes: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(bytes);
    u32::from_le_bytes(w)
}

/// lookup3 `mix(a, b, c)`.
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c) ^ c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c) ^ c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a) ^ a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b) ^ b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// lookup3 `final(a, b, c)`.
fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(14));
    *a = (*a ^ *c).wrapping_sub(c.rotate_left(11));
    *b = (*b ^ *a).wrapping_sub(a.rotate_left(25));
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(16));
    *a = (*a ^ *c).wrapping_sub(c.rotate_left(4));
    *b = (*b ^ *a).wrapping_sub(a.rotate_left(14));
    *c = (*c ^ *b).wrapping_sub(b.rotate_left(24));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// The vectors published in the Azure SDKs' (Java and .NET) partition resolver tests.
    #[test]
    fn published_event_hubs_vectors() {
        assert_eq!(partition_hash(b"$0cb"), 26269);
        assert_eq!(partition_hash(b"!c*_!I@1^c"), 15372);
        assert_eq!(partition_hash(b"p4*!jioeO/z-!-;w:dh"), -3104);
        assert_eq!(partition_hash(b"-4189260826195535198"), 453);
    }

    /// The self-test values printed by `driver5()` in Jenkins' lookup3.c.
    #[test]
    fn lookup3_reference_driver_values() {
        assert_eq!(hashlittle2(b"", 0, 0), (0xdead_beef, 0xdead_beef));
        assert_eq!(hashlittle2(b"", 0, 0xdead_beef), (0xbd5b_7dde, 0xdead_beef));
        assert_eq!(
            hashlittle2(b"", 0xdead_beef, 0xdead_beef),
            (0x9c09_3ccd, 0xbd5b_7dde)
        );
        let text = b"Four score and seven years ago";
        assert_eq!(hashlittle2(text, 0, 0), (0x1777_0551, 0xce72_26e6));
        assert_eq!(hashlittle2(text, 0, 1), (0xe360_7cae, 0xbd37_1de4));
        assert_eq!(hashlittle2(text, 1, 0), (0xcd62_8161, 0x6cbe_a4b3));
    }

    /// Every tail length of the 12-byte block loop, and the lengths either side of a second full
    /// block. Expected values from the Azure Python SDK's resolver (same as the service for
    /// ASCII keys).
    #[test]
    fn every_tail_length_and_block_boundary() {
        let alphabet = b"abcdefghijklmnopqrstuvwxyz";
        let expected: [(usize, i16); 16] = [
            (0, 0),
            (1, -16220),
            (2, 2093),
            (3, -14161),
            (4, 23398),
            (5, 27137),
            (6, 28810),
            (7, -14024),
            (8, 22170),
            (9, -2485),
            (10, -5137),
            (11, -2676),
            (12, -2373),
            (13, -31855),
            (24, 26788),
            (25, -2321),
        ];
        for (len, hash) in expected {
            assert_eq!(partition_hash(&alphabet[..len]), hash, "length {len}");
        }
    }

    /// Non-ASCII keys hash their UTF-8 bytes (the Python SDK's buffered mode hashes code points
    /// instead and would give -2646 for the first key; the service and .NET/Java/JS use bytes).
    #[test]
    fn non_ascii_keys_hash_utf8_bytes() {
        assert_eq!(partition_hash("héllo-日本".as_bytes()), 12080);
        assert_eq!(partition_hash("ключ".as_bytes()), -32174);
        assert_eq!(partition_hash("🦀".as_bytes()), -11294);
    }

    #[test]
    fn negative_hash_uses_truncating_remainder() {
        // -3104 = -776 * 4: both remainders are 0.
        assert_eq!(partition_for_key(b"p4*!jioeO/z-!-;w:dh", count(4)), 0);
        // "a" hashes to -16220. Truncating: -16220 % 3 = -2 -> 2; floored would give 1.
        assert_eq!(partition_hash(b"a"), -16220);
        assert_eq!(partition_for_key(b"a", count(3)), 2);
        // -5 over 4: truncating |-1| = 1, floored 3.
        assert_eq!(partition_for_hash(-5, count(4)), 1);
        assert_eq!(partition_for_hash(5, count(4)), 1);
        assert_eq!(partition_for_hash(26269, count(32)), 26269 % 32);
    }

    #[test]
    fn extreme_hashes_and_counts_stay_in_range() {
        assert_eq!(partition_for_hash(i16::MIN, count(1)), 0);
        assert_eq!(partition_for_hash(i16::MIN, count(40_000)), 32768);
        assert_eq!(partition_for_hash(i16::MAX, count(u32::MAX)), 32767);
        assert_eq!(partition_for_hash(i16::MIN, count(7)), 32768 % 7);
        for n in [1, 2, 3, 4, 7, 32, 1024] {
            for i in 0..500u32 {
                let key = format!("key-{i}");
                assert!(partition_for_key(key.as_bytes(), count(n)) < n);
            }
        }
    }

    #[test]
    fn round_robin_cycles_over_partitions() {
        let rr = RoundRobin::new();
        let picks: Vec<u32> = (0..7).map(|_| rr.next(count(3))).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(rr.next(count(1)), 0);
    }

    #[test]
    fn round_robin_is_even_across_threads() {
        let rr = std::sync::Arc::new(RoundRobin::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let rr = rr.clone();
                std::thread::spawn(move || {
                    let mut seen = [0u32; 4];
                    for _ in 0..1000 {
                        seen[rr.next(count(4)) as usize] += 1;
                    }
                    seen
                })
            })
            .collect();
        let mut total = [0u32; 4];
        for h in handles {
            for (t, s) in total.iter_mut().zip(h.join().unwrap()) {
                *t += s;
            }
        }
        assert_eq!(total, [1000; 4]);
    }
}
