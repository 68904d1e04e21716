//! `wasi:http/outgoing-handler`, gated by the instance's network grants.
//!
//! Every outgoing request goes through the same checks and audit as host
//! functions, through core's `CallContext`, twice:
//!
//! 1. as written: its host and port (80 / 443 by default) as an `http`
//!    network request (a host spelled as a number is that address);
//! 2. at connect time: the host is resolved (a host spelled as an address
//!    is its own address) and every address it resolves to is checked
//!    ([`CallContext::decide_connection`]): a name grant never reaches a
//!    forbidden address, and a name that resolves to one is refused whole.
//!
//! A refused request fails with `HTTP-request-denied` before any
//! connection is made. An allowed one is connected by this module to the
//! checked addresses only — TCP, then TLS for `https` with rustls (ring)
//! and the webpki roots, as wasmtime-wasi-http's default client does —
//! and handed to hyper's HTTP/1.1 client. The sending half follows
//! `wasmtime_wasi_http::default_send_request` (wasmtime, Apache-2.0 WITH
//! LLVM-exception), which resolves and connects by itself and so cannot be
//! given a checked address.

use std::future::{Future, poll_fn};
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use airssys_wasm_core::capability::{NetKind, canonical_ip, host_address};
use airssys_wasm_core::{AuditSink, CallContext, CapabilitySet, Request};
use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The hooks of one instance.
#[derive(Clone)]
pub(crate) struct GatedHttp {
    pub component: Arc<str>,
    pub capabilities: Arc<CapabilitySet>,
    pub audit: Arc<dyn AuditSink>,
    /// Outgoing requests this instance may have in flight at once, shared
    /// with the other instances it is counted with (a tenant's requests,
    /// for a server): a request waits for a permit before it connects and
    /// holds it until its connection ends. `None`: no bound.
    pub outbound: Option<Arc<tokio::sync::Semaphore>>,
}

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send>;

const DENIED: &str = "the request fails with HTTP-request-denied";

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The host as the guest wrote it (IPv6 without brackets).
    pub host: String,
    /// The port, 80 / 443 by default.
    pub port: u16,
    /// `https`.
    pub tls: bool,
}

impl Target {
    fn of(uri: &http::Uri) -> Option<Self> {
        let host = uri.host()?;
        let tls = uri.scheme() != Some(&http::uri::Scheme::HTTP);
        Some(Self {
            host: host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host)
                .to_owned(),
            port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            tls,
        })
    }

    fn request(&self) -> Request<'_> {
        Request::Connect {
            host: &self.host,
            port: self.port,
            kind: NetKind::Http,
        }
    }
}

impl GatedHttp {
    fn cx(&self) -> CallContext<'_> {
        CallContext::new(&self.component, &self.capabilities, &*self.audit)
    }

    /// The check as written, audited.
    fn allowed(&self, target: &Target) -> bool {
        self.cx()
            .decide(target.request(), DENIED)
            .is_ok_and(|d| d.is_allowed())
    }

    /// The check at connect time, audited: may `target` connect to every
    /// one of `addrs`, the addresses its host resolved to? A host spelled
    /// as an address resolves to itself, checked as written already.
    pub(crate) fn connection_allowed(&self, target: &Target, addrs: &[IpAddr]) -> bool {
        self.cx()
            .decide_addresses(target.request(), addrs, DENIED)
            .is_ok_and(|d| d.is_allowed())
    }
}

impl WasiHttpHooks for GatedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Io,
    ) -> Sent {
        _ = fut;
        let target = match Target::of(request.uri()) {
            Some(t) if self.allowed(&t) => t,
            _ => return Box::new(async { Err(Error::HttpRequestDenied) }),
        };
        let gate = self.clone();
        Box::new(async move {
            let permit = match &gate.outbound {
                Some(s) => Some(
                    s.clone()
                        .acquire_owned()
                        .await
                        .map_err(|_| Error::ConnectionLimitReached)?,
                ),
                None => None,
            };
            let timeouts = Timeouts::of(options);
            let addrs = tokio::time::timeout(timeouts.connect, resolve(&target))
                .await
                .map_err(|_| Error::DnsTimeout)??;
            if !gate.connection_allowed(&target, &addrs) {
                return Err(Error::HttpRequestDenied);
            }
            let stream = tokio::time::timeout(timeouts.connect, connect(&target, &addrs))
                .await
                .map_err(|_| Error::ConnectionTimeout)??;
            let (response, io) = send(request, stream, timeouts).await?;
            // The permit is held as long as the connection is driven: until
            // the response's body is read or dropped.
            let io: Io = Box::new(async move {
                let _permit = permit;
                Box::into_pin(io).await
            });
            Ok((response, io))
        })
    }
}

