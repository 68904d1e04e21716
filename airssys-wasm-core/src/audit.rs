//! Audit events and where they go.
//!
//! Every lifecycle step (load, instantiate, call, return), every trap and
//! limit hit, and every capability decision becomes an [`AuditEvent`] handed
//! to an [`AuditSink`]. A sink that cannot record fails the operation that
//! produced the event: nothing is lost silently.
//!
//! ```
//! use airssys_wasm_core::{AuditKind, AuditSink, MemorySink};
//!
//! let sink = MemorySink::new();
//! sink.record(airssys_wasm_core::AuditEvent::new(
//!     "greeter",
//!     AuditKind::Instantiated { instance: 1 },
//! )).unwrap();
//! assert_eq!(sink.events().len(), 1);
//! ```
//!
//! What an event records is bounded: every string in it is capped at
//! [`MAX_AUDIT_TEXT`] bytes, marked where it was cut ([`text`]), and a
//! [`DenialThrottle`] keeps a flood of refusals to a burst and a count
//! ([`throttle`]). Text shown on a terminal is escaped with [`Escaped`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

pub mod text;
pub mod throttle;

pub use text::{Escaped, Escaper, MAX_AUDIT_TEXT, cap, capped};
pub use throttle::{DENIAL_BURST, DENIAL_WINDOW, DenialThrottle};

use crate::capability::CapabilityKind;
use crate::error::ErrorClass;
use crate::limits::{LimitKind, Usage};

/// One audited fact: when, which component, what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// The component's name (its audit identity).
    pub component: Arc<str>,
    /// What happened.
    #[serde(flatten)]
    pub kind: AuditKind,
}

impl AuditEvent {
    /// An event of `kind` for `component`, stamped now.
    pub fn new(component: impl Into<Arc<str>>, kind: AuditKind) -> Self {
        Self::at(SystemTime::now(), component, kind)
    }

    /// An event of `kind` for `component`, stamped `time` (from an
    /// [`AuditClock`], say).
    ///
    /// Every string of the event (the component's name included) longer
    /// than [`MAX_AUDIT_TEXT`] bytes is cut to it and marked (see
    /// [`cap`]); format large values with [`capped`] instead of building
    /// them whole first.
    pub fn at(time: SystemTime, component: impl Into<Arc<str>>, mut kind: AuditKind) -> Self {
        let mut component = component.into();
        cap_arc(&mut component);
        kind.cap_text();
        Self {
            time,
            component,
            kind,
        }
    }
}

fn cap_string(s: &mut String) {
    if text::over(s) {
        *s = cap(std::mem::take(s));
    }
}

fn cap_arc(s: &mut Arc<str>) {
    if text::over(s) {
        *s = cap(s.to_string()).into();
    }
}

impl AuditKind {
    /// Caps every string of the event at [`MAX_AUDIT_TEXT`].
    fn cap_text(&mut self) {
        match self {
            Self::Loaded {
                digest, backend, ..
            } => {
                cap_string(digest);
                cap_string(backend);
            }
            Self::LoadRejected { reason, .. } | Self::CacheRefused { reason } => cap_string(reason),
            Self::InstantiationFailed { error, .. } => cap_string(error),
            Self::Instantiated { .. } | Self::Dropped { .. } => {}
            Self::Called { function, .. } | Self::Returned { function, .. } => cap_arc(function),
            Self::Trapped {
                function, error, ..
            }
            | Self::LimitHit {
                function, error, ..
            } => {
                cap_arc(function);
                cap_string(error);
            }
            Self::CapabilityAllowed { request, .. } => cap_string(request),
            Self::CapabilityDenied {
                request, outcome, ..
            } => {
                cap_string(request);
                cap_string(outcome);
            }
            Self::LinkCall {
                callee,
                function,
                outcome,
            } => {
                cap_string(callee);
                cap_string(function);
                cap_string(outcome);
            }
            Self::HostLimit { function, limit } => {
                cap_string(function);
                cap_string(limit);
            }
            Self::Suppressed { of, .. } => cap_string(of),
            Self::Lifecycle { detail, .. } => cap_string(detail),
            Self::HttpRequest {
                route,
                request,
                error,
                ..
            } => {
                cap_string(route);
                cap_string(request);
                cap_string(error);
            }
        }
    }
}

/// Wall-clock stamps for audit events, derived from monotonic readings the
/// caller takes anyway.
///
/// Reading the system clock costs about as much as a small guest call, and
/// a call needs a monotonic start time for its elapsed time: the clock turns
/// that [`Instant`] into wall-clock time from an anchor (a pair of readings
/// of both clocks), re-anchored to the system clock whenever the anchor is
/// older than [`AuditClock::RESYNC`]. A step of the system clock shows in
/// the stamps within that time.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use airssys_wasm_core::AuditClock;
///
/// let mut clock = AuditClock::new();
/// let start = Instant::now();
/// let called = clock.wall(start);
/// let skew = called.duration_since(SystemTime::now()).unwrap_or_else(|e| e.duration());
/// assert!(skew < Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AuditClock {
    wall: SystemTime,
    mono: Instant,
}

