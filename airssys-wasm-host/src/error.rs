//! What starting or running a host fails with.

/// `Result` with [`HostError`].
pub type Result<T, E = HostError> = std::result::Result<T, E>;

/// Why the host could not start, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The state directory or one of its files is unusable.
    #[error("state directory: {0}")]
    State(String),
    /// The host configuration (`host.toml`) or the policy is invalid.
    #[error("{0}")]
    Config(String),
    /// A listener could not be set up or failed.
    #[error("{0}")]
    Listen(String),
    /// The runtime could not be built, or the audit log opened or closed.
    #[error(transparent)]
    Runtime(#[from] airssys_wasm::Error),
    /// The lifecycle (registry, deployments) failed.
    #[error(transparent)]
    Lifecycle(#[from] airssys_wasm_lifecycle::Error),
}

impl HostError {
    /// The error class whose exit code the `host` command exits with.
    pub fn class(&self) -> airssys_wasm::ErrorClass {
        use airssys_wasm::ErrorClass;
        match self {
            Self::State(_) | Self::Listen(_) => ErrorClass::Io,
            Self::Config(_) => ErrorClass::Policy,
            Self::Runtime(e) => e.class(),
            Self::Lifecycle(e) => crate::api::class_of(e),
        }
    }
}
