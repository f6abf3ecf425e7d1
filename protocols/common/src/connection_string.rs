//! Event Hubs connection strings: `Endpoint=sb://host/;SharedAccessKeyName=…;SharedAccessKey=…`.
//!
//! One parser for every front end. A connection string is a list of `Key=Value` pairs separated
//! by `;`; keys are matched case-insensitively, the value runs to the next `;` (it may contain
//! `=`, as base64 keys and SAS tokens do), empty segments are skipped and unknown keys ignored.
//! The credential is either a policy name and key (`SharedAccessKeyName` + `SharedAccessKey`) or
//! a ready-made token (`SharedAccessSignature`), never both.

use std::fmt;

use crate::Secret;

/// What a connection string authenticates with.
pub enum Credential {
    /// A policy name and its key.
    Key {
        /// `SharedAccessKeyName`.
        name: String,
        /// `SharedAccessKey`.
        key: Secret,
    },
    /// A SAS token (`SharedAccessSignature sr=…&sig=…&se=…&skn=…`).
    Token(Secret),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key { name, .. } => f.debug_struct("Key").field("name", name).finish(),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// A parsed connection string.
#[derive(Debug)]
pub struct ConnectionString {
    /// `Endpoint`, when given.
    pub endpoint: Option<String>,
    /// The credential.
    pub credential: Credential,
    /// `EntityPath`: the one hub the credential is limited to, when given.
    pub entity_path: Option<String>,
    /// `UseDevelopmentEmulator=true`.
    pub emulator: bool,
}

/// Why a connection string was refused. Never carries the key or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    /// A segment without `=`.
    #[error("connection string segment without '='")]
    NotKeyValue,
    /// A key given twice.
    #[error("connection string key {0} given twice")]
    Duplicate(&'static str),
    /// Neither a key pair nor a token.
    #[error(
        "connection string has neither SharedAccessKeyName and SharedAccessKey nor SharedAccessSignature"
    )]
    NoCredential,
    /// Both a key pair and a token.
    #[error("connection string has both a key and a SharedAccessSignature")]
    BothCredentials,
    /// A key name without a key or the other way round.
    #[error("connection string needs both SharedAccessKeyName and SharedAccessKey")]
    HalfKey,
    /// An empty `EntityPath`.
    #[error("connection string has an empty EntityPath")]
    EmptyEntityPath,
}

impl std::str::FromStr for ConnectionString {
    type Err = ConnectionStringError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}

/// The keys this parser knows, in the spelling errors use.
const KEYS: [&str; 6] = [
    "Endpoint",
    "SharedAccessKeyName",
    "SharedAccessKey",
    "SharedAccessSignature",
    "EntityPath",
    "UseDevelopmentEmulator",
];

/// Parses `text` as an Event Hubs connection string.
///
/// # Errors
/// [`ConnectionStringError`] for a malformed string or a missing or doubled credential.
pub fn parse(text: &str) -> Result<ConnectionString, ConnectionStringError> {
    let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
    for segment in text.split(';') {
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        let (key, value) = segment
            .split_once('=')
            .ok_or(ConnectionStringError::NotKeyValue)?;
        let Some(slot) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(key.trim())) else {
            continue;
        };
        if values[slot].replace(value.trim()).is_some() {
            return Err(ConnectionStringError::Duplicate(KEYS[slot]));
        }
    }
    let [endpoint, name, key, token, entity, emulator] = values;
    let credential = match (name, key, token) {
        (Some(_), Some(_), Some(_)) => return Err(ConnectionStringError::BothCredentials),
        (None, None, Some(token)) => Credential::Token(Secret::new(token)),
        (Some(name), Some(key), None) => Credential::Key {
            name: name.to_owned(),
            key: Secret::new(key),
        },
        (None, None, None) => return Err(ConnectionStringError::NoCredential),
        (_, _, Some(_)) => return Err(ConnectionStringError::BothCredentials),
        _ => return Err(ConnectionStringError::HalfKey),
    };
    let entity_path = match entity {
        Some("") => return Err(ConnectionStringError::EmptyEntityPath),
        other => other.map(str::to_owned),
    };
    Ok(ConnectionString {
        endpoint: endpoint.map(str::to_owned),
        credential,
        entity_path,
        emulator: emulator.is_some_and(|v| v.eq_ignore_ascii_case("true")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_string_parses() {
        let cs = parse("Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;").unwrap();
        assert_eq!(cs.endpoint.as_deref(), Some("sb://localhost"));
        assert!(cs.emulator);
        assert!(cs.entity_path.is_none());
        let Credential::Key { name, key } = &cs.credential else {
            panic!("{cs:?}")
        };
        assert_eq!(name, "RootManageSharedAccessKey");
        assert_eq!(key.expose(), b"SAS_KEY_VALUE");
    }

    #[test]
    fn keys_are_case_insensitive_and_values_keep_equals_signs() {
        let cs =
            parse("endpoint=sb://h/;sharedaccesskeyname=p;SHAREDACCESSKEY=abc==;entitypath=orders")
                .unwrap();
        let Credential::Key { name, key } = &cs.credential else {
            panic!("{cs:?}")
        };
        assert_eq!((name.as_str(), key.expose()), ("p", &b"abc=="[..]));
        assert_eq!(cs.entity_path.as_deref(), Some("orders"));
        assert!(!cs.emulator);
    }

    #[test]
    fn a_token_credential_is_kept_whole() {
        let token = "SharedAccessSignature sr=sb%3A%2F%2Fh%2Fo&sig=a%3D&se=1&skn=p";
        let cs = parse(&format!("Endpoint=sb://h/;SharedAccessSignature={token}")).unwrap();
        let Credential::Token(t) = &cs.credential else {
            panic!("{cs:?}")
        };
        assert_eq!(t.expose(), token.as_bytes());
    }

    #[test]
    fn malformed_strings_are_refused() {
        use ConnectionStringError as E;
        for (text, err) in [
            ("Endpoint=sb://h/", E::NoCredential),
            ("SharedAccessKeyName=p", E::HalfKey),
            ("SharedAccessKey=k", E::HalfKey),
            (
                "SharedAccessKeyName=p;SharedAccessKey=k;SharedAccessSignature=t",
                E::BothCredentials,
            ),
            (
                "SharedAccessKey=k;SharedAccessSignature=t",
                E::BothCredentials,
            ),
            (
                "SharedAccessKeyName=p;sharedaccesskeyname=q;SharedAccessKey=k",
                E::Duplicate("SharedAccessKeyName"),
            ),
            ("garbage", E::NotKeyValue),
            (
                "SharedAccessKeyName=p;SharedAccessKey=k;EntityPath=",
                E::EmptyEntityPath,
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), err, "{text}");
        }
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let cs = parse("SharedAccessKeyName=p;SharedAccessKey=topsecret").unwrap();
        assert!(!format!("{cs:?}").contains("topsecret"));
        let cs = parse("SharedAccessSignature=SharedAccessSignature sig=topsecret").unwrap();
        assert!(!format!("{cs:?}").contains("topsecret"));
    }
}
