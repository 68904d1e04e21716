//! Hot reload: a deployment upgraded whenever its file changes.
//!
//! [`Watcher`] watches a component file (with `notify`) and, once the
//! writes to it have settled, registers the new bytes as a new version and
//! upgrades the deployment through [`Deployment::upgrade`], the same path
//! an operator's upgrade takes. A file that fails to load, instantiate or
//! `init` is reported ([`WatchEvent::Failed`]) and the running version
//! keeps serving. [`FileChanges`] is the waiting part alone, for a loop of
//! one's own (the CLI's `run --watch`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};

use crate::deploy::Deployment;
use crate::error::{Error, Result};
use crate::registry::VersionInfo;
use crate::{Registration, Shared};

/// How long a file must stay unwritten before its change is taken: an
/// editor or a compiler writes a file in several steps.
pub const SETTLE: Duration = Duration::from_millis(100);

/// Changes to one file.
pub struct FileChanges {
    file: PathBuf,
    events: Receiver<notify::Result<notify::Event>>,
    _watcher: notify::RecommendedWatcher,
}

impl FileChanges {
    /// Watches `file` (its directory, so a file replaced by a rename is
    /// seen too).
    pub fn new(file: &Path) -> Result<Self> {
        let failed = |reason: String| Error::Watch {
            path: file.display().to_string(),
            reason,
        };
        let file = std::path::absolute(file).map_err(|e| failed(e.to_string()))?;
        let dir = file
            .parent()
            .ok_or_else(|| failed("it has no directory".into()))?
            .to_owned();
        let (tx, events) = channel();
        let mut watcher = notify::recommended_watcher(move |e| {
            let _ = tx.send(e);
        })
        .map_err(|e| failed(e.to_string()))?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            file,
            events,
            _watcher: watcher,
        })
    }

    /// The file watched.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Waits until the file changed and then stayed unwritten for
    /// [`SETTLE`], or until `timeout` passes (`None`: for ever). `true`
    /// when it changed.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let event = match remaining {
                Some(r) => match self.events.recv_timeout(r) {
                    Ok(e) => e,
                    Err(RecvTimeoutError::Timeout) => return Ok(false),
                    Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
                },
                None => self.events.recv().map_err(|_| self.gone())?,
            };
            if self.concerns(&event) {
                self.settle();
                return Ok(true);
            }
        }
    }

    fn concerns(&self, event: &notify::Result<notify::Event>) -> bool {
        match event {
            Ok(e) => !e.kind.is_access() && e.paths.iter().any(|p| p == &self.file),
            // An error of the watch itself (an overflow): look again.
            Err(_) => true,
        }
    }

    /// Drains events until none concerning the file came for [`SETTLE`].
    fn settle(&self) {
        let mut quiet_until = Instant::now() + SETTLE;
        loop {
            let left = quiet_until.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) if self.concerns(&e) => quiet_until = Instant::now() + SETTLE,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }

    fn gone(&self) -> Error {
        Error::Watch {
            path: self.file.display().to_string(),
            reason: "the watch ended".into(),
        }
    }
}

/// What a [`Watcher`] did with a change.
#[derive(Debug)]
pub enum WatchEvent {
    /// The deployment now serves this new version.
    Upgraded(VersionInfo),
    /// The file holds the bytes of a version already registered: the
    /// deployment was switched to it (or already served it).
    Same(VersionInfo),
    /// The new file could not be read, loaded, instantiated or `init`ed:
    /// the running version keeps serving.
    Failed(Error),
}

/// Upgrades a deployment whenever its file changes (see the [module
/// documentation](self)); stops when dropped.
pub struct Watcher {
    events: Receiver<WatchEvent>,
    _thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    pub(crate) fn start(shared: Arc<Shared>, dep: Arc<Deployment>, file: &Path) -> Result<Self> {
        let changes = FileChanges::new(file)?;
        let (tx, events) = channel();
        let thread = std::thread::Builder::new()
            .name("airssys-wasm-lifecycle-watch".into())
            .spawn(move || {
                while let Ok(true) = changes.wait(None) {
                    let event = reload(&shared, &dep, changes.file());
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| Error::Watch {
                path: file.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            events,
            _thread: thread,
        })
    }

    /// The next thing the watcher did, waiting up to `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<WatchEvent> {
        self.events.recv_timeout(timeout).ok()
    }
}

fn reload(shared: &Shared, dep: &Deployment, file: &Path) -> WatchEvent {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            return WatchEvent::Failed(Error::Runtime(airssys_wasm::Error::Io {
                path: file.display().to_string(),
                source: e,
            }));
        }
    };
    let active = dep.active();
    let mut registration = Registration::new(active.name.clone(), bytes)
        .tenant(active.tenant.clone())
        .numbered();
    if let Some(m) = &active.manifest {
        registration = registration.manifest(m.clone());
    }
    let (info, added) = match shared.register(registration) {
        Ok(r) => r,
        Err(e) => return WatchEvent::Failed(e),
    };
    if info.version == active.version {
        return WatchEvent::Same(info);
    }
    match dep.upgrade(&info.version) {
        Ok(()) if added => WatchEvent::Upgraded(info),
        Ok(()) => WatchEvent::Same(info),
        Err(e) => WatchEvent::Failed(e),
    }
}
