//! DescribeConfigs (key 32): every served topic config with its value and source.

use hubgate_storage::HubName;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::{NODE_ID, configs};

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
        match resource.resource_type {
            TOPIC => match HubName::new(resource.resource_name.as_str()) {
                Err(_) => result.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
                Ok(name) => match h.storage.hub(&name).await {
                    Err(e) => result.error_code = storage_code(&e),
                    Ok(hub) => {
                        let keys = resource.configuration_keys.as_ref();
                        result.configs = configs::describe(&hub.config)
                            .into_iter()
                            .filter(|e| keys.is_none_or(|k| k.iter().any(|k| k.as_str() == e.name)))
                            .map(|e| {
                                let mut c = DescribeConfigsResourceResult::default()
                                    .with_name(StrBytes::from_static_str(e.name))
                                    .with_value(Some(StrBytes::from_string(e.value)))
                                    .with_config_source(e.source);
                                if version >= 3 {
                                    c.config_type = e.config_type;
                                }
                                c
                            })
                            .collect();
                    }
                },
            },
            // This broker has no configs it lets clients see or change.
            BROKER
                if resource.resource_name.as_str() == NODE_ID.to_string()
                    || resource.resource_name.is_empty() => {}
            BROKER => result.error_code = code::INVALID_REQUEST,
            _ => result.error_code = code::INVALID_REQUEST,
        }
        results.push(result);
    }
    DescribeConfigsResponse::default().with_results(results)
}
