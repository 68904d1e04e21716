//! `airssys:host@0.1.0` (`wit/host.wit`): one [`HostProvider`](airssys_wasm_core::HostProvider) per
//! interface, implemented over core's host-function table, so every
//! backend gets the same behaviour.
//!
//! Each call goes: capability check → audit event → effect. A denial
//! reaches the guest as `error::denied` (or traps, when the component's
//! policy says `on-denied = "trap"`); a host limit (key-value quota,
//! response size, log rate) as `error::limit`, recorded as a `host-limit`
//! audit event.
//!
//! | interface | provider | checks |
//! |---|---|---|
//! | `logging` | [`logging::Logging`] | nothing; a rate limit per component |
//! | `config` | [`config::Config`] | nothing; the component's own config |
//! | `clocks` | [`clocks::Clocks`] | `clocks` |
//! | `random` | [`random::Random`] | `random` |
//! | `filesystem` | [`fs::Filesystem`] | `filesystem` (each path) |
//! | `key-value` | `kv::KeyValue` (feature `key-value`, redb) | `key-value` (each namespace) |
//! | `http-client` | `http::HttpClient` (feature `http-client`, ureq) | `network` (each host and address) |
//!
//! [`register`] adds them all to a runtime's [`Providers`]:
//!
//! ```
//! use airssys_wasm_core::{CapabilityKind, HostFunctions, Providers};
//! use airssys_wasm_providers::{HostSettings, register};
//!
//! let mut providers = Providers::new();
//! register(&mut providers, &HostSettings::default()).unwrap();
//! let mut table = HostFunctions::new();
//! providers.define(&mut table).unwrap();
//! assert!(table.provides_interface("airssys:host/clocks@0.1.0"));
//! assert_eq!(
//!     providers.capability_for("airssys:host/clocks@0.1.0"),
//!     Some(CapabilityKind::Clocks)
//! );
//! assert_eq!(providers.capability_for("airssys:host/logging@0.1.0"), None);
//! ```

pub mod clocks;
pub mod config;
pub mod fs;
#[cfg(feature = "http-client")]
pub mod http;
#[cfg(feature = "key-value")]
pub mod kv;
pub mod logging;
pub mod random;
#[cfg(test)]
mod testing;

use std::path::PathBuf;
use std::time::Duration;

use airssys_wasm_core::provider::Interface;
use airssys_wasm_core::{CapabilityKind, Providers, Result};

/// The package this crate serves.
pub const HOST_PACKAGE: &str = "airssys:host";
/// The version of `airssys:host` it serves.
pub const VERSION: &str = "0.1.0";

/// An interface of `airssys:host`.
const fn interface(name: &'static str, checks: Option<CapabilityKind>) -> Interface {
    Interface::new(name, VERSION, checks)
}

/// Implements [`HostProvider`](airssys_wasm_core::HostProvider) for a
/// provider that keeps no state per load: its name, its interfaces, and
/// the function that defines its functions.
macro_rules! stateless_provider {
    ($provider:ty, $name:literal, $interfaces:expr, $define:path) => {
        impl airssys_wasm_core::HostProvider for $provider {
            type State = ();

            fn name(&self) -> &'static str {
                $name
            }

            fn interfaces(&self) -> &'static [airssys_wasm_core::provider::Interface] {
                $interfaces
            }

            fn configure(
                &self,
                _: &airssys_wasm_core::provider::LoadContext<'_>,
            ) -> airssys_wasm_core::Result<()> {
                Ok(())
            }

            fn define(&self, table: &mut airssys_wasm_core::provider::ProviderTable<'_, Self>) {
                $define(table);
            }
        }
    };
}
pub(crate) use stateless_provider;

/// Settings of the host interface, shared by every component of a runtime.
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// The key-value store's file (one per host; data survives restarts).
    /// `None` keeps the store in memory, for this runtime only.
    pub kv_path: Option<PathBuf>,
    /// Longest an HTTP request may take, name resolution included (also
    /// capped by the time left until the call's deadline, which fails the
    /// call when it comes first). Default 30 s.
    pub http_timeout: Duration,
    /// Largest HTTP response body. Default 10 MiB.
    pub http_max_response: u64,
    /// Log records per second per component (and the burst). Default 100.
    pub log_rate: u32,
    /// Largest log message, in bytes. Default 8 KiB.
    pub log_max_message: usize,
    /// Largest file `filesystem.read` returns, in bytes; a larger file is
    /// `error::limit`. Default 16 MiB.
    pub fs_max_read: u64,
    /// The most bytes of strings and lists the arguments of one host call
    /// may hold, for every host function (`airssys:host` and the
    /// embedder's). Checked before the arguments are copied out of the
    /// guest; a call over it fails (`HostFailed`) and is audited as a
    /// `host-limit`. Default 4 MiB ([`airssys_wasm_core::DEFAULT_MAX_CALL_DATA`]).
    pub max_call_data: u64,
}

impl Default for HostSettings {
    fn default() -> Self {
        Self {
            kv_path: None,
            http_timeout: Duration::from_secs(30),
            http_max_response: 10 << 20,
            log_rate: 100,
            log_max_message: 8 << 10,
            fs_max_read: 16 << 20,
            max_call_data: airssys_wasm_core::DEFAULT_MAX_CALL_DATA,
        }
    }
}

/// Registers every provider of `airssys:host` this build has, with
/// `settings`. Fails when the key-value store cannot be opened, or when
/// `providers` serves one of the interfaces already.
pub fn register(providers: &mut Providers, settings: &HostSettings) -> Result<()> {
    providers
        .register(logging::Logging::new(
            settings.log_rate,
            settings.log_max_message,
        ))?
        .register(config::Config)?
        .register(clocks::Clocks::new())?
        .register(random::Random)?
        .register(fs::Filesystem::new(settings.fs_max_read))?;
    #[cfg(feature = "key-value")]
    providers.register(kv::KeyValue::open(settings.kv_path.as_deref())?)?;
    #[cfg(feature = "http-client")]
    providers.register(http::HttpClient::new(
        settings.http_timeout,
        settings.http_max_response,
    ))?;
    Ok(())
}
