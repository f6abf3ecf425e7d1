//! What one connection may do: the credentials it presented and the checks links make.
//!
//! With no access policy configured the gateway runs open and every check passes. Otherwise a
//! connection holds the grant of a verified SASL PLAIN exchange (namespace-wide, never
//! expires) and the grants of the `$cbs` tokens it put, one per audience: a new token for an
//! audience replaces the old one, which is how the SDKs refresh. A link needs a grant covering
//! its hub with the link's right ([`Access::authorize`]); it is detached once no grant covers
//! it any more ([`Access::revoked`]), so a token that expires without being refreshed ends
//! the links it allowed.
//!
//! Grants live in a `watch` channel so that links waiting for an expiry notice a refresh.

use std::sync::Arc;
use std::time::Duration;

use hubgate_protocol::sas::SasError;
use hubgate_protocol::{AutoCreate, Grant, Right, SasPolicies};
use tokio::sync::watch;

use crate::error::Error;
use crate::now_ms;

/// Most tokens (audiences) one connection may hold; the SDKs use one or two.
pub(crate) const MAX_TOKENS: usize = 64;

/// The credentials of one connection.
#[derive(Debug)]
pub(crate) struct Access {
    policies: Arc<SasPolicies>,
    grants: watch::Sender<Grants>,
}

#[derive(Debug, Default)]
struct Grants {
    /// From SASL PLAIN.
    sasl: Option<Grant>,
    /// From `$cbs` put-token, by audience as sent.
    tokens: Vec<(String, Grant)>,
    /// Whether the connection ever presented a valid credential.
    authenticated: bool,
}

impl Grants {
    fn all(&self) -> impl Iterator<Item = &Grant> {
        self.sasl.iter().chain(self.tokens.iter().map(|(_, g)| g))
    }

    /// The latest expiry (Unix seconds) of the grants that allow `right` on `hub` now.
    fn covering_expiry(&self, hub: &str, right: Right, now_secs: i64) -> Option<i64> {
        self.all()
            .filter(|g| g.authorize(hub, right, now_secs).is_ok())
            .map(Grant::expires_at)
            .max()
    }
}

/// Why a `$cbs` token was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// The token is malformed, unknown, wrongly signed or expired.
    #[error(transparent)]
    Invalid(SasError),
    /// The token's resource does not cover the audience it was put for.
    #[error("the token's resource does not cover the audience `{0}`")]
    Audience(String),
    /// The connection already holds [`MAX_TOKENS`] tokens.
    #[error("a connection holds at most {MAX_TOKENS} tokens")]
    TooMany,
}

impl Access {
    /// A connection's access under `policies`, with the grant of its SASL exchange if any.
    pub(crate) fn new(policies: Arc<SasPolicies>, sasl: Option<Grant>) -> Self {
        let authenticated = sasl.is_some();
        let (grants, _) = watch::channel(Grants {
            sasl,
            tokens: Vec::new(),
            authenticated,
        });
        Self { policies, grants }
    }

    /// Whether no policy is configured, so that nothing is checked.
    pub(crate) fn is_open(&self) -> bool {
        self.policies.is_empty()
    }

    /// Whether the connection has presented a valid credential (always true when open).
    pub(crate) fn authenticated(&self) -> bool {
        self.is_open() || self.grants.borrow().authenticated
    }

    /// Verifies `token` (signature over the raw `sr`, expiry) and that its resource covers
    /// `audience`, then keeps its grant for that audience in place of any earlier one.
    /// Returns the token's policy name and expiry.
    pub(crate) fn put_token(
        &self,
        audience: &str,
        token: &str,
        now_secs: i64,
    ) -> Result<(String, i64), TokenError> {
        let grant = self
            .policies
            .authenticate(token, now_secs)
            .map_err(TokenError::Invalid)?;
        if !resource_covers(grant.resource(), audience) {
            return Err(TokenError::Audience(audience.to_owned()));
        }
        let taken = (grant.policy().to_owned(), grant.expires_at());
        let mut outcome = Ok(());
        self.grants.send_if_modified(|grants| {
            grants.tokens.retain(|(_, g)| g.expires_at() >= now_secs);
            if let Some(slot) = grants.tokens.iter_mut().find(|(a, _)| a == audience) {
                slot.1 = grant;
            } else if grants.tokens.len() < MAX_TOKENS {
                grants.tokens.push((audience.to_owned(), grant));
            } else {
                outcome = Err(TokenError::TooMany);
                return false;
            }
            grants.authenticated = true;
            true
        });
        outcome.map(|()| taken)
    }

