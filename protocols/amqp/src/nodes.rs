//! The `$cbs` and `$management` request/response nodes.
//!
//! A client attaches a sending link (requests) and a receiving link (replies) to the node.
//! Replies go to the receiving link whose target equals the request's `reply-to`; pyamqp sets
//! no `reply-to`, so otherwise they go to the connection's receiving link on the same node.
//! Each reply carries `correlation-id` = the request's `message-id` (same AMQP type) and an
//! int `status-code`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::types::definitions::AmqpError;
use fe2o3_amqp::types::messaging::{AmqpValue, ApplicationProperties, Body, Message, Properties};
use fe2o3_amqp::types::primitives::{Array, OrderedMap, SimpleValue, Timestamp, Value};
use hubgate_protocol::{CancellationToken, Right, hub_or_create};
use hubgate_storage::{HubName, PartitionId};
use tokio::sync::mpsc;
use tracing::debug;

use crate::Shared;
use crate::access::Access;
use crate::cbs;
use crate::connection::Scope;
use crate::error::{Error, amqp_error};
use crate::mapping::AmqpMessage;

/// Which node a link is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    /// Claims-based security: `put-token`.
    Cbs,
    /// Management: `READ` of an event hub or a partition.
    Management,
}

impl Node {
    fn name(self) -> &'static str {
        match self {
            Node::Cbs => "$cbs",
            Node::Management => "$management",
        }
    }
}

/// Where replies go on one connection: node name or reply-to address → the link task.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routes(Arc<Mutex<HashMap<String, mpsc::Sender<AmqpMessage>>>>);

impl Routes {
    fn insert(&self, name: String, tx: mpsc::Sender<AmqpMessage>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, tx);
    }

    fn get(&self, name: &str) -> Option<mpsc::Sender<AmqpMessage>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn remove_closed(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, tx| !tx.is_closed());
    }
}

/// Replies waiting for a node's receiving link, per link.
const REPLY_QUEUE: usize = 64;

/// Runs a receiving link attached to a node: sends it the replies routed to it.
pub(crate) async fn reply_link(
    mut sender: Sender,
    node: Node,
    reply_address: Option<String>,
    routes: Routes,
    shutdown: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel(REPLY_QUEUE);
    routes.insert(node.name().to_owned(), tx.clone());
    if let Some(address) = reply_address {
        routes.insert(address, tx);
    } else {
        drop(tx);
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = sender.close_with_error(amqp_error(AmqpError::InternalError, "the gateway is shutting down")).await;
                break;
            }
            error = sender.on_detach() => {
                debug!(node = node.name(), %error, "reply link detached");
                break;
            }
            reply = rx.recv() => {
                let Some(reply) = reply else { break };
                if let Err(error) = sender.send_batchable(reply).await {
                    debug!(node = node.name(), %error, "reply not sent");
                    break;
                }
            }
        }
    }
    drop(rx);
    routes.remove_closed();
}

/// Runs a sending link attached to a node: answers each request.
pub(crate) async fn request_link(
    shared: Arc<Shared>,
    mut receiver: Receiver,
    node: Node,
    scope: Scope,
    shutdown: CancellationToken,
) {
    let Scope { routes, access } = scope;
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = receiver.close_with_error(amqp_error(AmqpError::InternalError, "the gateway is shutting down")).await;
                return;
            }
            delivery = receiver.recv::<Body<Value>>() => delivery,
        };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(error) => {
                debug!(node = node.name(), %error, "request link ended");
                let _ = receiver.close().await;
                return;
            }
        };
        if let Err(error) = receiver.accept(&delivery).await {
            debug!(node = node.name(), %error, "request not settled");
            return;
        }
        let request = delivery.into_message();
        let reply_to = request.properties.as_ref().and_then(|p| p.reply_to.clone());
        let reply = match node {
            Node::Cbs => cbs::request(&access, &request),
            Node::Management => management(&shared, &access, &request).await,
        };
        let reply = address_reply(reply, &request);
        let route = reply_to
            .as_deref()
            .and_then(|to| routes.get(to))
            .or_else(|| routes.get(node.name()));
        match route {
            Some(tx) => {
                if tx.send(reply).await.is_err() {
                    debug!(node = node.name(), "reply link closed before the reply");
                }
            }
            None => debug!(node = node.name(), ?reply_to, "no link to reply on"),
        }
    }
}

pub(crate) fn app_property<'a>(request: &'a AmqpMessage, name: &str) -> Option<&'a SimpleValue> {
    request.application_properties.as_ref()?.0.get(name)
}

