//! The host's listeners: the admin API (a Unix socket, and optionally
//! loopback TCP with a bearer token) and the metrics port (`/metrics`, the
//! status page). tokio and hyper live here only; every operation runs on a
//! blocking thread, at most `workers` at once, and a deployment's calls are
//! admitted at most its pool size at once, so one flooded deployment cannot
//! take every worker from the others.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airssys_wasm::ErrorClass;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::api::ApiError;
use crate::error::{HostError, Result};
use crate::service::Host;

/// Where a running host listens: written to `STATE/host.json` once it
/// serves, for the CLI and for tests.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Endpoints {
    /// The host's process id.
    pub pid: u32,
    /// The admin socket.
    pub socket: PathBuf,
    /// The admin API on TCP, if served.
    pub tcp: Option<SocketAddr>,
    /// The metrics and status page port, if served.
    pub metrics: Option<SocketAddr>,
    /// Where the HTTP routes (`[http]`) are served, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<SocketAddr>,
}

struct Ctx {
    host: Arc<Host>,
    /// The `[http]` routes' server, whose metrics `/metrics` shows too.
    http: Option<Arc<airssys_wasm_http::Server>>,
    workers: Semaphore,
    admitted: Mutex<HashMap<String, Arc<Gate>>>,
    token: String,
    busy: crate::lane::Lane,
}

/// A deployment's admission: its permits, and how many callers wait.
struct Gate {
    pool: u32,
    permits: Arc<Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
}

impl Gate {
    fn new(pool: u32) -> Self {
        Self {
            pool,
            permits: Arc::new(Semaphore::new(pool as usize)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The gate of deployment `name` whose pool is `pool`: a name deployed
    /// again with another pool size gets a new gate.
    fn of(gates: &mut HashMap<String, Arc<Gate>>, name: &str, pool: u32) -> Arc<Gate> {
        let gate = gates
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Gate::new(pool)));
        if gate.pool != pool {
            *gate = Arc::new(Gate::new(pool));
        }
        gate.clone()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Door {
    Socket,
    Tcp,
    Metrics,
}

type Reply = Response<Full<Bytes>>;

/// Serves `host` until SIGINT or SIGTERM (SIGHUP reloads the policy), then
/// stops accepting, lets calls in flight finish (at most the config's
/// `drain`), closes the audit log and returns. `ready` is called once every
/// listener is bound.
pub fn serve(host: Arc<Host>, ready: impl FnOnce(&Endpoints)) -> Result<()> {
    let config = host.config.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(config.workers + 4)
        .enable_all()
        .thread_name("airssys-wasm-host")
        .build()
        .map_err(|e| HostError::Listen(format!("starting the host's threads: {e}")))?;
    let socket = config
        .socket
        .clone()
        .unwrap_or_else(|| host.state().socket());
    // The HTTP routes run on the server's own threads (started outside
    // this runtime: it makes its own).
    let http = match &config.http {
        Some(http) => Some(Arc::new(crate::routes::start(&host, http.clone())?)),
        None => None,
    };
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        token: host.state().token()?,
        workers: Semaphore::new(config.workers),
        admitted: Mutex::new(HashMap::new()),
        busy: crate::lane::Lane::new(config.workers.div_ceil(4))?,
        host: host.clone(),
    });
    let served = rt.block_on(async {
        let (stop_tx, stop) = watch::channel(false);
        let mut doors = JoinSet::new();
        let unix = bind_socket(&socket)?;
        doors.spawn(accept_loop(
            unix,
            ctx.clone(),
            Door::Socket,
            stop.clone(),
            config.drain,
        ));
        let mut endpoints = Endpoints {
            pid: std::process::id(),
            socket: socket.clone(),
            tcp: None,
            metrics: None,
            http: None,
        };
        for (addr, door) in [(config.tcp, Door::Tcp), (config.metrics, Door::Metrics)] {
            let Some(addr) = addr else { continue };
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| HostError::Listen(format!("listening on {addr}: {e}")))?;
            let bound = l.local_addr().ok();
            if door == Door::Tcp {
                endpoints.tcp = bound;
            } else {
                endpoints.metrics = bound;
            }
            doors.spawn(accept_loop(
                l,
                ctx.clone(),
                door,
                stop.clone(),
                config.drain,
            ));
        }
        endpoints.http = http.as_ref().map(|s| s.local_addr());
        let file = host.state().root().join("host.json");
        std::fs::write(
            &file,
            serde_json::to_vec_pretty(&endpoints).expect("endpoints encode"),
        )
        .map_err(|e| HostError::State(format!("{}: {e}", file.display())))?;
        ready(&endpoints);
        signals(&ctx).await?;
        tracing::info!("stopping: no new requests; calls in flight may finish");
        let _ = stop_tx.send(true);
        if let Some(server) = http {
            // Drains its requests in flight (its own `drain`).
            tokio::task::spawn_blocking(move || server.shutdown())
                .await
                .map_err(|e| HostError::Listen(format!("stopping the HTTP routes: {e}")))?;
        }
        while doors.join_next().await.is_some() {}
        let _ = std::fs::remove_file(&file);
        Ok::<_, HostError>(())
    });
    let _ = std::fs::remove_file(&socket);
    rt.shutdown_timeout(config.drain);
    let closed = host.close();
    served?;
    closed
}

