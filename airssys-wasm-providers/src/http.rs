//! `http-client`: outgoing requests to granted hosts, with ureq.
//!
//! The URL's host and port (80 / 443 by default) are checked as an `http`
//! network request, as written (a host spelled as a number is its
//! address: see [`HostPattern`]). Then the host is resolved, within the
//! time the call has left, and every address it resolves to is checked
//! again ([`CallContext::decide_connection`]): a name grant never reaches
//! a forbidden address, and a name that resolves to one is denied whole.
//! ureq connects only to the checked addresses, through a resolver that
//! returns them (`Checked`); no proxy is used (a proxy would contact the
//! host itself). Redirects are returned, not followed (each target would
//! need its own grant).
//!
//! The timeout is the host's ([`HostSettings::http_timeout`]), capped by
//! the time left until the call's deadline; when the deadline is what ends
//! the request, the call fails with [`airssys_wasm_core::Error::Timeout`].
//! Bodies over the size limit are refused.
//!
//! [`HostPattern`]: airssys_wasm_core::capability::HostPattern
//! [`HostSettings::http_timeout`]: crate::HostSettings::http_timeout

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use airssys_wasm_core::capability::{NetKind, canonical_ip, host_address};
use airssys_wasm_core::provider::{
    Caller, Interface, ProviderTable, bytes, bytes_value, err, limit, ok,
};
use airssys_wasm_core::{CallContext, CapabilityKind, HostError, Request, Result, Value};
use ureq::http;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::interface;

/// The interface this provider serves.
pub const INTERFACES: &[Interface] = &[interface(
    "airssys:host/http-client",
    Some(CapabilityKind::Network),
)];

/// The `http-client` provider.
#[derive(Debug)]
pub struct HttpClient {
    timeout: Duration,
    max_response: u64,
}

impl HttpClient {
    /// Requests take at most `timeout` (and no longer than the call has
    /// left); response bodies hold at most `max_response` bytes.
    pub fn new(timeout: Duration, max_response: u64) -> Self {
        Self {
            timeout,
            max_response,
        }
    }
}

const F: &str = "airssys:host/http-client#send";

/// How long a request may take: the host's timeout, or less when the
/// call's deadline comes first.
struct Budget {
    end: Instant,
    by_deadline: bool,
    host_timeout: Duration,
}

impl Budget {
    fn new(host_timeout: Duration, deadline: Option<Instant>) -> Self {
        let host_end = Instant::now() + host_timeout;
        match deadline {
            Some(d) if d <= host_end => Self {
                end: d,
                by_deadline: true,
                host_timeout,
            },
            _ => Self {
                end: host_end,
                by_deadline: false,
                host_timeout,
            },
        }
    }

    fn left(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// The request ran out of time: the call's deadline fails the call,
    /// the host's timeout is `error::limit`.
    fn timed_out(&self, cx: &CallContext<'_>, url: &str) -> Result<Value, HostError> {
        if self.by_deadline {
            Err(HostError::Timeout)
        } else {
            limit(
                cx,
                F,
                format!("timed out after {:?} ({url})", self.host_timeout),
            )
        }
    }
}

/// Why a host has no addresses.
enum Lookup {
    /// The resolver did not answer in time.
    TimedOut,
    /// The resolver answered with an error or no address.
    Failed(String),
}

/// The addresses of `host`, canonical ([`canonical_ip`]). A host spelled
/// as a number is its own address and is never looked up; a name is
/// resolved by the system resolver, waiting at most `wait` (a lookup still
/// running then is left to finish on its own thread, unused).
fn resolve(host: &str, port: u16, wait: Duration) -> Result<Vec<IpAddr>, Lookup> {
    if let Some(ip) = host_address(host) {
        return Ok(vec![ip]);
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let name = host.to_owned();
    std::thread::Builder::new()
        .name("airssys-resolve".into())
        .spawn(move || {
            let found = (name.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| canonical_ip(a.ip())).collect::<Vec<_>>());
            let _ = tx.send(found);
        })
        .map_err(|e| Lookup::Failed(format!("cannot start the lookup: {e}")))?;
    match rx.recv_timeout(wait) {
        Ok(Ok(addrs)) if !addrs.is_empty() => {
            let mut unique = Vec::with_capacity(addrs.len());
            for a in addrs {
                if !unique.contains(&a) {
                    unique.push(a);
                }
            }
            Ok(unique)
        }
        Ok(Ok(_)) => Err(Lookup::Failed("no address".into())),
        Ok(Err(e)) => Err(Lookup::Failed(e.to_string())),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Lookup::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(Lookup::Failed("the lookup ended without an answer".into()))
        }
    }
}

/// ureq's resolver for one request: the addresses checked for its host,
/// and nothing else. Any other URI (there is none: no proxy, no
/// redirects) resolves to nothing.
#[derive(Debug)]
struct Checked {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
}

