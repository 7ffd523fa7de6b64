//! The moto server behind the proxy: forwarding a request and what comes back.

use super::*;

/// Why a request did not reach moto or its answer did not come back.
#[derive(Debug, thiserror::Error)]
pub(super) enum UpstreamError {
    /// The path does not make a URL with the upstream's base.
    #[error("{0}")]
    Uri(#[from] hyper::http::uri::InvalidUri),
    /// Connecting or sending failed.
    #[error("{0:?}")]
    Request(#[from] hyper_util::client::legacy::Error),
    /// The answer's body broke off.
    #[error("{0}")]
    Body(#[from] hyper::Error),
}

pub(super) fn bad_gateway(error: &UpstreamError) -> Upstreamed {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Upstreamed {
        status: StatusCode::BAD_GATEWAY,
        headers,
        body: Bytes::from(format!("fault proxy: upstream: {error}")),
    }
}

/// A complete response (from moto, a rule or a fault).
pub(super) struct Upstreamed {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

impl Upstreamed {
    pub(super) fn from_error(error: protocol::ErrorResponse) -> Upstreamed {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(error.content_type));
        for (name, value) in error.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        Upstreamed {
            status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
            headers,
            body: Bytes::from(error.body),
        }
    }

    pub(super) fn xml(body: String) -> Upstreamed {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        Upstreamed { status: StatusCode::OK, headers, body: Bytes::from(body) }
    }

    pub(super) fn into_response(self) -> ProxyResponse {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        for (name, value) in &self.headers {
            if !is_hop_by_hop(name) && name != CONTENT_LENGTH {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        response
    }
}

pub(super) fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// The moto server behind the proxy.
pub(crate) struct Upstream {
    pub(super) base: String,
    authority: HeaderValue,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Upstream {
    pub(super) fn new(base: &str) -> Upstream {
        let base = base.trim_end_matches('/').to_owned();
        let uri: hyper::Uri = base.parse().unwrap_or_else(|e| panic!("bad upstream URL {base}: {e}"));
        let authority = uri.authority().unwrap_or_else(|| panic!("upstream URL {base} has no host")).as_str();
        let authority = HeaderValue::from_str(authority).expect("authority is a valid header value");
        // moto (werkzeug) closes every connection, so pooling would only race with it.
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(HttpConnector::new());
        Upstream { base, authority, client }
    }

    pub(super) async fn forward(
        &self,
        method: &Method,
        uri: &hyper::Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Upstreamed, UpstreamError> {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = format!("{}{path}", self.base).parse()?;
        for (name, value) in headers {
            if !is_hop_by_hop(name) && name != HOST && name != CONTENT_LENGTH {
                request.headers_mut().append(name.clone(), value.clone());
            }
        }
        request.headers_mut().insert(HOST, self.authority.clone());
        let response = self.client.request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Upstreamed { status: parts.status, headers: parts.headers, body })
    }

    /// An ELBv2 Query request straight to moto (not recorded); the body when moto answers 200.
    pub(crate) async fn elbv2(&self, auth: &HeaderValue, params: &[(&str, &str)]) -> Option<String> {
        let body = Form::encode([("Version", protocol::ELBV2_VERSION)].into_iter().chain(params.iter().copied()));
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
        headers.insert(AUTHORIZATION, auth.clone());
        let uri = hyper::Uri::from_static("/");
        let response = self.forward(&Method::POST, &uri, &headers, Bytes::from(body)).await.ok()?;
        (response.status == StatusCode::OK).then(|| String::from_utf8_lossy(&response.body).into_owned())
    }
}