impl AuditClock {
    /// How old an anchor may be before the next stamp reads the system clock
    /// again.
    pub const RESYNC: Duration = Duration::from_secs(1);

    /// A clock anchored now.
    pub fn new() -> Self {
        Self::anchored(SystemTime::now(), Instant::now())
    }

    /// A clock whose anchor says that `mono` was `wall`.
    pub fn anchored(wall: SystemTime, mono: Instant) -> Self {
        Self { wall, mono }
    }

    /// The wall-clock time of `at`. An `at` before the anchor, or more than
    /// [`AuditClock::RESYNC`] after it, re-anchors the clock on the system
    /// clock (taken as the time of `at`).
    pub fn wall(&mut self, at: Instant) -> SystemTime {
        match at.checked_duration_since(self.mono) {
            Some(since) if since <= Self::RESYNC => self.wall + since,
            _ => {
                *self = Self::anchored(SystemTime::now(), at);
                self.wall
            }
        }
    }
}

impl Default for AuditClock {
    fn default() -> Self {
        Self::new()
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A component was loaded and compiled.
    Loaded {
        /// Its digest, `blake3:<hex>`.
        digest: String,
        /// Its size in bytes.
        size: u64,
        /// The backend that compiled it.
        backend: String,
    },
    /// The backend refused the compiled artifact its cache held for a
    /// component and compiled the component from its bytes instead (the
    /// load went on; a [`AuditKind::Loaded`] event follows). Something
    /// wrote to the cache that should not have: the artifact failed its
    /// authentication, was a symbolic link, or the engine refused it.
    CacheRefused {
        /// What was refused and why, as the backend says it (the
        /// artifact's path, the cause, whether it was replaced).
        reason: String,
    },
    /// A component was refused at load.
    LoadRejected {
        /// Why, as the error says it.
        reason: String,
        /// The class of the error.
        class: ErrorClass,
    },
    /// An instance was created.
    Instantiated {
        /// The instance's number, unique within the runtime.
        instance: u64,
    },
    /// Creating an instance failed.
    InstantiationFailed {
        /// Why.
        error: String,
        /// The class of the error.
        class: ErrorClass,
    },
    /// An instance was dropped.
    Dropped {
        /// The instance's number.
        instance: u64,
    },
    /// An export is about to be called.
    Called {
        /// The instance's number.
        instance: u64,
        /// The export.
        function: Arc<str>,
    },
    /// An export returned normally.
    Returned {
        /// The instance's number.
        instance: u64,
        /// The export.
        function: Arc<str>,
        /// What the call used.
        usage: Usage,
    },
    /// An export trapped or failed (not a limit: see [`AuditKind::LimitHit`]).
    Trapped {
        /// The instance's number.
        instance: u64,
        /// The export.
        function: Arc<str>,
        /// The error, as the caller sees it.
        error: String,
        /// The class of the error.
        class: ErrorClass,
    },
    /// An export was stopped by a limit.
    LimitHit {
        /// The instance's number.
        instance: u64,
        /// The export.
        function: Arc<str>,
        /// Which limit.
        limit: LimitKind,
        /// The error, as the caller sees it.
        error: String,
    },
    /// A capability check allowed a request.
    CapabilityAllowed {
        /// The kind of capability.
        capability: CapabilityKind,
        /// The request, e.g. `env HOME`.
        request: String,
    },
    /// A capability check denied a request.
    CapabilityDenied {
        /// The kind of capability.
        capability: CapabilityKind,
        /// The request, e.g. `read /etc/passwd`.
        request: String,
        /// What the guest got instead (an error, an empty value, ...).
        outcome: String,
    },
    /// A call across a run-time link, recorded with the caller's identity.
    LinkCall {
        /// The provider component.
        callee: String,
        /// The function, `interface#function`.
        function: String,
        /// `ok`, or the error.
        outcome: String,
    },
    /// A host-interface call was refused by a limit of the host (a
    /// key-value quota, a response size, the log rate), not by a grant.
    HostLimit {
        /// The host function, `interface#function`.
        function: String,
        /// Which limit, and by how much.
        limit: String,
    },
    /// Refusals of one kind by this component beyond the burst a
    /// [`DenialThrottle`] records per window (the runtime's audit layer:
    /// [`DENIAL_BURST`] per [`DENIAL_WINDOW`]) were counted, not recorded
    /// one by one. The guest was refused every time all the same.
    Suppressed {
        /// The kind of the events not recorded: `capability-denied` or
        /// `host-limit`.
        of: String,
        /// How many were not recorded.
        count: u64,
        /// When the first of them happened.
        #[serde(with = "rfc3339")]
        from: SystemTime,
        /// When the last of them happened.
        #[serde(with = "rfc3339")]
        to: SystemTime,
    },
    /// A step in the life of a deployed version (the lifecycle crate,
    /// `airssys-wasm-lifecycle`): recorded under the identity of the
    /// version concerned.
    Lifecycle {
        /// What happened.
        step: LifecycleStep,
        /// The rest, in words: the other version, the share, the reason,
        /// the new state.
        detail: String,
    },
    /// An HTTP request served by the component's `wasi:http` handler
    /// (`airssys-wasm-http`), or refused on its behalf: one event per
    /// request, under the identity (tenant included) of the component the
    /// route chose.
    HttpRequest {
        /// The route that chose the component, as the serve configuration
        /// names it.
        route: String,
        /// The method and the path, e.g. `GET /hello`.
        request: String,
        /// The status the client got.
        status: u16,
        /// What the request used: fuel, peak memory, and the time from
        /// its arrival to the handler's end (wasm and host time together).
        usage: Usage,
        /// Why the handler did not answer by itself (a limit, a trap, the
        /// deadline, a refusal before it ran); empty when it did.
        error: String,
    },
}

/// The steps of [`AuditKind::Lifecycle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LifecycleStep {
    /// A version was added to the registry.
    Registered,
    /// A version was removed from the registry.
    Removed,
    /// A deployment started serving a version.
    Deployed,
    /// A deployment's routing switched to this version (from the detail's).
    Swapped,
    /// This version became a deployment's canary (the detail says its share).
    Canary,
    /// The canary was promoted: this version serves every call.
    Promoted,
    /// This version (the canary) was rolled back: the detail says why.
    RolledBack,
    /// The version crashed and will be restarted (attempt, delay, cause).
    Restarting,
    /// The version was restarted: fresh instances serve it.
    Restarted,
    /// The version stopped and will not be restarted.
    Stopped,
    /// The version crashed more often than its restart intensity allows,
    /// or could not be restarted: callers get `Unavailable`.
    Failed,
    /// The version's health changed (the detail says from what to what).
    Health,
    /// The deployment was removed: nothing serves it any more.
    Undeployed,
}

