//! `http-client`: outgoing requests to granted hosts, with ureq.
//!
//! The URL's host and port (80 / 443 by default) are checked as an `http`
//! network request. Redirects are returned, not followed (each target would
//! need its own grant). The timeout is the host's, capped by the
//! component's wall-clock limit; bodies over the size limit are refused.

use std::sync::Arc;

use airssys_wasm_core::capability::NetKind;
use airssys_wasm_core::{HostFunctions, Request, Value};
use ureq::http;

use super::{HostState, bytes, bytes_value, err, func, gate, limit, ok};

fn field<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    match record {
        Value::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
        _ => None,
    }
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| match p {
            Value::Tuple(kv) if kv.len() == 2 => {
                Some((kv[0].as_str()?.to_owned(), kv[1].as_str()?.to_owned()))
            }
            _ => None,
        })
        .collect()
}

pub(super) fn define(table: &mut HostFunctions, state: &Arc<HostState>) {
    func(
        table,
        state,
        "http-client",
        "send",
        |cx, state, host, args| {
            const F: &str = "airssys:host/http-client#send";
            let request = &args[0];
            let method = field(request, "method")
                .and_then(Value::as_str)
                .unwrap_or("GET");
            let url = field(request, "url").and_then(Value::as_str).unwrap_or("");
            let uri: http::Uri = match url.parse() {
                Ok(u) => u,
                Err(e) => return Ok(err("failed", format!("`{url}` is not a URL: {e}"))),
            };
            let default_port = match uri.scheme_str() {
                Some("http") => 80,
                Some("https") => 443,
                _ => return Ok(err("failed", format!("`{url}`: only http and https URLs"))),
            };
            let Some(target) = uri.host() else {
                return Ok(err("failed", format!("`{url}` has no host")));
            };
            let port = uri.port_u16().unwrap_or(default_port);
            let connect = Request::Connect {
                host: target,
                port,
                kind: NetKind::Http,
            };
            if let Some(denied) = gate(cx, host, connect)? {
                return Ok(denied);
            }

            let timeout = host.timeout.map_or(state.settings.http_timeout, |t| {
                t.min(state.settings.http_timeout)
            });
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .max_redirects(0)
                .http_status_as_error(false)
                .build()
                .into();
            let mut builder = http::Request::builder().method(method).uri(&uri);
            for (k, v) in pairs(field(request, "headers")) {
                builder = builder.header(k, v);
            }
            let body = match field(request, "body") {
                Some(Value::Option(Some(b))) => bytes(b)?.into_owned(),
                _ => Vec::new(),
            };
            let built = match builder.body(body) {
                Ok(r) => r,
                Err(e) => return Ok(err("failed", format!("bad request: {e}"))),
            };
            let mut response = match agent.run(built) {
                Ok(r) => r,
                Err(ureq::Error::Timeout(_)) => {
                    return limit(cx, F, format_args!("timed out after {timeout:?} ({url})"));
                }
                Err(e) => return Ok(err("failed", format!("{url}: {e}"))),
            };
            let max = state.settings.http_max_response;
            let body = match response.body_mut().with_config().limit(max).read_to_vec() {
                Ok(b) => b,
                Err(ureq::Error::BodyExceedsLimit(_)) => {
                    return limit(
                        cx,
                        F,
                        format_args!("response body over {max} bytes ({url})"),
                    );
                }
                Err(ureq::Error::Timeout(_)) => {
                    return limit(cx, F, format_args!("timed out after {timeout:?} ({url})"));
                }
                Err(e) => return Ok(err("failed", format!("{url}: reading the body: {e}"))),
            };
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    Value::Tuple(vec![
                        Value::String(k.as_str().to_owned()),
                        Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    ])
                })
                .collect();
            Ok(ok(Some(Value::record([
                ("status", Value::U16(response.status().as_u16())),
                ("headers", Value::List(headers)),
                ("body", bytes_value(body)),
            ]))))
        },
    );
}
