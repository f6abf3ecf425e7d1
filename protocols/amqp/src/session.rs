//! One session: each incoming Attach is routed by its address to a node, publish or consume
//! link, and refused with an AMQP error (and an `info` map) when it names nothing we serve.

use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::acceptor::{
    LinkAcceptor, LinkEndpoint, ListenerSessionHandle, SupportedReceiverSettleModes,
    SupportedSenderSettleModes,
};
use fe2o3_amqp::types::definitions::{
    AmqpError, Fields, ReceiverSettleMode, Role, SenderSettleMode,
};
use fe2o3_amqp::types::messaging::TargetArchetype;
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::Symbol;
use hubgate_protocol::{CancellationToken, Right};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, debug_span};

use crate::access::Access;
use crate::address::{self, Address, DEFAULT_GROUP};
use crate::connection::Scope;
use crate::error::{Error, amqp_error};
use crate::nodes::{self, Node};
use crate::{Shared, consume, pad, publish};

/// How long a refused link waits for the client to answer its Detach; the session takes no
/// other attach meanwhile (see [`refuse`]).
const REFUSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How one link is accepted.
#[derive(Debug, Clone, Default)]
pub(crate) struct AcceptOptions {
    /// The link delivers pre-settled (Event Hubs consumers).
    pub(crate) settled_sender: bool,
    /// `max-message-size` offered.
    pub(crate) max_message_size: Option<u64>,
    /// Offered capabilities.
    pub(crate) offered: Vec<Symbol>,
    /// Properties sent in our Attach (always non-empty, see [`pad`]).
    pub(crate) properties: Option<Fields>,
}

/// Accepts `attach` with `options`.
pub(crate) async fn accept(
    session: &mut ListenerSessionHandle,
    attach: Attach,
    options: AcceptOptions,
) -> Result<LinkEndpoint, fe2o3_amqp::acceptor::error::AcceptorAttachError> {
    let mut builder = LinkAcceptor::builder()
        // The pyamqp producer asks for `second` but only completes on a settled disposition.
        .supported_receiver_settle_modes(SupportedReceiverSettleModes::First)
        .fallback_receiver_settle_mode(ReceiverSettleMode::First)
        .initial_delivery_count(0)
        .properties(options.properties.unwrap_or_else(pad::fields));
    if options.settled_sender {
        builder = builder
            .supported_sender_settle_modes(SupportedSenderSettleModes::Settled)
            .fallback_sender_settle_mode(SenderSettleMode::Settled);
    }
    if let Some(max) = options.max_message_size {
        builder = builder.max_message_size(max);
    }
    for capability in options.offered {
        builder = builder.add_offered_capabilities(capability);
    }
    builder
        .build()
        .accept_incoming_attach(attach, session)
        .await
}

/// Accepts links on `session` until it ends.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut session: ListenerSessionHandle,
    scope: Scope,
    shutdown: CancellationToken,
) {
    let mut links = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = links.join_next(), if !links.is_empty() => {}
            attach = session.next_incoming_attach() => {
                let Some(attach) = attach else { break };
                let span = debug_span!("link", name = %attach.name, role = ?attach.role);
                let attached = attach_link(&shared, &mut session, attach, &scope, &shutdown, &mut links)
                    .instrument(span)
                    .await;
                if !attached {
                    // An attach the library could not take (e.g. a link name already in use
                    // on this session) would otherwise stay unanswered: end the session.
                    let error = amqp_error(AmqpError::NotAllowed, "the attach could not be accepted on this session");
                    let _ = tokio::time::timeout(Duration::from_secs(2), session.end_with_error(error)).await;
                    links.abort_all();
                    return;
                }
            }
        }
    }
    if shutdown.is_cancelled() {
        // Give links a moment to send their Detach before the session ends.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while links.join_next().await.is_some() {}
        })
        .await;
    }
    links.abort_all();
    let _ = tokio::time::timeout(Duration::from_secs(1), session.end()).await;
}

fn target_address(attach: &Attach) -> Option<String> {
    match attach.target.as_deref() {
        Some(TargetArchetype::Target(t)) => t.address.clone(),
        _ => None,
    }
}

fn source_address(attach: &Attach) -> Option<String> {
    attach.source.as_ref().and_then(|s| s.address.clone())
}

/// What an attach turned out to ask for.
enum Plan {
    Node(Node),
    Publish(publish::Target, AcceptOptions),
    Consume(consume::Plan, AcceptOptions),
}

