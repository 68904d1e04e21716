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

/// A connection to a host's admin API.
#[derive(Debug)]
pub struct Client {
    target: Target,
    rt: tokio::runtime::Runtime,
    timeout: Duration,
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
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(e.to_string()))?;
        let target = self.target.clone();
        let answer = self.rt.block_on(async {
            tokio::time::timeout(self.timeout, async move {
                match target {
                    Target::Socket(path) => {
                        let io = tokio::net::UnixStream::connect(&path)
                            .await
                            .map_err(Connect)?;
                        exchange(io, req).await
                    }
                    Target::Tcp { addr, .. } => {
                        let io = tokio::net::TcpStream::connect(addr)
                            .await
                            .map_err(Connect)?;
                        exchange(io, req).await
                    }
                }
            })
            .await
        });
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

async fn exchange<IO>(io: IO, req: Request<Full<Bytes>>) -> Result<(u16, Bytes), Failure>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| Failure::Http(e.to_string());
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http)?;
    tokio::spawn(conn);
    let response = send.send_request(req).await.map_err(http)?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(http)?
        .to_bytes();
    Ok((status, body))
}
