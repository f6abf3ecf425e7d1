//! Pre-decode structural check of request frames.
//!
//! `kafka-protocol`'s array decoders reserve room for as many elements as the wire count asks
//! for, before reading any element, so a request of a few bytes can ask for gigabytes. [`check`]
//! walks a whole request frame (header and body) by the field layout of its (API, version),
//! without allocating, and refuses the frame if an array count, string or bytes length exceeds
//! the bytes left, a varint is malformed or longer than five bytes, or a tagged field overruns.
//! Only frames that pass go to the decoder, so every count it preallocates for is backed by
//! elements that are really in the frame.
//!
//! [`LAYOUTS`] holds one entry per API: the served version range, the first flexible version
//! and the body's fields, each with the versions it is present in. The field lists follow the
//! Kafka protocol's message definitions. In flexible versions (KIP-482) strings, bytes and
//! arrays carry a compact length (unsigned varint, length + 1, 0 = null) and every struct, the
//! request header v2 included, ends with a tagged-field section; classic versions use an `i16`
//! string length and `i32` bytes lengths and array counts (-1 = null). An (API, version) with no
//! layout is refused, never passed through unchecked.
//!
//! The check is structural only: a null where the field is not nullable, or an out-of-range
//! value, is left to the decoder and the handlers. Trailing bytes after the body are tolerated,
//! as the decoder tolerates them.

use kafka_protocol::messages::ApiKey;

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    /// No layout is known for this API and version.
    #[error("no field layout for API {api} version {version}")]
    NoLayout {
        /// API key.
        api: i16,
        /// API version.
        version: i16,
    },
    /// A length or count asks for more than the bytes left in the frame.
    #[error("{what} of {len} at byte {at} exceeds the {left} bytes left")]
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The length or count read from the wire.
        len: u64,
        /// Bytes left in the frame (or tagged field) at that point.
        left: usize,
        /// Offset in the frame.
        at: usize,
    },
    /// A classic length or count below -1.
    #[error("negative {what} ({len}) at byte {at}")]
    Negative {
        /// What was being read.
        what: &'static str,
        /// The length read from the wire.
        len: i32,
        /// Offset in the frame.
        at: usize,
    },
    /// An unsigned varint longer than five bytes or above `u32::MAX`.
    #[error("malformed varint at byte {at}")]
    Varint {
        /// Offset in the frame.
        at: usize,
    },
    /// A known tagged field whose content does not fill its declared size exactly.
    #[error("tagged field {tag} at byte {at} does not match its size of {size} bytes")]
    TagSize {
        /// The field's tag.
        tag: u32,
        /// Its declared size.
        size: usize,
        /// Offset of its content in the frame.
        at: usize,
    },
}

/// Checks `frame` (a request without its size prefix) against the layout of its API and
/// version.
///
/// # Errors
/// [`Malformed`] when the frame must not reach the decoder.
pub(crate) fn check(frame: &[u8]) -> Result<(), Malformed> {
    walk(frame).map(|_| ())
}

/// As [`check`], returning how many bytes the header and body took.
fn walk(frame: &[u8]) -> Result<usize, Malformed> {
    let mut w = Walker {
        buf: frame,
        pos: 0,
        version: 0,
        flexible: false,
    };
    let api = w.i16("API key")?;
    let version = w.i16("API version")?;
    let layout = layout(api, version).ok_or(Malformed::NoLayout { api, version })?;
    w.skip(4, "correlation id")?;
    // The header's client id is a classic nullable string even in header v2.
    w.ty(&STR)?;
    w.version = version;
    w.flexible = version >= layout.flexible_from;
    if w.flexible {
        w.tagged(&[])?;
    }
    w.fields(layout.body)?;
    Ok(w.pos)
}

/// The layout for `api` at `version`, if that pair is covered.
fn layout(api: i16, version: i16) -> Option<&'static Layout> {
    LAYOUTS
        .iter()
        .find(|l| l.api as i16 == api && (l.min..=l.max).contains(&version))
}

