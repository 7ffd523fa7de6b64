//! One request through the proxy: hold, rate limit, fault, AWS rules and emulations, moto,
//! and the rewriting of its answer (see the [`super`] docs for what each step does).

use super::*;

pub(super) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<ProxyResponse, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();

    if parts.uri.path().starts_with("/moto-api") {
        let forwarded = shared.upstream.forward(&parts.method, &parts.uri, &parts.headers, body).await;
        return Ok(forwarded.unwrap_or_else(|e| bad_gateway(&e)).into_response());
    }

    let (identity, form) = identify(&parts.headers, &body);
    let mutating = is_mutating(&identity.service, &identity.action);

    if !shared.pass_hold(&identity.action).await {
        shared.record(&identity, 0, Some(Fault::DropBefore), None, false);
        return Err(DropConnection);
    }

    if let Some((admitted, latency)) = shared.admit(&identity) {
        tokio::time::sleep(latency).await;
        if !admitted {
            let code = if identity.protocol == Protocol::Json { "ThrottledException" } else { "Throttling" };
            let error = error_response(&identity, 400, code, "Rate exceeded", &shared.request_id());
            shared.record_rate_limited(&identity, &error);
            return Ok(Upstreamed::from_error(error).into_response());
        }
    }

    let fault = shared.pick_fault();
    let fault_error = |status: u16, code: &str, message: &str| {
        let error = error_response(&identity, status, code, message, &shared.request_id());
        shared.record(&identity, status, fault, Some(error.code.clone()), false);
        Ok(Upstreamed::from_error(error).into_response())
    };
    match fault {
        Some(Fault::Throttle) => {
            return match (identity.protocol, identity.service.as_str()) {
                (Protocol::Json, _) => fault_error(400, "ThrottlingException", "Rate exceeded"),
                (_, service::EC2) => fault_error(503, "RequestLimitExceeded", "Request limit exceeded."),
                _ => fault_error(400, "Throttling", "Rate exceeded"),
            };
        }
        Some(Fault::ServerError) => {
            let code = if identity.service == service::EC2 { "InternalError" } else { "InternalFailure" };
            return fault_error(500, code, "We encountered an internal error. Please try again.");
        }
        Some(Fault::DropBefore) => {
            shared.record(&identity, 0, fault, None, false);
            return Err(DropConnection);
        }
        Some(Fault::DropAfter) | None => {}
    }

    let (aws_rules, quotas) = {
        let state = shared.state();
        (state.aws_rules, state.quotas)
    };
    let elbv2_form = form.as_ref().filter(|_| identity.service == service::ELBV2);
    let region = identity.region.as_deref().unwrap_or("us-east-1");
    let emulated = elbv2_form.and_then(|f| {
        let mut state = shared.state();
        let lb = lb_settings::respond(&mut state.extras, &identity.action, f).map(Ok);
        lb.or_else(|| trust_stores::respond(&mut state.trust_stores, &identity.action, f, region))
    });
    let verdict = match (&form, aws_rules && identity.service == service::ELBV2, emulated) {
        (_, _, Some(Ok(body))) => rules::Verdict::Respond { body },
        (_, _, Some(Err(r))) => rules::Verdict::Refuse { code: r.code, message: r.message },
        (Some(form), true, None) => match emulate::check(&identity.action, form) {
            Err(r) => rules::Verdict::Refuse { code: r.code, message: r.message },
            Ok(()) => {
                let auth = parts.headers.get(AUTHORIZATION).cloned().unwrap_or_else(|| synthetic_auth(&identity));
                let (modified, known_quic) = {
                    let state = shared.state();
                    (state.modified.clone(), state.quic.clone())
                };
                let checked = match quic::check(&shared.upstream, &known_quic, &identity.action, form, &auth).await {
                    Ok(()) => association::check(&shared.upstream, &modified, &identity.action, form, &auth).await,
                    refused => refused,
                };
                match checked {
                    Err(r) => rules::Verdict::Refuse { code: r.code, message: r.message },
                    Ok(()) => rules::check(&shared.upstream, &quotas, &identity.action, form, &auth).await,
                }
            }
        },
        _ => rules::Verdict::Forward,
    };

    // EC2: writes and security-group lookups one at a time; a tag-filtered
    // DescribeSecurityGroups goes to moto narrowed (`security_groups`).
    let (_ec2, verdict, body) =
        security_groups::narrow(&shared, &identity, form.as_ref(), &parts.headers, mutating, verdict, body).await;
    let (response, mutated) = match verdict {
        rules::Verdict::Refuse { code, message } => {
            (Upstreamed::from_error(error_response(&identity, 400, code, &message, &shared.request_id())), false)
        }
        rules::Verdict::Respond { body } => (Upstreamed::xml(body), mutating),
        rules::Verdict::Forward => {
            let body = elbv2_form.and_then(|f| quic::request(&identity.action, f)).map_or(body, Bytes::from);
            match shared.upstream.forward(&parts.method, &parts.uri, &parts.headers, body).await {
                Ok(mut response)
                    if response.status == StatusCode::OK
                        && elbv2_form.is_some()
                        && lb_settings::reads_answer(&identity.action) =>
                {
                    let text = String::from_utf8_lossy(&response.body).into_owned();
                    let mut state = shared.state();
                    if identity.action == "DescribeLoadBalancers" {
                        response.body = Bytes::from(lb_settings::describe(&state.extras, &text));
                    } else if let Some(f) = elbv2_form {
                        lb_settings::remember(&mut state.extras, &identity.action, f, &text);
                    }
                    (response, mutating)
                }
                Ok(response) => (response, mutating),
                Err(e) => (bad_gateway(&e), false),
            }
        }
    };
    let mut response = response;
    let elbv2_ok = identity.service == service::ELBV2 && response.status == StatusCode::OK;
    if elbv2_ok && aws_rules && identity.action == "DescribeTargetGroups" {
        let auth = parts.headers.get(AUTHORIZATION).cloned().unwrap_or_else(|| synthetic_auth(&identity));
        let modified = shared.state().modified.clone();
        let text = String::from_utf8_lossy(&response.body).into_owned();
        response.body = Bytes::from(association::describe(&shared.upstream, &modified, &text, &auth).await);
    }
    if let (Some(form), true) = (&form, elbv2_ok) {
        association::remember(&mut shared.state().modified, &identity.action, form);
        let body = String::from_utf8_lossy(&response.body).into_owned();
        let mut state = shared.state();
        let emulated = emulate::answer(&mut state.emulated, &identity.action, form, &body);
        let text = emulated.as_deref().unwrap_or(&body);
        if let Some(rewritten) = quic::answer(&mut state.quic, &identity.action, form, text).or(emulated) {
            response.body = Bytes::from(rewritten);
        }
    }
    let status = response.status.as_u16();
    let error = (status >= 400).then(|| error_code(&response.headers, &response.body)).flatten();
    shared.record(&identity, status, fault, error, mutated);
    if fault == Some(Fault::DropAfter) {
        return Err(DropConnection);
    }
    Ok(response.into_response())
}

/// An `Authorization` header moto routes to ELBv2 (it does not check signatures).
fn synthetic_auth(identity: &Identity) -> HeaderValue {
    let region = identity.region.as_deref().unwrap_or("us-east-1");
    HeaderValue::from_str(&format!(
        "AWS4-HMAC-SHA256 Credential=albatross-proxy/20260101/{region}/{}/aws4_request, SignedHeaders=host, Signature=0",
        service::ELBV2
    ))
    .expect("valid header value")
}
