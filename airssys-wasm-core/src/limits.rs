//! Resource limits and resource usage.
//!
//! [`Limits`] mean the same on every backend: the same memory limit stops
//! the same allocation, the same fuel budget stops the same loop.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One MiB, in bytes.
pub const MIB: u64 = 1024 * 1024;

/// The resource limits of one component instance.
///
/// ```
/// use std::time::Duration;
/// use airssys_wasm_core::Limits;
///
/// let limits = Limits::default()
///     .with_fuel(10_000_000)
///     .with_timeout(Duration::from_secs(5));
/// assert_eq!(limits.memory_bytes, Some(64 * 1024 * 1024));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of linear memory an instance may hold, over all its memories.
    /// Growing past it traps with [`crate::Error::MemoryLimit`].
    /// Default: 64 MiB.
    pub memory_bytes: Option<u64>,
    /// Fuel per call. One unit is charged per executed WebAssembly
    /// instruction (most instructions; the backend's documentation gives the
    /// exceptions). Running out traps with [`crate::Error::OutOfFuel`].
    /// Default: unlimited.
    pub fuel: Option<u64>,
    /// Wall-clock time per call. Exceeding it interrupts the guest with
    /// [`crate::Error::Timeout`]. Default: unlimited.
    #[serde(with = "duration_opt")]
    pub timeout: Option<Duration>,
    /// Elements of all tables of an instance. Default: 10 000.
    pub table_elements: Option<u64>,
    /// Live instances of one component at once. Default: unlimited.
    pub max_instances: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: Some(64 * MIB),
            fuel: None,
            timeout: None,
            table_elements: Some(10_000),
            max_instances: None,
        }
    }
}

impl Limits {
    /// No limits at all. Only for trusted components.
    pub fn unlimited() -> Self {
        Self {
            memory_bytes: None,
            fuel: None,
            timeout: None,
            table_elements: None,
            max_instances: None,
        }
    }

    /// Sets the memory limit in bytes.
    pub fn with_memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Sets the fuel per call.
    pub fn with_fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Sets the wall-clock timeout per call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the table element limit.
    pub fn with_table_elements(mut self, elements: u64) -> Self {
        self.table_elements = Some(elements);
        self
    }

    /// Sets how many instances of one component may live at once.
    pub fn with_max_instances(mut self, instances: u32) -> Self {
        self.max_instances = Some(instances);
        self
    }
}

/// Which limit was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimitKind {
    /// [`Limits::fuel`]
    Fuel,
    /// [`Limits::timeout`]
    Timeout,
    /// [`Limits::memory_bytes`]
    Memory,
    /// [`Limits::table_elements`]
    TableElements,
    /// [`Limits::max_instances`]
    Instances,
    /// The engine's call-stack limit.
    Stack,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fuel => "fuel",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
            Self::TableElements => "table-elements",
            Self::Instances => "instances",
            Self::Stack => "stack",
        })
    }
}

/// What one call used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Fuel consumed by the call (`None` when fuel is not metered).
    pub fuel_consumed: Option<u64>,
    /// The largest linear memory size the instance has reached, in bytes.
    pub peak_memory_bytes: u64,
    /// Wall-clock time of the call.
    #[serde(with = "duration_micros")]
    pub elapsed: Duration,
}

mod duration_micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros().try_into().unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

mod duration_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|ms| ms.map(Duration::from_millis))
    }
}

/// Memory and table growth of one instance, checked against its [`Limits`]:
/// the engine-free half of every backend's resource limiter, so the same
/// growth is allowed, refused or stopped on every engine.
///
/// ```
/// use airssys_wasm_core::{GrowthLimiter, LimitKind, Limits};
///
/// let mut g = GrowthLimiter::new(&Limits::default().with_memory_bytes(1 << 20));
/// assert_eq!(g.memory_growing(0, 65536, None), Ok(true));
/// // Past the memory's own maximum: `memory.grow` returns -1, no limit hit.
/// assert_eq!(g.memory_growing(65536, 1 << 30, Some(1 << 20)), Ok(false));
/// let hit = g.memory_growing(65536, 2 << 20, None).unwrap_err();
/// assert_eq!((hit.kind, hit.limit, hit.requested), (LimitKind::Memory, 1 << 20, 2 << 20));
/// assert_eq!(g.peak_memory_bytes(), 65536);
/// ```
#[derive(Clone, Debug, Default)]
pub struct GrowthLimiter {
    memory_limit: Option<u64>,
    table_limit: Option<u64>,
    memory_total: u64,
    memory_peak: u64,
    table_total: u64,
}

/// A growth that would pass a limit; the backend stops the guest with
/// [`LimitExceeded::into_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitExceeded {
    /// [`LimitKind::Memory`] or [`LimitKind::TableElements`].
    pub kind: LimitKind,
    /// The limit.
    pub limit: u64,
    /// What the growth asked for in all.
    pub requested: u64,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} limit {} exceeded (asked for {})",
            self.kind, self.limit, self.requested
        )
    }
}

impl std::error::Error for LimitExceeded {}

impl LimitExceeded {
    /// The error the call of `function` fails with.
    pub fn into_error(self, function: String) -> crate::Error {
        match self.kind {
            LimitKind::TableElements => crate::Error::TableLimit {
                function,
                limit: self.limit,
                requested: self.requested,
            },
            _ => crate::Error::MemoryLimit {
                function,
                limit: self.limit,
                requested: self.requested,
            },
        }
    }
}

/// One memory or table of an instance grows from `current` to `desired`
/// (its own `maximum` aside): `Ok(false)` past that maximum, an error when
/// the instance's `total` would pass `limit`, else the total is updated.
fn grow(
    total: &mut u64,
    limit: Option<u64>,
    kind: LimitKind,
    (current, desired, maximum): (usize, usize, Option<usize>),
) -> Result<bool, LimitExceeded> {
    if maximum.is_some_and(|max| desired > max) {
        return Ok(false);
    }
    let grown = *total - (current as u64).min(*total) + desired as u64;
    if let Some(limit) = limit
        && grown > limit
    {
        return Err(LimitExceeded {
            kind,
            limit,
            requested: grown,
        });
    }
    *total = grown;
    Ok(true)
}

impl GrowthLimiter {
    /// Accounting for an instance with these limits.
    pub fn new(limits: &Limits) -> Self {
        Self {
            memory_limit: limits.memory_bytes,
            table_limit: limits.table_elements,
            memory_total: 0,
            memory_peak: 0,
            table_total: 0,
        }
    }

    /// A memory grows from `current` to `desired` bytes. `Ok(false)` when
    /// `desired` passes the memory's own `maximum` (`memory.grow` returns
    /// -1, as the spec says); an error when all memories together would
    /// pass the memory limit.
    pub fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimitExceeded> {
        let grown = grow(
            &mut self.memory_total,
            self.memory_limit,
            LimitKind::Memory,
            (current, desired, maximum),
        )?;
        self.memory_peak = self.memory_peak.max(self.memory_total);
        Ok(grown)
    }

    /// A table grows from `current` to `desired` elements (a new table
    /// from 0). `Ok(false)` when `desired` passes the table's own `maximum`
    /// (`table.grow` returns -1); an error when the instance's tables
    /// together would hold more elements than the table limit, which is per
    /// instance, like the memory limit.
    pub fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimitExceeded> {
        grow(
            &mut self.table_total,
            self.table_limit,
            LimitKind::TableElements,
            (current, desired, maximum),
        )
    }

    /// The most linear memory the instance has held.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.memory_peak
    }
}
