//! Serving `wasi:http`: the `http-hello` handler answering `GET /hello`
//! over loopback, through three servers started by this benchmark:
//!
//! - `ours`: `airssys-wasm-http` with a tenant policy (a fresh instance
//!   per request, the tenant's bounds and deadline, one audit event per
//!   request into the runtime's sink);
//! - `raw-wasmtime-serve`: a server built the way `wasmtime serve` is
//!   (hyper, `ProxyPre`, a store and instance per request, async
//!   bindings), on an engine with the same settings as the one our
//!   handler runs on (the component model, epoch interruption for the
//!   deadline, the pooling allocator of the same size);
//! - `native`: a hyper handler writing the same answer.
//!
//! Groups: `serve-request` (one client on a kept connection: the time of
//! a request), `serve-throughput` (4 clients at once: the time per
//! request of the whole server, whose inverse is its requests per
//! second), and `serve-latency-p50` / `serve-latency-p99`: percentiles of
//! a bounded run of sequential requests per server, measured here, not by
//! criterion, and stored in criterion's layout
//! (`target/criterion/GROUP/SERVER/new/estimates.json`, the percentile as
//! the "median") so that the report shows them with the others.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use airssys_wasm_http::{RouteConfig, ServeConfig, Server, TenantConfig};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Requests of one latency run: a full run, `--quick`, and the test run
/// of `cargo xtask test` (each benchmark once).
fn latency_requests() -> usize {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        20
    } else if args.iter().any(|a| a == "--quick") {
        500
    } else {
        3000
    }
}

fn guest() -> std::path::PathBuf {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/http-hello.wasm");
    assert!(
        path.exists(),
        "run `cargo xtask guests` first: {} is missing",
        path.display()
    );
    path
}

/// A blocking HTTP/1.1 client on one kept connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Self {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    /// `GET /hello`, read to the end of its body (by length, or to the
    /// last chunk).
    fn hello(&mut self) -> usize {
        self.stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n")
            .unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = complete(&self.buf) {
                assert!(
                    self.buf.starts_with(b"HTTP/1.1 200"),
                    "{:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return end;
            }
        }
    }
}

/// The length of a whole response in `buf`, once it has all arrived.
fn complete(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = std::str::from_utf8(&buf[..head]).ok()?.to_ascii_lowercase();
    if let Some(len) = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return (buf.len() >= head + len).then_some(head + len);
    }
    buf.ends_with(b"0\r\n\r\n").then_some(buf.len())
}

/// The tenant every server's settings follow.
fn tenant_config(dir: &std::path::Path) -> TenantConfig {
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "[grant.\"*\"]\nclocks = true\n").unwrap();
    TenantConfig {
        policy: Some(policy),
        deadline: Duration::from_secs(10),
        ..TenantConfig::default()
    }
}

fn ours(dir: &std::path::Path) -> Server {
    let mut config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::default()
    };
    config.tenants.insert("bench".into(), tenant_config(dir));
    config.routes.push(RouteConfig {
        name: "hello".into(),
        tenant: "bench".into(),
        component: guest(),
        deployment: None,
        manifest: None,
        path: "/".into(),
        host: None,
    });
    // The runtime's default sink: every request's event is built and
    // handed to it, as `serve` does without --audit.
    let runtime = airssys_wasm_http::runtime_for(&config, None).unwrap();
    Server::start(config, runtime).unwrap()
}

struct RawState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for RawState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RawState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// The engine settings our handler runs on (see the backend's `Flavor`):
/// the same pooling sizes as `runtime_for` gives a default `ServeConfig`.
fn raw_engine() -> Engine {
    let defaults = ServeConfig::default();
    let instances = (defaults.workers as u32 * 2).max(16) + 1;
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances * 2)
        .total_tables(instances * 4)
        .max_memory_size(64 << 20)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c).unwrap()
}

