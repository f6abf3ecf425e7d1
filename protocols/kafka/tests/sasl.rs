//! SASL on the wire, with raw frames over TCP: the framed (v1/v2) and legacy (v0) exchanges,
//! PLAIN and SCRAM-SHA-256 computed here from RFC 5802's formulas, what is refused before
//! authentication, and the rights each policy gets.

mod support;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Buf, Bytes};
use hmac::{Hmac, Mac};
use hubgate_kafka::KafkaConfig;
use hubgate_protocol::{
    CancellationToken, Listener, Right, Rights, SasPolicies, SasPolicy, Secret,
};
use hubgate_storage::{HubConfig, HubName, StorageConfig, StorageUrl, open};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse,
    InitProducerIdRequest, InitProducerIdResponse, MetadataRequest, MetadataResponse, ProducerId,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
    TopicName,
    create_topics_request::CreatableTopic,
    fetch_request::{FetchPartition, FetchTopic},
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{framed, request};

const SENDER_KEY: &str = "sender-key-0123";
const ADMIN_KEY: &str = "admin-key-4567";
const OTHER_KEY: &str = "other-key-89ab";
const LISTENER_KEY: &str = "listener-key-cdef";

async fn start() -> (std::net::SocketAddr, CancellationToken) {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    let hub = HubConfig {
        partitions: 1,
        ..HubConfig::default()
    };
    storage
        .create_hub(&HubName::new("t").unwrap(), hub)
        .await
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut config = KafkaConfig::new("127.0.0.1", addr.port());
    let policy = |name: &str, key: &str, right| SasPolicy {
        name: name.into(),
        key: Secret::new(key),
        rights: Rights::from(right),
        hubs: vec![],
        cert_subject: None,
    };
    config.policies = Arc::new(
        SasPolicies::new([
            policy("sender", SENDER_KEY, Right::Send),
            policy("other", OTHER_KEY, Right::Send),
            policy("listener", LISTENER_KEY, Right::Listen),
            policy("admin", ADMIN_KEY, Right::Manage),
        ])
        .unwrap(),
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(hubgate_kafka::serve(
        Listener::plain(tcp),
        storage,
        config,
        shutdown.clone(),
    ));
    (addr, shutdown)
}

/// Sends a request and reads its response body (after the response header).
async fn call<Req, Resp>(stream: &mut TcpStream, api: ApiKey, version: i16, body: &Req) -> Resp
where
    Req: kafka_protocol::protocol::Encodable,
    Resp: Decodable,
{
    stream
        .write_all(&framed(&request(api, version, body)))
        .await
        .unwrap();
    let mut frame = read_frame(stream).await.expect("a response");
    let _correlation = frame.get_i32();
    if api.response_header_version(version) >= 1 {
        assert_eq!(frame.get_u8(), 0, "no tagged fields in the header");
    }
    Resp::decode(&mut frame, version).unwrap()
}

async fn read_frame(stream: &mut TcpStream) -> Option<Bytes> {
    let size = stream.read_i32().await.ok()?;
    let mut buf = vec![0u8; size as usize];
    stream.read_exact(&mut buf).await.ok()?;
    Some(Bytes::from(buf))
}

/// Whether the server closes the connection without sending anything more.
async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

async fn handshake(
    stream: &mut TcpStream,
    mechanism: &'static str,
    version: i16,
) -> SaslHandshakeResponse {
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    call(stream, ApiKey::SaslHandshake, version, &request).await
}

async fn authenticate(
    stream: &mut TcpStream,
    token: Vec<u8>,
    version: i16,
) -> SaslAuthenticateResponse {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    call(stream, ApiKey::SaslAuthenticate, version, &request).await
}

async fn metadata(stream: &mut TcpStream) -> MetadataResponse {
    call(
        stream,
        ApiKey::Metadata,
        9,
        &MetadataRequest::default().with_topics(None),
    )
    .await
}

fn plain(user: &str, password: &str) -> Vec<u8> {
    format!("\0{user}\0{password}").into_bytes()
}

#[tokio::test]
async fn plain_over_saslauthenticate_v2_then_requests_are_served() {
    let (addr, _shutdown) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let hs = handshake(&mut s, "PLAIN", 1).await;
    assert_eq!(hs.error_code, 0);
    let names: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    let auth = authenticate(&mut s, plain("sender", SENDER_KEY), 2).await;
    assert_eq!((auth.error_code, auth.session_lifetime_ms), (0, 0));
    assert!(auth.auth_bytes.is_empty());
    let topics = metadata(&mut s).await.topics;
    assert_eq!(topics.len(), 1);
}

#[tokio::test]
async fn legacy_v0_exchange_uses_raw_tokens() {
    let (addr, _shutdown) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(handshake(&mut s, "PLAIN", 0).await.error_code, 0);
    s.write_all(&framed(&plain("admin", ADMIN_KEY)))
        .await
        .unwrap();
    assert_eq!(
        read_frame(&mut s).await.unwrap().len(),
        0,
        "PLAIN success is an empty frame"
    );
    assert_eq!(metadata(&mut s).await.topics.len(), 1);

    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(handshake(&mut s, "PLAIN", 0).await.error_code, 0);
    s.write_all(&framed(&plain("admin", "wrong")))
        .await
        .unwrap();
    assert!(
        closed(&mut s).await,
        "a legacy failure closes without an answer"
    );
}

#[tokio::test]
async fn failures_get_58_with_a_generic_message_then_close() {
    let (addr, _shutdown) = start().await;
    for (user, password) in [
        ("sender", "wrong"),
        ("nobody", SENDER_KEY),
        ("$ConnectionString", "garbage"),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        handshake(&mut s, "PLAIN", 1).await;
        let auth = authenticate(&mut s, plain(user, password), 1).await;
        assert_eq!(auth.error_code, 58);
        let message = auth.error_message.unwrap().to_string();
        assert_eq!(
            message,
            "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN"
        );
        assert!(closed(&mut s).await);
    }
}

#[tokio::test]
async fn unknown_mechanisms_and_early_requests_close() {
    let (addr, _shutdown) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let hs = handshake(&mut s, "GSSAPI", 1).await;
    assert_eq!(hs.error_code, 33);
    assert_eq!(hs.mechanisms.len(), 3);
    assert!(closed(&mut s).await);

    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&framed(&request(
        ApiKey::Metadata,
        9,
        &MetadataRequest::default(),
    )))
    .await
    .unwrap();
    assert!(
        closed(&mut s).await,
        "Metadata before authentication closes"
    );

    let mut s = TcpStream::connect(addr).await.unwrap();
    handshake(&mut s, "PLAIN", 1).await;
    s.write_all(&framed(&request(
        ApiKey::Metadata,
        9,
        &MetadataRequest::default(),
    )))
    .await
    .unwrap();
    assert!(
        closed(&mut s).await,
        "Metadata between handshake and authenticate closes"
    );
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Runs a SCRAM-SHA-256 exchange as a client would; returns the server-final check result.
async fn scram(stream: &mut TcpStream, user: &str, password: &str) -> Result<(), i16> {
    assert_eq!(handshake(stream, "SCRAM-SHA-256", 1).await.error_code, 0);
    let client_nonce = "fyko+d2lbbFgONRv9qkxdawL";
    let first_bare = format!("n={user},r={client_nonce}");
    let first = authenticate(stream, format!("n,,{first_bare}").into_bytes(), 1).await;
    assert_eq!(first.error_code, 0);
    let server_first = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
    let mut parts = server_first.split(',');
    let nonce = parts.next().unwrap().strip_prefix("r=").unwrap().to_owned();
    let salt = B64
        .decode(parts.next().unwrap().strip_prefix("s=").unwrap())
        .unwrap();
    let iterations: u32 = parts
        .next()
        .unwrap()
        .strip_prefix("i=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(nonce.starts_with(client_nonce) && nonce.len() > client_nonce.len());
    assert!(iterations >= 4096);
    let salted = pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), &salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let last = format!("{without_proof},p={}", B64.encode(proof));
    let fin = authenticate(stream, last.into_bytes(), 1).await;
    if fin.error_code != 0 {
        return Err(fin.error_code);
    }
    let server_key = hmac(&salted, b"Server Key");
    let expected = format!(
        "v={}",
        B64.encode(hmac(&server_key, auth_message.as_bytes()))
    );
    assert_eq!(fin.auth_bytes, expected.as_bytes(), "server signature");
    Ok(())
}

#[tokio::test]
async fn scram_sha_256_right_and_wrong_and_unknown() {
    let (addr, _shutdown) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(scram(&mut s, "sender", SENDER_KEY).await, Ok(()));
    assert_eq!(metadata(&mut s).await.topics.len(), 1);
    for (user, password) in [("sender", "wrong"), ("nobody", "x")] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(scram(&mut s, user, password).await, Err(58), "{user}");
        assert!(closed(&mut s).await);
    }
}