async fn plan(shared: &Arc<Shared>, access: &Access, attach: &Attach) -> Result<Plan, Error> {
    let remote_sends = attach.role == Role::Sender;
    let raw = if remote_sends {
        target_address(attach)
    } else {
        source_address(attach)
    };
    debug!(address = ?raw, sends = remote_sends, "attach");
    let parsed = match raw.as_deref() {
        Some(raw) => address::parse(raw)?,
        None => return Err(Error::NotFound("the link has no address".into())),
    };
    match (remote_sends, parsed) {
        (_, Address::Cbs) => Ok(Plan::Node(Node::Cbs)),
        (_, Address::Management) => Ok(Plan::Node(Node::Management)),
        (true, Address::Hub { hub, partition }) => {
            access.authorize(&hub, Right::Send)?;
            let auto_create = access.auto_create(&hub, shared.config.auto_create);
            let (target, options) =
                publish::prepare(shared, attach, &hub, partition, auto_create).await?;
            Ok(Plan::Publish(target, options))
        }
        (
            false,
            Address::Hub {
                hub,
                partition: Some(partition),
            },
        ) => {
            let reader = consume::Reader {
                hub: &hub,
                group: DEFAULT_GROUP,
                partition,
            };
            let (plan, options) = consume::prepare(shared, access, attach, reader).await?;
            Ok(Plan::Consume(plan, options))
        }
        (
            false,
            Address::Consumer {
                hub,
                group,
                partition,
            },
        ) => {
            let reader = consume::Reader {
                hub: &hub,
                group: &group,
                partition,
            };
            let (plan, options) = consume::prepare(shared, access, attach, reader).await?;
            Ok(Plan::Consume(plan, options))
        }
        (
            false,
            Address::Hub {
                hub,
                partition: None,
            },
        ) => Err(Error::InvalidField(format!(
            "receive from `{hub}/ConsumerGroups/{{group}}/Partitions/{{id}}`, not from the hub"
        ))),
        (true, Address::Consumer { .. }) => Err(Error::InvalidField(
            "a consumer-group address cannot be sent to".into(),
        )),
    }
}

async fn attach_link(
    shared: &Arc<Shared>,
    session: &mut ListenerSessionHandle,
    attach: Attach,
    scope: &Scope,
    shutdown: &CancellationToken,
    links: &mut JoinSet<()>,
) -> bool {
    let token = shutdown.child_token();
    let reply_address = target_address(&attach);
    let access = &scope.access;
    match plan(shared, access, &attach).await {
        Err(error) => {
            debug!(%error, "link refused");
            return refuse(session, attach, error, shutdown).await;
        }
        Ok(Plan::Node(node)) => match accept(session, attach, AcceptOptions::default()).await {
            Ok(LinkEndpoint::Receiver(receiver)) => {
                links.spawn(
                    nodes::request_link(Arc::clone(shared), receiver, node, scope.clone(), token)
                        .in_current_span(),
                );
            }
            Ok(LinkEndpoint::Sender(sender)) => {
                links.spawn(
                    nodes::reply_link(sender, node, reply_address, scope.routes.clone(), token)
                        .in_current_span(),
                );
            }
            Err(error) => {
                debug!(%error, "node link not accepted");
                return false;
            }
        },
        Ok(Plan::Publish(target, options)) => match accept(session, attach, options).await {
            Ok(LinkEndpoint::Receiver(receiver)) => {
                links.spawn(
                    publish::run(
                        Arc::clone(shared),
                        Arc::clone(access),
                        receiver,
                        target,
                        token,
                    )
                    .in_current_span(),
                );
            }
            Ok(LinkEndpoint::Sender(_)) => {}
            Err(error) => {
                debug!(%error, "publish link not accepted");
                return false;
            }
        },
        Ok(Plan::Consume(plan, options)) => match accept(session, attach, options).await {
            Ok(LinkEndpoint::Sender(sender)) => {
                links.spawn(
                    consume::run(Arc::clone(shared), Arc::clone(access), sender, plan, token)
                        .in_current_span(),
                );
            }
            Ok(LinkEndpoint::Receiver(_)) => {}
            Err(error) => {
                debug!(%error, "consume link not accepted");
                return false;
            }
        },
    }
    true
}

/// Refuses a link the way Service Bus does: attach (echoing source and target, which pyamqp
/// requires non-null), then detach at once with the error.
///
/// The close handshake completes here, before the session takes its next attach: fe2o3 frees
/// the link's output handle when our Detach goes out and gives it to the next link at once,
/// but it recognises the client's answering Detach by that handle. Were the handle reused
/// before the answer came, the session would take the answer for the client closing the new
/// link and reply with a second Detach on the handle, which rhea rejects as a protocol error.
/// The wait ends when the client answers, when the session ends (the close then fails at
/// once), at gateway shutdown, or after [`REFUSE_TIMEOUT`].
async fn refuse(
    session: &mut ListenerSessionHandle,
    attach: Attach,
    error: Error,
    shutdown: &CancellationToken,
) -> bool {
    let amqp = error.to_amqp();
    let closed = match accept(session, attach, AcceptOptions::default()).await {
        Ok(LinkEndpoint::Sender(sender)) => {
            bounded_close(sender.close_with_error(amqp), shutdown).await
        }
        Ok(LinkEndpoint::Receiver(receiver)) => {
            bounded_close(receiver.close_with_error(amqp), shutdown).await
        }
        Err(error) => {
            debug!(%error, "refused link not attached");
            return false;
        }
    };
    match closed {
        Some(Ok(())) => {}
        Some(Err(error)) => debug!(%error, "refused link's close did not complete"),
        None => debug!("refused link's close not answered in time"),
    }
    true
}

/// Runs `close` until it completes, [`REFUSE_TIMEOUT`] passes or `shutdown` fires (`None`).
async fn bounded_close<T>(
    close: impl Future<Output = T>,
    shutdown: &CancellationToken,
) -> Option<T> {
    tokio::select! {
        () = shutdown.cancelled() => None,
        closed = tokio::time::timeout(REFUSE_TIMEOUT, close) => closed.ok(),
    }
}
