//! `logging`, `config`, `clocks` and `random`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airssys_wasm_core::audit::Escaped;
use airssys_wasm_core::{HostError, HostFunctions, Request, Value};

use super::{HostState, bytes_value, err, func, gate, limit, ok, string};

/// A token bucket: `rate` records per second, bursts up to `rate`.
#[derive(Debug)]
pub(crate) struct LogBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
    /// When a refusal was last audited: a flood is audited at most once a
    /// second, so it cannot flood the audit log in turn.
    audited: Option<Instant>,
}

impl LogBucket {
    pub fn new(rate: u32) -> Self {
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

pub(super) fn define(table: &mut HostFunctions, state: &Arc<HostState>) {
    func(table, state, "logging", "log", |cx, state, host, args| {
        const F: &str = "airssys:host/logging#log";
        let level = match &args[0] {
            Value::Enum(l) => l.as_str(),
            _ => "info",
        };
        let message = string(args, 1)?;
        let fields = args[2].as_list().unwrap_or_default();
        let max = state.settings.log_max_message;
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
        let taken = host.log.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Err(audit) = taken {
            let what = format!(
                "log rate limit: {} records per second",
                state.settings.log_rate
            );
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

    func(table, state, "config", "get", |_, _, host, args| {
        let key = string(args, 0)?;
        Ok(Value::Option(
            host.config
                .get(key)
                .map(|v| Box::new(Value::String(v.clone()))),
        ))
    });
    func(table, state, "config", "keys", |_, _, host, _| {
        Ok(Value::List(
            host.config
                .keys()
                .map(|k| Value::String(k.clone()))
                .collect(),
        ))
    });

    func(table, state, "clocks", "now", |cx, _, host, _| {
        if let Some(denied) = gate(cx, host, Request::Clocks)? {
            return Ok(denied);
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(ok(Some(Value::U64(nanos))))
    });
    func(table, state, "clocks", "monotonic", |cx, state, host, _| {
        if let Some(denied) = gate(cx, host, Request::Clocks)? {
            return Ok(denied);
        }
        Ok(ok(Some(Value::U64(
            state.started.elapsed().as_nanos() as u64
        ))))
    });

    func(table, state, "random", "bytes", |cx, _, host, args| {
        if let Some(denied) = gate(cx, host, Request::Random)? {
            return Ok(denied);
        }
        let len = match args[0] {
            Value::U32(n) => n as usize,
            _ => return Err(HostError::Failed("len is not a u32".into())),
        };
        if len > 1 << 20 {
            return limit(
                cx,
                "airssys:host/random#bytes",
                format!("at most 1 MiB of random bytes per call (asked {len})"),
            );
        }
        let mut buf = vec![0u8; len];
        getrandom::fill(&mut buf).map_err(|e| HostError::Failed(format!("entropy: {e}")))?;
        Ok(ok(Some(bytes_value(buf))))
    });
}