/// The wire type of one field.
#[derive(Debug, Clone, Copy)]
enum Ty {
    /// A fixed-size value (int8 … int64, boolean, uuid, float64): its size in bytes.
    Fixed(usize),
    /// A string, nullable or not.
    Str,
    /// Bytes or records, nullable or not.
    Bytes,
    /// An array (nullable or not) of the given element type.
    Array(&'static Ty),
    /// A struct: its fields, then, in flexible versions, its tagged fields.
    Struct(&'static [Field]),
    /// A nullable struct: an `i8` marker, and the struct only when the marker is 1.
    OptStruct(&'static [Field]),
}

/// One field and the versions it is present in.
#[derive(Debug, Clone, Copy)]
struct Field {
    ty: Ty,
    from: i16,
    to: i16,
    /// `Some(tag)` for a tagged field (flexible versions only): it lives in the struct's
    /// tagged-field section instead of in line.
    tag: Option<u32>,
}

impl Field {
    fn covers(&self, version: i16) -> bool {
        (self.from..=self.to).contains(&version)
    }
}

/// The request body layout of one API.
#[derive(Debug)]
struct Layout {
    api: ApiKey,
    /// Lowest covered version.
    min: i16,
    /// Highest covered version.
    max: i16,
    /// First flexible version (`i16::MAX`: none).
    flexible_from: i16,
    body: &'static [Field],
}

const I8: Ty = Ty::Fixed(1);
const BOOL: Ty = Ty::Fixed(1);
const I16: Ty = Ty::Fixed(2);
const I32: Ty = Ty::Fixed(4);
const I64: Ty = Ty::Fixed(8);
const UUID: Ty = Ty::Fixed(16);
const STR: Ty = Ty::Str;
const BYTES: Ty = Ty::Bytes;
const LAST: i16 = i16::MAX;

/// A field present in every version.
const fn all(ty: Ty) -> Field {
    span(0, LAST, ty)
}

/// A field present from version `from` on.
const fn from(from: i16, ty: Ty) -> Field {
    span(from, LAST, ty)
}

/// A field present up to version `to`.
const fn upto(to: i16, ty: Ty) -> Field {
    span(0, to, ty)
}

/// A field present in versions `from..=to`.
const fn span(from: i16, to: i16, ty: Ty) -> Field {
    Field {
        ty,
        from,
        to,
        tag: None,
    }
}

/// A tagged field with tag `tag`, from version `from` on.
const fn tagged(tag: u32, from: i16, ty: Ty) -> Field {
    Field {
        ty,
        from,
        to: LAST,
        tag: Some(tag),
    }
}

/// An array of structs with these fields.
macro_rules! structs {
    ($($field:expr),* $(,)?) => {
        Ty::Array(&Ty::Struct(&[$($field),*]))
    };
}

/// The array of `ty`s.
macro_rules! array {
    ($ty:expr) => {
        Ty::Array(&$ty)
    };
}

/// Every covered (API, version): the versions `versions.rs` advertises, plus
/// DescribeTopicPartitions v0 and the consumer-group APIs (JoinGroup, Heartbeat, LeaveGroup,
/// SyncGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
/// OffsetDelete) over the versions `kafka-protocol` decodes.
static LAYOUTS: &[Layout] = &[
    Layout {
        api: ApiKey::Produce,
        min: 0,
        max: 11,
        flexible_from: 9,
        body: &[
            from(3, STR), // transactional id
            all(I16),     // acks
            all(I32),     // timeout
            all(structs![
                upto(12, STR), // topic name
                from(13, UUID),
                // partitions: index, records (nullable bytes; the batch codec checks them)
                all(structs![all(I32), all(BYTES)]),
            ]),
        ],
    },
    Layout {
        api: ApiKey::Fetch,
        min: 4,
        max: 12,
        flexible_from: 12,
        body: &[
            tagged(0, 12, STR), // cluster id
            upto(14, I32),      // replica id
            all(I32),           // max wait
            all(I32),           // min bytes
            from(3, I32),       // max bytes
            from(4, I8),        // isolation level
            from(7, I32),       // session id
            from(7, I32),       // session epoch
            all(structs![
                upto(12, STR), // topic
                from(13, UUID),
                all(structs![
                    all(I32),      // partition
                    from(9, I32),  // current leader epoch
                    all(I64),      // fetch offset
                    from(12, I32), // last fetched epoch
                    from(5, I64),  // log start offset
                    all(I32),      // partition max bytes
                ]),
            ]),
            // forgotten topics: topic, topic id, partitions
            from(
                7,
                structs![span(7, 12, STR), from(13, UUID), from(7, array!(I32))],
            ),
            from(11, STR), // rack id
        ],
    },
    Layout {
        api: ApiKey::ListOffsets,
        min: 1,
        max: 8,
        flexible_from: 6,
        body: &[
            all(I32),    // replica id
            from(2, I8), // isolation level
            all(structs![
                all(STR), // topic
                // partitions: index, current leader epoch, timestamp
                all(structs![all(I32), from(4, I32), all(I64)]),
            ]),
            from(10, I32), // timeout
        ],
    },
    Layout {
        api: ApiKey::Metadata,
        min: 0,
        max: 12,
        flexible_from: 9,
        body: &[
            all(structs![from(10, UUID), all(STR)]), // topics: id, name
            from(4, BOOL),                           // allow auto topic creation
            span(8, 10, BOOL),                       // include cluster authorized operations
            from(8, BOOL),                           // include topic authorized operations
        ],
    },
    Layout {
        api: ApiKey::OffsetCommit,
        min: 2,
        max: 9,
        flexible_from: 8,
        body: &[
            all(STR),     // group id
            all(I32),     // generation id or member epoch
            all(STR),     // member id
            from(7, STR), // group instance id
            upto(4, I64), // retention time
            all(structs![
                all(STR), // topic
                // partitions: index, offset, leader epoch, metadata
                all(structs![all(I32), all(I64), from(6, I32), all(STR)]),
            ]),
        ],
    },
    Layout {
        api: ApiKey::OffsetFetch,
        min: 1,
        max: 9,
        flexible_from: 6,
        body: &[
            upto(7, STR), // group id
            // topics (nullable): name, partition indexes
            upto(7, structs![all(STR), all(array!(I32))]),
            from(
                8,
                structs![
                    all(STR),     // group id
                    from(9, STR), // member id
                    from(9, I32), // member epoch
                    // topics (nullable): name, partition indexes
                    all(structs![all(STR), all(array!(I32))]),
                ],
            ),
            from(7, BOOL), // require stable
        ],
    },
    Layout {
        api: ApiKey::FindCoordinator,
        min: 0,
        max: 4,
        flexible_from: 3,
        body: &[
            upto(3, STR),         // key
            from(1, I8),          // key type
            from(4, array!(STR)), // coordinator keys
        ],
    },
    Layout {
        api: ApiKey::JoinGroup,
        min: 0,
        max: 9,
        flexible_from: 6,
        body: &[
            all(STR),                            // group id
            all(I32),                            // session timeout
            from(1, I32),                        // rebalance timeout
            all(STR),                            // member id
            from(5, STR),                        // group instance id
            all(STR),                            // protocol type
            all(structs![all(STR), all(BYTES)]), // protocols: name, metadata
            from(8, STR),                        // reason
        ],
    },
    Layout {
        api: ApiKey::Heartbeat,
        min: 0,
        max: 4,
        flexible_from: 4,
        body: &[
            all(STR),     // group id
            all(I32),     // generation id
            all(STR),     // member id
            from(3, STR), // group instance id
        ],
    },
    Layout {
        api: ApiKey::LeaveGroup,
        min: 0,
        max: 5,
        flexible_from: 4,
        body: &[
            all(STR),     // group id
            upto(2, STR), // member id
            // members: member id, group instance id, reason
            from(3, structs![all(STR), all(STR), from(5, STR)]),
        ],
    },
    Layout {
        api: ApiKey::SyncGroup,
        min: 0,
        max: 5,
        flexible_from: 4,
        body: &[
            all(STR),                            // group id
            all(I32),                            // generation id
            all(STR),                            // member id
            from(3, STR),                        // group instance id
            from(5, STR),                        // protocol type
            from(5, STR),                        // protocol name
            all(structs![all(STR), all(BYTES)]), // assignments: member id, assignment
        ],
    },
    Layout {
        api: ApiKey::DescribeGroups,
        min: 0,
        max: 5,
        flexible_from: 5,
        body: &[
            all(array!(STR)), // groups
            from(3, BOOL),    // include authorized operations
        ],
    },
    Layout {
        api: ApiKey::ListGroups,
        min: 0,
        max: 5,
        flexible_from: 3,
        body: &[
            from(4, array!(STR)), // states filter
            from(5, array!(STR)), // types filter
        ],
    },
    Layout {
        api: ApiKey::SaslHandshake,
        min: 0,
        max: 1,
        flexible_from: LAST,
        body: &[all(STR)], // mechanism
    },
    Layout {
        api: ApiKey::ApiVersions,
        min: 0,
        max: 4,
        flexible_from: 3,
        body: &[
            from(3, STR), // client software name
            from(3, STR), // client software version
        ],
    },
    Layout {
        api: ApiKey::CreateTopics,
        min: 2,
        max: 7,
        flexible_from: 5,
        body: &[
            all(structs![
                all(STR), // name
                all(I32), // partitions
                all(I16), // replication factor
                // assignments: partition, broker ids
                all(structs![all(I32), all(array!(I32))]),
                all(structs![all(STR), all(STR)]), // configs: name, value
            ]),
            all(I32),  // timeout
            all(BOOL), // validate only (v1+)
        ],
    },
    Layout {
        api: ApiKey::DeleteTopics,
        min: 1,
        max: 6,
        flexible_from: 4,
        body: &[
            from(6, structs![all(STR), all(UUID)]), // topics: name, id
            upto(5, array!(STR)),                   // topic names
            all(I32),                               // timeout
        ],
    },
    Layout {
        api: ApiKey::DeleteRecords,
        min: 0,
        max: 2,
        flexible_from: 2,
        body: &[
            all(structs![
                all(STR),                          // topic
                all(structs![all(I32), all(I64)]), // partitions: index, offset
            ]),
            all(I32), // timeout
        ],
    },
    Layout {
        api: ApiKey::InitProducerId,
        min: 0,
        max: 4,
        flexible_from: 2,
        body: &[
            all(STR),     // transactional id
            all(I32),     // transaction timeout
            from(3, I64), // producer id
            from(3, I16), // producer epoch
        ],
    },
    Layout {
        api: ApiKey::AddPartitionsToTxn,
        min: 0,
        max: 3,
        flexible_from: 3,
        body: &[
            all(STR),                                  // transactional id
            all(I64),                                  // producer id
            all(I16),                                  // producer epoch
            all(structs![all(STR), all(array!(I32))]), // topics: name, partitions
        ],
    },
    Layout {
        api: ApiKey::AddOffsetsToTxn,
        min: 0,
        max: 3,
        flexible_from: 3,
        body: &[
            all(STR), // transactional id
            all(I64), // producer id
            all(I16), // producer epoch
            all(STR), // group id
        ],
    },
    Layout {
        api: ApiKey::EndTxn,
        min: 0,
        max: 3,
        flexible_from: 3,
        body: &[
            all(STR),  // transactional id
            all(I64),  // producer id
            all(I16),  // producer epoch
            all(BOOL), // committed
        ],
    },
    Layout {
        api: ApiKey::TxnOffsetCommit,
        min: 0,
        max: 3,
        flexible_from: 3,
        body: &[
            all(STR),     // transactional id
            all(STR),     // group id
            all(I64),     // producer id
            all(I16),     // producer epoch
            from(3, I32), // generation id
            from(3, STR), // member id
            from(3, STR), // group instance id (nullable)
            all(structs![
                all(STR), // topic
                // partitions: index, offset, leader epoch (v2+), metadata (nullable)
                all(structs![all(I32), all(I64), from(2, I32), all(STR)]),
            ]),
        ],
    },
    Layout {
        api: ApiKey::DescribeProducers,
        min: 0,
        max: 0,
        flexible_from: 0,
        body: &[
            all(structs![all(STR), all(array!(I32))]), // topics: name, partition indexes
        ],
    },
    Layout {
        api: ApiKey::DescribeTransactions,
        min: 0,
        max: 0,
        flexible_from: 0,
        body: &[
            all(array!(STR)), // transactional ids
        ],
    },
    Layout {
        api: ApiKey::ListTransactions,
        min: 0,
        max: 1,
        flexible_from: 0,
        body: &[
            all(array!(STR)), // state filters
            all(array!(I64)), // producer id filters
            from(1, I64),     // duration filter
        ],
    },
    Layout {
        api: ApiKey::OffsetForLeaderEpoch,
        min: 2,
        max: 4,
        flexible_from: 4,
        body: &[
            from(3, I32), // replica id
            all(structs![
                all(STR), // topic
                // partitions: index, current leader epoch (v2+), leader epoch
                all(structs![all(I32), all(I32), all(I32)]),
            ]),
        ],
    },
    Layout {
        api: ApiKey::DescribeConfigs,
        min: 1,
        max: 4,
        flexible_from: 4,
        body: &[
            // resources: type, name, configuration keys (nullable)
            all(structs![all(I8), all(STR), all(array!(STR))]),
            all(BOOL),     // include synonyms (v1+)
            from(3, BOOL), // include documentation
        ],
    },
    Layout {
        api: ApiKey::AlterConfigs,
        min: 0,
        max: 2,
        flexible_from: 2,
        body: &[
            all(structs![
                all(I8),                           // resource type
                all(STR),                          // resource name
                all(structs![all(STR), all(STR)]), // configs: name, value
            ]),
            all(BOOL), // validate only
        ],
    },
    Layout {
        api: ApiKey::SaslAuthenticate,
        min: 0,
        max: 2,
        flexible_from: 2,
        body: &[all(BYTES)], // auth bytes
    },
    Layout {
        api: ApiKey::CreatePartitions,
        min: 0,
        max: 3,
        flexible_from: 2,
        body: &[
            all(structs![
                all(STR), // name
                all(I32), // count
                // assignments (nullable): broker ids
                all(structs![all(array!(I32))]),
            ]),
            all(I32),  // timeout
            all(BOOL), // validate only
        ],
    },
    Layout {
        api: ApiKey::DeleteGroups,
        min: 0,
        max: 2,
        flexible_from: 2,
        body: &[
            all(array!(STR)), // group names
        ],
    },
    Layout {
        api: ApiKey::IncrementalAlterConfigs,
        min: 0,
        max: 1,
        flexible_from: 1,
        body: &[
            all(structs![
                all(I8),  // resource type
                all(STR), // resource name
                // configs: name, operation, value
                all(structs![all(STR), all(I8), all(STR)]),
            ]),
            all(BOOL), // validate only
        ],
    },
    Layout {
        api: ApiKey::OffsetDelete,
        min: 0,
        max: 0,
        flexible_from: i16::MAX,
        body: &[
            all(STR), // group id
            all(structs![
                all(STR),                // topic
                all(structs![all(I32)]), // partitions: index
            ]),
        ],
    },
    Layout {
        api: ApiKey::DescribeCluster,
        min: 0,
        max: 1,
        flexible_from: 0,
        body: &[
            all(BOOL),     // include cluster authorized operations
            from(1, I8),   // endpoint type
            from(2, BOOL), // include fenced brokers
        ],
    },
    Layout {
        api: ApiKey::DescribeTopicPartitions,
        min: 0,
        max: 0,
        flexible_from: 0,
        body: &[
            all(structs![all(STR)]), // topics: name
            all(I32),                // response partition limit
            // cursor: topic name, partition index
            all(Ty::OptStruct(&[all(STR), all(I32)])),
        ],
    },
];

/// A cursor over a frame (or over one tagged field's content).
struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
}

impl Walker<'_> {
    fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Steps over `n` bytes, if there are that many.
    fn skip(&mut self, n: usize, what: &'static str) -> Result<(), Malformed> {
        if n > self.left() {
            return Err(Malformed::TooLong {
                what,
                len: n as u64,
                left: self.left(),
                at: self.pos,
            });
        }
        self.pos += n;
        Ok(())
    }

    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Malformed> {
        let at = self.pos;
        self.skip(N, what)?;
        let mut out = [0; N];
        if let Some(bytes) = self.buf.get(at..at + N) {
            out.copy_from_slice(bytes);
        }
        Ok(out)
    }

    fn i16(&mut self, what: &'static str) -> Result<i16, Malformed> {
        self.take(what).map(i16::from_be_bytes)
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, Malformed> {
        self.take(what).map(i32::from_be_bytes)
    }

    /// An unsigned varint of at most five bytes that fits a `u32`.
    fn uvarint(&mut self) -> Result<u32, Malformed> {
        let at = self.pos;
        let mut value = 0u32;
        for i in 0..5 {
            let [b] = self.take::<1>("varint")?;
            if i == 4 && b > 0x0f {
                // Continues past five bytes, or sets bits above 32.
                return Err(Malformed::Varint { at });
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(Malformed::Varint { at })
    }

    /// A length or count: `None` for null. Compact in flexible versions; otherwise an `i16`
    /// for strings and an `i32` for bytes and arrays. Refused when above the bytes left.
    fn length(
        &mut self,
        what: &'static str,
        classic_i16: bool,
    ) -> Result<Option<usize>, Malformed> {
        let at = self.pos;
        let len: u64 = if self.flexible {
            // Length + 1; 0 is null, so the subtraction cannot underflow.
            match self.uvarint()? {
                0 => return Ok(None),
                n => u64::from(n) - 1,
            }
        } else {
            let n = if classic_i16 {
                i32::from(self.i16(what)?)
            } else {
                self.i32(what)?
            };
            match n {
                -1 => return Ok(None),
                n if n < -1 => return Err(Malformed::Negative { what, len: n, at }),
                n => u64::from(n.unsigned_abs()),
            }
        };
        let left = self.left();
        match usize::try_from(len) {
            Ok(len) if len <= left => Ok(Some(len)),
            _ => Err(Malformed::TooLong {
                what,
                len,
                left,
                at,
            }),
        }
    }

    fn ty(&mut self, ty: &Ty) -> Result<(), Malformed> {
        match *ty {
            Ty::Fixed(n) => self.skip(n, "fixed-size field"),
            Ty::Str => match self.length("string length", true)? {
                Some(n) => self.skip(n, "string"),
                None => Ok(()),
            },
            Ty::Bytes => match self.length("bytes length", false)? {
                Some(n) => self.skip(n, "bytes"),
                None => Ok(()),
            },
            Ty::Array(elem) => {
                let Some(count) = self.length("array count", false)? else {
                    return Ok(());
                };
                if let Ty::Fixed(size) = *elem {
                    let at = self.pos;
                    let total = count.checked_mul(size).ok_or(Malformed::TooLong {
                        what: "array",
                        len: count as u64,
                        left: self.left(),
                        at,
                    })?;
                    return self.skip(total, "array");
                }
                (0..count).try_for_each(|_| self.ty(elem))
            }
            Ty::Struct(fields) => self.fields(fields),
            Ty::OptStruct(fields) => {
                let [marker] = self.take::<1>("struct marker")?;
                if marker == 1 {
                    self.fields(fields)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// A struct's in-line fields for this version, then its tagged fields if flexible.
    fn fields(&mut self, fields: &[Field]) -> Result<(), Malformed> {
        for field in fields {
            if field.tag.is_none() && field.covers(self.version) {
                self.ty(&field.ty)?;
            }
        }
        if self.flexible {
            self.tagged(fields)?;
        }
        Ok(())
    }

    /// A tagged-field section: a count, then per field a tag, a size and that many bytes.
    /// The content of a tag this version knows is walked too, and must fill its size exactly.
    fn tagged(&mut self, fields: &[Field]) -> Result<(), Malformed> {
        let at = self.pos;
        let count = self.uvarint()?;
        let left = self.left();
        // Every tagged field takes at least two bytes (tag and size).
        if count as usize > left {
            return Err(Malformed::TooLong {
                what: "tagged-field count",
                len: u64::from(count),
                left,
                at,
            });
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let at = self.pos;
            let size = self.uvarint()? as usize;
            let start = self.pos;
            self.skip(size, "tagged field")?;
            let known = fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.covers(self.version));
            if let Some(field) = known {
                let content = self.buf.get(..self.pos).unwrap_or_default();
                let mut inner = Walker {
                    buf: content,
                    pos: start,
                    version: self.version,
                    flexible: self.flexible,
                };
                inner.ty(&field.ty)?;
                if inner.pos != self.pos {
                    return Err(Malformed::TagSize { tag, size, at });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::ADVERTISED;

    fn fixtures() -> Vec<(String, Vec<u8>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/requests");
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect();
        out.sort();
        assert!(out.len() >= 20, "fixtures missing");
        out
    }

    #[test]
    fn every_advertised_version_has_a_layout() {
        for a in ADVERTISED {
            for version in a.min..=a.max {
                assert!(
                    layout(a.key as i16, version).is_some(),
                    "{:?} v{version}",
                    a.key
                );
            }
        }
        assert!(layout(ApiKey::DescribeTopicPartitions as i16, 0).is_some());
    }

    #[test]
    fn layouts_do_not_overlap() {
        for (i, a) in LAYOUTS.iter().enumerate() {
            assert!(a.min <= a.max, "{:?}", a.api);
            for b in &LAYOUTS[i + 1..] {
                assert_ne!(a.api, b.api, "two layouts for {:?}", a.api);
            }
        }
    }

    #[test]
    fn every_captured_request_passes_and_is_walked_to_its_end() {
        for (name, frame) in fixtures() {
            assert_eq!(walk(&frame), Ok(frame.len()), "{name}");
        }
    }

    /// A request header for `api`/`version` with a null client id.
    fn header(api: ApiKey, version: i16) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(api as i16).to_be_bytes());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&7i32.to_be_bytes());
        out.extend_from_slice(&(-1i16).to_be_bytes());
        let flexible = layout(api as i16, version).is_some_and(|l| version >= l.flexible_from);
        if flexible {
            out.push(0);
        }
        out
    }

    fn uvarint(mut value: u32, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    /// Writes a value of `ty` as the layout says: one element per array, "a" per string,
    /// one byte per bytes field, present optional structs, no tagged fields.
    fn synth(ty: &Ty, version: i16, flexible: bool, out: &mut Vec<u8>) {
        let len = |n: usize, classic_i16: bool, out: &mut Vec<u8>| {
            if flexible {
                uvarint(n as u32 + 1, out);
            } else if classic_i16 {
                out.extend_from_slice(&(n as i16).to_be_bytes());
            } else {
                out.extend_from_slice(&(n as i32).to_be_bytes());
            }
        };
        match *ty {
            Ty::Fixed(n) => out.extend(std::iter::repeat_n(0, n)),
            Ty::Str => {
                len(1, true, out);
                out.push(b'a');
            }
            Ty::Bytes => {
                len(1, false, out);
                out.push(0x5a);
            }
            Ty::Array(elem) => {
                len(1, false, out);
                synth(elem, version, flexible, out);
            }
            Ty::Struct(fields) => synth_fields(fields, version, flexible, out),
            Ty::OptStruct(fields) => {
                out.push(1);
                synth_fields(fields, version, flexible, out);
            }
        }
    }

    fn synth_fields(fields: &[Field], version: i16, flexible: bool, out: &mut Vec<u8>) {
        for field in fields {
            if field.tag.is_none() && field.covers(version) {
                synth(&field.ty, version, flexible, out);
            }
        }
        if flexible {
            out.push(0);
        }
    }

    /// How many bytes `kafka-protocol` decodes from `body` as a request of `api` at `version`.
    fn decoded_len(api: ApiKey, version: i16, body: &[u8]) -> Result<usize, String> {
        use bytes::{Buf, Bytes};
        use kafka_protocol::messages::*;
        use kafka_protocol::protocol::Decodable;
        let mut buf = Bytes::copy_from_slice(body);
        macro_rules! decode {
            ($($key:ident => $ty:ty),* $(,)?) => {
                match api {
                    $(ApiKey::$key => <$ty>::decode(&mut buf, version).map(|_| ()),)*
                    _ => return Err(format!("{api:?} missing from the test")),
                }
            };
        }
        decode!(
            Produce => ProduceRequest,
            Fetch => FetchRequest,
            ListOffsets => ListOffsetsRequest,
            Metadata => MetadataRequest,
            FindCoordinator => FindCoordinatorRequest,
            ApiVersions => ApiVersionsRequest,
            SaslHandshake => SaslHandshakeRequest,
            SaslAuthenticate => SaslAuthenticateRequest,
            CreateTopics => CreateTopicsRequest,
            DeleteTopics => DeleteTopicsRequest,
            DeleteRecords => DeleteRecordsRequest,
            InitProducerId => InitProducerIdRequest,
            AddPartitionsToTxn => AddPartitionsToTxnRequest,
            AddOffsetsToTxn => AddOffsetsToTxnRequest,
            EndTxn => EndTxnRequest,
            TxnOffsetCommit => TxnOffsetCommitRequest,
            DescribeProducers => DescribeProducersRequest,
            DescribeTransactions => DescribeTransactionsRequest,
            ListTransactions => ListTransactionsRequest,
            OffsetForLeaderEpoch => OffsetForLeaderEpochRequest,
            DescribeConfigs => DescribeConfigsRequest,
            AlterConfigs => AlterConfigsRequest,
            CreatePartitions => CreatePartitionsRequest,
            IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
            DescribeCluster => DescribeClusterRequest,
            DescribeTopicPartitions => DescribeTopicPartitionsRequest,
            OffsetCommit => OffsetCommitRequest,
            OffsetFetch => OffsetFetchRequest,
            JoinGroup => JoinGroupRequest,
            Heartbeat => HeartbeatRequest,
            LeaveGroup => LeaveGroupRequest,
            SyncGroup => SyncGroupRequest,
            DescribeGroups => DescribeGroupsRequest,
            ListGroups => ListGroupsRequest,
            DeleteGroups => DeleteGroupsRequest,
            OffsetDelete => OffsetDeleteRequest,
        )
        .map_err(|e| e.to_string())?;
        Ok(body.len() - buf.remaining())
    }

    /// A frame built from each layout decodes with `kafka-protocol` to exactly its end: the
    /// table and the codec agree on every field of every covered version.
    #[test]
    fn layouts_agree_with_the_codec() {
        let mut checked = 0;
        for l in LAYOUTS {
            for version in l.min..=l.max {
                let flexible = version >= l.flexible_from;
                // The header the codec expects: v2 exactly in flexible versions.
                assert_eq!(
                    l.api.request_header_version(version),
                    if flexible { 2 } else { 1 },
                    "{:?} v{version}",
                    l.api
                );
                let mut body = Vec::new();
                synth_fields(l.body, version, flexible, &mut body);
                let mut frame = header(l.api, version);
                let header_len = frame.len();
                frame.extend_from_slice(&body);
                assert_eq!(walk(&frame), Ok(frame.len()), "{:?} v{version}", l.api);
                if version < l.api.valid_versions().min {
                    continue; // Produce v0–2: not decodable by the codec (see produce_legacy)
                }
                assert_eq!(
                    decoded_len(l.api, version, &frame[header_len..]),
                    Ok(body.len()),
                    "{:?} v{version}",
                    l.api
                );
                checked += 1;
            }
        }
        assert!(checked >= 148, "{checked}");
    }

    fn too_long(frame: &[u8]) -> bool {
        matches!(check(frame), Err(Malformed::TooLong { .. }))
    }

    #[test]
    fn huge_counts_and_lengths_fail() {
        // Metadata v0: topic count i32::MAX.
        let mut f = header(ApiKey::Metadata, 0);
        f.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(too_long(&f));
        // Metadata v12: compact count u32::MAX - 1.
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(too_long(&f));
        // Metadata v1: a topic name of 100 bytes with 2 left.
        let mut f = header(ApiKey::Metadata, 1);
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&100i16.to_be_bytes());
        f.extend_from_slice(b"ab");
        assert!(too_long(&f));
        // Metadata v1: count 3 with room for one topic only.
        let mut f = header(ApiKey::Metadata, 1);
        f.extend_from_slice(&3i32.to_be_bytes());
        f.extend_from_slice(&[0, 1, b'a', 0, 1]);
        assert!(too_long(&f));
        // CreateTopics v4: the broker ids of an assignment, two arrays deep.
        let mut f = header(ApiKey::CreateTopics, 4);
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&[0, 1, b't']);
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&1i16.to_be_bytes());
        f.extend_from_slice(&1i32.to_be_bytes()); // one assignment
        f.extend_from_slice(&0i32.to_be_bytes());
        f.extend_from_slice(&(i32::MAX / 4).to_be_bytes()); // broker ids
        f.extend_from_slice(&[0; 16]);
        assert!(too_long(&f));
        // Produce v9: records of u32::MAX - 2 bytes.
        let mut f = header(ApiKey::Produce, 9);
        f.extend_from_slice(&[0, 0xff, 0xff, 0, 0, 0, 1, 2, 2, b't', 2, 0, 0, 0, 0]);
        f.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert!(too_long(&f));
        // Fixed-size elements: a Fetch v7 forgotten topic with 2^30 partition ids.
        let mut f = header(ApiKey::Fetch, 7);
        f.extend_from_slice(&[0; 21]);
        f.extend_from_slice(&0i32.to_be_bytes()); // no topics
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&[0, 1, b't']);
        f.extend_from_slice(&(1i32 << 30).to_be_bytes());
        assert!(too_long(&f));
    }

    #[test]
    fn huge_consumer_group_counts_fail() {
        // JoinGroup v6 up to its protocols: group "g", timeouts, empty member id, null group
        // instance id, protocol type "consumer".
        let join_v6 = |protocols: u32| {
            let mut f = header(ApiKey::JoinGroup, 6);
            f.extend_from_slice(&[2, b'g']);
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&[1, 0]);
            f.push(9);
            f.extend_from_slice(b"consumer");
            uvarint(protocols + 1, &mut f);
            f.extend_from_slice(&[2, b'r', 2, 0]); // one protocol: "r", one metadata byte
            f.extend_from_slice(&[0, 0]); // its tagged fields, the body's
            f
        };
        assert_eq!(check(&join_v6(1)), Ok(()));
        assert!(matches!(
            check(&join_v6(1000)),
            Err(Malformed::TooLong {
                what: "array count",
                len: 1000,
                ..
            })
        ));
        // OffsetCommit v2: topic count i32::MAX after group, generation, member, retention.
        let offset_commit_v2 = |topics: i32| {
            let mut f = header(ApiKey::OffsetCommit, 2);
            f.extend_from_slice(&[0, 1, b'g']);
            f.extend_from_slice(&[0; 4]);
            f.extend_from_slice(&[0, 0]);
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&topics.to_be_bytes());
            f
        };
        assert_eq!(check(&offset_commit_v2(0)), Ok(()));
        assert!(too_long(&offset_commit_v2(i32::MAX)));
        // OffsetFetch v8: a group's topic with 2^28 partition indexes, two arrays deep.
        let mut f = header(ApiKey::OffsetFetch, 8);
        f.extend_from_slice(&[2, 2, b'g']); // one group "g"
        f.extend_from_slice(&[2, 2, b't']); // one topic "t"
        uvarint((1 << 28) + 1, &mut f);
        f.extend_from_slice(&[0; 16]);
        assert!(too_long(&f));
    }

    #[test]
    fn negative_lengths_fail_and_null_passes() {
        let mut f = header(ApiKey::Metadata, 1);
        f.extend_from_slice(&(-2i32).to_be_bytes());
        assert!(matches!(check(&f), Err(Malformed::Negative { .. })));
        let mut f = header(ApiKey::Metadata, 1);
        f.extend_from_slice(&(-1i32).to_be_bytes()); // null: all topics
        assert_eq!(check(&f), Ok(()));
        let mut f = header(ApiKey::Metadata, 1);
        f.extend_from_slice(&1i32.to_be_bytes());
        f.extend_from_slice(&(-5i16).to_be_bytes());
        assert!(matches!(check(&f), Err(Malformed::Negative { .. })));
    }

    #[test]
    fn malformed_varints_fail() {
        for bad in [
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01][..], // six bytes
            &[0x80, 0x80, 0x80, 0x80, 0x10],           // above u32::MAX
        ] {
            let mut f = header(ApiKey::Metadata, 12);
            f.extend_from_slice(bad);
            f.extend_from_slice(&[0; 8]);
            assert!(
                matches!(
                    check(&f),
                    Err(Malformed::Varint { .. } | Malformed::TooLong { .. })
                ),
                "{bad:?}: {:?}",
                check(&f)
            );
        }
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0]);
        assert!(matches!(check(&f), Err(Malformed::Varint { .. })));
        // Cut short inside a varint.
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[0x80, 0x80]);
        assert!(check(&f).is_err());
        // A non-minimal but well-formed varint (1, an empty array, in two bytes) is accepted,
        // as the codec accepts it.
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[0x81, 0x00, 0, 0, 0]);
        assert_eq!(check(&f), Ok(()));
    }

    #[test]
    fn tagged_field_sizes_are_checked() {
        // Header v2 tagged field of 2^28 bytes.
        let mut f = header(ApiKey::Metadata, 12);
        f.pop();
        f.extend_from_slice(&[1, 0, 0x80, 0x80, 0x80, 0x80, 0x01]);
        f.extend_from_slice(&[1, 0, 0, 0, 0]);
        assert!(too_long(&f));
        // Body tagged-field count above the bytes left.
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[1, 0, 0, 0xff, 0xff, 0x03]);
        assert!(too_long(&f));
        // A body tagged field of 10 bytes with 3 left.
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[1, 0, 0, 1, 5, 10, 1, 2, 3]);
        assert!(too_long(&f));
        // The same with its 10 bytes: passes (unknown tags are skipped).
        let mut f = header(ApiKey::Metadata, 12);
        f.extend_from_slice(&[1, 0, 0, 1, 5, 10]);
        f.extend_from_slice(&[0; 10]);
        assert_eq!(check(&f), Ok(()));
        // A nested struct's tagged fields: a Metadata v12 topic with a tagged field overrun.
        let mut f = header(ApiKey::Metadata, 12);
        f.push(2); // one topic
        f.extend_from_slice(&[0; 16]);
        f.extend_from_slice(&[2, b't', 1, 3, 100]);
        f.extend_from_slice(&[0; 10]);
        assert!(too_long(&f));
    }

    #[test]
    fn known_tagged_fields_must_fill_their_size() {
        let fetch_v12 = |tags: &[u8]| {
            let mut f = header(ApiKey::Fetch, 12);
            f.extend_from_slice(&[0; 25]); // replica id … session epoch
            f.extend_from_slice(&[1, 1, 0]); // no topics, no forgotten topics, null rack
            f.extend_from_slice(tags);
            f
        };
        // Cluster id (tag 0) "ab" in 3 bytes: passes.
        assert_eq!(check(&fetch_v12(&[1, 0, 3, 3, b'a', b'b'])), Ok(()));
        // Declared 1 byte, but the string needs 3.
        let f = fetch_v12(&[1, 0, 1, 3, b'a', b'b']);
        assert!(check(&f).is_err(), "{:?}", check(&f));
        // Declared 4 bytes, the string takes 3.
        let f = fetch_v12(&[1, 0, 4, 3, b'a', b'b', 0]);
        assert!(matches!(check(&f), Err(Malformed::TagSize { tag: 0, .. })));
    }

    #[test]
    fn unknown_apis_and_versions_have_no_layout() {
        for (api, version) in [
            (ApiKey::Metadata, 13_i16),
            (ApiKey::Fetch, 3),
            (ApiKey::JoinGroup, 10),
            (ApiKey::OffsetCommit, 1),
            (ApiKey::OffsetDelete, 1),
            (ApiKey::EndTxn, 4),
            (ApiKey::WriteTxnMarkers, 0),
        ] {
            let mut f = header(ApiKey::ApiVersions, 0);
            f[0..2].copy_from_slice(&(api as i16).to_be_bytes());
            f[2..4].copy_from_slice(&version.to_be_bytes());
            f.extend_from_slice(&[0; 16]);
            assert!(
                matches!(check(&f), Err(Malformed::NoLayout { .. })),
                "{api:?} v{version}"
            );
        }
        assert!(check(&[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).is_err());
    }

    #[test]
    fn every_truncated_captured_request_fails() {
        for (name, frame) in fixtures() {
            for len in 0..frame.len() {
                assert!(check(&frame[..len]).is_err(), "{name} cut to {len}");
            }
        }
    }
}
