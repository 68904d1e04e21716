//! One request: routed, bounded, handed to a fresh instance, answered,
//! audited and counted.
//!
//! | status | when |
//! |---|---|
//! | the handler's | it answered by itself |
//! | 400 | the request has no host |
//! | 404 | no route matches its host and path |
//! | 413 | its body is over the tenant's `max-body` (declared: before any instance is made) |
//! | 429 | the tenant has `max-concurrent` requests in flight |
//! | 500 | the handler gave an error code, or ended without answering |
//! | 503 | the handler trapped or hit a limit (fuel, memory, ...), or could not be instantiated |
//! | 504 | the deadline passed before it answered |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use airssys_wasm::audit::AuditKind;
use airssys_wasm::wasmtime_backend::wasmtime_wasi_http::Error as HttpError;
use airssys_wasm::wasmtime_backend::wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use airssys_wasm::wasmtime_backend::{Answer, HttpCall};
use airssys_wasm::{ComponentId, Error, Usage};
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::task::JoinHandle;

use crate::app::{Route, Shared};
use crate::body::Bounded;
use crate::route::host_of;

/// The body of every response: the handler's stream, or a short text.
pub type Body = UnsyncBoxBody<Bytes, HttpError>;

/// How long after the deadline the server waits for a handler that ended
/// without answering to say why, before answering 504 without knowing.
const GRACE: Duration = Duration::from_millis(200);

/// A short plain-text response.
pub(crate) fn text(status: u16, message: &str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(format!("{message}\n")))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// What the handler's run came to.
type Ran = Result<Usage, Error>;

/// The handler's run when the client is answered: over already, or still
/// going (a body being streamed, or a handler cut off at the deadline).
enum Run {
    Ended(Ran),
    Going(JoinHandle<Ran>),
}

impl Run {
    /// What the run came to, once it has ended.
    async fn ended(self) -> Ran {
        match self {
            Self::Ended(ran) => ran,
            Self::Going(job) => joined(job.await),
        }
    }
}

/// A handler's run as its thread ended it.
fn joined(thread: Result<Ran, tokio::task::JoinError>) -> Ran {
    thread.unwrap_or_else(|e| Err(Error::Backend(format!("the handler's thread failed: {e}"))))
}

/// One routed request, for its answer's audit event and metrics.
struct Served {
    route: Arc<Route>,
    id: ComponentId,
    /// The method and the path.
    request: String,
    arrived: Instant,
}

/// How the server answered.
struct Outcome {
    status: u16,
    response: Response<Body>,
    /// Why the handler did not answer by itself; empty when it did.
    error: String,
}

impl Outcome {
    fn ours(status: u16, error: String) -> Self {
        Self {
            status,
            response: text(status, &error),
            error,
        }
    }
}

/// The status for a handler that failed with `e`.
fn status_of(e: &Error) -> u16 {
    match e {
        Error::Timeout { .. } => 504,
        _ => 503,
    }
}

/// Serves one request.
pub(crate) async fn serve(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let arrived = Instant::now();
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    let Some(authority) = authority else {
        return text(400, "the request has no Host header");
    };
    let path = req.uri().path().to_owned();
    let Some(route) = shared
        .app()
        .router
        .find(&host_of(&authority), &path)
        .cloned()
    else {
        shared.metrics.unrouted();
        return text(404, "no route for this host and path");
    };
    let component = match route.component() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(route = %route.name, error = %e, "a route's deployment is not serving");
            shared
                .metrics
                .answered(&route.tenant.name, &route.name, 503, arrived.elapsed());
            return text(
                503,
                &format!("route {:?} has no deployment serving it: {e}", route.name),
            );
        }
    };
    let served = Served {
        route: route.clone(),
        id: component.id().clone(),
        request: format!("{} {}", req.method(), path),
        arrived,
    };
    let tenant = route.tenant.clone();
    let limit = tenant.config.max_body;
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        let o = Outcome::ours(
            413,
            format!(
                "the request body is larger than tenant {:?}'s limit of {limit} bytes",
                tenant.name
            ),
        );
        return finish(&shared, served, o);
    }
    let Ok(permit) = tenant.concurrent.clone().try_acquire_owned() else {
        let o = Outcome::ours(
            429,
            format!(
                "tenant {:?} is serving its limit of {} requests at once; retry later",
                tenant.name, tenant.config.max_concurrent
            ),
        );
        return finish(&shared, served, o);
    };
    shared.metrics.in_flight(&tenant.name, 1);
    let deadline = arrived + tenant.config.deadline;
    let over = Arc::new(AtomicBool::new(false));
    let req = req.map(|b| Bounded::new(b, limit, over.clone()));
    let (answer_tx, answer_rx) = oneshot::channel::<Answer>();
    let job = {
        let component = component.clone();
        let outbound = tenant.outbound.clone();
        tokio::task::spawn_blocking(move || -> Ran {
            let mut instance = component.instantiate()?;
            let w = instance
                .wasmtime_mut()
                .ok_or_else(|| Error::Backend("wasi:http is served on wasmtime only".into()))?;
            let call = HttpCall {
                request: req,
                scheme: Scheme::Http,
                deadline: Some(deadline),
                outbound: Some(outbound),
            };
            w.handle_http(call, move |a| drop(answer_tx.send(a)), arrived)
        })
    };
    let (outcome, run) = answer(answer_rx, job, deadline, &over).await;
    finish_later(&shared, served, outcome, run, permit)
}