/// The addresses of `target`'s host, canonical: a host spelled as an
/// address is itself; a name is looked up.
async fn resolve(target: &Target) -> Result<Vec<IpAddr>, Error> {
    if let Some(ip) = host_address(&target.host) {
        return Ok(vec![ip]);
    }
    let found = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?;
    let mut addrs = Vec::new();
    for a in found {
        let ip = canonical_ip(a.ip());
        if !addrs.contains(&ip) {
            addrs.push(ip);
        }
    }
    if addrs.is_empty() {
        return Err(Error::DestinationNotFound);
    }
    Ok(addrs)
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> Stream for T where T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

/// A connection to the first of the checked `addrs` that answers, with TLS
/// for `https`.
async fn connect(target: &Target, addrs: &[IpAddr]) -> Result<Box<dyn Stream>, Error> {
    let mut last = None;
    let mut tcp = None;
    for &ip in addrs {
        match TcpStream::connect(SocketAddr::new(ip, target.port)).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match (tcp, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(Error::Connect(e)),
        (None, None) => return Err(Error::DestinationNotFound),
    };
    if !target.tls {
        return Ok(Box::new(tcp));
    }
    let name = match host_address(&target.host) {
        Some(ip) => rustls::pki_types::ServerName::from(ip),
        None => rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(Error::InvalidDnsNameError)?,
    };
    let tls = tokio_rustls::TlsConnector::from(tls_config())
        .connect(name, tcp)
        .await
        .map_err(Error::Tls)?;
    Ok(Box::new(tls))
}

/// wasmtime-wasi-http's client configuration: rustls with ring, the
/// webpki roots, no client certificate.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// The request's timeouts, with wasmtime-wasi-http's defaults.
#[derive(Clone, Copy)]
struct Timeouts {
    connect: Duration,
    first_byte: Duration,
    between_bytes: Duration,
}

impl Timeouts {
    fn of(options: Option<RequestOptions>) -> Self {
        const DEFAULT: Duration = Duration::from_secs(600);
        let o = options.unwrap_or_default();
        Self {
            connect: o.connect_timeout.unwrap_or(DEFAULT),
            first_byte: o.first_byte_timeout.unwrap_or(DEFAULT),
            // Tokio panics on a zero interval.
            between_bytes: o
                .between_bytes_timeout
                .unwrap_or(DEFAULT)
                .max(Duration::from_nanos(1)),
        }
    }
}

/// Sends `request` over `stream` with HTTP/1.1: the response, and the
/// future that drives the connection to its end.
async fn send(
    mut request: http::Request<WasiBody>,
    stream: Box<dyn Stream>,
    timeouts: Timeouts,
) -> Result<(http::Response<WasiBody>, Io), Error> {
    let (mut sender, conn) = tokio::time::timeout(
        timeouts.connect,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    // The request line carries the path only (the authority is for
    // proxies); hyper does not strip it.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let send = async move {
        let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let mut idle = tokio::time::interval(timeouts.between_bytes);
        idle.reset();
        Ok::<_, Error>(response.map(|incoming| Incoming { incoming, idle }.boxed_unsync()))
    };
    let mut send = pin!(send);
    let mut conn = Some(conn);
    // Wait for the response while driving the connection.
    let response = poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => {
            let Some(c) = conn.as_mut() else {
                return Poll::Pending;
            };
            let done = ready!(Pin::new(c).poll(cx));
            conn = None;
            match done {
                Ok(()) => send.as_mut().poll(cx),
                Err(e) => Poll::Ready(Err(Error::from(e))),
            }
        }
    })
    .await?;
    let io: Io = Box::new(async move {
        match conn {
            None => Ok(()),
            Some(c) => c.await.map_err(|e| {
                if e.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    e.into()
                }
            }),
        }
    });
    Ok((response, io))
}

