//! A sink layer that keeps a flood of repeated refusals from flooding the
//! audit log.
//!
//! A guest that asks for an ungranted capability in a loop is denied every
//! time; recording every denial would let it write to the audit log (and
//! the operator's terminal) as fast as it can loop. [`DenialThrottle`]
//! records the first [`DENIAL_BURST`] `capability-denied` events, and
//! separately the first [`DENIAL_BURST`] `host-limit` events, of each
//! component within a window of [`DENIAL_WINDOW`] (the window opens at the
//! first such event). Beyond the burst, events of that component and kind
//! are counted instead of recorded, and one [`AuditKind::Suppressed`] event
//! says how many there were and between which times. It is recorded with
//! the first event (of any kind) after the window ends, and on
//! [`AuditSink::flush`] and when the throttle is dropped, so no count is
//! lost. Only recording is throttled: the caller's decision (the guest is
//! denied) is made before and stays as it is.
//!
//! Windows are measured on the events' own time stamps, so what is counted
//! where does not depend on when a sink thread gets to an event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::{AuditError, AuditEvent, AuditKind, AuditSink};

/// How many `capability-denied` (and, separately, `host-limit`) events of
/// one component a [`DenialThrottle`] records within one
/// [`DENIAL_WINDOW`].
pub const DENIAL_BURST: u32 = 100;

/// The window over which a [`DenialThrottle`] counts a component's
/// refusals.
pub const DENIAL_WINDOW: Duration = Duration::from_secs(1);

/// The refusals a [`DenialThrottle`] limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Refusal {
    Denied,
    HostLimit,
}

impl Refusal {
    fn of(kind: &AuditKind) -> Option<Self> {
        match kind {
            AuditKind::CapabilityDenied { .. } => Some(Self::Denied),
            AuditKind::HostLimit { .. } => Some(Self::HostLimit),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Denied => "capability-denied",
            Self::HostLimit => "host-limit",
        }
    }
}

#[derive(Debug)]
struct Window {
    start: SystemTime,
    recorded: u32,
    suppressed: u64,
    first: SystemTime,
    last: SystemTime,
}

type Windows = HashMap<(Arc<str>, Refusal), Window>;

/// Records repeated refusals up to a burst per component and kind, then
/// counts them in [`AuditKind::Suppressed`] events; every other event
/// passes straight through to the inner sink. See the [module
/// documentation](self) for the rules.
///
/// The facade's `Runtime` puts one around whatever sink it is given.
///
/// ```
/// use std::sync::Arc;
/// use airssys_wasm_core::audit::{DenialThrottle, DENIAL_BURST};
/// use airssys_wasm_core::{AuditEvent, AuditKind, AuditSink, CapabilityKind, MemorySink};
///
/// let memory = Arc::new(MemorySink::new());
/// let sink = DenialThrottle::new(memory.clone());
/// for _ in 0..1000 {
///     sink.record(AuditEvent::new("loop", AuditKind::CapabilityDenied {
///         capability: CapabilityKind::Random,
///         request: "random".into(),
///         outcome: "error::denied".into(),
///     })).unwrap();
/// }
/// sink.flush().unwrap();
/// let events = memory.events();
/// assert_eq!(events.len(), DENIAL_BURST as usize + 1);
/// assert!(matches!(
///     events.last().unwrap().kind,
///     AuditKind::Suppressed { count: 900, .. }
/// ));
/// ```
#[derive(Debug)]
pub struct DenialThrottle<S: AuditSink> {
    inner: S,
    burst: u32,
    window: Duration,
    windows: Mutex<Windows>,
    /// Whether some window holds a count not yet recorded: only then do
    /// other events look at the windows.
    pending: AtomicBool,
}

impl<S: AuditSink> DenialThrottle<S> {
    /// A throttle of [`DENIAL_BURST`] events per [`DENIAL_WINDOW`] over
    /// `inner`.
    pub fn new(inner: S) -> Self {
        Self::with_limits(inner, DENIAL_BURST, DENIAL_WINDOW)
    }

    /// A throttle recording at most `burst` refusals of one component and
    /// kind per `window`.
    pub fn with_limits(inner: S, burst: u32, window: Duration) -> Self {
        Self {
            inner,
            burst,
            window,
            windows: Mutex::new(HashMap::new()),
            pending: AtomicBool::new(false),
        }
    }

