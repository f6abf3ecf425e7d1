//! Bounds for everything the peer controls, checked before anything is allocated.
//!
//! Every front end reads lengths and counts from the wire (Kafka's `i32` size prefixes and array
//! counts, AMQP frame sizes, HTTP `Content-Length`). Each such value goes through
//! [`checked_len`] (signed) or [`checked_len_u64`] (unsigned) before it is used to size a buffer,
//! so a hostile prefix costs an error, not memory.

use std::time::Duration;

/// A peer-supplied length or count that is out of bounds.
///
/// A front end answers a per-request violation with its protocol's error code where it can and
/// closes the connection when the violation is in the framing itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The value was negative where only a length or count (≥ 0) makes sense.
    #[error("{what} is negative ({value})")]
    Negative {
        /// What was being measured, e.g. `"request size"`.
        what: &'static str,
        /// The value as received.
        value: i64,
    },
    /// The value was larger than the configured limit.
    #[error("{what} of {value} exceeds the limit of {limit}")]
    TooLarge {
        /// What was being measured, e.g. `"request size"`.
        what: &'static str,
        /// The value as received.
        value: u64,
        /// The limit it was checked against.
        limit: usize,
    },
}

/// Checks a signed, peer-supplied length or count against `limit` (inclusive).
///
/// Signed wire integers (Kafka `INT32`/`INT16`, varints) widen losslessly into `i64`. Kafka's
/// `-1` "null" marker is not a length: handle it before calling this, which rejects it.
///
/// # Errors
///
/// [`LimitError::Negative`] if `value < 0`; [`LimitError::TooLarge`] if `value > limit`.
///
/// # Examples
///
/// ```
/// use hubgate_protocol::{checked_len, LimitError};
/// assert_eq!(checked_len(512, 1024, "frame"), Ok(512));
/// assert!(matches!(checked_len(-1, 1024, "frame"), Err(LimitError::Negative { .. })));
/// assert!(matches!(checked_len(1025, 1024, "frame"), Err(LimitError::TooLarge { .. })));
/// ```
pub fn checked_len(value: i64, limit: usize, what: &'static str) -> Result<usize, LimitError> {
    let Ok(unsigned) = u64::try_from(value) else {
        return Err(LimitError::Negative { what, value });
    };
    checked_len_u64(unsigned, limit, what)
}

/// Checks an unsigned, peer-supplied length or count (AMQP frame size, HTTP `Content-Length`)
/// against `limit` (inclusive).
///
/// # Errors
///
/// [`LimitError::TooLarge`] if `value > limit`.
pub fn checked_len_u64(value: u64, limit: usize, what: &'static str) -> Result<usize, LimitError> {
    let too_large = LimitError::TooLarge { what, value, limit };
    // `usize` is at most 64 bits on every supported target, so `limit as u64` is lossless; the
    // `try_from` below can then only fail if it were not, and reports it as too large.
    if value > limit as u64 {
        return Err(too_large);
    }
    usize::try_from(value).map_err(|_| too_large)
}

/// Gateway-wide defaults for peer-controlled sizes and timeouts.
///
/// The gateway builds one from its config and hands the relevant fields to each front end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame or request a client may send, in bytes, checked against the length prefix
    /// before the body is read. Default 100 MiB, Kafka's `socket.request.max.bytes`.
    pub max_frame_bytes: usize,
    /// Largest single event or batch of events accepted for one partition, in bytes. Default
    /// 1 MiB, Event Hubs' maximum event (and batch) size, and the `max-message-size` its AMQP
    /// endpoint announces.
    pub max_message_bytes: usize,
    /// Largest element count accepted for any array in a frame (topics, partitions, records,
    /// AMQP list entries). Default 2^20. A count is also never trusted beyond what the bytes
    /// left in the frame could hold.
    pub max_array_len: usize,
    /// How long a new connection may take to authenticate (SASL, or an AMQP `$cbs` put-token)
    /// before it is closed. Default 20 s, as Event Hubs' AMQP endpoint.
    pub auth_timeout: Duration,
    /// How long a connection may stay silent before it is closed. Default 10 min, Kafka's
    /// `connections.max.idle.ms`.
    pub idle_timeout: Duration,
}

