//! The listener: HTTP/1.1 and HTTP/2 connections, bounded header reads,
//! graceful shutdown; and the optional metrics listener.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airssys_wasm::Runtime;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, Deployments, Shared};
use crate::config::ServeConfig;
use crate::error::ServeError;
use crate::metrics::{self, Metrics};

/// The largest request head (request line and headers) accepted: a
/// larger one is answered 431 (HTTP/1.1) or refused (HTTP/2).
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// A running server. Dropping it shuts it down as [`Server::shutdown`]
/// does.
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    registry: Arc<Registry>,
    shared: Arc<Shared>,
    deployments: Option<Arc<dyn Deployments>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Loads every route's component on `runtime` (which must use the
    /// wasmtime backend) and starts serving on `config.listen`. Returns
    /// once the listener is open: requests can be sent at once.
    pub fn start(config: ServeConfig, runtime: Runtime) -> Result<Self, ServeError> {
        Self::start_with(config, runtime, None)
    }

    /// [`Server::start`], with routes to the deployments `deployments`
    /// finds (a host's): each request of such a route is served by a fresh
    /// instance of the deployment's active version, loaded with the
    /// deployment's limits; the tenant's deadline, body limit and bounds
    /// hold as for other routes.
    pub fn start_with(
        config: ServeConfig,
        runtime: Runtime,
        deployments: Option<Arc<dyn Deployments>>,
    ) -> Result<Self, ServeError> {
        config.check()?;
        let app = App::load(&config, &runtime, deployments.as_ref())?;
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let registry = Arc::new(registry);
        let shared = Arc::new(Shared::new(app, runtime, metrics));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(config.workers)
            .thread_name("airssys-wasm-http")
            .enable_all()
            .build()
            .map_err(|e| ServeError::Start(e.to_string()))?;
        let listener = rt
            .block_on(TcpListener::bind(config.listen))
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        let metrics_listener = match config.metrics {
            Some(m) => Some(
                rt.block_on(TcpListener::bind(m))
                    .map_err(|source| ServeError::Listen { addr: m, source })?,
            ),
            None => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let (stop, stopped) = watch::channel(false);
        let thread = {
            let registry = registry.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("airssys-wasm-http".into())
                .spawn(move || {
                    rt.block_on(run(
                        listener,
                        metrics_listener,
                        shared,
                        registry,
                        config,
                        stopped,
                    ));
                    // Handlers still running past the drain end at their
                    // deadline; the runtime waits that long at most.
                    rt.shutdown_timeout(Duration::from_secs(1));
                })
                .map_err(|e| ServeError::Start(e.to_string()))?
        };
        Ok(Self {
            addr,
            metrics_addr,
            stop,
            thread: Mutex::new(Some(thread)),
            registry,
            shared,
            deployments,
        })
    }

    /// Loads `config`'s routes again (their components read anew) and
    /// serves them from now on; requests in flight finish on the routes
    /// they started with. Policies, limits and deadlines take their new
    /// values; the listener, the workers, the metrics and the bounds of
    /// the tenants already served (`max-concurrent`, `max-outbound`: a
    /// request in flight holds their permits) stay as they were. A
    /// configuration that fails to load is refused and the running routes
    /// stay.
    pub fn reload(&self, config: &ServeConfig) -> Result<(), ServeError> {
        config.check()?;
        let old = self.shared.app();
        let app = App::load_keeping(
            config,
            self.shared.runtime(),
            self.deployments.as_ref(),
            &old,
        )?;
        self.shared.replace(app);
        Ok(())
    }

    /// Where requests are accepted (the port the system chose, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics, in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        metrics::encode(&self.registry)
    }

    /// Stops accepting connections, lets the requests in flight finish
    /// (for the configured `drain` at most), records their audit events,
    /// and returns. It may be called from any thread, any number of
    /// times: each call returns once the server has stopped.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.wait();
    }

    /// Waits until the server stops (after [`Server::shutdown`] from
    /// another thread).
    pub fn wait(&self) {
        // The lock is held while joining, so every caller returns only
        // once the server's thread has ended.
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn run(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    config: ServeConfig,
    mut stopped: watch::Receiver<bool>,
) {
    if let Some(l) = metrics_listener {
        tokio::spawn(serve_metrics(l, registry, stopped.clone()));
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    while let Some(stream) = accept(&listener, &mut stopped).await {
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let service = service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(crate::request::serve(shared, req).await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(config.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(drain = ?config.drain, "requests still in flight after the drain time");
    }
    shared.tracker.close();
    let _ = tokio::time::timeout(config.drain, shared.tracker.wait()).await;
    if let Err(e) = shared.runtime().flush_audit() {
        tracing::error!(error = %e, "flushing the audit log failed");
    }
}

/// The next connection, or `None` once the server is stopping. A failed
/// accept (out of descriptors and the like) is logged and retried after a
/// pause, never in a busy loop.
async fn accept(
    listener: &TcpListener,
    stopped: &mut watch::Receiver<bool>,
) -> Option<tokio::net::TcpStream> {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.wait_for(|s| *s) => return None,
        };
        match accepted {
            Ok((stream, _)) => return Some(stream),
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_metrics(
    listener: TcpListener,
    registry: Arc<Registry>,
    mut stopped: watch::Receiver<bool>,
) {
    while let Some(stream) = accept(&listener, &mut stopped).await {
        let registry = registry.clone();
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let registry = registry.clone();
            async move {
                let r = if req.uri().path() == "/metrics" {
                    let text = metrics::encode(&registry);
                    let mut r = crate::request::text(200, text.trim_end());
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static(
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        ),
                    );
                    r
                } else {
                    crate::request::text(404, "metrics are at /metrics")
                };
                Ok::<_, Infallible>(r)
            }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