#[tokio::test]
async fn send_cannot_fetch_or_create_and_manage_can_create() {
    let (addr, _shutdown) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    handshake(&mut s, "PLAIN", 1).await;
    assert_eq!(
        authenticate(&mut s, plain("sender", SENDER_KEY), 1)
            .await
            .error_code,
        0
    );
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![
                    FetchPartition::default().with_partition_max_bytes(1024),
                ]),
        ]);
    let response: FetchResponse = call(&mut s, ApiKey::Fetch, 11, &fetch).await;
    assert_eq!(response.responses[0].partitions[0].error_code, 29);
    let create = CreateTopicsRequest::default().with_topics(vec![
        CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("new")))
            .with_num_partitions(1)
            .with_replication_factor(1),
    ]);
    let response: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 5, &create).await;
    assert_eq!(response.topics[0].error_code, 29);

    let mut s = TcpStream::connect(addr).await.unwrap();
    handshake(&mut s, "PLAIN", 1).await;
    assert_eq!(
        authenticate(&mut s, plain("admin", ADMIN_KEY), 1)
            .await
            .error_code,
        0
    );
    let response: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 5, &create).await;
    assert_eq!(response.topics[0].error_code, 0);
}

#[tokio::test]
async fn frames_before_authentication_are_capped_at_512_kib() {
    let (addr, _shutdown) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // A size prefix of 600 KiB: refused from the prefix alone, before any body is sent.
    s.write_all(&(600 * 1024_i32).to_be_bytes()).await.unwrap();
    assert!(closed(&mut s).await);
    // After authentication the same size is read (and served) normally.
    let mut s = TcpStream::connect(addr).await.unwrap();
    handshake(&mut s, "PLAIN", 1).await;
    assert_eq!(
        authenticate(&mut s, plain("admin", ADMIN_KEY), 1)
            .await
            .error_code,
        0
    );
    let mut big = request(
        ApiKey::Metadata,
        9,
        &MetadataRequest::default().with_topics(None),
    )
    .to_vec();
    big.resize(600 * 1024, 0);
    s.write_all(&framed(&big)).await.unwrap();
    let mut frame = read_frame(&mut s)
        .await
        .expect("an answer to the large request");
    assert_eq!(frame.get_i32(), 42);
}

