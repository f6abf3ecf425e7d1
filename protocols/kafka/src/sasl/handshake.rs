//! SaslHandshake (key 17): the client names a mechanism. v0 means the tokens follow as raw
//! frames (KIP-43), v1 that they follow as SaslAuthenticate requests (KIP-152).
//!
//! The enabled mechanisms are listed in every answer, success included (kafkajs, aiokafka and
//! kafka-python read them either way). An unknown mechanism gets UNSUPPORTED_SASL_MECHANISM and
//! the connection is closed; a handshake in the middle of an exchange gets ILLEGAL_SASL_STATE
//! and is closed. After a successful authentication a handshake starts a re-authentication.

use kafka_protocol::messages::{
    ApiKey, RequestHeader, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tracing::debug;

use super::credentials::{Credentials, Mechanism};
use super::{Reply, Session};
use crate::dispatch::encode;
use crate::error::code;

/// Answers a SaslHandshake request.
pub(crate) fn handle(
    session: &mut Session,
    credentials: &Credentials,
    header: &RequestHeader,
    request: SaslHandshakeRequest,
) -> Reply {
    let version = header.request_api_version;
    let mechanisms = credentials
        .mechanisms()
        .iter()
        .map(|m| StrBytes::from_static_str(m))
        .collect();
    let response = |error_code| {
        encode(
            ApiKey::SaslHandshake,
            version,
            header.correlation_id,
            &SaslHandshakeResponse::default()
                .with_error_code(error_code)
                .with_mechanisms(mechanisms),
        )
    };
    if !session.may_handshake() {
        debug!("SaslHandshake during an exchange; closing");
        return Reply::then_close(response(code::ILLEGAL_SASL_STATE));
    }
    match Mechanism::parse(request.mechanism.as_str()).filter(|m| credentials.offers(*m)) {
        Some(mechanism) => {
            session.start(mechanism, version == 0);
            Reply::respond(response(code::NONE))
        }
        None => {
            debug!(mechanism = %request.mechanism, "SASL mechanism not offered; closing");
            Reply::then_close(response(code::UNSUPPORTED_SASL_MECHANISM))
        }
    }
}
