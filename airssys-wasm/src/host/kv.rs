//! `key-value`: namespaces in one redb file per host, with quotas.
//!
//! Keys are stored as the namespace's length (4 bytes, big-endian), the
//! namespace, then the key, in one table: no namespace and key can spell
//! another pair's entry (a separator byte could: `a` + `b\0c` and `a\0b` +
//! `c`). A second table holds each namespace's usage (the bytes of its keys
//! and values), which a `set` checks against the namespace's quota in the
//! same transaction. Each tenant has its own pair of tables (`kv2@TENANT`,
//! `usage@TENANT`; the default tenant keeps `kv2` and `usage`): a
//! namespace of one tenant is never another's, whatever they are granted,
//! and a tenant name cannot contain `@`, so no tenant's tables are the
//! default's. A store written by an earlier version (`namespace \0
//! key` in table `kv`) is moved to this form when it is opened.

use std::path::Path;
use std::sync::Arc;

use airssys_wasm_core::{DEFAULT_TENANT, Error, HostError, HostFunctions, Request, Result, Value};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{HostState, bytes, bytes_value, err, func, gate, limit, ok, string};

const DATA_NAME: &str = "kv2";
const USAGE_NAME: &str = "usage";
const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new(DATA_NAME);
/// The table of earlier versions, keyed `namespace \0 key`.
const OLD_DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
const USAGE: TableDefinition<&str, u64> = TableDefinition::new(USAGE_NAME);

/// A data table opened for reading.
type DataTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The store.
pub(crate) struct Store {
    db: Database,
}

/// Why a store operation failed.
enum KvError {
    Quota(String),
    Failed(String),
}

fn failed(e: impl std::fmt::Display) -> KvError {
    KvError::Failed(format!("key-value store: {e}"))
}

/// The stored key of `key` in `namespace`.
fn full_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut k = prefix(namespace);
    k.extend_from_slice(key.as_bytes());
    k
}

/// What every stored key of `namespace` starts with.
fn prefix(namespace: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(4 + namespace.len());
    p.extend_from_slice(&(namespace.len() as u32).to_be_bytes());
    p.extend_from_slice(namespace.as_bytes());
    p
}

/// The names of a tenant's tables.
struct Tables {
    data: String,
    usage: String,
}

impl Tables {
    fn of(tenant: &str) -> Self {
        if tenant == DEFAULT_TENANT {
            Self {
                data: DATA_NAME.to_owned(),
                usage: USAGE_NAME.to_owned(),
            }
        } else {
            Self {
                data: format!("{DATA_NAME}@{tenant}"),
                usage: format!("{USAGE_NAME}@{tenant}"),
            }
        }
    }

    fn data(&self) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
        TableDefinition::new(&self.data)
    }

    fn usage(&self) -> TableDefinition<'_, &'static str, u64> {
        TableDefinition::new(&self.usage)
    }
}