async fn raw_handle(
    pre: ProxyPre<RawState>,
    req: hyper::Request<hyper::body::Incoming>,
) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
    let mut store = Store::new(
        pre.engine(),
        RawState {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        },
    );
    store.set_epoch_deadline(u64::MAX / 2);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let task = tokio::task::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(store, req, out)
            .await
    });
    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(wasmtime::Error::msg(format!("{e:?}"))),
        Err(_) => {
            let e = match task.await {
                Ok(Ok(())) => wasmtime::Error::msg("no response"),
                Ok(Err(e)) => e,
                Err(e) => wasmtime::Error::msg(e.to_string()),
            };
            Err(e)
        }
    }
}

/// Serves on a loopback port on a runtime of its own; returns the address.
fn spawn_server<F, Fut, B>(handle: F) -> SocketAddr
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<hyper::Response<B>, Infallible>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        rt.block_on(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service_fn(handle))
                        .await;
                });
            }
        })
    });
    addr
}

fn raw_wasmtime_serve() -> SocketAddr {
    let engine = raw_engine();
    let component = Component::from_file(&engine, guest()).unwrap();
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
    let pre = ProxyPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
    spawn_server(move |req| {
        let pre = pre.clone();
        async move {
            Ok(match raw_handle(pre, req).await {
                Ok(resp) => resp,
                Err(e) => {
                    let mut r = hyper::Response::new(
                        Full::new(Bytes::from(format!("{e:#}")))
                            .map_err(|never| match never {})
                            .boxed_unsync(),
                    );
                    *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                    r
                }
            })
        }
    })
}

fn native() -> SocketAddr {
    spawn_server(|req: hyper::Request<hyper::body::Incoming>| async move {
        let authority = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = format!("hello from {authority} {}\n", req.uri().path());
        let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain"),
        );
        Ok(r)
    })
}

/// Writes `ns` as the "median" of `group/bench` in criterion's layout.
fn store_percentile(group: &str, bench: &str, ns: f64) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion")
        .join(group)
        .join(bench)
        .join("new");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("estimates.json"),
        format!("{{\"median\":{{\"point_estimate\":{ns}}},\"source\":\"serve bench percentile\"}}"),
    )
    .unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let server = ours(dir.path());
    let servers = [
        ("ours", server.local_addr()),
        ("raw-wasmtime-serve", raw_wasmtime_serve()),
        ("native", native()),
    ];
    // Each answers before it is measured.
    for (name, addr) in servers {
        let mut conn = Conn::new(addr);
        let n = conn.hello();
        assert!(n > 0, "{name}");
    }

    let mut group = c.benchmark_group("serve-request");
    for (name, addr) in servers {
        let mut conn = Conn::new(addr);
        group.bench_function(name, |b| b.iter(|| conn.hello()));
    }
    group.finish();

    let mut group = c.benchmark_group("serve-throughput");
    const CLIENTS: u64 = 4;
    for (name, addr) in servers {
        let mut conns: Vec<Conn> = (0..CLIENTS).map(|_| Conn::new(addr)).collect();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(CLIENTS).max(1);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for conn in conns.iter_mut() {
                        s.spawn(move || {
                            for _ in 0..per {
                                conn.hello();
                            }
                        });
                    }
                });
                // The whole server's time per request.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * CLIENTS) as f64)
            })
        });
    }
    group.finish();

    // Percentiles of sequential requests, each server in turn.
    let n = latency_requests();
    for (name, addr) in servers {
        let mut conn = Conn::new(addr);
        let mut times: Vec<Duration> = (0..n)
            .map(|_| {
                let t = Instant::now();
                conn.hello();
                t.elapsed()
            })
            .collect();
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let (p50, p99) = (at(0.50), at(0.99));
        println!("serve latency {name}: p50 {p50:?}, p99 {p99:?} over {n} requests");
        store_percentile("serve-latency-p50", name, p50.as_nanos() as f64);
        store_percentile("serve-latency-p99", name, p99.as_nanos() as f64);
    }
    server.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
