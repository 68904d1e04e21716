//! `logging`: guest log records, rate-limited per component, into
//! `tracing` (target `airssys_wasm::guest`), escaped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use airssys_wasm_core::audit::Escaped;
use airssys_wasm_core::provider::{Interface, LoadContext, ProviderTable, err, limit, ok, string};
use airssys_wasm_core::{HostProvider, Result, Value};

use crate::interface;

const INTERFACES: &[Interface] = &[interface("airssys:host/logging", None)];
const F: &str = "airssys:host/logging#log";

/// The `logging` provider.
#[derive(Debug)]
pub struct Logging {
    rate: u32,
    max_message: usize,
}

impl Logging {
    /// At most `rate` records per second per component (and that many in
    /// a burst), of at most `max_message` bytes each.
    pub fn new(rate: u32, max_message: usize) -> Self {
        Self { rate, max_message }
    }
}

/// A token bucket: `rate` records per second, bursts up to `rate`.
#[derive(Debug)]
pub struct LogBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
    /// When a refusal was last audited: a flood is audited at most once a
    /// second, so it cannot flood the audit log in turn.
    audited: Option<Instant>,
}

impl LogBucket {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            tokens: rate,
            last: Instant::now(),
            audited: None,
        }
    }

    /// `Ok(())` to log; `Err(audit)` when over the rate, `audit` when this
    /// refusal is to be audited.
    fn take(&mut self) -> Result<(), bool> {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let audit = self
            .audited
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if audit {
            self.audited = Some(now);
        }
        Err(audit)
    }
}

impl HostProvider for Logging {
    type State = Mutex<LogBucket>;

    fn name(&self) -> &'static str {
        "logging"
    }

    fn interfaces(&self) -> &'static [Interface] {
        INTERFACES
    }

    fn configure(&self, _: &LoadContext<'_>) -> Result<Self::State> {
        Ok(Mutex::new(LogBucket::new(self.rate)))
    }

    fn define(&self, table: &mut ProviderTable<'_, Self>) {
        table.func(INTERFACES[0].name, "log", |cx, this, caller, args| {
            let level = match args.first() {
                Some(Value::Enum(l)) => l.as_str(),
                _ => "info",
            };
            let message = string(args, 1)?;
            let fields = args.get(2).and_then(Value::as_list).unwrap_or_default();
            let max = this.max_message;
            if message.len() > max || fields.len() > 64 {
                return limit(
                    cx,
                    F,
                    format!(
                        "a log record holds at most {max} bytes of message and 64 fields \
                         (this one: {} bytes, {} fields)",
                        message.len(),
                        fields.len()
                    ),
                );
            }
            let taken = caller
                .state()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Err(audit) = taken {
                let what = format!("log rate limit: {} records per second", this.rate);
                return if audit {
                    limit(cx, F, what)
                } else {
                    Ok(err("limit", what))
                };
            }
            let fields: String = fields
                .iter()
                .filter_map(|f| match f {
                    Value::Tuple(kv) if kv.len() == 2 => {
                        Some(format!(" {}={:?}", kv[0].as_str()?, kv[1].as_str()?))
                    }
                    _ => None,
                })
                .collect();
            // The guest's text is escaped before any subscriber sees it: a
            // message cannot start a line of its own on the operator's
            // terminal, nor send it control sequences.
            let component = Escaped(cx.component());
            let (message, fields) = (Escaped(message), Escaped(&fields));
            macro_rules! emit {
                ($lvl:ident) => {
                    tracing::$lvl!(target: "airssys_wasm::guest", component = %component, "{message}{fields}")
                };
            }
            match level {
                "trace" => emit!(trace),
                "debug" => emit!(debug),
                "warn" => emit!(warn),
                "error" => emit!(error),
                _ => emit!(info),
            }
            Ok(ok(None))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::{AuditKind, CapabilitySet, OnDenied};

    fn record(message: &str) -> Vec<Value> {
        vec![
            Value::Enum("info".into()),
            Value::String(message.into()),
            Value::List(vec![]),
        ]
    }

    #[test]
    fn each_component_has_its_own_rate_and_a_flood_is_audited_once() {
        let h = Harness::new(Logging::new(2, 64));
        let a = h.load(None, CapabilitySet::new(), &[], OnDenied::Error);
        let b = h.load(Some("t"), CapabilitySet::new(), &[], OnDenied::Error);
        for _ in 0..2 {
            assert_eq!(h.call(&a, "log", &record("hi")).unwrap(), ok(None));
        }
        for _ in 0..3 {
            assert_eq!(
                h.call(&a, "log", &record("hi")).unwrap(),
                err("limit", "log rate limit: 2 records per second")
            );
        }
        // Another load's bucket is full.
        assert_eq!(h.call(&b, "log", &record("hi")).unwrap(), ok(None));
        let limits = h
            .audit
            .events()
            .into_iter()
            .filter(|e| matches!(e.kind, AuditKind::HostLimit { .. }))
            .count();
        assert_eq!(limits, 1, "a flood is audited once a second");
    }

    #[test]
    fn an_oversized_record_is_a_limit() {
        let h = Harness::new(Logging::new(100, 4));
        let a = h.load(None, CapabilitySet::new(), &[], OnDenied::Error);
        let got = h.call(&a, "log", &record("12345")).unwrap();
        assert_eq!(
            got,
            err(
                "limit",
                "a log record holds at most 4 bytes of message and 64 fields (this one: 5 bytes, 0 fields)"
            )
        );
        assert!(matches!(
            &h.audit.events()[0].kind,
            AuditKind::HostLimit { function, .. } if function == F
        ));
    }
}
