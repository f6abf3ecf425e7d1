//! `$cbs` put-token: a client proves what it may do by putting a SAS token for an audience.
//!
//! The request carries application properties `operation` = `put-token`, `name` = the
//! audience (`sb://host/hub`, `…/consumergroups/cg`), `type` =
//! `servicebus.windows.net:sastoken`, and the token as an amqp-value string. With access
//! policies the token is verified ([`Access::put_token`]: signature over the raw `sr`,
//! expiry, `sr` covering the audience) and answered `200`, or `401` with a
//! `status-description` and `error-condition` `amqp:unauthorized-access`, as Event Hubs
//! does; pyamqp treats any status outside 200–299 as an authentication failure. A token put
//! with `type` = `jwt` (what the SDKs send for a generic token credential) is verified the
//! same way: hubgate only knows SAS tokens, so a real JWT is refused as malformed. With no
//! policy the token is not checked and the answer is `202 Accepted`.
//!
//! The token itself is never logged: only the audience, the policy name and the expiry.

use fe2o3_amqp::types::messaging::{AmqpValue, Body};
use fe2o3_amqp::types::primitives::Value;
use hubgate_protocol::sas::{MAX_TOKEN_LEN, SasError};
use tracing::debug;

use crate::access::{Access, TokenError, now_secs};
use crate::error::Error;
use crate::mapping::AmqpMessage;
use crate::nodes::{app_string, error_reply, reply};

/// The token type of a SAS token.
const SAS_TOKEN_TYPE: &str = "servicebus.windows.net:sastoken";
/// The token type the SDKs send for a token credential that is not a SAS credential.
const JWT_TOKEN_TYPE: &str = "jwt";
/// Longest audience accepted; SDK audiences are a few dozen bytes.
const MAX_AUDIENCE_LEN: usize = 1024;

/// Answers one `$cbs` request.
pub(crate) fn request(access: &Access, request: &AmqpMessage) -> AmqpMessage {
    match app_string(request, "operation") {
        Some("put-token") => match put_token(access, request) {
            Ok(reply) => reply,
            Err(error) => {
                debug!(%error, "token refused");
                error_reply(&error)
            }
        },
        other => error_reply(&Error::NotImplemented(format!(
            "operation {other:?} is not supported by $cbs"
        ))),
    }
}

fn put_token(access: &Access, request: &AmqpMessage) -> Result<AmqpMessage, Error> {
    let audience = app_string(request, "name").unwrap_or_default();
    let kind = app_string(request, "type").unwrap_or(SAS_TOKEN_TYPE);
    if access.is_open() {
        debug!(
            audience,
            kind, "token accepted unchecked (no access policy)"
        );
        return Ok(reply(202, "Accepted", Value::Null));
    }
    if audience.is_empty() || audience.len() > MAX_AUDIENCE_LEN {
        return Err(Error::InvalidField(format!(
            "put-token needs a `name` (the audience) of at most {MAX_AUDIENCE_LEN} bytes"
        )));
    }
    if kind != SAS_TOKEN_TYPE && kind != JWT_TOKEN_TYPE {
        return Err(Error::Unauthorized(format!(
            "InvalidToken: token type `{kind}` is not supported; use {SAS_TOKEN_TYPE}"
        )));
    }
    let token = match &request.body {
        Body::Value(AmqpValue(Value::String(token))) if token.len() <= MAX_TOKEN_LEN => token,
        _ => {
            return Err(Error::Unauthorized(
                "InvalidToken: the body must be the token, an AMQP string".into(),
            ));
        }
    };
    match access.put_token(audience, token, now_secs()) {
        Ok((policy, expiry)) => {
            debug!(audience, policy, expiry, "token accepted");
            Ok(reply(200, "OK", Value::Null))
        }
        Err(error) => Err(refusal(&error)),
    }
}

