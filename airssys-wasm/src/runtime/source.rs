//! Where a component's bytes come from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airssys_wasm_core::{Error, Result};

/// Where a component's bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
    /// A file.
    Path(PathBuf),
}

impl From<&Path> for Source {
    fn from(p: &Path) -> Self {
        Source::Path(p.to_owned())
    }
}

impl From<PathBuf> for Source {
    fn from(p: PathBuf) -> Self {
        Source::Path(p)
    }
}

impl From<&str> for Source {
    /// A path.
    fn from(p: &str) -> Self {
        Source::Path(p.into())
    }
}

impl Source {
    /// The bytes: those in memory, or the file's (an unreadable file is an
    /// [`Error::Io`] naming it).
    pub(super) fn read(&self) -> Result<Arc<[u8]>> {
        match self {
            Source::Bytes(b) => Ok(b.clone()),
            Source::Path(p) => std::fs::read(p)
                .map(Into::into)
                .map_err(|source| Error::Io {
                    path: p.display().to_string(),
                    source,
                }),
        }
    }

    /// The path, or `(bytes)`, for messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Bytes(_) => "(bytes)".into(),
        }
    }
}

impl From<Vec<u8>> for Source {
    fn from(b: Vec<u8>) -> Self {
        Source::Bytes(b.into())
    }
}

impl From<&[u8]> for Source {
    fn from(b: &[u8]) -> Self {
        Source::Bytes(b.into())
    }
}