impl Store {
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let open_error = |e: &dyn std::fmt::Display| Error::Io {
            path: path.map_or("(memory)".into(), |p| p.display().to_string()),
            source: std::io::Error::other(format!("opening the key-value store: {e}")),
        };
        let db = match path {
            Some(p) => Database::create(p).map_err(|e| open_error(&e))?,
            None => Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .map_err(|e| open_error(&e))?,
        };
        // Create the tables so readers always find them, and move entries of
        // an earlier version's table into this one.
        let tx = db.begin_write().map_err(|e| open_error(&e))?;
        {
            let mut data = tx.open_table(DATA).map_err(|e| open_error(&e))?;
            tx.open_table(USAGE).map_err(|e| open_error(&e))?;
            let mut old = tx.open_table(OLD_DATA).map_err(|e| open_error(&e))?;
            let mut moved = Vec::new();
            for entry in old.iter().map_err(|e| open_error(&e))? {
                let (k, v) = entry.map_err(|e| open_error(&e))?;
                let k = k.value();
                let split = k.iter().position(|b| *b == 0).unwrap_or(k.len());
                let (ns, key) = (&k[..split], k.get(split + 1..).unwrap_or_default());
                let mut new = (ns.len() as u32).to_be_bytes().to_vec();
                new.extend_from_slice(ns);
                new.extend_from_slice(key);
                moved.push((new, v.value().to_vec()));
            }
            for (k, v) in &moved {
                data.insert(k.as_slice(), v.as_slice())
                    .map_err(|e| open_error(&e))?;
            }
            old.retain(|_, _| false).map_err(|e| open_error(&e))?;
        }
        tx.delete_table(OLD_DATA).map_err(|e| open_error(&e))?;
        tx.commit().map_err(|e| open_error(&e))?;
        Ok(Self { db })
    }

    /// `tenant`'s data table, for reading; `None` for a tenant that never
    /// wrote (it has no tables yet).
    fn read_data(&self, tenant: &str) -> Result<Option<DataTable>, KvError> {
        let tx = self.db.begin_read().map_err(failed)?;
        match tx.open_table(Tables::of(tenant).data()) {
            Ok(t) => Ok(Some(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    fn get(&self, tenant: &str, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let Some(table) = self.read_data(tenant)? else {
            return Ok(None);
        };
        let value = table
            .get(full_key(namespace, key).as_slice())
            .map_err(failed)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn set(
        &self,
        tenant: &str,
        namespace: &str,
        key: &str,
        value: &[u8],
        quota: airssys_wasm_core::capability::KvQuota,
    ) -> Result<(), KvError> {
        if key.len() > quota.max_key_bytes as usize {
            return Err(KvError::Quota(format!(
                "keys of namespace `{namespace}` are at most {} bytes (this one: {})",
                quota.max_key_bytes,
                key.len()
            )));
        }
        if value.len() > quota.max_value_bytes as usize {
            return Err(KvError::Quota(format!(
                "values of namespace `{namespace}` are at most {} bytes (this one: {})",
                quota.max_value_bytes,
                value.len()
            )));
        }
        let tables = Tables::of(tenant);
        let tx = self.db.begin_write().map_err(failed)?;
        {
            let mut data = tx.open_table(tables.data()).map_err(failed)?;
            let mut usage = tx.open_table(tables.usage()).map_err(failed)?;
            let k = full_key(namespace, key);
            let old = data
                .get(k.as_slice())
                .map_err(failed)?
                .map_or(0, |v| (key.len() + v.value().len()) as u64);
            let used = usage
                .get(namespace)
                .map_err(failed)?
                .map_or(0, |u| u.value());
            let new = used - old + (key.len() + value.len()) as u64;
            if new > quota.bytes {
                return Err(KvError::Quota(format!(
                    "namespace `{namespace}` quota of {} bytes would be exceeded \
                     ({used} used, this write needs {})",
                    quota.bytes,
                    new - used
                )));
            }
            data.insert(k.as_slice(), value).map_err(failed)?;
            usage.insert(namespace, new).map_err(failed)?;
        }
        tx.commit().map_err(failed)
    }

    fn delete(&self, tenant: &str, namespace: &str, key: &str) -> Result<bool, KvError> {
        let tables = Tables::of(tenant);
        let tx = self.db.begin_write().map_err(failed)?;
        let existed = {
            let mut data = tx.open_table(tables.data()).map_err(failed)?;
            let mut usage = tx.open_table(tables.usage()).map_err(failed)?;
            let removed = data
                .remove(full_key(namespace, key).as_slice())
                .map_err(failed)?
                .map(|v| (key.len() + v.value().len()) as u64);
            if let Some(freed) = removed {
                let used = usage
                    .get(namespace)
                    .map_err(failed)?
                    .map_or(0, |u| u.value());
                usage
                    .insert(namespace, used.saturating_sub(freed))
                    .map_err(failed)?;
            }
            removed.is_some()
        };
        tx.commit().map_err(failed)?;
        Ok(existed)
    }

    fn keys(&self, tenant: &str, namespace: &str) -> Result<Vec<String>, KvError> {
        let Some(table) = self.read_data(tenant)? else {
            return Ok(Vec::new());
        };
        let start = prefix(namespace);
        let mut keys = Vec::new();
        for entry in table.range(start.as_slice()..).map_err(failed)? {
            let (k, _) = entry.map_err(failed)?;
            let Some(k) = k.value().strip_prefix(start.as_slice()) else {
                break;
            };
            keys.push(String::from_utf8_lossy(k).into_owned());
        }
        Ok(keys)
    }
}

fn outcome(
    cx: &airssys_wasm_core::CallContext<'_>,
    f: &str,
    r: Result<Value, KvError>,
) -> Result<Value, HostError> {
    match r {
        Ok(v) => Ok(ok(Some(v))),
        Err(KvError::Quota(what)) => limit(cx, f, what),
        Err(KvError::Failed(why)) => Ok(err("failed", why)),
    }
}

pub(super) fn define(table: &mut HostFunctions, state: &Arc<HostState>) {
    func(table, state, "key-value", "get", |cx, state, host, args| {
        let (ns, key) = (string(args, 0)?, string(args, 1)?);
        if let Some(denied) = gate(cx, host, Request::KeyValue(ns))? {
            return Ok(denied);
        }
        let got = state
            .kv
            .get(host.tenant(), ns, key)
            .map(|v| Value::Option(v.map(|b| Box::new(bytes_value(b)))));
        outcome(cx, "airssys:host/key-value#get", got)
    });
    func(table, state, "key-value", "set", |cx, state, host, args| {
        let (ns, key) = (string(args, 0)?, string(args, 1)?);
        let value = bytes(&args[2])?;
        if let Some(denied) = gate(cx, host, Request::KeyValue(ns))? {
            return Ok(denied);
        }
        let quota = cx.capabilities().kv_quota(ns).unwrap_or_default();
        match state.kv.set(host.tenant(), ns, key, &value, quota) {
            Ok(()) => Ok(ok(None)),
            Err(e) => outcome(cx, "airssys:host/key-value#set", Err(e)),
        }
    });
    func(
        table,
        state,
        "key-value",
        "delete",
        |cx, state, host, args| {
            let (ns, key) = (string(args, 0)?, string(args, 1)?);
            if let Some(denied) = gate(cx, host, Request::KeyValue(ns))? {
                return Ok(denied);
            }
            let r = state.kv.delete(host.tenant(), ns, key).map(Value::Bool);
            outcome(cx, "airssys:host/key-value#delete", r)
        },
    );
    func(
        table,
        state,
        "key-value",
        "list-keys",
        |cx, state, host, args| {
            let ns = string(args, 0)?;
            if let Some(denied) = gate(cx, host, Request::KeyValue(ns))? {
                return Ok(denied);
            }
            let r = state
                .kv
                .keys(host.tenant(), ns)
                .map(|k| Value::List(k.into_iter().map(Value::String).collect()));
            outcome(cx, "airssys:host/key-value#list-keys", r)
        },
    );
}
