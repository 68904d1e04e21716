//! What the lifecycle's operations fail with.

/// `Result` with the lifecycle's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a lifecycle operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The deployment cannot serve the call now: every instance stayed
    /// busy for the queue time, or the version is restarting, stopped or
    /// failed. Nothing was called; the caller may try again later.
    #[error("deployment `{deployment}` is unavailable: {reason}")]
    Unavailable {
        /// The deployment (`tenant/name`, or `name` for the default tenant).
        deployment: String,
        /// Why, in words.
        reason: String,
    },
    /// The component's call, load or instantiation failed (the runtime's
    /// typed error, which names the cause).
    #[error(transparent)]
    Runtime(#[from] airssys_wasm::Error),
    /// No such deployment.
    #[error("no deployment `{0}`{1}")]
    NoDeployment(String, String),
    /// No such version of a component in the registry.
    #[error("no version `{version}` of `{component}` in the registry; it has: {known}")]
    NoVersion {
        /// The component (`tenant/name`).
        component: String,
        /// The version asked for.
        version: String,
        /// The versions it has.
        known: String,
    },
    /// A version of that name holds other bytes: versions are immutable.
    #[error(
        "version `{version}` of `{component}` is already registered with other bytes ({digest}); \
         versions are immutable: register the new bytes under a new version"
    )]
    VersionExists {
        /// The component (`tenant/name`).
        component: String,
        /// The version.
        version: String,
        /// The digest it holds.
        digest: String,
    },
    /// The operation is refused in the deployment's present state (removing
    /// the active version, promoting without a canary, deploying a name
    /// twice).
    #[error("{0}")]
    Refused(String),
    /// The component's lifecycle export (`airssys:lifecycle`) failed or has
    /// the wrong type.
    #[error("`{component}`: {detail}")]
    Lifecycle {
        /// The version concerned (`tenant/name@version`).
        component: String,
        /// What failed: `init` returned an error, `health` has the wrong type.
        detail: String,
    },
    /// The registry's store failed, or holds bytes that are not what was
    /// registered (their digest differs): nothing is loaded from it then.
    #[error("the lifecycle store {0}")]
    Store(String),
    /// Watching a file failed.
    #[error("watching `{path}`: {reason}")]
    Watch {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn store(e: impl std::fmt::Display) -> Self {
        Self::Store(format!("failed: {e}"))
    }

    pub(crate) fn unavailable(deployment: &str, reason: impl Into<String>) -> Self {
        Self::Unavailable {
            deployment: deployment.to_owned(),
            reason: reason.into(),
        }
    }
}
