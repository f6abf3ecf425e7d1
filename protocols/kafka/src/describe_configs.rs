//! DescribeConfigs (key 32): every served topic config with its value and source, and this
//! node's broker configs (see `broker_configs`).

use hubgate_storage::HubName;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::configs::Entry;
use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::{NODE_ID, broker_configs, configs};

/// Kafka `ConfigResource.Type` values.
pub(crate) const TOPIC: i8 = 2;
pub(crate) const BROKER: i8 = 4;

/// Answers a DescribeConfigs request.
pub(crate) async fn handle(
    h: &Handler,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut results = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let mut result = DescribeConfigsResult::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        match entries(h, &resource).await {
            Ok(entries) => {
                let keys = resource.configuration_keys.as_ref();
                result.configs = entries
                    .into_iter()
                    .filter(|e| keys.is_none_or(|k| k.iter().any(|k| k.as_str() == e.name)))
                    .map(|e| {
                        let mut c = DescribeConfigsResourceResult::default()
                            .with_name(StrBytes::from_static_str(e.name))
                            .with_value(Some(StrBytes::from_string(e.value)))
                            .with_read_only(e.read_only)
                            .with_config_source(e.source);
                        if version >= 3 {
                            c.config_type = e.config_type;
                        }
                        c
                    })
                    .collect();
            }
            Err((error_code, message)) => {
                result.error_code = error_code;
                result.error_message = message.map(StrBytes::from_string);
            }
        }
        results.push(result);
    }
    DescribeConfigsResponse::default().with_results(results)
}

/// The config entries of one resource, or its error code and message.
async fn entries(
    h: &Handler,
    resource: &DescribeConfigsResource,
) -> Result<Vec<Entry>, (i16, Option<String>)> {
    let name = resource.resource_name.as_str();
    match resource.resource_type {
        TOPIC => {
            let hub_name =
                HubName::new(name).map_err(|_| (code::UNKNOWN_TOPIC_OR_PARTITION, None))?;
            let hub = h
                .storage
                .hub(&hub_name)
                .await
                .map_err(|e| (storage_code(&e), None))?;
            Ok(configs::describe(&hub.config))
        }
        // The empty name asks for cluster-wide dynamic defaults, which this broker has none of.
        BROKER if name.is_empty() => Ok(Vec::new()),
        BROKER if name.parse::<i32>() == Ok(NODE_ID) => {
            Ok(broker_configs::describe(&h.config, h.bound))
        }
        BROKER if name.parse::<i32>().is_ok() => Err((
            code::INVALID_REQUEST,
            Some(format!(
                "unexpected broker id {name}: this node is {NODE_ID}"
            )),
        )),
        BROKER => Err((
            code::INVALID_REQUEST,
            Some(format!("broker id must be an integer, got {name:?}")),
        )),
        other => Err((
            code::INVALID_REQUEST,
            Some(format!("unsupported config resource type {other}")),
        )),
    }
}