/// The error a refused token is answered with. A wrong key and an unknown policy name read
/// the same, so a client cannot learn which policies exist.
fn refusal(error: &TokenError) -> Error {
    let text = match error {
        TokenError::Invalid(SasError::BadSignature | SasError::UnknownKeyName(_)) => {
            "InvalidSignature: The token has an invalid signature.".to_owned()
        }
        TokenError::Invalid(SasError::Expired { expiry }) => {
            format!("ExpiredToken: The token is expired. Expiration time: {expiry} (Unix seconds).")
        }
        TokenError::Invalid(SasError::Malformed(why)) => {
            format!("InvalidToken: The token is not a valid SharedAccessSignature ({why}).")
        }
        TokenError::Invalid(other) => format!("InvalidToken: {other}"),
        TokenError::Audience(audience) => format!(
            "InvalidAudience: The token's resource does not cover the audience '{audience}'."
        ),
        TokenError::TooMany => return Error::ResourceLimit(error.to_string()),
    };
    Error::Unauthorized(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use fe2o3_amqp::types::messaging::{ApplicationProperties, Message, Properties};
    use fe2o3_amqp::types::primitives::{SimpleValue, Symbol};
    use hubgate_protocol::sas::sign_token;
    use hubgate_protocol::{Right, Rights, SasPolicies, SasPolicy, Secret};

    const KEY: &str = "k3y";

    fn secured() -> Access {
        let policies = SasPolicies::new([SasPolicy {
            name: "sender".into(),
            key: Secret::new(KEY),
            rights: Rights::from(Right::Send),
            hubs: vec![],
            cert_subject: None,
        }])
        .unwrap();
        Access::new(Arc::new(policies), None)
    }

    fn put(audience: &str, token: &str) -> AmqpMessage {
        Message::builder()
            .properties(Properties::builder().message_id(1u64).build())
            .application_properties(
                ApplicationProperties::builder()
                    .insert("operation", "put-token")
                    .insert("name", audience)
                    .insert("type", SAS_TOKEN_TYPE)
                    .build(),
            )
            .body(Body::Value(AmqpValue(Value::String(token.into()))))
            .build()
    }

    fn property(reply: &AmqpMessage, name: &str) -> Option<SimpleValue> {
        reply.application_properties.as_ref()?.0.get(name).cloned()
    }

    #[test]
    fn open_mode_accepts_unchecked() {
        let open = Access::new(Arc::default(), None);
        let reply = request(&open, &put("sb://h/hub", "not a token"));
        assert_eq!(property(&reply, "status-code"), Some(SimpleValue::Int(202)));
    }

    #[test]
    fn tokens_are_verified_and_refusals_say_why() {
        let access = secured();
        let far = now_secs() + 3600;
        let good = sign_token("sender", &Secret::new(KEY), "sb://h/hub", far);
        let reply = request(&access, &put("sb://h:5672/hub", &good));
        assert_eq!(property(&reply, "status-code"), Some(SimpleValue::Int(200)));
        access.authorize("hub", Right::Send).unwrap();

        let wrong_key = sign_token("sender", &Secret::new("other"), "sb://h/hub", far);
        let unknown = sign_token("nobody", &Secret::new(KEY), "sb://h/hub", far);
        let expired = sign_token("sender", &Secret::new(KEY), "sb://h/hub", now_secs() - 5);
        let cases = [
            (put("sb://h/hub", &wrong_key), "InvalidSignature"),
            (put("sb://h/hub", &unknown), "InvalidSignature"),
            (put("sb://h/hub", &expired), "ExpiredToken"),
            (put("sb://h/other", &good), "InvalidAudience"),
            (
                put("sb://h/hub", "SharedAccessSignature sr=x"),
                "InvalidToken",
            ),
        ];
        for (message, expected) in cases {
            let reply = request(&access, &message);
            assert_eq!(property(&reply, "status-code"), Some(SimpleValue::Int(401)));
            let Some(SimpleValue::String(text)) = property(&reply, "status-description") else {
                panic!("no status-description");
            };
            assert!(text.starts_with(expected), "{text}");
            assert!(!text.contains(KEY));
            assert_eq!(
                property(&reply, "error-condition"),
                Some(SimpleValue::Symbol(Symbol::from(
                    "amqp:unauthorized-access"
                )))
            );
        }
        let typed = |kind: &str, token: &str| {
            let mut message = put("sb://h/hub", token);
            if let Some(app) = message.application_properties.as_mut() {
                app.0
                    .insert("type".into(), SimpleValue::String(kind.into()));
            }
            property(&request(&access, &message), "status-code")
        };
        // A SAS token put as `jwt` is verified like any other; a real JWT is not a SAS token.
        assert_eq!(typed("jwt", &good), Some(SimpleValue::Int(200)));
        assert_eq!(
            typed("jwt", "eyJhbGciOiJIUzI1NiJ9.e30.x"),
            Some(SimpleValue::Int(401))
        );
        assert_eq!(typed("jwt", &wrong_key), Some(SimpleValue::Int(401)));
        assert_eq!(typed("amqp:swt", &good), Some(SimpleValue::Int(401)));
        let mut no_body = put("sb://h/hub", &good);
        no_body.body = Body::Empty;
        assert_eq!(
            property(&request(&access, &no_body), "status-code"),
            Some(SimpleValue::Int(401))
        );
        let long = put(&format!("sb://h/{}", "a".repeat(MAX_AUDIENCE_LEN)), &good);
        assert_eq!(
            property(&request(&access, &long), "status-code"),
            Some(SimpleValue::Int(400))
        );
    }
}
