//! What the AMQP integration tests share: Event Hubs receiver sources and owner levels.

use fe2o3_amqp::types::definitions::Fields;
use fe2o3_amqp::types::messaging::Source;
use fe2o3_amqp::types::primitives::{Symbol, Value};
use serde_amqp::described::Described;
use serde_amqp::descriptor::Descriptor;

/// A receiver source for `address` with an Event Hubs selector filter (`amqp.annotation.x-opt-…`).
pub(crate) fn reader_source(address: &str, selector: &str) -> Source {
    Source::builder()
        .address(address)
        .add_to_filter(
            "apache.org:selector-filter:string",
            Described {
                descriptor: Descriptor::Name(Symbol::from("apache.org:selector-filter:string")),
                value: Value::String(selector.into()),
            },
        )
        .build()
}

/// Attach properties asking for owner level `e`.
pub(crate) fn epoch(e: i64) -> Fields {
    let mut fields = Fields::new();
    fields.insert(Symbol::from("com.microsoft:epoch"), Value::Long(e));
    fields
}