impl Resolver for Checked {
    fn resolve(
        &self,
        uri: &http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let default_port = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
            443
        } else {
            80
        };
        let same = uri.host() == Some(self.host.as_str())
            && uri.port_u16().unwrap_or(default_port) == self.port;
        let mut out = self.empty();
        if same {
            for a in &self.addrs {
                if out.try_push(*a).is_err() {
                    break;
                }
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// Checks each address `target` resolved to, at connect time (a host
/// spelled as an address was checked as written already). `Ok(None)`:
/// every address is allowed. Otherwise as [`gate`]: the first address that
/// is not denies the whole request.
fn check_addresses(
    cx: &CallContext<'_>,
    host: &Caller<'_, ()>,
    connect: Request<'_>,
    addrs: &[IpAddr],
) -> Result<Option<Value>, HostError> {
    let decision = cx.decide_addresses(connect, addrs, host.denied_outcome())?;
    let shown = format!("{connect} (it resolves to an address that is not allowed)");
    host.answer(connect, &shown, decision)
}

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

crate::stateless_provider!(HttpClient, "http-client", INTERFACES, define);

fn define(table: &mut ProviderTable<'_, HttpClient>) {
    table.func(INTERFACES[0].name, "send", |cx, this, host, args| {
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
        if let Some(denied) = host.gate(cx, connect)? {
            return Ok(denied);
        }

        let budget = Budget::new(this.timeout, cx.deadline());
        let addrs = match resolve(target, port, budget.left()) {
            Ok(addrs) => addrs,
            Err(Lookup::TimedOut) => return budget.timed_out(cx, url),
            Err(Lookup::Failed(why)) => {
                return Ok(err(
                    "failed",
                    format!("{url}: cannot resolve `{target}`: {why}"),
                ));
            }
        };
        if let Some(denied) = check_addresses(cx, host, connect, &addrs)? {
            return Ok(denied);
        }
        let left = budget.left();
        if left.is_zero() {
            return budget.timed_out(cx, url);
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(left))
            .max_redirects(0)
            .http_status_as_error(false)
            .proxy(None)
            .build();
        let resolver = Checked {
            host: target.to_owned(),
            port,
            addrs: addrs.iter().map(|&ip| SocketAddr::new(ip, port)).collect(),
        };
        let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), resolver);
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
            Err(ureq::Error::Timeout(_)) => return budget.timed_out(cx, url),
            Err(e) => return Ok(err("failed", format!("{url}: {e}"))),
        };
        let max = this.max_response;
        let body = match response.body_mut().with_config().limit(max).read_to_vec() {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return limit(
                    cx,
                    F,
                    format_args!("response body over {max} bytes ({url})"),
                );
            }
            Err(ureq::Error::Timeout(_)) => return budget.timed_out(cx, url),
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
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::capability::HostPattern;
    use airssys_wasm_core::{AuditKind, Capability, CapabilitySet, OnDenied};
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A loopback server answering one request with `body`.
    fn serve_once(body: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        port
    }

    fn get(url: &str) -> Vec<Value> {
        vec![Value::record([
            ("method", Value::String("GET".into())),
            ("url", Value::String(url.into())),
            ("headers", Value::List(vec![])),
            ("body", Value::Option(None)),
        ])]
    }

    fn loopback() -> CapabilitySet {
        [Capability::network(
            HostPattern::new("127.0.0.1:*").unwrap(),
            NetKind::Http,
        )]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_granted_request_is_sent_and_an_ungranted_one_never_is() {
        let h = Harness::new(HttpClient::new(Duration::from_secs(10), 1 << 20));
        let l = h.load(None, loopback(), &[], OnDenied::Error);
        let port = serve_once("hi");
        let Value::Result(Ok(Some(response))) = h
            .call(&l, "send", &get(&format!("http://127.0.0.1:{port}/x")))
            .unwrap()
        else {
            panic!("not ok");
        };
        assert_eq!(field(&response, "status"), Some(&Value::U16(200)));
        assert_eq!(
            field(&response, "body")
                .and_then(Value::as_bytes)
                .as_deref(),
            Some(&b"hi"[..])
        );
        // `localhost` is another host, not granted: denied before any lookup.
        let denied = h
            .call(&l, "send", &get(&format!("http://localhost:{port}/")))
            .unwrap();
        assert_eq!(denied, err("denied", format!("http localhost:{port}")));
        assert!(matches!(
            h.audit.events().last().map(|e| &e.kind),
            Some(AuditKind::CapabilityDenied { .. })
        ));
    }

    #[test]
    fn a_response_over_the_limit_is_refused_and_audited() {
        let h = Harness::new(HttpClient::new(Duration::from_secs(10), 4));
        let l = h.load(None, loopback(), &[], OnDenied::Error);
        let port = serve_once("too long");
        let url = format!("http://127.0.0.1:{port}/");
        assert_eq!(
            h.call(&l, "send", &get(&url)).unwrap(),
            err("limit", format!("response body over 4 bytes ({url})"))
        );
        assert!(matches!(
            h.audit.events().last().map(|e| &e.kind),
            Some(AuditKind::HostLimit { .. })
        ));
    }
}