/// Waits for SIGINT or SIGTERM; reloads the policy on each SIGHUP.
async fn signals(ctx: &Arc<Ctx>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| signal(kind).map_err(|e| HostError::Listen(format!("signals: {e}")));
    let (mut int, mut term, mut hup) = (
        listen(SignalKind::interrupt())?,
        listen(SignalKind::terminate())?,
        listen(SignalKind::hangup())?,
    );
    loop {
        tokio::select! {
            _ = int.recv() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => {
                let host = ctx.host.clone();
                match tokio::task::spawn_blocking(move || host.reload()).await {
                    Ok(Ok(done)) => tracing::info!("SIGHUP: {}", done.done),
                    Ok(Err(e)) => tracing::error!("SIGHUP: {e}"),
                    Err(e) => tracing::error!("SIGHUP: the reload failed: {e}"),
                }
            }
        }
    }
}

/// Binds the admin socket, owner-only. A socket file left by a host that
/// died is replaced; one a live host answers on is not.
fn bind_socket(path: &Path) -> Result<tokio::net::UnixListener> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(HostError::Listen(format!(
            "a host already serves {}; stop it first, or give this one another --state",
            path.display()
        )));
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt as _;
        if !meta.file_type().is_socket() {
            return Err(HostError::Listen(format!(
                "{} exists and is not a socket",
                path.display()
            )));
        }
        let _ = std::fs::remove_file(path);
    }
    // Connecting needs write permission on the socket: under the usual
    // umask nobody else has it from the start, and inside the 0700 state
    // directory nobody else can reach it at all; the mode is then made
    // 0600 exactly.
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| HostError::Listen(format!("binding {}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| HostError::Listen(format!("{}: {e}", path.display())))?;
    Ok(listener)
}

/// A listener of connections: a Unix socket or a TCP port.
trait Listener: Send + 'static {
    /// A connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection.
    fn next(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    async fn next(&self) -> io::Result<Self::Io> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn next(&self) -> io::Result<Self::Io> {
        self.accept().await.map(|(s, _)| s)
    }
}

/// Serves `listener`'s connections until `stop`, then lets them finish
/// (at most `drain`).
async fn accept_loop<L: Listener>(
    listener: L,
    ctx: Arc<Ctx>,
    door: Door,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.next() => {
                let Ok(io) = accepted else { continue };
                let ctx = ctx.clone();
                let mut stop = stop.clone();
                conns.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let ctx = ctx.clone();
                        async move { Ok::<_, Infallible>(route(ctx, req, door).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    // No connection is taken from now on: a new one is refused at once.
    drop(listener);
    let drained =
        tokio::time::timeout(drain, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("calls still running after the drain time ({drain:?}) were cut off");
        conns.abort_all();
    }
}

fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .body(Full::new(body.into()))
        .expect("a response of a valid status and headers")
}

fn json<T: Serialize>(status: u16, value: &T) -> Reply {
    reply(
        status,
        "application/json",
        serde_json::to_vec(value).expect("API values encode"),
    )
}

/// The host's metrics, and the HTTP routes' after them: one exposition
/// (one `# EOF`, at its end).
fn metrics_text(ctx: &Ctx) -> String {
    let host = ctx.host.metrics_text();
    match &ctx.http {
        Some(http) => {
            let head = host.trim_end();
            let head = head.strip_suffix("# EOF").unwrap_or(head);
            format!("{head}{}", http.metrics_text())
        }
        None => host,
    }
}

fn error(e: &ApiError) -> Reply {
    json(e.status(), e)
}

async fn route(ctx: Arc<Ctx>, req: Request<Incoming>, door: Door) -> Reply {
    let path = req.uri().path().to_owned();
    if door == Door::Metrics {
        return match (req.method(), path.as_str()) {
            (&Method::GET, "/metrics") => reply(
                200,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                metrics_text(&ctx),
            ),
            (&Method::GET, "/status.json") => json(200, &crate::page::status(&ctx.host)),
            (&Method::GET, "/") => reply(
                200,
                "text/html; charset=utf-8",
                crate::page::html(&ctx.host),
            ),
            _ => reply(404, "text/plain", "not found: /, /status.json, /metrics\n"),
        };
    }
    if door == Door::Tcp && !authorized(&req, &ctx.token) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Bearer")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                serde_json::to_vec(&ApiError::new(
                    ErrorClass::CapabilityDenied,
                    "the admin API on TCP needs `Authorization: Bearer TOKEN` (the token is STATE/admin.token)",
                ))
                .expect("encodes"),
            )))
            .expect("a valid response");
    }
    let Some(op) = path.strip_prefix("/v1/").map(str::to_owned) else {
        return error(&ApiError::new(
            ErrorClass::BadCall,
            format!("no such API path `{path}`; the admin API is /v1/OPERATION"),
        ));
    };
    // The label is one of the operations, never the text a client sent.
    const OPERATIONS: &[&str] = &[
        "list", "status", "deploy", "upgrade", "canary", "promote", "rollback", "undeploy", "info",
        "logs", "audit", "reload", "call",
    ];
    ctx.host.metrics.admin(
        OPERATIONS
            .iter()
            .find(|o| **o == op)
            .copied()
            .unwrap_or("unknown"),
    );
    let method = req.method().clone();
    let limit = usize::try_from(ctx.host.config.max_upload).unwrap_or(usize::MAX);
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(&ApiError::new(
                ErrorClass::ResourceLimit,
                format!(
                    "the request body was not read ({e}); the host takes at most {limit} bytes (max_upload in host.toml)"
                ),
            ));
        }
    };
    match (method, op.as_str()) {
        (Method::GET, "list" | "status") => run(&ctx, |h| Ok(h.list())).await,
        (Method::POST, "deploy") => with_body(&ctx, &body, Host::deploy).await,
        (Method::POST, "upgrade") => with_body(&ctx, &body, Host::upgrade).await,
        (Method::POST, "canary") => with_body(&ctx, &body, Host::canary).await,
        (Method::POST, "promote") => with_body(&ctx, &body, Host::promote).await,
        (Method::POST, "rollback") => with_body(&ctx, &body, Host::rollback).await,
        (Method::POST, "undeploy") => with_body(&ctx, &body, Host::undeploy).await,
        (Method::POST, "info") => with_body(&ctx, &body, Host::info).await,
        (Method::POST, "logs") => with_body(&ctx, &body, Host::logs).await,
        (Method::POST, "audit") => with_body(&ctx, &body, Host::audit).await,
        (Method::POST, "reload") => run(&ctx, |h| h.reload()).await,
        (Method::POST, "call") => call(&ctx, &body).await,
        (m, op) => error(&ApiError::new(
            ErrorClass::BadCall,
            format!("no operation `{m} /v1/{op}`; see the admin API's table in the README"),
        )),
    }
}

