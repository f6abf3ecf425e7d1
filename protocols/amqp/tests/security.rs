//! Access policies on the AMQP front end, driven by fe2o3-amqp's client against a port-0
//! listener over the in-memory log: SASL PLAIN with a right and a wrong key, `$cbs` put-token
//! with a good, a forged, an expired and a mis-scoped token, links refused without the right,
//! links detached when their token expires unrefreshed (and kept when it is refreshed), and
//! connections closed when they never authenticate.

use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::link::{RecvError, SendError};
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::session::SessionHandle;
use fe2o3_amqp::types::messaging::{AmqpValue, ApplicationProperties, Body, Message, Properties};
use fe2o3_amqp::types::primitives::{SimpleValue, Value};
use fe2o3_amqp::{Connection, Receiver, Sender, Session};
use hubgate_amqp::{AmqpConfig, serve};
use hubgate_protocol::sas::sign_token;
use hubgate_protocol::{
    CancellationToken, Listener, Right, Rights, SasPolicies, SasPolicy, Secret,
};
use hubgate_storage::{HubConfig, HubName, SharedStorage, StorageConfig, open};
use tokio::task::JoinHandle;

const SEND_KEY: &str = "send-key-0123456789";
const LISTEN_KEY: &str = "listen-key-0123456789";
const ADMIN_KEY: &str = "admin-key-0123456789";
const HUB: &str = "orders";