    /// Checks that the connection may use `right` on `hub` now.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], worded like Event Hubs' refusal.
    pub(crate) fn authorize(&self, hub: &str, right: Right) -> Result<(), Error> {
        if self.is_open() {
            return Ok(());
        }
        let now = now_secs();
        let grants = self.grants.borrow();
        if grants.covering_expiry(hub, right, now).is_some() {
            return Ok(());
        }
        let reason = grants
            .all()
            .filter_map(|g| g.authorize(hub, right, now).err())
            .find(SasError::is_denied)
            .map_or_else(
                || "no valid token for this entity".to_owned(),
                |e| e.to_string(),
            );
        Err(Error::Unauthorized(format!(
            "Unauthorized access. '{right}' claim(s) are required to perform this operation. \
             Resource: '{hub}'. ({reason})"
        )))
    }

    /// The auto-creation setting for `hub`: with policies, only a Manage grant creates hubs.
    pub(crate) fn auto_create(&self, hub: &str, auto: AutoCreate) -> AutoCreate {
        AutoCreate {
            enabled: auto.enabled && self.authorize(hub, Right::Manage).is_ok(),
            ..auto
        }
    }

    /// Completes once no grant of the connection allows `right` on `hub` any more: the
    /// covering tokens expired and none was refreshed. Never completes when open or when a
    /// grant that does not expire covers it.
    pub(crate) async fn revoked(&self, hub: &str, right: Right) {
        if self.is_open() {
            return std::future::pending().await;
        }
        let mut grants = self.grants.subscribe();
        loop {
            let now = now_ms();
            let expiry =
                grants
                    .borrow_and_update()
                    .covering_expiry(hub, right, now.div_euclid(1000));
            let Some(expiry) = expiry else { return };
            // Valid through second `se`; re-checked at the first millisecond after it.
            let until = expiry.saturating_add(1).saturating_mul(1000);
            let wait = Duration::from_millis(u64::try_from(until - now).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(wait), if expiry != i64::MAX => {}
                changed = grants.changed() => {
                    if changed.is_err() {
                        // The connection is gone; its links end with it.
                        return std::future::pending().await;
                    }
                }
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

/// The path segments of a resource or audience URI, without scheme, host and query.
fn segments(uri: &str) -> impl Iterator<Item = &str> {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').filter(|s| !s.is_empty())
}

/// Whether a token for `resource` is valid for `audience`: "valid for all resources prefixed
/// with" it, comparing path segments case-insensitively. Scheme and host are not compared,
/// as in [`Grant::authorize`]: one gateway answers to many names.
fn resource_covers(resource: &str, audience: &str) -> bool {
    let mut audience = segments(audience);
    segments(resource).all(|r| audience.next().is_some_and(|a| a.eq_ignore_ascii_case(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubgate_protocol::sas::sign_token;
    use hubgate_protocol::{Rights, SasPolicy, Secret};

    const KEY: &str = "k3y";

    fn policies() -> Arc<SasPolicies> {
        let policy = |name: &str, rights: &[Right], hubs: &[&str]| SasPolicy {
            name: name.into(),
            key: Secret::new(KEY),
            rights: rights.iter().copied().collect::<Rights>(),
            hubs: hubs.iter().map(|h| (*h).to_owned()).collect(),
            cert_subject: None,
        };
        Arc::new(
            SasPolicies::new([
                policy("sender", &[Right::Send], &[]),
                policy("listener", &[Right::Listen], &["orders"]),
                policy("admin", &[Right::Manage], &[]),
            ])
            .unwrap(),
        )
    }

    fn token(name: &str, resource: &str, expiry: i64) -> String {
        sign_token(name, &Secret::new(KEY), resource, expiry)
    }

    #[test]
    fn audiences_are_covered_by_prefix() {
        assert!(resource_covers("sb://h/hub", "sb://h:5672/hub"));
        assert!(resource_covers(
            "sb://h/hub",
            "sb://h/HUB/consumergroups/$default"
        ));
        assert!(resource_covers("sb://h/", "sb://h/any/thing"));
        assert!(resource_covers("sb://h", "amqps://other/x"));
        assert!(!resource_covers("sb://h/hub", "sb://h/hubx"));
        assert!(!resource_covers(
            "sb://h/hub/consumergroups/a",
            "sb://h/hub"
        ));
        assert!(!resource_covers(
            "sb://h/hub/consumergroups/a",
            "sb://h/hub/consumergroups/b"
        ));
        assert!(!resource_covers("sb://h/other", "sb://h/hub"));
    }

    #[test]
    fn open_access_checks_nothing() {
        let access = Access::new(Arc::default(), None);
        assert!(access.is_open() && access.authenticated());
        access.authorize("any", Right::Manage).unwrap();
        let auto = AutoCreate::default();
        assert_eq!(access.auto_create("any", auto).enabled, auto.enabled);
    }

    #[test]
    fn tokens_grant_per_audience_and_are_checked() {
        let access = Access::new(policies(), None);
        assert!(!access.authenticated());
        assert!(matches!(
            access.authorize("orders", Right::Send),
            Err(Error::Unauthorized(_))
        ));
        let now = now_secs();
        let far = now + 3600;
        // Wrong key, unknown policy, expired: refused, and nothing is granted.
        let forged = sign_token("sender", &Secret::new("nope"), "sb://h/orders", far);
        for bad in [
            forged,
            token("nobody", "sb://h/orders", far),
            token("sender", "sb://h/orders", now - 10),
            "SharedAccessSignature garbage".to_owned(),
        ] {
            assert!(matches!(
                access.put_token("sb://h/orders", &bad, now),
                Err(TokenError::Invalid(_))
            ));
        }
        // A token for another hub does not cover this audience.
        assert!(matches!(
            access.put_token("sb://h/orders", &token("sender", "sb://h/audit", far), now),
            Err(TokenError::Audience(_))
        ));
        assert!(!access.authenticated());

        let (policy, expiry) = access
            .put_token("sb://h/orders", &token("sender", "sb://h/orders", far), now)
            .unwrap();
        assert_eq!((policy.as_str(), expiry), ("sender", far));
        assert!(access.authenticated());
        access.authorize("orders", Right::Send).unwrap();
        let Err(Error::Unauthorized(text)) = access.authorize("orders", Right::Listen) else {
            panic!("a Send grant allowed Listen");
        };
        assert!(text.contains("'Listen' claim(s) are required"), "{text}");
        assert!(access.authorize("audit", Right::Send).is_err());
        assert!(!access.auto_create("orders", AutoCreate::default()).enabled);

        // A second audience adds a grant beside the first.
        access
            .put_token(
                "sb://h/orders/consumergroups/$default",
                &token("listener", "sb://h/orders/consumergroups/$default", far),
                now,
            )
            .unwrap();
        access.authorize("orders", Right::Listen).unwrap();
        access.authorize("orders", Right::Send).unwrap();
        access
            .put_token("sb://h/", &token("admin", "sb://h/", far), now)
            .unwrap();
        assert!(access.auto_create("new-hub", AutoCreate::default()).enabled);
    }

    #[test]
    fn a_connection_holds_a_bounded_number_of_tokens() {
        let access = Access::new(policies(), None);
        let now = now_secs();
        for i in 0..MAX_TOKENS {
            let audience = format!("sb://h/hub{i}");
            access
                .put_token(&audience, &token("sender", &audience, now + 60), now)
                .unwrap();
        }
        let refused = access.put_token(
            "sb://h/one-more",
            &token("sender", "sb://h/", now + 60),
            now,
        );
        assert!(matches!(refused, Err(TokenError::TooMany)));
        // Refreshing an audience already held is still allowed.
        access
            .put_token(
                "sb://h/hub0",
                &token("sender", "sb://h/hub0", now + 120),
                now,
            )
            .unwrap();
    }

    #[test]
    fn a_sasl_grant_never_expires() {
        let policies = policies();
        let grant = policies.authenticate_key("sender", KEY.as_bytes()).unwrap();
        let access = Access::new(policies, Some(grant));
        assert!(access.authenticated());
        access.authorize("orders", Right::Send).unwrap();
        assert!(access.authorize("orders", Right::Listen).is_err());
    }

    #[tokio::test]
    async fn links_are_revoked_when_their_token_expires_unless_refreshed() {
        let access = Arc::new(Access::new(policies(), None));
        let now = now_secs();
        let audience = "sb://h/orders";
        // No covering grant: revoked at once.
        tokio::time::timeout(
            Duration::from_secs(1),
            access.revoked("orders", Right::Send),
        )
        .await
        .unwrap();
        access
            .put_token(audience, &token("sender", audience, now + 1), now)
            .unwrap();
        let watcher = {
            let access = Arc::clone(&access);
            tokio::spawn(async move { access.revoked("orders", Right::Send).await })
        };
        // Refreshed before it expires: the link stays.
        tokio::time::sleep(Duration::from_millis(300)).await;
        access
            .put_token(audience, &token("sender", audience, now + 4), now)
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(
            !watcher.is_finished(),
            "revoked although the token was refreshed"
        );
        // Not refreshed again: revoked once the new expiry has passed.
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .unwrap()
            .unwrap();
        assert!(now_secs() > now + 4);
    }
}
