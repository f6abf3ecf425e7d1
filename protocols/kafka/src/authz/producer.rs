//! InitProducerId: a producer id needs Send on some hub (else CLUSTER_AUTHORIZATION_FAILED,
//! 31; TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 53, for a transactional id), and an epoch bump
//! of an existing id (KIP-360), which fences whoever holds that id, is only granted to the
//! policy that obtained the id, or to Manage. Anyone else asking to bump an id gets a fresh id
//! instead, so it cannot fence another client's producer.

use dashmap::DashMap;
use hubgate_protocol::Right;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Access;
use crate::error::code::{CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED};

/// Owners remembered at most; past that the map is cleared, which only turns later bumps of
/// the forgotten ids into fresh ids.
const MAX_OWNERS: usize = 100_000;

/// Which policy obtained each producer id (since start).
#[derive(Debug, Default)]
pub(crate) struct ProducerOwners(DashMap<i64, String>);

impl ProducerOwners {
    /// Checks `request` before the handler runs: `Err` with the answer when denied. A bump
    /// the access may not make is turned into a request for a fresh id.
    pub(crate) fn check(
        &self,
        access: &Access,
        request: &mut InitProducerIdRequest,
    ) -> Result<(), InitProducerIdResponse> {
        if !access.holds(Right::Send) {
            let code = if request.transactional_id.is_some() {
                TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            } else {
                CLUSTER_AUTHORIZATION_FAILED
            };
            return Err(InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1));
        }
        let Some(policy) = access.policy() else {
            return Ok(());
        };
        let id = request.producer_id.0;
        if id >= 0 && !access.holds(Right::Manage) {
            let owned = self
                .0
                .get(&id)
                .is_some_and(|owner| owner.as_str() == policy);
            if !owned {
                request.producer_id = ProducerId(-1);
                request.producer_epoch = -1;
            }
        }
        Ok(())
    }

    /// Records who obtained the id in `response`.
    pub(crate) fn record(&self, access: &Access, response: &InitProducerIdResponse) {
        let (Some(policy), id) = (access.policy(), response.producer_id.0) else {
            return;
        };
        if id < 0 {
            return;
        }
        if self.0.len() >= MAX_OWNERS {
            self.0.clear();
        }
        self.0.insert(id, policy.to_owned());
    }
}
