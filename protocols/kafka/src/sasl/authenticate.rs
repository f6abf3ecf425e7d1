//! SaslAuthenticate (key 36): one mechanism token per request (KIP-152), and the legacy
//! exchange after a v0 handshake, where each token is a size-prefixed frame of its own.
//!
//! A failure answers SASL_AUTHENTICATION_FAILED (58) with the generic message of
//! `failure_message`, then the connection closes; in the legacy exchange, which has no error
//! field, it just closes (as Kafka does). Success carries the mechanism's final message and, from
//! v1, `session_lifetime_ms`: the time left on a token credential, else 0 (no limit).
//! A SaslAuthenticate outside an exchange gets ILLEGAL_SASL_STATE (34); before any handshake
//! the connection is then closed.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
};
use kafka_protocol::protocol::StrBytes;
use tracing::debug;

use super::credentials::Credentials;
use super::{Reply, Session, Step, failure_message};
use crate::dispatch::{Outcome, encode};
use crate::error::code;

/// Answers a SaslAuthenticate request.
pub(crate) fn handle(
    session: &mut Session,
    credentials: &Credentials,
    header: &RequestHeader,
    request: SaslAuthenticateRequest,
    now_ms: i64,
) -> Reply {
    let version = header.request_api_version;
    let respond = |response: SaslAuthenticateResponse| {
        encode(
            ApiKey::SaslAuthenticate,
            version,
            header.correlation_id,
            &response,
        )
    };
    if !session.authenticating() {
        let after_success = session.principal.is_some();
        let message = if after_success {
            "SaslAuthenticate request received after successful authentication"
        } else {
            "SaslAuthenticate request received before SaslHandshake"
        };
        let response = respond(
            SaslAuthenticateResponse::default()
                .with_error_code(code::ILLEGAL_SASL_STATE)
                .with_error_message(Some(StrBytes::from_static_str(message))),
        );
        return if after_success {
            Reply::respond(response)
        } else {
            Reply::then_close(response)
        };
    }
    let mechanism = session.mechanism_name();
    match session.step(credentials, &request.auth_bytes, now_ms) {
        Step::Continue(challenge) => Reply::respond(respond(
            SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(challenge)),
        )),
        Step::Done { reply, lifetime_ms } => {
            let mut response = SaslAuthenticateResponse::default().with_auth_bytes(reply.into());
            if version >= 1 {
                response.session_lifetime_ms = lifetime_ms;
            }
            debug!(mechanism, lifetime_ms, "SASL authentication succeeded");
            Reply::respond(respond(response))
        }
        Step::Failed(error) => {
            debug!(mechanism, %error, "SASL authentication failed");
            Reply::then_close(respond(
                SaslAuthenticateResponse::default()
                    .with_error_code(code::SASL_AUTHENTICATION_FAILED)
                    .with_error_message(Some(StrBytes::from_string(failure_message(mechanism)))),
            ))
        }
    }
}

/// Handles one raw token of the legacy exchange (after a v0 handshake).
pub(crate) fn legacy(
    session: &mut Session,
    credentials: &Credentials,
    token: &[u8],
    now_ms: i64,
) -> Reply {
    let mechanism = session.mechanism_name();
    let raw = |bytes: &[u8]| {
        let mut out = BytesMut::with_capacity(4 + bytes.len());
        // Tokens are a few hundred bytes; the frame cap bounds them far below 2 GiB.
        out.put_u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        out.put_slice(bytes);
        Outcome::Respond(out.freeze())
    };
    match session.step(credentials, token, now_ms) {
        Step::Continue(challenge) => Reply::respond(raw(&challenge)),
        Step::Done { reply, .. } => {
            debug!(mechanism, "SASL authentication (legacy framing) succeeded");
            Reply::respond(raw(&reply))
        }
        Step::Failed(error) => {
            debug!(mechanism, %error, "SASL authentication (legacy framing) failed; closing");
            Reply::then_close(Outcome::Close("SASL authentication failed"))
        }
    }
}