pub(crate) fn app_string<'a>(request: &'a AmqpMessage, name: &str) -> Option<&'a str> {
    match app_property(request, name)? {
        SimpleValue::String(s) => Some(s.as_str()),
        SimpleValue::Symbol(s) => Some(s.as_str()),
        _ => None,
    }
}

/// A reply with a status, a description and a body.
pub(crate) fn reply(status: i32, description: &str, body: Value) -> AmqpMessage {
    let mut props = OrderedMap::new();
    // Event Hubs clients read `status-code`; pyamqp's management link also reads the Service
    // Bus spelling `statusDescription` for the text of an error.
    props.insert("status-code".to_owned(), SimpleValue::Int(status));
    props.insert(
        "status-description".to_owned(),
        SimpleValue::String(description.to_owned()),
    );
    props.insert("statusCode".to_owned(), SimpleValue::Int(status));
    props.insert(
        "statusDescription".to_owned(),
        SimpleValue::String(description.to_owned()),
    );
    Message::builder()
        .application_properties(ApplicationProperties(props))
        .body(Body::Value(AmqpValue(body)))
        .build()
}

/// A reply carrying `error`'s status, text and condition.
pub(crate) fn error_reply(error: &Error) -> AmqpMessage {
    let mut message = reply(error.status_code(), &error.to_string(), Value::Null);
    if let Some(app) = message.application_properties.as_mut() {
        let condition = serde_amqp::to_value(&error.condition())
            .ok()
            .and_then(|v| match v {
                Value::Symbol(s) => Some(s),
                _ => None,
            });
        if let Some(condition) = condition {
            app.0
                .insert("error-condition".to_owned(), SimpleValue::Symbol(condition));
        }
    }
    message
}

/// Sets `correlation-id` (the request's message-id, same type) and `to` (its reply-to).
fn address_reply(mut reply: AmqpMessage, request: &AmqpMessage) -> AmqpMessage {
    let mut properties = Properties::default();
    if let Some(p) = &request.properties {
        properties.correlation_id = p.message_id.clone();
        properties.to = p.reply_to.clone();
    }
    reply.properties = Some(properties);
    reply
}

/// `$management` READ of `com.microsoft:eventhub` or `com.microsoft:partition`. With access
/// policies it needs Listen or Send on the hub: the Python producer reads the partition list
/// before its first send to a given partition, so a Send-only policy must be able to.
async fn management(shared: &Shared, access: &Access, request: &AmqpMessage) -> AmqpMessage {
    match management_read(shared, access, request).await {
        Ok(map) => reply(200, "OK", Value::Map(map)),
        Err(error) => {
            debug!(%error, "management request refused");
            error_reply(&error)
        }
    }
}

fn string(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

async fn management_read(
    shared: &Shared,
    access: &Access,
    request: &AmqpMessage,
) -> Result<OrderedMap<Value, Value>, Error> {
    let operation = app_string(request, "operation").unwrap_or_default();
    if operation != "READ" {
        return Err(Error::NotImplemented(format!(
            "management operation `{operation}` is not supported"
        )));
    }
    let name = app_string(request, "name")
        .ok_or_else(|| Error::InvalidField("management request without `name`".into()))?;
    access
        .authorize(name, Right::Listen)
        .or_else(|_| access.authorize(name, Right::Send))?;
    let hub = HubName::new(name)?;
    let auto_create = access.auto_create(name, shared.config.auto_create);
    let info = hub_or_create(shared.storage.as_ref(), &hub, auto_create).await?;
    let kind = app_string(request, "type").unwrap_or_default();
    let mut map = OrderedMap::new();
    match kind {
        "com.microsoft:eventhub" => {
            let partitions = info.config.partitions;
            map.insert(string("name"), string(name));
            map.insert(string("type"), string(kind));
            map.insert(
                string("created_at"),
                Value::Timestamp(Timestamp::from_milliseconds(info.created_at_ms)),
            );
            map.insert(
                string("partition_count"),
                Value::Int(i32::try_from(partitions).unwrap_or(i32::MAX)),
            );
            let ids: Vec<Value> = (0..partitions).map(|p| string(p.to_string())).collect();
            map.insert(string("partition_ids"), Value::Array(Array::from(ids)));
        }
        "com.microsoft:partition" => {
            let id = app_string(request, "partition").unwrap_or_default();
            let index: u32 = id
                .parse()
                .ok()
                .filter(|p| *p < info.config.partitions)
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "partition `{id}` of event hub `{name}` does not exist"
                    ))
                })?;
            let partition = PartitionId::new(hub, index);
            let state = shared.storage.partition(&partition).await?;
            let empty = state.is_empty();
            let last = state.high_watermark - 1;
            let last_time = if empty {
                0
            } else {
                last_timestamp(shared, &partition, last)
                    .await?
                    .or(state.last_append_ms)
                    .unwrap_or(0)
            };
            map.insert(string("name"), string(name));
            map.insert(string("type"), string(kind));
            map.insert(string("partition"), string(id));
            map.insert(
                string("begin_sequence_number"),
                Value::Long(state.log_start),
            );
            map.insert(
                string("last_enqueued_sequence_number"),
                Value::Long(if empty { -1 } else { last }),
            );
            map.insert(
                string("last_enqueued_offset"),
                string(if empty {
                    "-1".to_owned()
                } else {
                    last.to_string()
                }),
            );
            map.insert(
                string("last_enqueued_time_utc"),
                Value::Timestamp(Timestamp::from_milliseconds(last_time)),
            );
            map.insert(string("is_partition_empty"), Value::Bool(empty));
        }
        other => {
            return Err(Error::NotImplemented(format!(
                "management type `{other}` is not supported"
            )));
        }
    }
    Ok(map)
}