impl LifecycleStep {
    /// The step's name, as the audit log spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Removed => "removed",
            Self::Deployed => "deployed",
            Self::Swapped => "swapped",
            Self::Canary => "canary",
            Self::Promoted => "promoted",
            Self::RolledBack => "rolled-back",
            Self::Restarting => "restarting",
            Self::Restarted => "restarted",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
            Self::Health => "health",
            Self::Undeployed => "undeployed",
        }
    }
}

impl std::fmt::Display for LifecycleStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::error::AuditError;

/// Where audit events go.
///
/// Implementations must be cheap on the caller's path; a sink that needs I/O
/// should hand events to a writer thread.
pub trait AuditSink: Send + Sync {
    /// Records one event. An error fails the operation that produced it.
    fn record(&self, event: AuditEvent) -> Result<(), AuditError>;

    /// Whether the sink keeps call events ([`AuditKind::Called`] and
    /// [`AuditKind::Returned`]) right now. When it says no, a runtime does
    /// not build them, nor read the clock to stamp them: that is most of
    /// what auditing costs a small call. Every other event (denials,
    /// traps, limit hits, loads, instances) is always handed to the sink.
    ///
    /// The default is `true`. A [`TracingSink`] says no while no `tracing`
    /// subscriber takes INFO events of target `airssys_wasm::audit`, which
    /// is when it would drop them anyway.
    fn records_calls(&self) -> bool {
        true
    }

    /// Makes every recorded event durable (or at least written out).
    fn flush(&self) -> Result<(), AuditError> {
        Ok(())
    }
}

impl<S: AuditSink + ?Sized> AuditSink for Arc<S> {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        (**self).record(event)
    }

    fn records_calls(&self) -> bool {
        (**self).records_calls()
    }

    fn flush(&self) -> Result<(), AuditError> {
        (**self).flush()
    }
}

/// Keeps events in memory; for tests and for applications that inspect
/// their own audit trail.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every event recorded so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.lock().clone()
    }

    /// Removes and returns every event recorded so far.
    pub fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AuditEvent>> {
        // A panic while holding the lock cannot leave the Vec half-written.
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl AuditSink for MemorySink {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.lock().push(event);
        Ok(())
    }
}