/// A bearer token compared in constant time.
fn authorized(req: &Request<Incoming>, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> std::result::Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorClass::BadCall,
            format!("the request body is not the operation's JSON: {e}"),
        )
    })
}

async fn with_body<T, R>(
    ctx: &Arc<Ctx>,
    body: &[u8],
    op: fn(&Host, T) -> std::result::Result<R, ApiError>,
) -> Reply
where
    T: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    match parse::<T>(body) {
        Ok(arg) => run(ctx, move |h| op(h, arg)).await,
        Err(e) => error(&e),
    }
}

/// Runs `op` on a blocking thread, one of at most `workers`.
async fn run<R: Serialize + Send + 'static>(
    ctx: &Arc<Ctx>,
    op: impl FnOnce(&Host) -> std::result::Result<R, ApiError> + Send + 'static,
) -> Reply {
    let Ok(_worker) = ctx.workers.acquire().await else {
        return error(&ApiError::new(
            ErrorClass::HostError,
            "the host is stopping",
        ));
    };
    let host = ctx.host.clone();
    answer(
        tokio::task::spawn_blocking(move || op(&host))
            .await
            .map_err(|e| e.to_string()),
    )
}

/// The reply of an operation, or of its thread's failure (a panic).
fn answer<R: Serialize>(
    outcome: std::result::Result<std::result::Result<R, ApiError>, String>,
) -> Reply {
    match outcome {
        Ok(Ok(value)) => json(200, &value),
        Ok(Err(e)) => error(&e),
        Err(why) => error(&ApiError::new(
            ErrorClass::HostError,
            format!("the operation failed inside the host: {why}"),
        )),
    }
}

