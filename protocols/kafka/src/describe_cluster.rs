//! DescribeCluster (key 60): this one broker, which is also the controller.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;

use crate::NODE_ID;
use crate::dispatch::Handler;
use crate::error::code;

/// Kafka `EndpointType.BROKER`.
const BROKER_ENDPOINTS: i8 = 1;

/// Answers a DescribeCluster request.
pub(crate) fn handle(
    h: &Handler,
    request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(h.cluster_id().to_owned()))
        .with_controller_id(BrokerId(NODE_ID))
        .with_brokers(vec![
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(NODE_ID))
                .with_host(StrBytes::from_string(h.config.advertised_host.clone()))
                .with_port(i32::from(h.config.advertised_port)),
        ]);
    if version >= 1 && request.endpoint_type != BROKER_ENDPOINTS {
        response.error_code = code::UNSUPPORTED_ENDPOINT_TYPE;
        response.error_message = Some(StrBytes::from_static_str(
            "only broker endpoints are described",
        ));
        response.brokers.clear();
    }
    response
}
