//! Event Hubs link addresses, bare (`hub/Partitions/0`) or as URIs
//! (`amqps://host:port/hub/Partitions/0`); `ConsumerGroups` and `Partitions` match in any case.

use crate::error::Error;

/// What a link address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// The claims-based-security node `$cbs`.
    Cbs,
    /// The management node `$management` (or `{hub}/$management`).
    Management,
    /// A hub, optionally one partition of it, as a send target.
    Hub {
        /// Hub name.
        hub: String,
        /// Partition id, when the address names one.
        partition: Option<u32>,
    },
    /// A partition read through a consumer group (`{hub}/ConsumerGroups/{cg}/Partitions/{id}`),
    /// or `{hub}/Partitions/{id}` read through `$Default`.
    Consumer {
        /// Hub name.
        hub: String,
        /// Consumer group.
        group: String,
        /// Partition id.
        partition: u32,
    },
}

/// The consumer group every hub has.
pub const DEFAULT_GROUP: &str = "$Default";

/// Strips `scheme://authority` from a URI address; bare paths are returned without leading `/`.
fn path_of(address: &str) -> &str {
    let path = match address.find("://") {
        Some(i) => {
            let rest = &address[i + 3..];
            rest.find('/').map_or("", |j| &rest[j..])
        }
        None => address,
    };
    path.trim_matches('/')
}

fn partition_id(text: &str) -> Result<u32, Error> {
    text.parse()
        .map_err(|_| Error::NotFound(format!("partition `{text}` does not exist")))
}

/// Parses a link address.
///
/// # Errors
/// [`Error::NotFound`] for an address of no known shape or a non-numeric partition.
pub fn parse(address: &str) -> Result<Address, Error> {
    let path = path_of(address);
    let parts: Vec<&str> = path.split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match parts.as_slice() {
        ["$cbs"] => Ok(Address::Cbs),
        ["$management"] | [_, "$management"] => Ok(Address::Management),
        [hub] if !hub.is_empty() => Ok(Address::Hub {
            hub: (*hub).to_owned(),
            partition: None,
        }),
        [hub, p, id] if eq(p, "Partitions") => Ok(Address::Hub {
            hub: (*hub).to_owned(),
            partition: Some(partition_id(id)?),
        }),
        [hub, c, group, p, id] if eq(c, "ConsumerGroups") && eq(p, "Partitions") => {
            Ok(Address::Consumer {
                hub: (*hub).to_owned(),
                group: (*group).to_owned(),
                partition: partition_id(id)?,
            })
        }
        _ => Err(Error::NotFound(format!(
            "the messaging entity `{address}` could not be found"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_uri_forms() {
        assert_eq!(parse("$cbs").unwrap(), Address::Cbs);
        assert_eq!(parse("$management").unwrap(), Address::Management);
        assert_eq!(parse("hub1/$management").unwrap(), Address::Management);
        assert_eq!(
            parse("amqps://127.0.0.1:5672/hub1").unwrap(),
            Address::Hub {
                hub: "hub1".into(),
                partition: None
            }
        );
        assert_eq!(
            parse("hub1/partitions/3").unwrap(),
            Address::Hub {
                hub: "hub1".into(),
                partition: Some(3)
            }
        );
        assert_eq!(
            parse("amqps://h:1/hub1/ConsumerGroups/$Default/Partitions/0").unwrap(),
            Address::Consumer {
                hub: "hub1".into(),
                group: "$Default".into(),
                partition: 0
            }
        );
        assert_eq!(
            parse("/hub1/consumergroups/cg/partitions/2").unwrap(),
            Address::Consumer {
                hub: "hub1".into(),
                group: "cg".into(),
                partition: 2
            }
        );
    }

    #[test]
    fn unknown_shapes_are_not_found() {
        for bad in [
            "",
            "amqp://host",
            "a/b",
            "hub/Partitions/x",
            "hub/Partitions/-1",
            "a/b/c/d/e/f",
        ] {
            assert!(matches!(parse(bad), Err(Error::NotFound(_))), "{bad}");
        }
    }
}