/// Calls that take longer than this, lately, make a deployment heavy.
const HEAVY: Duration = Duration::from_millis(5);

/// A call, admitted at most the deployment's pool size at once: its
/// callers beyond that wait here (holding no worker) for the queue time.
async fn call(ctx: &Arc<Ctx>, body: &[u8]) -> Reply {
    let request: crate::api::CallRequest = match parse(body) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let Some(dep) = ctx.host.lifecycle().deployment(&request.name) else {
        // No such deployment: the operation says so, naming those there are.
        return run(ctx, move |h| h.call(request)).await;
    };
    let (pool, queue) = (dep.options().pool_size, dep.options().queue_time);
    let gate = Gate::of(
        &mut ctx.admitted.lock().unwrap_or_else(|p| p.into_inner()),
        &request.name,
        pool,
    );
    use std::sync::atomic::Ordering::Relaxed;
    gate.waiting.fetch_add(1, Relaxed);
    let admitted = tokio::time::timeout(queue, gate.permits.clone().acquire_owned()).await;
    // Callers still waiting behind this one: the deployment is saturated.
    let saturated = gate.waiting.fetch_sub(1, Relaxed) > 1;
    let Ok(Ok(_admitted)) = admitted else {
        let e = ApiError::new(
            ErrorClass::ResourceLimit,
            format!(
                "deployment `{}` is unavailable: its {pool} instances stayed busy for the queue time ({queue:?})",
                request.name
            ),
        );
        let labels = crate::metrics::Labels {
            deployment: request.name.clone(),
            version: dep.active().version,
        };
        ctx.host
            .metrics
            .call(&labels, queue, None, Some("unavailable"));
        return error(&e);
    };
    if saturated || ctx.host.metrics.stats(&request.name).typical() > HEAVY {
        // A deployment whose callers queue, or whose calls take long, runs
        // on the busy lane: threads of the lowest priority, so its guests'
        // computation yields the cores to every other deployment's calls
        // and to the host itself.
        let host = ctx.host.clone();
        let outcome = ctx.busy.run(move || host.call(request)).await;
        return answer(outcome.ok_or_else(|| "its thread panicked".to_owned()));
    }
    run(ctx, move |h| h.call(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_follows_its_deployments_pool_size() {
        let mut gates = HashMap::new();
        let first = Gate::of(&mut gates, "app", 4);
        assert!(Arc::ptr_eq(&first, &Gate::of(&mut gates, "app", 4)));
        let redeployed = Gate::of(&mut gates, "app", 1);
        assert_eq!(redeployed.permits.available_permits(), 1);
        assert_eq!(first.permits.available_permits(), 4);
    }
}
