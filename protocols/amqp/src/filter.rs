//! Event Hubs selector filters: where a receive link starts reading.
//!
//! The filter set holds `apache.org:selector-filter:string` described by that symbol (pyamqp)
//! or by the code `0x0000468C00000004` (rhea/JS). Its string is one comparison:
//! `amqp.annotation.x-opt-{offset|sequence-number|enqueued-time} {>|>=} '{value}'`, where the
//! offset may be `-1` (start of stream) or `@latest` (only new events).

use fe2o3_amqp::types::messaging::FilterSet;
use fe2o3_amqp::types::primitives::Value;
use serde_amqp::descriptor::Descriptor;

use crate::error::Error;

/// Symbol naming the selector filter (both as filter-set key and as descriptor).
pub const SELECTOR: &str = "apache.org:selector-filter:string";
/// Numeric descriptor of the selector filter.
pub const SELECTOR_CODE: u64 = 0x0000_468C_0000_0004;

/// Where a reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// The first record still stored (`-1`, or no filter).
    Earliest,
    /// Only records appended after the link attached (`@latest`).
    Latest,
    /// From an offset (sequence number); `inclusive` is `>=`.
    Offset {
        /// The offset compared against.
        offset: i64,
        /// Whether the record at `offset` itself is delivered.
        inclusive: bool,
    },
    /// From an enqueued time in ms since the Unix epoch; `inclusive` is `>=`.
    EnqueuedTime {
        /// The time compared against.
        ms: i64,
        /// Whether a record enqueued exactly at `ms` is delivered.
        inclusive: bool,
    },
}

/// The start position a filter set asks for; `Earliest` when it has no selector.
///
/// # Errors
/// [`Error::InvalidField`] for a selector that is not one of the Event Hubs forms.
pub fn start_position(filter: Option<&FilterSet>) -> Result<StartPosition, Error> {
    let Some(filter) = filter else {
        return Ok(StartPosition::Earliest);
    };
    for (key, value) in filter.iter() {
        let selector = match value {
            Value::Described(described) => {
                let known = match &described.descriptor {
                    Descriptor::Name(name) => name.as_str() == SELECTOR,
                    Descriptor::Code(code) => *code == SELECTOR_CODE,
                };
                match (&described.value, known) {
                    (Value::String(s), true) => Some(s.as_str()),
                    _ => None,
                }
            }
            Value::String(s) if key.as_str() == SELECTOR => Some(s.as_str()),
            _ => None,
        };
        if let Some(selector) = selector {
            return parse_selector(selector);
        }
    }
    Ok(StartPosition::Earliest)
}

/// Parses one selector expression.
///
/// # Errors
/// [`Error::InvalidField`] for anything but the documented comparisons.
pub fn parse_selector(selector: &str) -> Result<StartPosition, Error> {
    let bad = || Error::InvalidField(format!("unsupported selector filter `{selector}`"));
    let rest = selector.trim();
    let rest = rest.strip_prefix("amqp.annotation.").ok_or_else(bad)?;
    let (field, rest) = rest.split_once(char::is_whitespace).ok_or_else(bad)?;
    let rest = rest.trim_start();
    let (inclusive, rest) = if let Some(r) = rest.strip_prefix(">=") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix('>') {
        (false, r)
    } else {
        return Err(bad());
    };
    let value = rest
        .trim()
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .ok_or_else(bad)?;
    match field {
        "x-opt-offset" => match value {
            "-1" => Ok(StartPosition::Earliest),
            "@latest" => Ok(StartPosition::Latest),
            n => Ok(StartPosition::Offset {
                offset: n.parse().map_err(|_| bad())?,
                inclusive,
            }),
        },
        "x-opt-sequence-number" => match value.parse::<i64>().map_err(|_| bad())? {
            n if n < 0 => Ok(StartPosition::Earliest),
            n => Ok(StartPosition::Offset {
                offset: n,
                inclusive,
            }),
        },
        "x-opt-enqueued-time" => Ok(StartPosition::EnqueuedTime {
            ms: value.parse().map_err(|_| bad())?,
            inclusive,
        }),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fe2o3_amqp::types::primitives::Symbol;
    use serde_amqp::described::Described;

    #[test]
    fn every_documented_form() {
        let cases = [
            (
                "amqp.annotation.x-opt-offset > '-1'",
                StartPosition::Earliest,
            ),
            (
                "amqp.annotation.x-opt-offset >= '-1'",
                StartPosition::Earliest,
            ),
            (
                "amqp.annotation.x-opt-offset > '@latest'",
                StartPosition::Latest,
            ),
            (
                "amqp.annotation.x-opt-offset > '12'",
                StartPosition::Offset {
                    offset: 12,
                    inclusive: false,
                },
            ),
            (
                "amqp.annotation.x-opt-offset >= '12'",
                StartPosition::Offset {
                    offset: 12,
                    inclusive: true,
                },
            ),
            (
                "amqp.annotation.x-opt-sequence-number >= '7'",
                StartPosition::Offset {
                    offset: 7,
                    inclusive: true,
                },
            ),
            (
                "amqp.annotation.x-opt-sequence-number > '7'",
                StartPosition::Offset {
                    offset: 7,
                    inclusive: false,
                },
            ),
            (
                "amqp.annotation.x-opt-enqueued-time > '1700000000000'",
                StartPosition::EnqueuedTime {
                    ms: 1_700_000_000_000,
                    inclusive: false,
                },
            ),
            (
                "amqp.annotation.x-opt-enqueued-time >= '1700000000000'",
                StartPosition::EnqueuedTime {
                    ms: 1_700_000_000_000,
                    inclusive: true,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_selector(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn malformed_selectors_are_invalid_fields() {
        for bad in [
            "",
            "amqp.annotation.x-opt-offset = '1'",
            "amqp.annotation.x-opt-offset > 1",
            "amqp.annotation.x-opt-offset > 'abc'",
            "amqp.annotation.x-opt-foo > '1'",
            "x-opt-offset > '1'",
            "amqp.annotation.x-opt-offset > '1",
        ] {
            assert!(
                matches!(parse_selector(bad), Err(Error::InvalidField(_))),
                "{bad}"
            );
        }
    }

    fn filter_with(descriptor: Descriptor) -> FilterSet {
        let mut f = FilterSet::new();
        f.insert(
            Symbol::from(SELECTOR),
            Value::Described(Box::new(Described {
                descriptor,
                value: Value::String("amqp.annotation.x-opt-offset >= '5'".into()),
            })),
        );
        f
    }

    #[test]
    fn both_descriptor_forms() {
        let want = StartPosition::Offset {
            offset: 5,
            inclusive: true,
        };
        let by_name = filter_with(Descriptor::Name(Symbol::from(SELECTOR)));
        assert_eq!(start_position(Some(&by_name)).unwrap(), want);
        let by_code = filter_with(Descriptor::Code(SELECTOR_CODE));
        assert_eq!(start_position(Some(&by_code)).unwrap(), want);
        assert_eq!(start_position(None).unwrap(), StartPosition::Earliest);
        assert_eq!(
            start_position(Some(&FilterSet::new())).unwrap(),
            StartPosition::Earliest
        );
    }
}
