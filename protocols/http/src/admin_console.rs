//! The admin routes behind the web console (`/console`, crate `hubgate-console`): overview,
//! counter history, hub list and detail, events, consumer groups and offset resets. Every one
//! is plain JSON, so what the console shows is also scriptable; `docs/HTTP.md` lists them.
//!
//! Reads need Listen, changes Manage; routes about the whole gateway need a namespace-wide
//! grant (`access.rs`). Sending from the console uses the REST send routes (`send.rs`).

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::history::History;
use crate::state::AppState;
use crate::{access, events, group_reset, groups, history, hub_detail, hub_list, overview};

/// The console's admin routes, with the counter history they sample.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let history: Arc<History> = History::spawn(state.metrics);
    Router::new()
        .route("/admin/access", get(access::get))
        .route("/admin/overview", get(overview::get))
        .route("/admin/history", get(history::get))
        .route("/admin/hubs", get(hub_list::get))
        .route("/admin/hubs/{hub}", get(hub_detail::get))
        .route("/admin/hubs/{hub}/partitions/{id}/events", get(events::get))
        .route("/admin/groups", get(groups::list))
        .route(
            "/admin/groups/{group}",
            get(groups::get).delete(groups::delete),
        )
        .route("/admin/groups/{group}/offsets", post(group_reset::reset))
        .layer(Extension(history))
}