/// Waits for the handler's answer (or its end, or the deadline).
async fn answer(
    answer_rx: oneshot::Receiver<Answer>,
    mut job: JoinHandle<Ran>,
    deadline: Instant,
    over: &AtomicBool,
) -> (Outcome, Run) {
    let sleep = tokio::time::sleep_until(deadline.into());
    let answered = tokio::select! {
        a = answer_rx => Some(a),
        () = sleep => None,
    };
    let too_large = || {
        Outcome::ours(
            413,
            "the request body is larger than the tenant's limit".to_owned(),
        )
    };
    match answered {
        Some(Ok(Ok(response))) => {
            if over.load(Ordering::Acquire) {
                return (too_large(), Run::Going(job));
            }
            let response = response.map(|b| b.boxed_unsync());
            let status = response.status().as_u16();
            let o = Outcome {
                status,
                response,
                error: String::new(),
            };
            (o, Run::Going(job))
        }
        Some(Ok(Err(code))) => {
            let o = if over.load(Ordering::Acquire) {
                too_large()
            } else {
                Outcome::ours(500, format!("the handler failed the request: {code:?}"))
            };
            (o, Run::Going(job))
        }
        // The response's out-parameter was dropped unset: the handler
        // ended, or failed, or dropped it and runs on.
        Some(Err(_)) => match tokio::time::timeout_at((deadline + GRACE).into(), &mut job).await {
            Ok(thread) => {
                let ran = joined(thread);
                let o = match &ran {
                    _ if over.load(Ordering::Acquire) => too_large(),
                    Ok(_) => Outcome::ours(500, "the handler ended without a response".into()),
                    Err(e) => Outcome::ours(status_of(e), e.to_string()),
                };
                (o, Run::Ended(ran))
            }
            Err(_) => (deadline_passed(), Run::Going(job)),
        },
        None => (deadline_passed(), Run::Going(job)),
    }
}

fn deadline_passed() -> Outcome {
    Outcome::ours(504, "the handler did not answer before the deadline".into())
}

/// Answers now, audits and counts when the handler has ended: a streamed
/// body may outlive the response's head.
fn finish_later(
    shared: &Arc<Shared>,
    served: Served,
    outcome: Outcome,
    run: Run,
    permit: OwnedSemaphorePermit,
) -> Response<Body> {
    let tenant = &served.route.tenant.name;
    let took = served.arrived.elapsed();
    shared
        .metrics
        .answered(tenant, &served.route.name, outcome.status, took);
    let Outcome {
        status,
        response,
        error,
    } = outcome;
    let shared = shared.clone();
    let tracker = shared.tracker.clone();
    tracker.spawn(async move {
        let ran = run.ended().await;
        drop(permit);
        shared.metrics.in_flight(&served.route.tenant.name, -1);
        let (usage, error) = match ran {
            Ok(usage) => (usage, error),
            Err(e) => {
                let why = e.to_string();
                if error.is_empty() || error == why {
                    (served.no_usage(), why)
                } else {
                    (served.no_usage(), format!("{error} (the handler: {why})"))
                }
            }
        };
        audit(&shared, &served, status, usage, error);
    });
    response
}

impl Served {
    /// The usage of a request no handler ran for (or whose handler
    /// failed): its time only.
    fn no_usage(&self) -> Usage {
        Usage {
            elapsed: self.arrived.elapsed(),
            ..Usage::default()
        }
    }
}

/// Answers a request refused before any instance was made.
fn finish(shared: &Arc<Shared>, served: Served, outcome: Outcome) -> Response<Body> {
    let usage = served.no_usage();
    shared.metrics.answered(
        &served.route.tenant.name,
        &served.route.name,
        outcome.status,
        usage.elapsed,
    );
    audit(shared, &served, outcome.status, usage, outcome.error);
    outcome.response
}

fn audit(shared: &Shared, served: &Served, status: u16, usage: Usage, error: String) {
    let kind = AuditKind::HttpRequest {
        route: served.route.name.clone(),
        request: served.request.clone(),
        status,
        usage,
        error,
    };
    if let Err(e) = shared.runtime().record(&served.id, kind) {
        tracing::error!(route = %served.route.name, error = %e, "the audit log refused an HTTP request's event");
    }
}
