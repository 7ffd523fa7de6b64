//! Recognising AWS requests (Query and awsJson1_1) and building AWS-shaped error responses.

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};

/// Signing names (SigV4 credential-scope services) of the services Albatross talks to.
pub mod service {
    pub const ELBV2: &str = "elasticloadbalancing";
    pub const EC2: &str = "ec2";
    pub const ACM: &str = "acm";
    pub const TAGGING: &str = "tagging";
    pub const WAFV2: &str = "wafv2";
    pub const SHIELD: &str = "shield";
}

/// ELBv2's API version, sent as `Version=` in Query requests.
pub const ELBV2_VERSION: &str = "2015-12-01";
const EC2_VERSION: &str = "2016-11-15";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// AWS Query (ELBv2) or EC2 Query: form-encoded POST body with `Action=`.
    Query,
    /// awsJson1_1 (ACM, Resource Groups Tagging API): `X-Amz-Target: Prefix.Operation`.
    Json,
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Identity {
    pub service: String,
    pub action: String,
    pub protocol: Protocol,
    pub region: Option<String>,
}

/// The form body of a Query request, in order.
#[derive(Clone, Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn encode<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
    }

    /// A form of these pairs, in order (for tests of what reads forms).
    #[cfg(test)]
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Form {
        Form(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }
}

/// `(region, service)` of a SigV4 `Authorization` header's credential scope.
pub fn credential_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let auth = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let credential = credential.split([',', ' ']).next()?;
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() == 5).then(|| (parts[2].to_owned(), parts[3].to_owned()))
}

/// Identifies a request; for Query requests also returns the parsed form.
pub fn identify(headers: &HeaderMap, body: &[u8]) -> (Identity, Option<Form>) {
    let scope = credential_scope(headers);
    let region = scope.as_ref().map(|(r, _)| r.clone());
    let scoped_service = scope.map(|(_, s)| s);

    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, action) = target.split_once('.').unwrap_or(("", target));
        let service = scoped_service.unwrap_or_else(|| {
            match prefix {
                "CertificateManager" => service::ACM,
                p if p.starts_with("ResourceGroupsTaggingAPI") => service::TAGGING,
                p => p,
            }
            .to_owned()
        });
        let identity = Identity { service, action: action.to_owned(), protocol: Protocol::Json, region };
        return (identity, None);
    }

    let form_content = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form_content || body.starts_with(b"Action=") {
        let form = Form::parse(body);
        if let Some(action) = form.get("Action").map(str::to_owned) {
            let service = scoped_service.unwrap_or_else(|| {
                match form.get("Version") {
                    Some(ELBV2_VERSION) => service::ELBV2,
                    Some(EC2_VERSION) => service::EC2,
                    _ => "unknown",
                }
                .to_owned()
            });
            return (Identity { service, action, protocol: Protocol::Query, region }, Some(form));
        }
    }

    let identity = Identity {
        service: scoped_service.unwrap_or_else(|| "unknown".to_owned()),
        action: String::new(),
        protocol: Protocol::Unknown,
        region,
    };
    (identity, None)
}

/// An AWS error response: status, content type, body, extra headers.
#[derive(Clone, Debug)]
pub struct ErrorResponse {
    pub status: u16,
    pub code: String,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

/// Builds an error response in the shape the service's protocol uses: the ELBv2 (Query) XML
/// shape, EC2's `<Response><Errors>` shape, or awsJson1_1's `__type` body plus
/// `x-amzn-errortype` header.
pub fn error_response(identity: &Identity, status: u16, code: &str, message: &str, request_id: &str) -> ErrorResponse {
    let sender = if status < 500 { "Sender" } else { "Receiver" };
    match (identity.protocol, identity.service.as_str()) {
        (Protocol::Json, _) => ErrorResponse {
            status,
            code: code.to_owned(),
            content_type: "application/x-amz-json-1.1",
            body: serde_json::json!({ "__type": code, "message": message }).to_string(),
            headers: vec![("x-amzn-errortype", code.to_owned()), ("x-amzn-requestid", request_id.to_owned())],
        },
        (_, service::EC2) => ErrorResponse {
            status,
            code: code.to_owned(),
            content_type: "text/xml",
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
                xml_escape(code),
                xml_escape(message),
                xml_escape(request_id)
            ),
            headers: vec![],
        },
        _ => ErrorResponse {
            status,
            code: code.to_owned(),
            content_type: "text/xml",
            body: format!(
                "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>{sender}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                xml_escape(code),
                xml_escape(message),
                xml_escape(request_id)
            ),
            headers: vec![("x-amzn-requestid", request_id.to_owned())],
        },
    }
}

pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The AWS error code of an error response body (XML `<Code>` or JSON `__type`), if any.
pub fn error_code(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(t) = headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()) {
        return Some(t.split(':').next().unwrap_or(t).to_owned());
    }
    let text = std::str::from_utf8(body).ok()?;
    if text.trim_start().starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let t = value.get("__type")?.as_str()?;
        return Some(t.rsplit('#').next().unwrap_or(t).to_owned());
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_owned())
}

/// A fresh request id shaped like AWS's (a UUID), from a counter.
pub fn request_id(n: u64) -> String {
    format!("a1b2c3d4-0000-4000-8000-{n:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/elasticloadbalancing/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    #[test]
    fn identifies_query_requests() {
        let h = headers(&[("authorization", AUTH), ("content-type", "application/x-www-form-urlencoded")]);
        let (id, form) = identify(&h, b"Action=CreateRule&Version=2015-12-01&Priority=3");
        assert_eq!((id.service.as_str(), id.action.as_str()), ("elasticloadbalancing", "CreateRule"));
        assert_eq!(id.protocol, Protocol::Query);
        assert_eq!(id.region.as_deref(), Some("eu-west-1"));
        assert_eq!(form.unwrap().get("Priority"), Some("3"));

        let (id, _) = identify(&HeaderMap::new(), b"Action=DescribeVpcs&Version=2016-11-15");
        assert_eq!((id.service.as_str(), id.action.as_str()), ("ec2", "DescribeVpcs"));
    }

    #[test]
    fn identifies_json_requests() {
        let h = headers(&[("x-amz-target", "CertificateManager.ListCertificates")]);
        let (id, _) = identify(&h, b"{}");
        assert_eq!((id.service.as_str(), id.action.as_str(), id.protocol), ("acm", "ListCertificates", Protocol::Json));
        let h = headers(&[("x-amz-target", "ResourceGroupsTaggingAPI_20170126.GetResources")]);
        let (id, _) = identify(&h, b"{}");
        assert_eq!((id.service.as_str(), id.action.as_str()), ("tagging", "GetResources"));
    }

    #[test]
    fn error_shapes_round_trip_their_code() {
        let elb = Identity {
            service: "elasticloadbalancing".into(),
            action: "CreateRule".into(),
            protocol: Protocol::Query,
            region: None,
        };
        let e = error_response(&elb, 400, "Throttling", "Rate exceeded", "id-1");
        assert!(e.body.contains("<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"));
        assert_eq!(error_code(&HeaderMap::new(), e.body.as_bytes()).as_deref(), Some("Throttling"));

        let json = Identity { protocol: Protocol::Json, service: "acm".into(), ..elb.clone() };
        let e = error_response(&json, 400, "ThrottlingException", "Rate exceeded", "id-2");
        assert_eq!(e.body, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#);
        assert_eq!(error_code(&HeaderMap::new(), e.body.as_bytes()).as_deref(), Some("ThrottlingException"));

        let ec2 = Identity { service: "ec2".into(), ..elb };
        let e = error_response(&ec2, 503, "RequestLimitExceeded", "Request limit exceeded.", "id-3");
        assert!(e.body.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"));
    }
}
