//! Clients that connect and then stall, or open more connections than allowed, lose their
//! connections. Timeouts are configured short here; the hang guard only turns a server that
//! never closes into a failure instead of a stuck test.

mod common;

use std::time::Duration;

use albatross_model::ValidatorOptions;
use albatross_webhook::{ConnectionLimits, ReviewLimits};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use common::{Client, Server, start_with, tls_stream};

const SHORT: Duration = Duration::from_millis(300);

async fn server(limits: ConnectionLimits) -> Server {
    let reviews = ReviewLimits { body_read_timeout: SHORT, ..ReviewLimits::default() };
    start_with(ValidatorOptions::default(), reviews, limits).await
}

fn short() -> ConnectionLimits {
    ConnectionLimits { max_connections: 64, handshake_timeout: SHORT, header_read_timeout: SHORT }
}

/// Everything the server sends until it closes the connection.
async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await.expect("the server closes the connection");
    received
}

#[tokio::test]
async fn stalled_header_connection_is_closed() {
    let server = server(short()).await;
    let mut stream = tls_stream(&server).await;
    stream.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Ty").await.unwrap();
    stream.flush().await.unwrap();
    let received = until_closed(&mut stream).await;
    assert!(!String::from_utf8_lossy(&received).contains("200 OK"));
}

#[tokio::test]
async fn stalled_tls_handshake_is_closed() {
    let server = server(short()).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // A ClientHello that never finishes: the record header announces more than follows.
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap();
    assert!(until_closed(&mut tcp).await.is_empty());
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let server = server(short()).await;
    let mut stream = tls_stream(&server).await;
    let body = br#"{"kind":"AdmissionReview"}"#;
    let request = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let received = until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 400"), "one answer, then the idle connection is closed: {text}");
}

#[tokio::test]
async fn stalled_body_is_answered_408_and_closed() {
    let server = server(ConnectionLimits { header_read_timeout: Duration::from_secs(10), ..short() }).await;
    let mut stream = tls_stream(&server).await;
    let request = "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{\"kind\":";
    stream.write_all(request.as_bytes()).await.unwrap();
    let received = until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed() {
    let limits = ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() };
    let server = server(limits).await;
    let first = tls_stream(&server).await;
    let _second = tls_stream(&server).await;
    let mut third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(until_closed(&mut third).await.is_empty(), "closed on accept, before any TLS");

    // A slot frees when a connection ends.
    drop(first);
    let mut answered = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let connector = tokio::time::timeout(Duration::from_secs(5), async {
            let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            let mut probe = [0u8; 1];
            // A refused connection reads EOF at once; an accepted one waits for a ClientHello.
            tokio::time::timeout(Duration::from_millis(100), stream.peek(&mut probe)).await.is_err()
        });
        if connector.await.unwrap_or(false) {
            answered = true;
            break;
        }
    }
    assert!(answered, "a new connection is served once one closed");
    let mut client = Client::connect(&server).await;
    let (status, _) = client.post("/validate", b"{}".to_vec()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn http2_is_not_spoken() {
    let server = server(short()).await;
    let mut stream = tls_stream(&server).await;
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    let received = until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&received);
    assert!(!text.contains("HTTP/2"), "{text}");
}