    /// The sink events are recorded in.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // Every update of a window is a few plain stores: a panic cannot
        // leave one half-made.
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the suppressed events of every window ended by `now` (every
    /// window, when `now` is `None`), forgetting ended windows.
    fn take_ended(&self, windows: &mut Windows, now: Option<SystemTime>) -> Vec<AuditEvent> {
        let mut out = Vec::new();
        let stamp = now.unwrap_or_else(SystemTime::now);
        windows.retain(|(component, refusal), w| {
            let ended = now.is_none_or(|now| self.ended(w, now));
            if ended && w.suppressed > 0 {
                out.push(AuditEvent::at(
                    stamp,
                    component.clone(),
                    AuditKind::Suppressed {
                        of: refusal.as_str().to_owned(),
                        count: w.suppressed,
                        from: w.first,
                        to: w.last,
                    },
                ));
                w.suppressed = 0;
            }
            // A flush keeps the windows still open, so their burst stays used.
            !(ended && now.is_some())
        });
        self.pending.store(
            windows.values().any(|w| w.suppressed > 0),
            Ordering::Relaxed,
        );
        out
    }

    fn ended(&self, w: &Window, now: SystemTime) -> bool {
        // A time stamp before the window's start (another thread's clock
        // reading) falls in the window.
        now.duration_since(w.start)
            .is_ok_and(|since| since >= self.window)
    }

    fn record_all(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        events.into_iter().try_for_each(|e| self.inner.record(e))
    }
}

impl<S: AuditSink> AuditSink for DenialThrottle<S> {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let Some(refusal) = Refusal::of(&event.kind) else {
            if self.pending.load(Ordering::Relaxed) {
                let ended = self.take_ended(&mut self.lock(), Some(event.time));
                self.record_all(ended)?;
            }
            return self.inner.record(event);
        };
        let (ended, keep) = {
            let mut windows = self.lock();
            // Refusals are rare enough to look at every window: ended ones
            // are forgotten, so the map holds only recent refusers.
            let ended = self.take_ended(&mut windows, Some(event.time));
            let key = (event.component.clone(), refusal);
            let w = windows.entry(key).or_insert_with(|| Window {
                start: event.time,
                recorded: 0,
                suppressed: 0,
                first: event.time,
                last: event.time,
            });
            if self.ended(w, event.time) {
                // Ended without a suppressed count (those were taken above).
                *w = Window {
                    start: event.time,
                    recorded: 0,
                    suppressed: 0,
                    first: event.time,
                    last: event.time,
                };
            }
            let keep = w.recorded < self.burst;
            if keep {
                w.recorded += 1;
            } else {
                if w.suppressed == 0 {
                    w.first = event.time;
                }
                w.suppressed += 1;
                w.last = event.time;
                self.pending.store(true, Ordering::Relaxed);
            }
            (ended, keep)
        };
        self.record_all(ended)?;
        if keep {
            self.inner.record(event)
        } else {
            Ok(())
        }
    }

    fn records_calls(&self) -> bool {
        self.inner.records_calls()
    }

    fn flush(&self) -> Result<(), AuditError> {
        let pending = self.take_ended(&mut self.lock(), None);
        self.record_all(pending)?;
        self.inner.flush()
    }
}