/// Emits each event as a `tracing` event at target `airssys_wasm::audit`
/// (denials, traps and suppressed counts at WARN, the rest at INFO).
///
/// The fields are escaped ([`Escaped`]): whatever subscriber prints them,
/// a guest's text cannot start a line of its own or send a terminal
/// control sequence.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let component = Escaped(&*event.component);
        let kind = Escaped(AsDebug(&event.kind));
        match &event.kind {
            AuditKind::CapabilityDenied { .. }
            | AuditKind::HostLimit { .. }
            | AuditKind::Trapped { .. }
            | AuditKind::LimitHit { .. }
            | AuditKind::LoadRejected { .. }
            | AuditKind::CacheRefused { .. }
            | AuditKind::InstantiationFailed { .. }
            | AuditKind::Suppressed { .. }
            | AuditKind::HttpRequest { status: 500.., .. }
            | AuditKind::Lifecycle {
                step: LifecycleStep::Failed | LifecycleStep::RolledBack | LifecycleStep::Restarting,
                ..
            } => {
                tracing::warn!(target: "airssys_wasm::audit", component = %component, event = %kind)
            }
            _ => {
                tracing::info!(target: "airssys_wasm::audit", component = %component, event = %kind)
            }
        }
        Ok(())
    }

    fn records_calls(&self) -> bool {
        tracing::enabled!(target: "airssys_wasm::audit", tracing::Level::INFO)
    }
}

/// Displays a value by its `Debug` form.
struct AsDebug<'a, T>(&'a T);

impl<T: std::fmt::Debug> std::fmt::Display for AsDebug<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn the_tracing_sink_keeps_call_events_only_while_a_subscriber_takes_info() {
        // No subscriber: the events would be dropped.
        assert!(!TracingSink.records_calls());
        let subscriber = |level| {
            tracing_subscriber::fmt()
                .with_max_level(level)
                .with_writer(std::io::sink)
                .finish()
        };
        tracing::subscriber::with_default(subscriber(tracing::Level::INFO), || {
            assert!(TracingSink.records_calls());
        });
        tracing::subscriber::with_default(subscriber(tracing::Level::WARN), || {
            assert!(!TracingSink.records_calls());
        });
        // Sinks that store events keep every call.
        assert!(MemorySink::new().records_calls());
        assert!(Arc::new(MemorySink::new()).records_calls());
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_tracing_sink_writes_guest_text_escaped() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            TracingSink
                .record(AuditEvent::new(
                    "evil\nFAKE LINE",
                    AuditKind::CapabilityDenied {
                        capability: CapabilityKind::KeyValue,
                        request: "kv \u{1b}[2J\u{202e}\nFAKE LINE".into(),
                        outcome: "denied".into(),
                    },
                ))
                .unwrap();
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains(['\u{1b}', '\u{202e}']), "{text:?}");
        assert!(text.contains(r"component=evil\nFAKE LINE"), "{text}");
        assert!(text.contains(r"kv \u{1b}[2J\u{202e}\nFAKE LINE"), "{text}");
    }

    #[test]
    fn a_refused_cache_artifact_is_a_cache_refused_event_in_json() {
        let event = AuditEvent::at(
            UNIX_EPOCH,
            "victim",
            AuditKind::CacheRefused {
                reason: "cached artifact `x.cwasm`: tag mismatch".into(),
            },
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "cache-refused");
        assert_eq!(json["reason"], "cached artifact `x.cwasm`: tag mismatch");
        let back: AuditEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn a_fresh_anchor_gives_stamps_from_the_monotonic_reading() {
        let now = Instant::now();
        let mut clock = AuditClock::anchored(UNIX_EPOCH, now);
        let later = now + Duration::from_millis(250);
        assert_eq!(clock.wall(later), UNIX_EPOCH + Duration::from_millis(250));
        assert_eq!(clock.wall(now), UNIX_EPOCH);
    }

    #[test]
    fn an_old_anchor_is_replaced_by_the_system_clock() {
        let now = Instant::now();
        // The anchor claims `now` was 1970: an old anchor must not survive.
        let mut clock = AuditClock::anchored(UNIX_EPOCH, now);
        let late = now + AuditClock::RESYNC + Duration::from_millis(1);
        let stamp = clock.wall(late);
        assert!(
            stamp > UNIX_EPOCH + Duration::from_secs(1_000_000_000),
            "{stamp:?}"
        );
        // The new anchor serves the next stamps.
        assert_eq!(
            clock.wall(late + Duration::from_millis(5)),
            stamp + Duration::from_millis(5)
        );
        // A reading from before the anchor re-anchors too.
        let mut clock = AuditClock::anchored(UNIX_EPOCH, late);
        assert!(clock.wall(now) > UNIX_EPOCH + Duration::from_secs(1_000_000_000));
    }
}

mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_micros(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339(&text).map_err(D::Error::custom)
    }
}
