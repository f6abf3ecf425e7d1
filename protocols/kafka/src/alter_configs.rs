//! AlterConfigs (key 33) and IncrementalAlterConfigs (key 44) on topics.
//!
//! AlterConfigs replaces a topic's whole config: what it does not name returns to the default.
//! IncrementalAlterConfigs applies SET / DELETE (back to the default) per name; APPEND and
//! SUBTRACT apply to the one list config, `cleanup.policy`.

use hubgate_storage::{CleanupPolicy, HubName, HubUpdate};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, alter_configs_response, incremental_alter_configs_response,
};
use kafka_protocol::protocol::StrBytes;

use crate::configs::{self, ConfigError};
use crate::describe_configs::TOPIC;
use crate::dispatch::Handler;
use crate::error::{code, storage_code};

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

type Failure = (i16, Option<String>);

/// Answers an AlterConfigs request.
pub(crate) async fn alter(h: &Handler, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let compaction = h.storage.capabilities().compaction;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let build = || {
            let mut update = configs::reset_all();
            for c in &resource.configs {
                configs::set(&mut update, c.name.as_str(), c.value.as_deref(), compaction)?;
            }
            Ok::<_, ConfigError>(update)
        };
        let outcome = apply(
            h,
            resource.resource_type,
            resource.resource_name.as_str(),
            request.validate_only,
            |_| build(),
        )
        .await;
        let mut r = alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((error_code, message)) = outcome {
            r.error_code = error_code;
            r.error_message = message.map(StrBytes::from_string);
        }
        responses.push(r);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// Answers an IncrementalAlterConfigs request.
pub(crate) async fn incremental(
    h: &Handler,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let compaction = h.storage.capabilities().compaction;
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let build = |current: &hubgate_storage::HubConfig| {
            let mut update = HubUpdate::default();
            for c in &resource.configs {
                let name = c.name.as_str();
                let value = c.value.as_deref();
                match c.config_operation {
                    SET => configs::set(&mut update, name, value, compaction)?,
                    DELETE => configs::set(&mut update, name, None, compaction)?,
                    APPEND | SUBTRACT if name == configs::CLEANUP_POLICY => {
                        let policy = update.cleanup_policy.unwrap_or(current.cleanup_policy);
                        let list = edit_policy(policy, value, c.config_operation == APPEND)?;
                        configs::set(&mut update, name, Some(&list), compaction)?;
                    }
                    APPEND | SUBTRACT => {
                        return Err(ConfigError(format!("{name} is not a list config")));
                    }
                    other => return Err(ConfigError(format!("unknown operation {other}"))),
                }
            }
            Ok(update)
        };
        let outcome = apply(
            h,
            resource.resource_type,
            resource.resource_name.as_str(),
            request.validate_only,
            build,
        )
        .await;
        let mut r = incremental_alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((error_code, message)) = outcome {
            r.error_code = error_code;
            r.error_message = message.map(StrBytes::from_string);
        }
        responses.push(r);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn edit_policy(
    policy: CleanupPolicy,
    value: Option<&str>,
    append: bool,
) -> Result<String, ConfigError> {
    let mut items: Vec<&str> = match policy {
        CleanupPolicy::Delete => vec!["delete"],
        CleanupPolicy::Compact => vec!["compact"],
        CleanupPolicy::CompactDelete => vec!["compact", "delete"],
    };
    for v in value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if append {
            if !items.contains(&v) {
                items.push(v);
            }
        } else {
            items.retain(|i| *i != v);
        }
    }
    if items.is_empty() {
        return Err(ConfigError("cleanup.policy cannot be empty".into()));
    }
    Ok(items.join(","))
}

async fn apply(
    h: &Handler,
    resource_type: i8,
    resource_name: &str,
    validate_only: bool,
    build: impl FnOnce(&hubgate_storage::HubConfig) -> Result<HubUpdate, ConfigError>,
) -> Result<(), Failure> {
    if resource_type != TOPIC {
        return Err((
            code::INVALID_REQUEST,
            Some("only topic configs can be changed".into()),
        ));
    }
    let name = HubName::new(resource_name)
        .map_err(|e| (code::UNKNOWN_TOPIC_OR_PARTITION, Some(e.to_string())))?;
    let hub = h
        .storage
        .hub(&name)
        .await
        .map_err(|e| (storage_code(&e), None))?;
    let update = build(&hub.config).map_err(|e| (code::INVALID_CONFIG, Some(e.0)))?;
    update
        .apply(&hub.config)
        .map_err(|e| (code::INVALID_CONFIG, Some(e.to_string())))?;
    if validate_only {
        return Ok(());
    }
    h.storage
        .update_hub(&name, update)
        .await
        .map(|_| ())
        .map_err(|e| (storage_code(&e), Some(e.to_string())))
}
