//! SASL authentication of Kafka connections (KIP-43, KIP-152, KIP-368).
//!
//! Each connection has a [`Session`], owned by its reader: the reader asks it to gate every
//! frame before anything else reads it ([`Session::gate`]), and hands SASL frames to
//! [`Session::handle`] in line, after the earlier requests on the connection are done, so a state change applies
//! exactly from the next frame on (the legacy v0 exchange sends raw tokens without a request
//! header, so the reader must know the state before it decodes a frame).
//!
//! The states follow Kafka's server: before authentication only ApiVersions, SaslHandshake and
//! SaslAuthenticate are served when policies are configured (anything else closes the
//! connection); after a SaslHandshake v1 only SaslAuthenticate; after a v0 handshake the next
//! frames are raw tokens. A failed authentication answers SASL_AUTHENTICATION_FAILED (58) with
//! a message that names no credential, then closes after [`FAILED_AUTH_DELAY`]. A credential
//! built from a SAS token ends at the token's expiry: the client is told the remaining lifetime
//! (`session_lifetime_ms`) and may re-authenticate on the same connection; a request other
//! than SaslHandshake after expiry closes the connection.
//!
//! In open mode (no policy) PLAIN accepts any well-formed credentials, as the Event Hubs
//! emulator does, and clients that skip SASL are served as before.
//!
//! - [`handshake`]: SaslHandshake (key 17).
//! - [`authenticate`]: SaslAuthenticate (key 36) and the legacy raw-token exchange.
//! - [`plain`], [`scram`]: the mechanisms. [`credentials`]: the policies they check against.

pub(crate) mod authenticate;
pub(crate) mod credentials;
pub(crate) mod handshake;
pub(crate) mod plain;
pub(crate) mod scram;

use std::time::Duration;

use bytes::Bytes;
use hubgate_protocol::Grant;
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, decode_request_header_from_buffer};
use tracing::debug;

use crate::authz::Access;
use crate::dispatch::{Handler, Outcome};
use credentials::{AuthError, Credentials, Mechanism};
use scram::Exchange;

/// How long a connection whose authentication failed stays open after the failure is sent
/// (Kafka's `connection.failed.authentication.delay.ms` default), to slow down guessing.
pub(crate) const FAILED_AUTH_DELAY: Duration = Duration::from_millis(100);

/// The largest frame read from a connection that has not authenticated yet, when policies
/// are configured (Kafka's `sasl.server.max.receive.size`): a SASL token or an ApiVersions
/// request is small, and nothing larger is accepted before the client is known.
pub(crate) const MAX_UNAUTHENTICATED_FRAME: usize = 512 * 1024;

/// What the reader does with a frame.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Serve it as a request, with this access.
    Pass(Access),
    /// Hand it to [`Session::handle`].
    Sasl,
    /// Close the connection without an answer.
    Close(&'static str),
}

/// What [`Session::handle`] answers.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The frame to send, or why to close.
    pub(crate) outcome: Outcome,
    /// Close the connection after sending it (after [`FAILED_AUTH_DELAY`]).
    pub(crate) close: bool,
}

impl Reply {
    fn respond(outcome: Outcome) -> Self {
        Self {
            outcome,
            close: false,
        }
    }

    fn then_close(outcome: Outcome) -> Self {
        Self {
            outcome,
            close: true,
        }
    }
}

/// Where a connection is in the SASL exchange.
#[derive(Debug, Default)]
enum Phase {
    /// No handshake yet (or none since the last authentication).
    #[default]
    Start,
    /// A handshake chose `mechanism`; `legacy` after a v0 handshake (raw tokens follow).
    Handshaken { mechanism: Mechanism, legacy: bool },
    /// SCRAM: the server-first message was sent.
    Scram {
        exchange: Box<Exchange>,
        hash: scram::ScramHash,
        legacy: bool,
    },
}

/// Who a connection authenticated as.
#[derive(Debug)]
struct Principal {
    /// `None` in open mode.
    grant: Option<Grant>,
    /// `None` for a connection authenticated by its TLS client certificate.
    mechanism: Option<Mechanism>,
    /// When the session ends, in Unix milliseconds (a token's expiry).
    expires_ms: Option<i64>,
}

