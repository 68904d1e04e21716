//! The audit events of a call: `called`, `returned`, `trapped` and
//! `limit-hit`, stamped without a second clock reading.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use airssys_wasm_core::{AuditKind, Error, Result, Usage};

use super::instance::Instance;

impl Instance {
    /// Records that `function` is about to be called, when the sink keeps
    /// call events ([`AuditSink::records_calls`]); returns the call's start
    /// time and its stamp, or `None` when call events are not kept (then no
    /// clock is read).
    #[inline]
    pub(super) fn audit_called(
        &mut self,
        function: &Arc<str>,
    ) -> Result<Option<(Instant, SystemTime)>> {
        if !self.component.runtime.audit.records_calls() {
            return Ok(None);
        }
        let start = Instant::now();
        let time = self.clock.wall(start);
        self.component.runtime.record_at(
            time,
            self.component.id.label(),
            AuditKind::Called {
                instance: self.id,
                function: function.clone(),
            },
        )?;
        Ok(Some((start, time)))
    }

    /// Records how a call ended. A return is recorded when its call was
    /// (`called` is `Some`), stamped at the call's stamp plus its elapsed
    /// time: no second clock reading. A trap or limit hit is always
    /// recorded.
    #[inline]
    pub(super) fn audit_outcome(
        &mut self,
        called: Option<(Instant, SystemTime)>,
        function: &Arc<str>,
        outcome: Result<Option<Usage>, &Error>,
    ) -> Result<()> {
        // Kept inline: the common case, a return nobody records, costs a
        // comparison.
        if called.is_none() && outcome.is_ok() {
            return Ok(());
        }
        self.record_outcome(called, function, outcome)
    }

    fn record_outcome(
        &mut self,
        called: Option<(Instant, SystemTime)>,
        function: &Arc<str>,
        outcome: Result<Option<Usage>, &Error>,
    ) -> Result<()> {
        let (time, kind) = match outcome {
            Ok(usage) => {
                let (Some((_, called)), Some(usage)) = (called, usage) else {
                    return Ok(());
                };
                (
                    called + usage.elapsed,
                    AuditKind::Returned {
                        instance: self.id,
                        function: function.clone(),
                        usage,
                    },
                )
            }
            Err(e) => (
                self.clock.wall(Instant::now()),
                match e.limit() {
                    Some(limit) => AuditKind::LimitHit {
                        instance: self.id,
                        function: function.clone(),
                        limit,
                        error: e.to_string(),
                    },
                    None => AuditKind::Trapped {
                        instance: self.id,
                        function: function.clone(),
                        error: e.to_string(),
                        class: e.class(),
                    },
                },
            ),
        };
        self.component
            .runtime
            .record_at(time, self.component.id.label(), kind)
    }
}