/// The timestamp of the record at `offset`, if it is still stored.
pub(crate) async fn last_timestamp(
    shared: &Shared,
    partition: &PartitionId,
    offset: i64,
) -> Result<Option<i64>, Error> {
    let read = shared.storage.read(partition, offset, 1).await?;
    let limits = hubgate_storage::Limits::default();
    for batch in read.batches {
        let records = batch
            .records(&limits)
            .map_err(|e| Error::Storage(e.into()))?;
        if let Some(r) = records.iter().find(|r| r.offset == offset) {
            return Ok(Some(r.timestamp));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AmqpConfig;
    use crate::connection::Acceptors;
    use fe2o3_amqp::types::messaging::MessageId;
    use fe2o3_amqp::types::primitives::{Symbol, Uuid};
    use hubgate_storage::{EncodeOptions, Record, RecordBatch, StorageConfig, open};

    fn shared() -> Shared {
        let config = AmqpConfig::default();
        Shared {
            storage: open(&StorageConfig::new("memory://".parse().unwrap())).unwrap(),
            acceptors: Acceptors::new(&config),
            config,
            owners: Arc::new(crate::owners::Owners::default()),
            round_robin: hubgate_protocol::RoundRobin::new(),
        }
    }

    fn request(id: MessageId, props: &[(&str, &str)]) -> AmqpMessage {
        let mut app = ApplicationProperties::builder();
        for (k, v) in props {
            app = app.insert(*k, SimpleValue::String((*v).into()));
        }
        Message::builder()
            .properties(Properties::builder().message_id(id).build())
            .application_properties(app.build())
            .body(Body::Empty)
            .build()
    }

    fn status(reply: &AmqpMessage) -> Option<&SimpleValue> {
        reply.application_properties.as_ref()?.0.get("status-code")
    }

    fn map(reply: &AmqpMessage) -> OrderedMap<Value, Value> {
        match &reply.body {
            Body::Value(AmqpValue(Value::Map(map))) => map.clone(),
            other => panic!("not an amqp-value map: {other:?}"),
        }
    }

    fn get<'a>(map: &'a OrderedMap<Value, Value>, key: &str) -> &'a Value {
        map.get(&Value::String(key.into())).unwrap_or(&Value::Null)
    }

    #[test]
    fn replies_keep_the_request_id_type() {
        let open = Access::new(Arc::default(), None);
        let id = MessageId::Uuid(Uuid::from([9u8; 16]));
        let req = request(
            id.clone(),
            &[
                ("operation", "put-token"),
                ("name", "sb://127.0.0.1:5672/hub"),
                ("type", "servicebus.windows.net:sastoken"),
            ],
        );
        let reply = address_reply(cbs::request(&open, &req), &req);
        assert_eq!(status(&reply), Some(&SimpleValue::Int(202)));
        assert_eq!(reply.properties.unwrap().correlation_id, Some(id));
        let bad = request(
            MessageId::String("x".into()),
            &[("operation", "delete-token")],
        );
        assert_eq!(
            status(&cbs::request(&open, &bad)),
            Some(&SimpleValue::Int(501))
        );
    }

    #[tokio::test]
    async fn management_reads_have_the_event_hubs_keys_and_types() {
        let shared = shared();
        let access = Access::new(Arc::default(), None);
        let hub = [
            ("operation", "READ"),
            ("type", "com.microsoft:eventhub"),
            ("name", "orders"),
        ];
        let reply = management(&shared, &access, &request(MessageId::Ulong(1), &hub)).await;
        assert_eq!(status(&reply), Some(&SimpleValue::Int(200)));
        let m = map(&reply);
        assert_eq!(get(&m, "name"), &Value::String("orders".into()));
        assert!(matches!(get(&m, "created_at"), Value::Timestamp(_)));
        assert_eq!(get(&m, "partition_count"), &Value::Int(4));
        let ids: Vec<Value> = (0..4).map(|i| Value::String(i.to_string())).collect();
        assert_eq!(get(&m, "partition_ids"), &Value::Array(Array::from(ids)));

        let partition = [
            ("operation", "READ"),
            ("type", "com.microsoft:partition"),
            ("name", "orders"),
            ("partition", "1"),
        ];
        let empty =
            map(&management(&shared, &access, &request(MessageId::Ulong(2), &partition)).await);
        assert_eq!(get(&empty, "partition"), &Value::String("1".into()));
        assert_eq!(get(&empty, "begin_sequence_number"), &Value::Long(0));
        assert_eq!(
            get(&empty, "last_enqueued_sequence_number"),
            &Value::Long(-1)
        );
        assert_eq!(
            get(&empty, "last_enqueued_offset"),
            &Value::String("-1".into())
        );
        assert_eq!(get(&empty, "is_partition_empty"), &Value::Bool(true));

        let records: Vec<Record> = (0..3)
            .map(|i| Record {
                offset: i,
                timestamp: 1_700_000_000_000 + i,
                ..Record::default()
            })
            .collect();
        let batch = RecordBatch::encode(&records, &EncodeOptions::default()).unwrap();
        let id = PartitionId::new(HubName::new("orders").unwrap(), 1);
        shared.storage.append(&id, batch).await.unwrap();
        let full =
            map(&management(&shared, &access, &request(MessageId::Ulong(3), &partition)).await);
        assert_eq!(get(&full, "last_enqueued_sequence_number"), &Value::Long(2));
        assert_eq!(
            get(&full, "last_enqueued_offset"),
            &Value::String("2".into())
        );
        assert_eq!(
            get(&full, "last_enqueued_time_utc"),
            &Value::Timestamp(Timestamp::from_milliseconds(1_700_000_000_002))
        );
        assert_eq!(get(&full, "is_partition_empty"), &Value::Bool(false));

        let missing = [
            ("operation", "READ"),
            ("type", "com.microsoft:partition"),
            ("name", "orders"),
            ("partition", "4"),
        ];
        let reply = management(&shared, &access, &request(MessageId::Ulong(4), &missing)).await;
        assert_eq!(status(&reply), Some(&SimpleValue::Int(404)));
        let condition = reply
            .application_properties
            .unwrap()
            .0
            .get("error-condition")
            .cloned();
        assert_eq!(
            condition,
            Some(SimpleValue::Symbol(Symbol::from("amqp:not-found")))
        );
    }

    #[tokio::test]
    async fn management_reads_need_listen_or_send_when_policies_exist() {
        use hubgate_protocol::sas::sign_token;
        use hubgate_protocol::{Rights, SasPolicies, SasPolicy, Secret};
        let shared = shared();
        let policy = |name: &str, right: Right| SasPolicy {
            name: name.into(),
            key: Secret::new("k"),
            rights: Rights::from(right),
            hubs: vec![],
            cert_subject: None,
        };
        let policies = Arc::new(
            SasPolicies::new([
                policy("sender", Right::Send),
                policy("admin", Right::Manage),
            ])
            .unwrap(),
        );
        let read = |hub: &str| {
            request(
                MessageId::Ulong(1),
                &[
                    ("operation", "READ"),
                    ("type", "com.microsoft:eventhub"),
                    ("name", hub),
                ],
            )
        };
        let now = crate::access::now_secs();
        let access = Access::new(Arc::clone(&policies), None);
        let reply = management(&shared, &access, &read("orders")).await;
        assert_eq!(status(&reply), Some(&SimpleValue::Int(401)));
        let token = sign_token("sender", &Secret::new("k"), "sb://h/", now + 60);
        access.put_token("sb://h/", &token, now).unwrap();
        // Send reads, but without Manage an unknown hub is not created.
        let reply = management(&shared, &access, &read("orders")).await;
        assert_eq!(status(&reply), Some(&SimpleValue::Int(404)));
        let admin = Access::new(
            Arc::clone(&policies),
            policies.authenticate_key("admin", b"k").ok(),
        );
        let reply = management(&shared, &admin, &read("orders")).await;
        assert_eq!(status(&reply), Some(&SimpleValue::Int(200)));
        let reply = management(&shared, &access, &read("orders")).await;
        assert_eq!(status(&reply), Some(&SimpleValue::Int(200)));
    }
}
