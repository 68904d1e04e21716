//! The registry of versions: each component's bytes stored immutably by
//! (tenant, name, version, digest), with the deployments' routes, in an
//! embedded store (redb) so a restarted process comes back as it was.
//!
//! The store is a file the host trusts no more than the artifact cache:
//! bytes read back are checked against the digest they were registered
//! with before anything is compiled from them.

use std::path::Path;

use airssys_wasm::Digest;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::options::{DeployOptions, RollbackPolicy, Split};

/// Version records (JSON) by `tenant/name@version`.
const VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("versions");
/// Component bytes by digest (`blake3:<hex>`); versions of the same bytes
/// share them.
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
/// Deployment records (JSON) by deployment name.
const DEPLOYMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("deployments");

/// One registered version of a component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Its tenant.
    pub tenant: String,
    /// The component's name.
    pub name: String,
    /// The version.
    pub version: String,
    /// The digest of its bytes, `blake3:<hex>`.
    pub digest: String,
    /// The size of its bytes.
    pub size: u64,
    /// Its manifest (`Component.toml`), if one was registered with it.
    pub manifest: Option<String>,
    /// Registration order within the registry.
    pub seq: u64,
}

impl VersionInfo {
    /// The deployment name this version belongs to: `tenant/name`, or
    /// `name` for the default tenant.
    pub fn deployment(&self) -> String {
        deployment_name(&self.tenant, &self.name)
    }

    fn key(&self) -> String {
        version_key(&self.tenant, &self.name, &self.version)
    }
}

/// A deployment's name: `tenant/name`, or `name` for the default tenant
/// (the label of its identity without a version).
pub fn deployment_name(tenant: &str, name: &str) -> String {
    if tenant == airssys_wasm::core::DEFAULT_TENANT {
        name.to_owned()
    } else {
        format!("{tenant}/{name}")
    }
}

fn version_key(tenant: &str, name: &str, version: &str) -> String {
    format!("{tenant}/{name}@{version}")
}

/// The persistent part of the lifecycle (see the [module documentation](self)).
pub struct Registry {
    db: Database,
}

