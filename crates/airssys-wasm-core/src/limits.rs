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
