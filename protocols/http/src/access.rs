//! Access checks for admin routes that are not about one hub (overview, history, groups, the
//! hub list), built on [`AppState::authorize`] so that every route shares one verdict.

use axum::http::HeaderMap;
use hubgate_protocol::Right;

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

/// The hub name no hub can have (names are non-empty), so a check against it passes only for a
/// token and a policy that cover every hub: a namespace-wide grant.
const EVERY_HUB: &str = "";

/// Requires a namespace-wide grant of `right` (open when no policy is configured).
pub(crate) fn namespace(
    state: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
    right: Right,
) -> Result<(), ApiError> {
    state.authorize(headers, peer, EVERY_HUB, right)
}

/// Which of `hubs` the request may see with `right`: all of them with a namespace-wide grant,
/// else those its token and policy cover. A token that is not valid at all is refused.
pub(crate) fn visible<'a, T>(
    state: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
    right: Right,
    hubs: &'a [T],
    name: impl Fn(&T) -> &str,
) -> Result<Vec<&'a T>, ApiError> {
    match namespace(state, headers, peer, right) {
        Ok(()) => Ok(hubs.iter().collect()),
        Err(ApiError::Forbidden(_)) => Ok(hubs
            .iter()
            .filter(|h| state.authorize(headers, peer, name(h), right).is_ok())
            .collect()),
        Err(e) => Err(e),
    }
}

/// `GET /admin/access`, open to all: whether the admin routes need a token, so the console
/// knows to ask for a sign-in before its first request fails. Names no policy.
pub(crate) async fn get(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "required": !state.config.policies.is_empty() }))
}
