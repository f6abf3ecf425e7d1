//! SASL PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`.
//!
//! As Kafka's PLAIN server: exactly three fields, user and password non-empty, and an
//! authorization id that is empty or equal to the user (aiokafka and kafka-python send
//! `user NUL user NUL password`). The success reply is empty.

use hubgate_protocol::Secret;

/// A PLAIN message's user and password.
pub(crate) struct PlainCredentials {
    /// The authentication id: a policy name, or `$ConnectionString`.
    pub(crate) user: String,
    /// The password: a policy key, or an Event Hubs connection string.
    pub(crate) password: Secret,
}

impl std::fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

/// Why a PLAIN message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlainError {
    /// Not three NUL-separated UTF-8 fields.
    #[error("malformed PLAIN message")]
    Malformed,
    /// An empty user or password.
    #[error("empty PLAIN user or password")]
    Empty,
    /// An authorization id other than the user.
    #[error("PLAIN authorization id differs from the user")]
    Authzid,
}

/// Parses a PLAIN message.
pub(crate) fn parse(message: &[u8]) -> Result<PlainCredentials, PlainError> {
    let mut fields = message.split(|&b| b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(PlainError::Malformed);
    };
    let user = std::str::from_utf8(user).map_err(|_| PlainError::Malformed)?;
    if user.is_empty() || password.is_empty() {
        return Err(PlainError::Empty);
    }
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err(PlainError::Authzid);
    }
    Ok(PlainCredentials {
        user: user.to_owned(),
        password: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librdkafka_and_kafka_python_forms_parse() {
        for message in [&b"\0user\0pw"[..], b"user\0user\0pw"] {
            let c = parse(message).unwrap();
            assert_eq!((c.user.as_str(), c.password.expose()), ("user", &b"pw"[..]));
        }
    }

    #[test]
    fn bad_messages_are_refused() {
        assert_eq!(parse(b"user\0pw").unwrap_err(), PlainError::Malformed);
        assert_eq!(parse(b"\0a\0b\0c").unwrap_err(), PlainError::Malformed);
        assert_eq!(parse(b"\0\0pw").unwrap_err(), PlainError::Empty);
        assert_eq!(parse(b"\0user\0").unwrap_err(), PlainError::Empty);
        assert_eq!(parse(b"other\0user\0pw").unwrap_err(), PlainError::Authzid);
        assert_eq!(parse(b"\0\xff\0pw").unwrap_err(), PlainError::Malformed);
    }

    #[test]
    fn debug_hides_the_password() {
        let c = parse(b"\0user\0hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