/// One step of a mechanism.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send this challenge and wait for the next token.
    Continue(Vec<u8>),
    /// Authenticated: send this final message; the session lasts `lifetime_ms` (0: no limit).
    Done { reply: Vec<u8>, lifetime_ms: i64 },
    /// Refused.
    Failed(AuthError),
}

/// A connection's authentication state.
#[derive(Debug, Default)]
pub(crate) struct Session {
    phase: Phase,
    principal: Option<Principal>,
}

impl Session {
    /// A session authenticated by the connection's verified TLS client certificate (the grant
    /// of the policy whose `cert_subject` it is), or a fresh one. A certificate session may
    /// still authenticate with SASL, whose principal then replaces the certificate's.
    pub(crate) fn from_certificate(grant: Option<Grant>) -> Self {
        Self {
            phase: Phase::Start,
            principal: grant.map(|grant| Principal {
                grant: Some(grant),
                mechanism: None,
                expires_ms: None,
            }),
        }
    }

    /// The frame size cap for the next frame: [`MAX_UNAUTHENTICATED_FRAME`] until the
    /// connection authenticates (with policies), else `max_frame`.
    pub(crate) fn frame_cap(&self, credentials: &Credentials, max_frame: usize) -> usize {
        if credentials.secured() && self.principal.is_none() {
            max_frame.min(MAX_UNAUTHENTICATED_FRAME)
        } else {
            max_frame
        }
    }

    /// Decides what the reader does with `frame` at `now_ms` (Unix milliseconds).
    pub(crate) fn gate(&self, credentials: &Credentials, frame: &[u8], now_ms: i64) -> Gate {
        let legacy = matches!(
            self.phase,
            Phase::Handshaken { legacy: true, .. } | Phase::Scram { legacy: true, .. }
        );
        if legacy {
            return Gate::Sasl;
        }
        let key = match frame {
            [a, b, ..] => i16::from_be_bytes([*a, *b]),
            _ => -1,
        };
        if key == ApiKey::SaslHandshake as i16 || key == ApiKey::SaslAuthenticate as i16 {
            return Gate::Sasl;
        }
        if !matches!(self.phase, Phase::Start) {
            return Gate::Close("request other than SaslAuthenticate during authentication");
        }
        if let Some(principal) = &self.principal {
            if principal.expires_ms.is_some_and(|end| end <= now_ms) {
                return Gate::Close("session expired without re-authentication");
            }
            return Gate::Pass(match &principal.grant {
                Some(grant) => Access::Granted(grant.clone()),
                None => Access::Open,
            });
        }
        if !credentials.secured() {
            Gate::Pass(Access::Open)
        } else if key == ApiKey::ApiVersions as i16 {
            Gate::Pass(Access::Anonymous)
        } else {
            Gate::Close("request before authentication")
        }
    }

    /// Handles a frame [`Session::gate`] sent here: a SaslHandshake, a SaslAuthenticate, or
    /// a raw token of the legacy exchange.
    pub(crate) fn handle(&mut self, handler: &Handler, frame: Bytes, now_ms: i64) -> Reply {
        if let Phase::Handshaken { legacy: true, .. } | Phase::Scram { legacy: true, .. } =
            self.phase
        {
            return authenticate::legacy(self, &handler.credentials, &frame, now_ms);
        }
        let mut body = frame.clone();
        let header = match decode_request_header_from_buffer(&mut body) {
            Ok(header) => header,
            Err(_) => return Reply::then_close(Outcome::Close("malformed request header")),
        };
        let api = if header.request_api_key == ApiKey::SaslHandshake as i16 {
            ApiKey::SaslHandshake
        } else {
            ApiKey::SaslAuthenticate
        };
        let served = crate::versions::advertised(api)
            .is_some_and(|range| (range.min..=range.max).contains(&header.request_api_version));
        if !served {
            return Reply::then_close(Outcome::Close("SASL API version not served"));
        }
        if let Err(e) = crate::precheck::check(&frame) {
            debug!(error = %e, "SASL request fails the pre-decode check; closing");
            return Reply::then_close(Outcome::Close("malformed request"));
        }
        match api {
            ApiKey::SaslHandshake => match decode(&header, body) {
                Ok(request) => handshake::handle(self, &handler.credentials, &header, request),
                Err(reply) => reply,
            },
            _ => match decode(&header, body) {
                Ok(request) => {
                    authenticate::handle(self, &handler.credentials, &header, request, now_ms)
                }
                Err(reply) => reply,
            },
        }
    }

