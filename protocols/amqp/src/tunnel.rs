//! AMQP connections that arrive as byte streams from another listener (AMQP over WebSocket on
//! the HTTPS listener), served exactly like those of the AMQP listener.

use std::sync::Arc;

use hubgate_protocol::{CancellationToken, StreamHandler, Tunneled};
use tokio::sync::Semaphore;
use tracing::{Instrument, debug};

use crate::{AmqpFrontEnd, connection};

impl AmqpFrontEnd {
    /// A handler that serves every stream it is given as one AMQP connection (protocol header,
    /// SASL, `$cbs`, links) until it ends or `shutdown` is cancelled. At most
    /// `max_connections` tunneled connections run at once; a stream beyond that is closed.
    pub fn stream_handler(&self, shutdown: CancellationToken) -> StreamHandler {
        let shared = Arc::clone(&self.shared);
        let slots = Arc::new(Semaphore::new(
            shared
                .config
                .max_connections
                .clamp(1, Semaphore::MAX_PERMITS),
        ));
        StreamHandler::new(move |stream: Tunneled| {
            let shared = Arc::clone(&shared);
            let slot = Arc::clone(&slots).try_acquire_owned();
            let shutdown = shutdown.child_token();
            let span = tracing::info_span!("conn", proto = "amqp", carrier = stream.carrier());
            async move {
                let Ok(_slot) = slot else {
                    debug!("too many tunneled AMQP connections; closing this one");
                    return;
                };
                connection::handle_stream(shared, stream, None, shutdown).await;
            }
            .instrument(span)
        })
    }
}