impl Limits {
    /// Checks a frame's length prefix against [`Limits::max_frame_bytes`].
    ///
    /// # Errors
    ///
    /// As [`checked_len`], with `what = "frame size"`.
    pub fn frame_len(&self, value: i64) -> Result<usize, LimitError> {
        checked_len(value, self.max_frame_bytes, "frame size")
    }

    /// Checks a message or batch size against [`Limits::max_message_bytes`].
    ///
    /// # Errors
    ///
    /// As [`checked_len`], with `what = "message size"`.
    pub fn message_len(&self, value: i64) -> Result<usize, LimitError> {
        checked_len(value, self.max_message_bytes, "message size")
    }

    /// Checks an array's element count against [`Limits::max_array_len`].
    ///
    /// # Errors
    ///
    /// As [`checked_len`], with `what = "array length"`.
    pub fn array_len(&self, value: i64) -> Result<usize, LimitError> {
        checked_len(value, self.max_array_len, "array length")
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 100 * 1024 * 1024,
            max_message_bytes: 1024 * 1024,
            max_array_len: 1 << 20,
            auth_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_is_rejected() {
        assert_eq!(
            checked_len(-1, 10, "frame size"),
            Err(LimitError::Negative {
                what: "frame size",
                value: -1
            })
        );
        assert!(matches!(
            checked_len(i64::MIN, usize::MAX, "x"),
            Err(LimitError::Negative {
                value: i64::MIN,
                ..
            })
        ));
    }

    #[test]
    fn one_over_the_limit_is_rejected() {
        assert_eq!(
            checked_len(11, 10, "frame size"),
            Err(LimitError::TooLarge {
                what: "frame size",
                value: 11,
                limit: 10
            })
        );
        assert!(checked_len(i64::MAX, 10, "x").is_err());
        assert!(checked_len_u64(11, 10, "x").is_err());
        assert!(checked_len_u64(u64::MAX, usize::MAX - 1, "x").is_err());
    }

    #[test]
    fn at_and_under_the_limit_are_accepted() {
        assert_eq!(checked_len(10, 10, "x"), Ok(10));
        assert_eq!(checked_len(9, 10, "x"), Ok(9));
        assert_eq!(checked_len(0, 10, "x"), Ok(0));
        assert_eq!(checked_len(0, 0, "x"), Ok(0));
        assert_eq!(checked_len_u64(10, 10, "x"), Ok(10));
        assert_eq!(checked_len_u64(0, 10, "x"), Ok(0));
    }

    #[test]
    fn error_messages_name_the_value_and_limit() {
        let err = checked_len(2_000_000, 1_048_576, "message size").unwrap_err();
        assert_eq!(
            err.to_string(),
            "message size of 2000000 exceeds the limit of 1048576"
        );
        let err = checked_len(-5, 10, "array length").unwrap_err();
        assert_eq!(err.to_string(), "array length is negative (-5)");
    }

    #[test]
    fn default_limits_match_their_documented_sources() {
        let limits = Limits::default();
        assert_eq!(limits.max_frame_bytes, 104_857_600);
        assert_eq!(limits.max_message_bytes, 1_048_576);
        assert_eq!(limits.max_array_len, 1_048_576);
        assert_eq!(limits.auth_timeout, Duration::from_secs(20));
        assert_eq!(limits.idle_timeout, Duration::from_secs(600));
        assert!(limits.max_message_bytes <= limits.max_frame_bytes);
    }

    #[test]
    fn limits_methods_use_their_own_field() {
        let limits = Limits {
            max_frame_bytes: 100,
            max_message_bytes: 10,
            max_array_len: 3,
            ..Limits::default()
        };
        assert_eq!(limits.frame_len(100), Ok(100));
        assert!(matches!(
            limits.frame_len(101),
            Err(LimitError::TooLarge {
                what: "frame size",
                limit: 100,
                ..
            })
        ));
        assert_eq!(limits.message_len(10), Ok(10));
        assert!(limits.message_len(11).is_err());
        assert_eq!(limits.array_len(3), Ok(3));
        assert!(limits.array_len(4).is_err());
        assert!(limits.array_len(-1).is_err());
    }
}