fn policies() -> SasPolicies {
    let policy = |name: &str, key: &str, right: Right| SasPolicy {
        name: name.into(),
        key: Secret::new(key),
        rights: Rights::from(right),
        hubs: vec![],
        cert_subject: None,
    };
    SasPolicies::new([
        policy("sender", SEND_KEY, Right::Send),
        policy("listener", LISTEN_KEY, Right::Listen),
        policy("admin", ADMIN_KEY, Right::Manage),
    ])
    .unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A secured gateway on a port-0 listener, with hub [`HUB`] declared.
struct Gateway {
    url: String,
    storage: SharedStorage,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    async fn start(auth_timeout: Duration) -> Self {
        let storage = open(&StorageConfig::new("memory://".parse().unwrap())).unwrap();
        storage
            .create_hub(&HubName::new(HUB).unwrap(), HubConfig::default())
            .await
            .unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("amqp://{}", tcp.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let config = AmqpConfig {
            policies: Arc::new(policies()),
            auth_timeout,
            ..AmqpConfig::default()
        };
        let server = tokio::spawn(serve(
            Listener::plain(tcp),
            storage.clone(),
            config,
            shutdown.clone(),
        ));
        Self {
            url,
            storage,
            shutdown,
            server,
        }
    }

    async fn anonymous(&self) -> ConnectionHandle<()> {
        Connection::builder()
            .container_id("anonymous-client")
            .sasl_profile(SaslProfile::Anonymous)
            .open(self.url.as_str())
            .await
            .unwrap()
    }

    async fn plain(&self, user: &str, password: &str) -> Result<ConnectionHandle<()>, String> {
        Connection::builder()
            .container_id("plain-client")
            .sasl_profile(SaslProfile::Plain {
                username: user.into(),
                password: password.into(),
            })
            .open(self.url.as_str())
            .await
            .map_err(|e| format!("{e:?}"))
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// The `$cbs` link pair of one session.
struct Cbs {
    requests: Sender,
    replies: Receiver,
    next_id: u64,
}

impl Cbs {
    async fn attach(session: &mut SessionHandle<()>) -> Self {
        let replies = Receiver::builder()
            .name("cbs-replies")
            .source("$cbs")
            .target("cbs-client")
            .attach(session)
            .await
            .unwrap();
        let requests = Sender::attach(session, "cbs-requests", "$cbs")
            .await
            .unwrap();
        Self {
            requests,
            replies,
            next_id: 0,
        }
    }

    /// Puts `token` for `audience`; returns the reply's status code and description.
    async fn put_token(&mut self, audience: &str, token: &str) -> (i32, String) {
        self.next_id += 1;
        let request: Message<Body<Value>> = Message::builder()
            .properties(
                Properties::builder()
                    .message_id(self.next_id)
                    .reply_to("cbs-client")
                    .build(),
            )
            .application_properties(
                ApplicationProperties::builder()
                    .insert("operation", "put-token")
                    .insert("type", "servicebus.windows.net:sastoken")
                    .insert("name", audience)
                    .build(),
            )
            .body(Body::Value(AmqpValue(Value::String(token.into()))))
            .build();
        self.requests.send(request).await.unwrap();
        let reply =
            tokio::time::timeout(Duration::from_secs(10), self.replies.recv::<Body<Value>>())
                .await
                .unwrap()
                .unwrap();
        self.replies.accept(&reply).await.unwrap();
        let app = reply.message().application_properties.clone().unwrap();
        let status = match app.0.get("status-code") {
            Some(SimpleValue::Int(code)) => *code,
            other => panic!("status-code {other:?}"),
        };
        let description = match app.0.get("status-description") {
            Some(SimpleValue::String(text)) => text.clone(),
            other => panic!("status-description {other:?}"),
        };
        (status, description)
    }
}

fn audience(path: &str) -> String {
    format!("sb://127.0.0.1/{path}")
}

fn token(policy: &str, key: &str, path: &str, expiry: i64) -> String {
    sign_token(policy, &Secret::new(key), &audience(path), expiry)
}

fn event(text: &str) -> Message<Body<Value>> {
    Message::builder()
        .body(Body::Value(AmqpValue(Value::String(text.into()))))
        .build()
}

fn is_unauthorized(debug: &str) -> bool {
    debug.contains("UnauthorizedAccess")
}

/// Sends one event and returns the error text, or `None` when it was accepted.
async fn try_send(sender: &mut Sender, text: &str) -> Option<String> {
    match tokio::time::timeout(Duration::from_secs(10), sender.send(event(text))).await {
        Ok(Ok(outcome)) if outcome.is_accepted() => None,
        Ok(Ok(outcome)) => Some(format!("{outcome:?}")),
        Ok(Err(e)) => Some(format!("{e:?}")),
        Err(_) => panic!("the send was neither accepted nor refused"),
    }
}

/// The error a receive link ends with (it must end within `within`).
async fn detach_error(receiver: &mut Receiver, within: Duration) -> String {
    match tokio::time::timeout(within, receiver.recv::<Body<Value>>()).await {
        Ok(Err(RecvError::LinkStateError(state))) => format!("{state:?}"),
        Ok(Err(other)) => format!("{other:?}"),
        Ok(Ok(delivery)) => panic!("got a delivery: {:?}", delivery.message().body),
        Err(_) => panic!("the receive link was not detached in time"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_checks_the_policy_name_and_key() {
    let gw = Gateway::start(Duration::from_secs(60)).await;
    for (user, password) in [
        ("sender", "not-the-key"),
        ("nobody", SEND_KEY),
        ("sender", LISTEN_KEY),
    ] {
        let refused = gw.plain(user, password).await.unwrap_err();
        assert!(refused.contains("Auth"), "{refused}");
    }
    let mut conn = gw.plain("sender", SEND_KEY).await.unwrap();
    let mut session = Session::begin(&mut conn).await.unwrap();
    let mut sender = Sender::attach(&mut session, "s", format!("{HUB}/Partitions/0"))
        .await
        .unwrap();
    assert_eq!(try_send(&mut sender, "by plain").await, None);
    // A Send-only policy cannot read.
    let mut receiver = Receiver::attach(&mut session, "r", format!("{HUB}/Partitions/0"))
        .await
        .unwrap();
    let error = detach_error(&mut receiver, Duration::from_secs(10)).await;
    assert!(is_unauthorized(&error), "{error}");
    // The listener's key reads what the sender stored.
    let mut conn2 = gw.plain("listener", LISTEN_KEY).await.unwrap();
    let mut session2 = Session::begin(&mut conn2).await.unwrap();
    let mut reader = Receiver::attach(&mut session2, "r", format!("{HUB}/Partitions/0"))
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), reader.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    reader.accept(&delivery).await.unwrap();
    assert_eq!(
        delivery.message().body,
        Body::Value(AmqpValue(Value::String("by plain".into())))
    );
    let _ = conn.close().await;
    let _ = conn2.close().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_token_is_verified_and_links_need_a_covering_grant() {
    let gw = Gateway::start(Duration::from_secs(60)).await;
    let mut conn = gw.anonymous().await;
    let mut session = Session::begin(&mut conn).await.unwrap();
    let mut cbs = Cbs::attach(&mut session).await;

    // No token yet: a send link is refused, and nothing is stored.
    let mut sender = Sender::attach(&mut session, "early", HUB).await.unwrap();
    let refused = try_send(&mut sender, "too early").await.unwrap();
    assert!(is_unauthorized(&refused), "{refused}");

    let far = now_secs() + 3600;
    let forged = sign_token("sender", &Secret::new("guess"), &audience(HUB), far);
    let cases = [
        (forged, HUB, "InvalidSignature"),
        (token("nobody", SEND_KEY, HUB, far), HUB, "InvalidSignature"),
        (
            token("sender", SEND_KEY, HUB, now_secs() - 60),
            HUB,
            "ExpiredToken",
        ),
        (
            token("sender", SEND_KEY, "audit", far),
            HUB,
            "InvalidAudience",
        ),
        ("SharedAccessSignature sr=x".to_owned(), HUB, "InvalidToken"),
    ];
    for (bad, path, expected) in cases {
        let (status, text) = cbs.put_token(&audience(path), &bad).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.starts_with(expected), "{text}");
        assert!(!text.contains(SEND_KEY));
    }
    let mut sender = Sender::attach(&mut session, "still-refused", HUB)
        .await
        .unwrap();
    assert!(try_send(&mut sender, "x").await.is_some());

    let (status, text) = cbs
        .put_token(&audience(HUB), &token("sender", SEND_KEY, HUB, far))
        .await;
    assert_eq!((status, text.as_str()), (200, "OK"));
    let mut sender = Sender::attach(&mut session, "granted", HUB).await.unwrap();
    assert_eq!(try_send(&mut sender, "granted").await, None);
    // The Send grant covers only its hub, and only sending.
    let mut other = Sender::attach(&mut session, "other-hub", "audit")
        .await
        .unwrap();
    assert!(is_unauthorized(&try_send(&mut other, "x").await.unwrap()));
    let mut receiver = Receiver::attach(
        &mut session,
        "reader",
        format!("{HUB}/ConsumerGroups/$Default/Partitions/0"),
    )
    .await
    .unwrap();
    let error = detach_error(&mut receiver, Duration::from_secs(10)).await;
    assert!(is_unauthorized(&error), "{error}");
    // Without Manage nothing is auto-created: an unknown hub is not found.
    let (status, _) = cbs
        .put_token(&audience(""), &token("sender", SEND_KEY, "", far))
        .await;
    assert_eq!(status, 200);
    let mut unknown = Sender::attach(&mut session, "unknown", "no-such-hub")
        .await
        .unwrap();
    let refused = try_send(&mut unknown, "x").await.unwrap();
    assert!(refused.contains("NotFound"), "{refused}");
    assert!(
        gw.storage
            .hub(&HubName::new("no-such-hub").unwrap())
            .await
            .is_err()
    );

    // A second token for another audience adds Listen beside Send on the same connection.
    let group = format!("{HUB}/consumergroups/$default");
    let (status, _) = cbs
        .put_token(
            &audience(&group),
            &token("listener", LISTEN_KEY, &group, far),
        )
        .await;
    assert_eq!(status, 200);
    let mut receiver = Receiver::attach(
        &mut session,
        "reader-2",
        format!("{HUB}/ConsumerGroups/$Default/Partitions/0"),
    )
    .await
    .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), receiver.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    receiver.accept(&delivery).await.unwrap();
    // Manage auto-creates.
    let (status, _) = cbs
        .put_token(&audience(""), &token("admin", ADMIN_KEY, "", far))
        .await;
    assert_eq!(status, 200);
    let mut created = Sender::attach(&mut session, "created", "new-hub")
        .await
        .unwrap();
    assert_eq!(try_send(&mut created, "x").await, None);
    let _ = conn.close().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_detached_when_their_token_expires_unless_refreshed() {
    let gw = Gateway::start(Duration::from_secs(60)).await;
    let mut conn = gw.anonymous().await;
    let mut session = Session::begin(&mut conn).await.unwrap();
    let mut cbs = Cbs::attach(&mut session).await;
    let group = format!("{HUB}/consumergroups/$default");
    let source = format!("{HUB}/ConsumerGroups/$Default/Partitions/1");

    // A receiver and a sender on short tokens that are not refreshed.
    let soon = now_secs() + 2;
    let (status, _) = cbs
        .put_token(
            &audience(&group),
            &token("listener", LISTEN_KEY, &group, soon),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = cbs
        .put_token(&audience(HUB), &token("sender", SEND_KEY, HUB, soon))
        .await;
    assert_eq!(status, 200);
    let mut receiver = Receiver::attach(&mut session, "expiring", source.as_str())
        .await
        .unwrap();
    let mut sender = Sender::attach(
        &mut session,
        "expiring-sender",
        format!("{HUB}/Partitions/1"),
    )
    .await
    .unwrap();
    assert_eq!(try_send(&mut sender, "before expiry").await, None);
    let delivery = receiver.recv::<Body<Value>>().await.unwrap();
    receiver.accept(&delivery).await.unwrap();
    let error = detach_error(&mut receiver, Duration::from_secs(6)).await;
    assert!(is_unauthorized(&error), "{error}");
    assert!(now_secs() > soon, "detached before the token expired");
    // The send link went the same way.
    let refused =
        match tokio::time::timeout(Duration::from_secs(5), sender.send(event("late"))).await {
            Ok(Err(SendError::LinkStateError(state))) => format!("{state:?}"),
            other => format!("{other:?}"),
        };
    assert!(is_unauthorized(&refused), "{refused}");

    // A token refreshed before it expires keeps its link attached past the first expiry.
    let soon = now_secs() + 2;
    let (status, _) = cbs
        .put_token(
            &audience(&group),
            &token("listener", LISTEN_KEY, &group, soon),
        )
        .await;
    assert_eq!(status, 200);
    let mut receiver = Receiver::attach(
        &mut session,
        "refreshed",
        format!("{HUB}/ConsumerGroups/$Default/Partitions/3"),
    )
    .await
    .unwrap();
    let later = soon + 3;
    let (status, _) = cbs
        .put_token(
            &audience(&group),
            &token("listener", LISTEN_KEY, &group, later),
        )
        .await;
    assert_eq!(status, 200);
    while now_secs() <= soon + 1 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Still attached: an event sent now (by a connection authenticated by PLAIN) arrives.
    let mut plain = gw.plain("sender", SEND_KEY).await.unwrap();
    let mut plain_session = Session::begin(&mut plain).await.unwrap();
    let mut plain_sender = Sender::attach(&mut plain_session, "p", format!("{HUB}/Partitions/3"))
        .await
        .unwrap();
    assert_eq!(try_send(&mut plain_sender, "after refresh").await, None);
    let delivery = tokio::time::timeout(Duration::from_secs(5), receiver.recv::<Body<Value>>())
        .await
        .expect("the refreshed link was detached")
        .unwrap();
    receiver.accept(&delivery).await.unwrap();
    assert_eq!(
        delivery.message().body,
        Body::Value(AmqpValue(Value::String("after refresh".into())))
    );
    assert!(now_secs() > soon, "the first token had not expired yet");
    // Not refreshed again: detached once the new expiry passes. A PLAIN grant never expires,
    // so the PLAIN connection's sender is unaffected.
    let error = detach_error(&mut receiver, Duration::from_secs(8)).await;
    assert!(is_unauthorized(&error), "{error}");
    assert!(now_secs() > later);
    assert_eq!(try_send(&mut plain_sender, "plain lasts").await, None);
    let _ = conn.close().await;
    let _ = plain.close().await;
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_valid_credential_are_closed_after_the_timeout() {
    let gw = Gateway::start(Duration::from_secs(1)).await;
    // Anonymous and never a token: closed with unauthorized-access.
    let mut idle = gw.anonymous().await;
    // Anonymous with only a refused token: also closed.
    let mut refused = gw.anonymous().await;
    let mut refused_session = Session::begin(&mut refused).await.unwrap();
    let mut cbs = Cbs::attach(&mut refused_session).await;
    let forged = sign_token(
        "sender",
        &Secret::new("guess"),
        &audience(HUB),
        now_secs() + 60,
    );
    assert_eq!(cbs.put_token(&audience(HUB), &forged).await.0, 401);
    // With a valid token, or after SASL PLAIN, the connection stays.
    let mut tokened = gw.anonymous().await;
    let mut session = Session::begin(&mut tokened).await.unwrap();
    let mut cbs = Cbs::attach(&mut session).await;
    let good = token("sender", SEND_KEY, HUB, now_secs() + 3600);
    assert_eq!(cbs.put_token(&audience(HUB), &good).await.0, 200);
    let mut plain = gw.plain("listener", LISTEN_KEY).await.unwrap();

    for conn in [&mut idle, &mut refused] {
        let closed = tokio::time::timeout(Duration::from_secs(10), conn.on_close())
            .await
            .expect("an unauthenticated connection stayed open");
        let text = format!("{closed:?}");
        assert!(is_unauthorized(&text), "{text}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Both still work past the deadline: one sends, the other reads it.
    let mut sender = Sender::attach(&mut session, "s", format!("{HUB}/Partitions/2"))
        .await
        .unwrap();
    assert_eq!(try_send(&mut sender, "still open").await, None);
    let mut plain_session = Session::begin(&mut plain).await.unwrap();
    let mut receiver = Receiver::attach(&mut plain_session, "r", format!("{HUB}/Partitions/2"))
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), receiver.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    receiver.accept(&delivery).await.unwrap();
    assert_eq!(
        delivery.message().body,
        Body::Value(AmqpValue(Value::String("still open".into())))
    );
    let _ = tokened.close().await;
    let _ = plain.close().await;
    gw.stop().await;
}
