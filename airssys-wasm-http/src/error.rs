//! What can go wrong when starting a server.

/// A server that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration is wrong: the message says where and how.
    #[error("serve configuration: {0}")]
    Config(String),
    /// A route's component could not be loaded for serving.
    #[error("route {route:?}: {source}")]
    Load {
        /// The route.
        route: String,
        /// Why.
        source: airssys_wasm::Error,
    },
    /// A route's component does not export `wasi:http/incoming-handler`,
    /// or its backend cannot serve it.
    #[error("route {route:?}: {why}")]
    NotAHandler {
        /// The route.
        route: String,
        /// Why, and what to do.
        why: String,
    },
    /// A listener could not be opened.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server's threads could not be started.
    #[error("starting the server: {0}")]
    Start(String),
}