impl<S: AuditSink> Drop for DenialThrottle<S> {
    fn drop(&mut self) {
        let pending = self.take_ended(&mut self.lock(), None);
        // Nobody is left to report a failure to; the inner sink's own
        // drop (a log's writer) still writes what it accepted.
        let _ = self.record_all(pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CapabilityKind, MemorySink};
    use std::time::UNIX_EPOCH;

    fn denied(component: &str, at_ms: u64) -> AuditEvent {
        AuditEvent::at(
            UNIX_EPOCH + Duration::from_millis(at_ms),
            component,
            AuditKind::CapabilityDenied {
                capability: CapabilityKind::KeyValue,
                request: "kv secret".into(),
                outcome: "error::denied".into(),
            },
        )
    }

    fn limit(component: &str, at_ms: u64) -> AuditEvent {
        AuditEvent::at(
            UNIX_EPOCH + Duration::from_millis(at_ms),
            component,
            AuditKind::HostLimit {
                function: "airssys:host/key-value#set".into(),
                limit: "quota".into(),
            },
        )
    }

    fn other(component: &str, at_ms: u64) -> AuditEvent {
        AuditEvent::at(
            UNIX_EPOCH + Duration::from_millis(at_ms),
            component,
            AuditKind::Instantiated { instance: 1 },
        )
    }

    fn suppressed(events: &[AuditEvent]) -> Vec<(String, String, u64, u64, u64)> {
        let ms = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        events
            .iter()
            .filter_map(|e| match &e.kind {
                AuditKind::Suppressed {
                    of,
                    count,
                    from,
                    to,
                } => Some((
                    e.component.to_string(),
                    of.clone(),
                    *count,
                    ms(*from),
                    ms(*to),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_burst_is_recorded_and_the_rest_counted_when_the_window_ends() {
        let memory = Arc::new(MemorySink::new());
        let sink = DenialThrottle::with_limits(memory.clone(), 3, Duration::from_secs(1));
        for i in 0..10 {
            sink.record(denied("a", 100 + i)).unwrap();
        }
        assert_eq!(memory.events().len(), 3, "the burst, nothing more yet");
        // The first event after the window (of any kind) brings the count.
        sink.record(other("b", 1_100)).unwrap();
        let events = memory.take();
        assert_eq!(events.len(), 5);
        assert_eq!(
            suppressed(&events),
            [("a".into(), "capability-denied".into(), 7, 103, 109)]
        );
        assert!(matches!(events[4].kind, AuditKind::Instantiated { .. }));
        // A new window records a new burst.
        for i in 0..4 {
            sink.record(denied("a", 1_200 + i)).unwrap();
        }
        assert_eq!(memory.events().len(), 3);
        drop(sink);
        assert_eq!(
            suppressed(&memory.events()),
            [("a".into(), "capability-denied".into(), 1, 1_203, 1_203)],
            "dropping the throttle records what it still counts"
        );
    }

    #[test]
    fn components_and_kinds_have_windows_of_their_own() {
        let memory = Arc::new(MemorySink::new());
        let sink = DenialThrottle::with_limits(memory.clone(), 2, Duration::from_secs(1));
        for i in 0..5 {
            sink.record(denied("a", i)).unwrap();
            sink.record(denied("b", i)).unwrap();
            sink.record(limit("a", i)).unwrap();
            sink.record(other("a", i)).unwrap();
        }
        // 2 + 2 + 2 refusals and every other event.
        assert_eq!(memory.events().len(), 6 + 5);
        sink.flush().unwrap();
        let mut counts = suppressed(&memory.events());
        counts.sort();
        assert_eq!(
            counts,
            [
                ("a".into(), "capability-denied".into(), 3, 2, 4),
                ("a".into(), "host-limit".into(), 3, 2, 4),
                ("b".into(), "capability-denied".into(), 3, 2, 4),
            ]
        );
        // A flush does not reopen the burst of a window still running.
        memory.take();
        sink.record(denied("a", 500)).unwrap();
        assert!(memory.events().is_empty());
        sink.flush().unwrap();
        assert_eq!(
            suppressed(&memory.events()),
            [("a".into(), "capability-denied".into(), 1, 500, 500)]
        );
    }

    #[test]
    fn a_flood_of_ten_thousand_is_one_burst_and_one_count() {
        let memory = Arc::new(MemorySink::new());
        let sink = DenialThrottle::new(memory.clone());
        for i in 0..10_000 {
            // Ten thousand denials within 100 ms.
            sink.record(denied("loop", i / 100)).unwrap();
        }
        sink.flush().unwrap();
        let events = memory.events();
        let denials = events
            .iter()
            .filter(|e| matches!(e.kind, AuditKind::CapabilityDenied { .. }))
            .count();
        assert_eq!(denials, DENIAL_BURST as usize);
        assert_eq!(
            suppressed(&events),
            [("loop".into(), "capability-denied".into(), 9_900, 1, 99)]
        );
    }

    #[test]
    fn other_events_pass_through_untouched() {
        let memory = Arc::new(MemorySink::new());
        let sink = DenialThrottle::with_limits(memory.clone(), 0, Duration::from_secs(1));
        for i in 0..1_000 {
            sink.record(other("a", i)).unwrap();
        }
        assert_eq!(memory.events().len(), 1_000);
        assert!(sink.records_calls());
    }
}
