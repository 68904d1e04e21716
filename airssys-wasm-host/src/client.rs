//! A blocking client of the admin API: what the CLI's operator commands
//! use, over the Unix socket or over loopback TCP with the bearer token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::ApiError;

/// Why a request got no answer from the operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing listens where the host should be.
    #[error(
        "no host is running at {at}; start one with `airssys-wasm host` (or point at it with --host or AIRSSYS_WASM_HOST)"
    )]
    NotRunning {
        /// The socket or address tried.
        at: String,
    },
    /// The host answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The connection failed, or the answer was not the API's.
    #[error("talking to the host at {at}: {why}")]
    Transport {
        /// The socket or address.
        at: String,
        /// What failed.
        why: String,
    },
}

#[derive(Clone, Debug)]
enum Target {
    Socket(PathBuf),
    Tcp { addr: SocketAddr, token: String },
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// A connection to a host's admin API, kept open between requests.
#[derive(Debug)]
pub struct Client {
    target: Target,
    rt: tokio::runtime::Runtime,
    timeout: Duration,
    conn: std::sync::Mutex<Option<Sender>>,
}

impl Client {
    fn new(target: Target) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime starts");
        Self {
            target,
            rt,
            timeout: Duration::from_secs(300),
            conn: std::sync::Mutex::new(None),
        }
    }

    /// A client of the host listening on `socket`.
    pub fn socket(socket: impl Into<PathBuf>) -> Self {
        Self::new(Target::Socket(socket.into()))
    }

    /// A client of the host's TCP admin port, with its bearer token.
    pub fn tcp(addr: SocketAddr, token: impl Into<String>) -> Self {
        Self::new(Target::Tcp {
            addr,
            token: token.into(),
        })
    }

    /// The longest a request may take (default 5 minutes).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn at(&self) -> String {
        match &self.target {
            Target::Socket(p) => p.display().to_string(),
            Target::Tcp { addr, .. } => addr.to_string(),
        }
    }

    /// `GET /v1/OP`.
    pub fn get<R: DeserializeOwned>(&self, op: &str) -> Result<R, ClientError> {
        self.request("GET", op, Vec::new())
    }

    /// `POST /v1/OP` with `body` as JSON.
    pub fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        op: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        let body = serde_json::to_vec(body).expect("API values encode");
        self.request("POST", op, body)
    }

    /// `req` on a new connection, kept for the next request.
    async fn fresh(
        target: &Target,
        req: Request<Full<Bytes>>,
    ) -> Result<(Sender, (u16, Bytes)), Failure> {
        let mut sender = connect(target).await?;
        let answer = exchange(&mut sender, req).await.map_err(|e| match e {
            Unsent::Back(_) => Failure::Http("the host closed the connection".into()),
            Unsent::Failed(e) => e,
        })?;
        Ok((sender, answer))
    }

    fn request<R: DeserializeOwned>(
        &self,
        method: &str,
        op: &str,
        body: Vec<u8>,
    ) -> Result<R, ClientError> {
        let at = self.at();
        let transport = |why: String| ClientError::Transport {
            at: at.clone(),
            why,
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("/v1/{op}"))
            .header("host", "airssys-wasm-host")
            .header("content-type", "application/json");
        if let Target::Tcp { token, .. } = &self.target {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let mut req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(e.to_string()))?;
        let mut kept = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let answer = self.rt.block_on(async {
            tokio::time::timeout(self.timeout, async {
                // The kept connection first. When the host closed it (it
                // restarted) before taking the request, hyper gives the
                // request back and it goes once more on a new connection;
                // a request the host may have taken is never sent twice.
                if let Some(mut sender) = kept.take() {
                    // The connection's task runs first, so a host that has
                    // closed its end is seen before anything is sent.
                    tokio::task::yield_now().await;
                    if sender.ready().await.is_err() {
                        return Self::fresh(&self.target, req).await.map(|(s, a)| {
                            *kept = Some(s);
                            a
                        });
                    }
                    match exchange(&mut sender, req).await {
                        Ok(answer) => {
                            *kept = Some(sender);
                            return Ok(answer);
                        }
                        Err(Unsent::Back(r)) => req = *r,
                        Err(Unsent::Failed(e)) => return Err(e),
                    }
                }
                let (sender, answer) = Self::fresh(&self.target, req).await?;
                *kept = Some(sender);
                Ok(answer)
            })
            .await
        });
        drop(kept);
        let (status, bytes) = match answer {
            Err(_) => return Err(transport(format!("no answer within {:?}", self.timeout))),
            Ok(Err(Failure::Connect(e))) => {
                return Err(match e.0.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        ClientError::NotRunning { at }
                    }
                    _ => transport(e.0.to_string()),
                });
            }
            Ok(Err(Failure::Http(e))) => return Err(transport(e)),
            Ok(Ok(answer)) => answer,
        };
        if status >= 400 {
            return Err(match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(e) => ClientError::Api(e),
                Err(_) => transport(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes).trim()
                )),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| transport(format!("an answer that is not the API's: {e}")))
    }
}

struct Connect(std::io::Error);

enum Failure {
    Connect(Connect),
    Http(String),
}

impl From<Connect> for Failure {
    fn from(c: Connect) -> Self {
        Self::Connect(c)
    }
}

/// A new connection to `target`, its HTTP/1.1 handshake done.
async fn connect(target: &Target) -> Result<Sender, Failure> {
    match target {
        Target::Socket(path) => {
            let io = tokio::net::UnixStream::connect(path)
                .await
                .map_err(Connect)?;
            handshake(io).await
        }
        Target::Tcp { addr, .. } => {
            let io = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(Connect)?;
            handshake(io).await
        }
    }
}

async fn handshake<IO>(io: IO) -> Result<Sender, Failure>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Failure::Http(e.to_string()))?;
    tokio::spawn(conn);
    Ok(send)
}

/// Why [`exchange`] has no answer.
enum Unsent {
    /// The request was not sent: here it is back.
    Back(Box<Request<Full<Bytes>>>),
    /// It failed after it may have been sent.
    Failed(Failure),
}

/// One request on `sender`: the answer's status and body.
async fn exchange(sender: &mut Sender, req: Request<Full<Bytes>>) -> Result<(u16, Bytes), Unsent> {
    let response = match sender.try_send_request(req).await {
        Ok(r) => r,
        Err(mut e) => {
            return Err(match e.take_message() {
                Some(req) => Unsent::Back(Box::new(req)),
                None => Unsent::Failed(Failure::Http(e.into_error().to_string())),
            });
        }
    };
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Unsent::Failed(Failure::Http(e.to_string())))?
        .to_bytes();
    Ok((status, body))
}
