//! The long-running airssys-wasm host: a process that keeps components
//! deployed across restarts, with the lifecycle's versions, hot swap,
//! canary, rollback and supervision, an admin API, Prometheus metrics and a
//! status page. The CLI's `airssys-wasm host` runs one; its operator
//! commands (`deploy`, `upgrade`, `call`, `status`, ...) are [`Client`]s.
//!
//! - [`StateDir`]: what survives a restart (registry, key-value data, the
//!   chained audit log and its keys, the admin token, the artifact cache),
//!   owner-only.
//! - [`HostConfig`]: the settings of `host.toml`.
//! - [`Host`]: the operations, synchronous; [`serve`] puts them behind the
//!   admin API ([`api`]) on a Unix socket (and optionally loopback TCP with
//!   a bearer token) and serves `/metrics` and the status page.
//!
//! Async (tokio, hyper) lives only in the listeners: every operation runs
//! on a bounded pool of blocking threads, never on the reactor.

pub mod api;
mod client;
mod config;
mod error;
mod lane;
mod logs;
mod metrics;
mod page;
mod routes;
mod server;
mod service;
mod state;

pub use client::{Client, ClientError};
pub use config::{Backend, HostConfig};
pub use error::{HostError, Result};
pub use logs::{LogBook, LogLayer};
pub use server::{Endpoints, serve};
pub use service::Host;
pub use state::StateDir;