    /// The name of the mechanism of the exchange under way.
    fn mechanism_name(&self) -> &'static str {
        match &self.phase {
            Phase::Handshaken { mechanism, .. } => mechanism.name(),
            Phase::Scram { hash, .. } => Mechanism::Scram(*hash).name(),
            Phase::Start => "none",
        }
    }

    /// Starts an exchange with `mechanism` (a handshake succeeded).
    fn start(&mut self, mechanism: Mechanism, legacy: bool) {
        self.phase = Phase::Handshaken { mechanism, legacy };
    }

    /// Whether a handshake may start now: not in the middle of an exchange.
    fn may_handshake(&self) -> bool {
        matches!(self.phase, Phase::Start)
    }

    /// Whether an exchange is under way (a SaslAuthenticate is expected).
    fn authenticating(&self) -> bool {
        !matches!(self.phase, Phase::Start)
    }

    /// Feeds one token to the mechanism chosen by the handshake.
    fn step(&mut self, credentials: &Credentials, token: &[u8], now_ms: i64) -> Step {
        let now_secs = now_ms.div_euclid(1000);
        match std::mem::take(&mut self.phase) {
            Phase::Start => Step::Failed(AuthError::MechanismNotOffered("none")),
            Phase::Handshaken {
                mechanism: Mechanism::Plain,
                ..
            } => match credentials.plain(token, now_secs) {
                Ok(grant) => self.finish(grant, Mechanism::Plain, Vec::new(), now_ms),
                Err(e) => Step::Failed(e),
            },
            Phase::Handshaken {
                mechanism: Mechanism::Scram(hash),
                legacy,
            } => {
                let nonce = scram::server_nonce();
                match scram::client_first(hash, token, &nonce, |user| {
                    credentials.scram_credential(hash, user)
                }) {
                    Ok((exchange, server_first)) => {
                        self.phase = Phase::Scram {
                            exchange: Box::new(exchange),
                            hash,
                            legacy,
                        };
                        Step::Continue(server_first.into_bytes())
                    }
                    Err(e) => Step::Failed(e.into()),
                }
            }
            Phase::Scram { exchange, hash, .. } => match scram::client_final(&exchange, token) {
                Ok(server_final) => match credentials.scram_grant(exchange.user()) {
                    Ok(grant) => self.finish(
                        Some(grant),
                        Mechanism::Scram(hash),
                        server_final.into_bytes(),
                        now_ms,
                    ),
                    Err(e) => Step::Failed(e),
                },
                Err(e) => Step::Failed(e.into()),
            },
        }
    }

    /// Records a successful authentication (or re-authentication, which must keep the
    /// principal and mechanism).
    fn finish(
        &mut self,
        grant: Option<Grant>,
        mechanism: Mechanism,
        reply: Vec<u8>,
        now_ms: i64,
    ) -> Step {
        if let Some(old) = &self.principal
            && old.mechanism.is_some()
        {
            let same = old.mechanism == Some(mechanism)
                && old.grant.as_ref().map(Grant::policy) == grant.as_ref().map(Grant::policy);
            if !same {
                return Step::Failed(AuthError::PrincipalChanged);
            }
        }
        let expires_ms = grant
            .as_ref()
            .map(Grant::expires_at)
            .filter(|&secs| secs != i64::MAX)
            .map(|secs| secs.saturating_mul(1000));
        let lifetime_ms = expires_ms.map_or(0, |end| (end - now_ms).max(1));
        self.principal = Some(Principal {
            grant,
            mechanism: Some(mechanism),
            expires_ms,
        });
        Step::Done { reply, lifetime_ms }
    }
}

/// Decodes a SASL request body; a malformed one closes the connection.
fn decode<R: Decodable>(header: &RequestHeader, mut body: Bytes) -> Result<R, Reply> {
    R::decode(&mut body, header.request_api_version).map_err(|e| {
        debug!(error = %e, "malformed SASL request body; closing");
        Reply::then_close(Outcome::Close("malformed request body"))
    })
}

/// The message every failed authentication gets: it names the mechanism only, never the user,
/// the policy or whether it exists.
fn failure_message(mechanism: &str) -> String {
    format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
    )
}
