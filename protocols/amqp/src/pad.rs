//! azure-eventhub 5.15.1 ("pyamqp") decodes performatives by position and never pads a list
//! the sender shortened by omitting trailing nulls, which fe2o3-amqp always does. Each
//! performative the gateway sends therefore ends with a non-null field:
//! - Open, Begin and Attach carry [`fields`] as their (last) `properties`;
//! - Begin sets `handle-max` below `u32::MAX` (the default is encoded as null);
//! - transfers go out with `send_batchable` (`batchable = true` is the last field);
//! - every Close, End and Detach the gateway starts carries an error with a non-null `info`
//!   ([`crate::error::amqp_error`]).

use fe2o3_amqp::types::definitions::Fields;
use fe2o3_amqp::types::primitives::{Symbol, Value};

/// Largest link handle offered in Begin. Anything but `u32::MAX` (encoded as null) keeps
/// pyamqp working; 1023 also bounds the links one session can hold (255 sessions per
/// connection).
pub(crate) const HANDLE_MAX: u32 = 1023;

/// Non-empty properties naming the gateway.
pub(crate) fn fields() -> Fields {
    let mut fields = Fields::new();
    fields.insert(Symbol::from("product"), Value::String("hubgate".to_owned()));
    fields.insert(
        Symbol::from("version"),
        Value::String(env!("CARGO_PKG_VERSION").to_owned()),
    );
    fields
}