impl Registry {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path)
            .map_err(|e| Error::Store(format!("`{}` cannot be opened: {e}", path.display())))?;
        Self::with(db)
    }

    /// A store in memory, gone with the process.
    pub fn in_memory() -> Result<Self> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(Error::store)?;
        Self::with(db)
    }

    fn with(db: Database) -> Result<Self> {
        let tx = db.begin_write().map_err(Error::store)?;
        for table in [VERSIONS, BLOBS, DEPLOYMENTS] {
            tx.open_table(table).map_err(Error::store)?;
        }
        tx.commit().map_err(Error::store)?;
        Ok(Self { db })
    }

    /// Every version of `tenant`'s `name`, in registration order.
    pub fn versions(&self, tenant: &str, name: &str) -> Result<Vec<VersionInfo>> {
        let mut all = self.all_versions()?;
        all.retain(|v| v.tenant == tenant && v.name == name);
        Ok(all)
    }

    /// Every version in the registry, in registration order.
    pub fn all_versions(&self) -> Result<Vec<VersionInfo>> {
        let mut out: Vec<VersionInfo> = self.records(VERSIONS)?;
        out.sort_by_key(|v| v.seq);
        Ok(out)
    }

    /// Every record of `table`, decoded.
    fn records<T: for<'de> Deserialize<'de>>(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<T>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let table = tx.open_table(table).map_err(Error::store)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(Error::store)? {
            let (_, v) = entry.map_err(Error::store)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// One version, if registered.
    pub fn version(&self, tenant: &str, name: &str, version: &str) -> Result<Option<VersionInfo>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let table = tx.open_table(VERSIONS).map_err(Error::store)?;
        let found = table
            .get(version_key(tenant, name, version).as_str())
            .map_err(Error::store)?;
        found.map(|v| decode(v.value())).transpose()
    }

    /// One version, or [`Error::NoVersion`] listing the versions there are.
    pub fn get(&self, tenant: &str, name: &str, version: &str) -> Result<VersionInfo> {
        match self.version(tenant, name, version)? {
            Some(v) => Ok(v),
            None => Err(Error::NoVersion {
                component: deployment_name(tenant, name),
                version: version.to_owned(),
                known: self.known(tenant, name)?,
            }),
        }
    }

    fn known(&self, tenant: &str, name: &str) -> Result<String> {
        let known: Vec<String> = self
            .versions(tenant, name)?
            .into_iter()
            .map(|v| v.version)
            .collect();
        Ok(if known.is_empty() {
            "no version".into()
        } else {
            known.join(", ")
        })
    }

    /// Stores a new version. With `version` `None`, the bytes of a version
    /// already registered are that version; other bytes get the next free
    /// number (`1`, `2`, ...). A version that exists with other bytes is
    /// refused ([`Error::VersionExists`]); with the same bytes it is
    /// returned as it is. The `bool` says whether a version was added.
    pub(crate) fn add(
        &self,
        tenant: &str,
        name: &str,
        version: Option<&str>,
        bytes: &[u8],
        manifest: Option<String>,
    ) -> Result<(VersionInfo, bool)> {
        let digest = Digest::of(bytes).to_string();
        let all = self.all_versions()?;
        let seq = all.last().map_or(0, |v| v.seq + 1);
        let existing: Vec<&VersionInfo> = all
            .iter()
            .filter(|v| v.tenant == tenant && v.name == name)
            .collect();
        let version = match version {
            Some(v) => {
                if let Some(old) = existing.iter().find(|e| e.version == v) {
                    if old.digest == digest {
                        return Ok(((*old).clone(), false));
                    }
                    return Err(Error::VersionExists {
                        component: deployment_name(tenant, name),
                        version: v.to_owned(),
                        digest: old.digest.clone(),
                    });
                }
                v.to_owned()
            }
            None => {
                if let Some(same) = existing.iter().rev().find(|e| e.digest == digest) {
                    return Ok(((*same).clone(), false));
                }
                (existing.len() + 1..)
                    .map(|n| n.to_string())
                    .find(|n| existing.iter().all(|e| &e.version != n))
                    .unwrap_or_default()
            }
        };
        let info = VersionInfo {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            version,
            digest,
            size: bytes.len() as u64,
            manifest,
            seq,
        };
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut blobs = tx.open_table(BLOBS).map_err(Error::store)?;
            blobs
                .insert(info.digest.as_str(), bytes)
                .map_err(Error::store)?;
            let mut versions = tx.open_table(VERSIONS).map_err(Error::store)?;
            versions
                .insert(info.key().as_str(), encode(&info)?.as_slice())
                .map_err(Error::store)?;
        }
        tx.commit().map_err(Error::store)?;
        Ok((info, true))
    }

    /// Removes a version (its bytes too, when no other version shares
    /// them). The caller has checked that nothing serves it.
    pub(crate) fn remove(&self, info: &VersionInfo) -> Result<()> {
        let shared = self
            .all_versions()?
            .iter()
            .any(|v| v.digest == info.digest && v.key() != info.key());
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut versions = tx.open_table(VERSIONS).map_err(Error::store)?;
            versions.remove(info.key().as_str()).map_err(Error::store)?;
            if !shared {
                let mut blobs = tx.open_table(BLOBS).map_err(Error::store)?;
                blobs.remove(info.digest.as_str()).map_err(Error::store)?;
            }
        }
        tx.commit().map_err(Error::store)
    }

    /// The bytes of a version, checked against its digest.
    pub fn bytes(&self, info: &VersionInfo) -> Result<Vec<u8>> {
        let tx = self.db.begin_read().map_err(Error::store)?;
        let table = tx.open_table(BLOBS).map_err(Error::store)?;
        let bytes = table
            .get(info.digest.as_str())
            .map_err(Error::store)?
            .map(|b| b.value().to_vec())
            .ok_or_else(|| {
                Error::Store(format!(
                    "has no bytes for `{}@{}` ({})",
                    info.deployment(),
                    info.version,
                    info.digest
                ))
            })?;
        let found = Digest::of(&bytes).to_string();
        if found != info.digest {
            return Err(Error::Store(format!(
                "holds bytes for `{}@{}` whose digest is {found}, not the {} it was registered \
                 with: they were changed outside the lifecycle and are not loaded",
                info.deployment(),
                info.version,
                info.digest
            )));
        }
        Ok(bytes)
    }

    /// Every deployment record.
    pub(crate) fn deployments(&self) -> Result<Vec<DeploymentRecord>> {
        let mut out: Vec<DeploymentRecord> = self.records(DEPLOYMENTS)?;
        out.sort_by_key(|d| d.seq);
        Ok(out)
    }

    /// Writes (or with `None` deletes) a deployment's record.
    pub(crate) fn put_deployment(
        &self,
        name: &str,
        record: Option<&DeploymentRecord>,
    ) -> Result<()> {
        let tx = self.db.begin_write().map_err(Error::store)?;
        {
            let mut table = tx.open_table(DEPLOYMENTS).map_err(Error::store)?;
            match record {
                Some(r) => {
                    table
                        .insert(name, encode(r)?.as_slice())
                        .map_err(Error::store)?;
                }
                None => {
                    table.remove(name).map_err(Error::store)?;
                }
            }
        }
        tx.commit().map_err(Error::store)
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::store)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Store(format!("holds a record it cannot read: {e}")))
}

/// What the registry keeps of a deployment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DeploymentRecord {
    pub(crate) seq: u64,
    pub(crate) tenant: String,
    pub(crate) name: String,
    pub(crate) active: String,
    pub(crate) candidate: Option<CandidateRecord>,
    /// The version a rollback returns to (absent in older records).
    #[serde(default)]
    pub(crate) previous: Option<String>,
    pub(crate) options: DeployOptions,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CandidateRecord {
    pub(crate) version: String,
    pub(crate) split: Split,
    pub(crate) rollback: Option<RollbackPolicy>,
}
