//! The AWS write fence against a loopback server that answers every request 500: the fence is a
//! deadline checked before each attempt of a mutating call, the SDK's retries included.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use albatross_aws::{Api, Aws, AwsSettings, ErrorClass, Fenced, RateLimits, WriteFence};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request `500 InternalFailure` (retryable) and counts them. With a fence set,
/// the first request moves its deadline to now: by the retry, the deadline has passed.
struct FailingServer {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    fence: Arc<OnceLock<WriteFence>>,
}

const BODY: &str = "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>\
    <Message>try again</Message></Error><RequestId>1</RequestId></ErrorResponse>";

impl FailingServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let fence: Arc<OnceLock<WriteFence>> = Arc::default();
        let (count, deadline) = (requests.clone(), fence.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (count, deadline) = (count.clone(), deadline.clone());
                tokio::spawn(async move {
                    if read_request(&mut stream).await.is_none() {
                        return;
                    }
                    if count.fetch_add(1, Ordering::SeqCst) == 0
                        && let Some(fence) = deadline.get()
                    {
                        fence.open_until(Instant::now());
                    }
                    let response = format!(
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{BODY}",
                        BODY.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { endpoint, requests, fence }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Reads one request (headers and a `Content-Length` body); `None` if the client went away.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<()> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return Some(());
        }
    }
}

async fn connect(endpoint: &str, max_attempts: u32) -> Aws {
    Aws::connect(&AwsSettings {
        endpoint: Some(endpoint.into()),
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn sdk_retry_after_the_fence_deadline_is_refused() {
    let server = FailingServer::start().await;
    let aws = connect(&server.endpoint, 5).await;
    aws.fence.open_until(Instant::now() + Duration::from_secs(3600));
    server.fence.set(aws.fence.clone()).unwrap();

    let call = aws.elbv2.create_load_balancer().name("fenced").subnets("subnet-1").send();
    let err = aws.call(Api::Elbv2Write, "CreateLoadBalancer", call).await.unwrap_err();

    assert_eq!(err.class, ErrorClass::Fenced, "{err}");
    assert_eq!(server.requests(), 1, "the retry after the deadline was not sent");
}

#[tokio::test]
async fn write_after_deadline_without_renewal_is_refused() {
    let server = FailingServer::start().await;
    let aws = connect(&server.endpoint, 1).await;
    // Renewed once, then never again: the deadline passes.
    aws.fence.open_until(Instant::now());

    // Straight through the SDK client, as any code holding it could.
    let direct = aws.elbv2.create_load_balancer().name("late").subnets("subnet-1").send().await.unwrap_err();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&direct);
    let mut fenced = false;
    while let Some(e) = source {
        fenced |= e.downcast_ref::<Fenced>().is_some();
        source = e.source();
    }
    assert!(fenced, "{direct:?}");
    let call = aws.elbv2.delete_load_balancer().load_balancer_arn("arn").send();
    let err = aws.call(Api::Elbv2Write, "DeleteLoadBalancer", call).await.unwrap_err();
    assert!(err.is_fenced(), "{err}");
    assert_eq!(server.requests(), 0, "no write reached the server");

    // Reads are not fenced.
    let read = aws.call(Api::Elbv2Read, "DescribeLoadBalancers", aws.elbv2.describe_load_balancers().send()).await;
    assert_eq!(read.unwrap_err().class, ErrorClass::Transient);
    assert_eq!(server.requests(), 1);
}
