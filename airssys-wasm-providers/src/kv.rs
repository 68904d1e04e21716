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

use airssys_wasm_core::provider::{
    Interface, ProviderTable, bytes, bytes_value, err, limit, ok, string,
};
use airssys_wasm_core::{CapabilityKind, DEFAULT_TENANT, Error, HostError, Request, Result, Value};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::interface;

/// The interface this provider serves.
pub const INTERFACES: &[Interface] = &[interface(
    "airssys:host/key-value",
    Some(CapabilityKind::KeyValue),
)];
const I: &str = INTERFACES[0].name;

const DATA_NAME: &str = "kv2";
const USAGE_NAME: &str = "usage";
const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new(DATA_NAME);
/// The table of earlier versions, keyed `namespace \0 key`.
const OLD_DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
const USAGE: TableDefinition<&str, u64> = TableDefinition::new(USAGE_NAME);

/// A data table opened for reading.
type DataTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The `key-value` provider and its store.
pub struct KeyValue {
    db: Database,
}

impl std::fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValue").finish_non_exhaustive()
    }
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

impl KeyValue {
    /// Opens (or creates) the store in the file `path`, or in memory for
    /// `None`. A store of an earlier version is moved to this one's form.
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

crate::stateless_provider!(KeyValue, "key-value", INTERFACES, define);

fn define(table: &mut ProviderTable<'_, KeyValue>) {
    table.func(I, "get", |cx, store, host, args| {
        let (ns, key) = (string(args, 0)?, string(args, 1)?);
        if let Some(denied) = host.gate(cx, Request::KeyValue(ns))? {
            return Ok(denied);
        }
        let got = store
            .get(host.tenant(), ns, key)
            .map(|v| Value::Option(v.map(|b| Box::new(bytes_value(b)))));
        outcome(cx, "airssys:host/key-value#get", got)
    });
    table.func(I, "set", |cx, store, host, args| {
        let (ns, key) = (string(args, 0)?, string(args, 1)?);
        let value = bytes(&args[2])?;
        if let Some(denied) = host.gate(cx, Request::KeyValue(ns))? {
            return Ok(denied);
        }
        let quota = cx.capabilities().kv_quota(ns).unwrap_or_default();
        match store.set(host.tenant(), ns, key, &value, quota) {
            Ok(()) => Ok(ok(None)),
            Err(e) => outcome(cx, "airssys:host/key-value#set", Err(e)),
        }
    });
    table.func(I, "delete", |cx, store, host, args| {
        let (ns, key) = (string(args, 0)?, string(args, 1)?);
        if let Some(denied) = host.gate(cx, Request::KeyValue(ns))? {
            return Ok(denied);
        }
        let r = store.delete(host.tenant(), ns, key).map(Value::Bool);
        outcome(cx, "airssys:host/key-value#delete", r)
    });
    table.func(I, "list-keys", |cx, store, host, args| {
        let ns = string(args, 0)?;
        if let Some(denied) = host.gate(cx, Request::KeyValue(ns))? {
            return Ok(denied);
        }
        let r = store
            .keys(host.tenant(), ns)
            .map(|k| Value::List(k.into_iter().map(Value::String).collect()));
        outcome(cx, "airssys:host/key-value#list-keys", r)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::capability::KvQuota;
    use airssys_wasm_core::{AuditKind, Capability, CapabilitySet, OnDenied};

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn ns(quota: KvQuota) -> CapabilitySet {
        [Capability::key_value("n", quota)].into_iter().collect()
    }

    #[test]
    fn tenants_never_share_a_namespace() {
        let h = Harness::new(KeyValue::open(None).unwrap());
        let a = h.load(Some("a"), ns(KvQuota::default()), &[], OnDenied::Error);
        let b = h.load(Some("b"), ns(KvQuota::default()), &[], OnDenied::Error);
        let set = [s("n"), s("k"), bytes_value(b"v".to_vec())];
        assert_eq!(h.call(&a, "set", &set).unwrap(), ok(None));
        let got = |l| h.call(l, "get", &[s("n"), s("k")]).unwrap();
        assert_eq!(
            got(&a),
            ok(Some(Value::Option(Some(Box::new(bytes_value(
                b"v".to_vec()
            ))))))
        );
        assert_eq!(got(&b), ok(Some(Value::Option(None))));
        assert_eq!(
            h.call(&b, "list-keys", &[s("n")]).unwrap(),
            ok(Some(Value::List(vec![])))
        );
        assert_eq!(
            h.call(&a, "delete", &[s("n"), s("k")]).unwrap(),
            ok(Some(Value::Bool(true)))
        );
    }

    #[test]
    fn quotas_and_denials_are_answered_and_audited() {
        let h = Harness::new(KeyValue::open(None).unwrap());
        let quota = KvQuota {
            bytes: 8,
            max_key_bytes: 4,
            max_value_bytes: 8,
        };
        let l = h.load(None, ns(quota), &[], OnDenied::Error);
        let set = |k: &str, v: &[u8]| {
            h.call(&l, "set", &[s("n"), s(k), bytes_value(v.to_vec())])
                .unwrap()
        };
        assert_eq!(set("k", b"1234567"), ok(None));
        assert_eq!(
            set("j", b"1"),
            err(
                "limit",
                "namespace `n` quota of 8 bytes would be exceeded (8 used, this write needs 2)"
            )
        );
        assert_eq!(
            h.call(&l, "get", &[s("other"), s("k")]).unwrap(),
            err("denied", "kv other")
        );
        let kinds: Vec<_> = h.audit.events().into_iter().map(|e| e.kind).collect();
        assert!(
            matches!(kinds[1], AuditKind::CapabilityAllowed { .. }),
            "{kinds:?}"
        );
        assert!(matches!(kinds[2], AuditKind::HostLimit { .. }), "{kinds:?}");
        assert!(
            matches!(kinds[3], AuditKind::CapabilityDenied { .. }),
            "{kinds:?}"
        );
    }

    /// A store written by an earlier version is carried over when opened.
    #[test]
    fn a_store_of_the_earlier_format_is_moved_over() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kv.redb");
        {
            let db = Database::create(&file).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(OLD_DATA)
                .unwrap()
                .insert(b"notes\0a".as_slice(), b"kept".as_slice())
                .unwrap();
            tx.commit().unwrap();
        }
        let h = Harness::new(KeyValue::open(Some(&file)).unwrap());
        let caps = [Capability::key_value("notes", KvQuota::default())]
            .into_iter()
            .collect();
        let l = h.load(None, caps, &[], OnDenied::Error);
        assert_eq!(
            h.call(&l, "get", &[s("notes"), s("a")]).unwrap(),
            ok(Some(Value::Option(Some(Box::new(bytes_value(
                b"kept".to_vec()
            ))))))
        );
    }
}