/// A response body that fails when no frame comes within the
/// between-bytes timeout.
struct Incoming {
    incoming: hyper::body::Incoming,
    idle: tokio::time::Interval,
}

impl http_body::Body for Incoming {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                e.into()
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.idle.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.idle.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airssys_wasm_core::capability::HostPattern;
    use airssys_wasm_core::{AuditKind, Capability, MemorySink};

    fn gate(caps: CapabilitySet) -> (GatedHttp, Arc<MemorySink>) {
        let audit = Arc::new(MemorySink::new());
        let gate = GatedHttp {
            component: "probe".into(),
            capabilities: Arc::new(caps),
            audit: audit.clone(),
            outbound: None,
        };
        (gate, audit)
    }

    fn http(pattern: &str) -> Capability {
        Capability::network(HostPattern::new(pattern).unwrap(), NetKind::Http)
    }

    fn target(uri: &str) -> Target {
        Target::of(&uri.parse().unwrap()).unwrap()
    }

    fn denied(audit: &MemorySink) -> Vec<String> {
        audit
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                AuditKind::CapabilityDenied { request, .. } => Some(request),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn numeric_spellings_are_checked_as_the_address() {
        let mut caps = CapabilitySet::new().with(http("*:80"));
        caps.forbid(http("169.254.169.254:*"));
        let (gate, audit) = gate(caps);
        for uri in [
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
        ] {
            assert!(!gate.allowed(&target(uri)), "{uri}");
        }
        assert_eq!(denied(&audit).len(), 6);
        assert!(gate.allowed(&target("http://example.com/")));
    }

    #[test]
    fn a_name_is_checked_on_every_address_it_resolves_to() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut caps = CapabilitySet::new().with(http("localhost:*"));
        caps.forbid(http("127.0.0.0/8:*"));
        let (gate, audit) = gate(caps);
        let local = target("http://localhost:8080/");
        assert!(gate.allowed(&local), "the name, as written");
        assert!(gate.connection_allowed(&local, &[ip("192.0.2.1")]));
        // One forbidden address refuses the whole request.
        assert!(!gate.connection_allowed(&local, &[ip("192.0.2.1"), ip("127.0.0.1")]));
        assert!(!gate.connection_allowed(&local, &[ip("::ffff:127.0.0.1")]));
        assert!(!gate.connection_allowed(&local, &[]), "no address: refused");
        assert_eq!(
            denied(&audit),
            [
                "http localhost:8080 resolved to 127.0.0.1",
                "http localhost:8080 resolved to 127.0.0.1"
            ]
        );
        // A host spelled as an address connects to that address only.
        let (gate, _) = self::gate(CapabilitySet::new().with(http("*:80")));
        let numeric = target("http://0x7f000001/");
        assert!(gate.connection_allowed(&numeric, &[ip("127.0.0.1")]));
        assert!(!gate.connection_allowed(&numeric, &[ip("127.0.0.2")]));
    }

    #[test]
    fn a_refused_request_fails_with_http_request_denied_before_connecting() {
        // A listener that must see nothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut caps = CapabilitySet::new().with(http("localhost:*"));
        caps.forbid(http("127.0.0.0/8:*"));
        let (mut gate, audit) = gate(caps);
        let request = http::Request::builder()
            .uri(format!("http://localhost:{port}/"))
            .body(
                http_body_util::Empty::<Bytes>::new()
                    .map_err(|_| Error::InternalError(None))
                    .boxed_unsync(),
            )
            .unwrap();
        let sent = gate.send_request(request, None, Box::new(async { Ok(()) }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(Pin::from(sent));
        assert!(
            matches!(outcome, Err(Error::HttpRequestDenied)),
            "{:?}",
            outcome.err()
        );
        assert_eq!(
            denied(&audit),
            [format!("http localhost:{port} resolved to 127.0.0.1")]
        );
        assert!(listener.accept().is_err(), "the listener was contacted");
    }
}