/// An authenticated connection as `user`.
async fn login(addr: std::net::SocketAddr, user: &str, key: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(handshake(&mut s, "PLAIN", 1).await.error_code, 0);
    assert_eq!(
        authenticate(&mut s, plain(user, key), 1).await.error_code,
        0
    );
    s
}

async fn init_producer_id(s: &mut TcpStream, id: i64, epoch: i16) -> (i16, i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch);
    let r: InitProducerIdResponse = call(s, ApiKey::InitProducerId, 4, &request).await;
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

#[tokio::test]
async fn init_producer_id_needs_send_and_cannot_fence_another_policy() {
    let (addr, _shutdown) = start().await;
    let mut listener = login(addr, "listener", LISTENER_KEY).await;
    assert_eq!(init_producer_id(&mut listener, -1, -1).await, (31, -1, -1));

    let mut sender = login(addr, "sender", SENDER_KEY).await;
    let (error, id, epoch) = init_producer_id(&mut sender, -1, -1).await;
    assert_eq!((error, epoch), (0, 0));
    // Another Send policy asking to bump that id gets a fresh id: the owner is not fenced.
    let mut other = login(addr, "other", OTHER_KEY).await;
    let (error, other_id, other_epoch) = init_producer_id(&mut other, id, 0).await;
    assert_eq!((error, other_epoch), (0, 0));
    assert_ne!(other_id, id);
    // The owner may bump its own id, and so may Manage.
    assert_eq!(init_producer_id(&mut sender, id, 0).await, (0, id, 1));
    let mut admin = login(addr, "admin", ADMIN_KEY).await;
    assert_eq!(init_producer_id(&mut admin, id, 1).await, (0, id, 2));
}
