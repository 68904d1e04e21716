//! Every wait in WASI ends at the call's deadline, and without the clocks
//! grant time does not pass for the guest.
//!
//! wasmtime's epoch interruption stops guest code, not host code: a guest
//! blocked in `wasi:io/poll` (a sleep, a read of the host's stdin, a
//! socket) would outlive its timeout. So this backend replaces
//! wasmtime-wasi's `wasi:io/poll` and the blocking methods of
//! `wasi:io/streams` with the same operations bounded by the deadline of
//! the call that is running: when it comes, the wait ends and the call
//! fails with [`airssys_wasm_core::Error::Timeout`].
//!
//! It also replaces the timers of `wasi:clocks/monotonic-clock` for a guest
//! without the clocks grant: its clock reads 0 and never advances, so a
//! timer of a non-zero duration never fires (`ready()` stays `false`: no
//! real time leaks through it), and a wait on such timers alone fails at
//! once with a clocks denial instead of hanging. Both backends behave so.

use std::collections::HashSet;
use std::future::Future;
use std::time::Instant;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::clocks::{WasiClocksCtx, WasiClocksCtxView};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynPollable, Pollable, StreamError, StreamResult};
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams as async_streams;
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    HostInputStream as In, HostOutputStream as Out,
};

/// The call's deadline came while the guest waited in the host.
#[derive(Debug)]
pub(crate) struct CallDeadline;

impl std::fmt::Display for CallDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline came while the guest waited in a host call")
    }
}

impl std::error::Error for CallDeadline {}

/// The guest waited on timers of the frozen clock alone.
#[derive(Debug)]
pub(crate) struct FrozenWait;

impl std::fmt::Display for FrozenWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the guest waited on a timer of the frozen clock, which never fires")
    }
}

impl std::error::Error for FrozenWait {}

/// What bounds the waits of one store.
#[derive(Default)]
pub(crate) struct Waits {
    /// When the running call must end.
    pub deadline: Option<Instant>,
    /// Whether the guest has real clocks.
    pub clocks: bool,
    /// The pollables of frozen-clock timers (their table indices).
    pub frozen: HashSet<u32>,
}

/// The store's table and waits, for the replaced interfaces.
pub(crate) struct Bounded<'a> {
    table: &'a mut ResourceTable,
    waits: &'a mut Waits,
    clocks: &'a mut WasiClocksCtx,
}

impl<'a> Bounded<'a> {
    pub(crate) fn new(
        table: &'a mut ResourceTable,
        waits: &'a mut Waits,
        clocks: &'a mut WasiClocksCtx,
    ) -> Self {
        Self {
            table,
            waits,
            clocks,
        }
    }

    fn frozen(&self, p: &Resource<DynPollable>) -> bool {
        self.waits.frozen.contains(&p.rep())
    }
}

struct BoundedIo;

impl HasData for BoundedIo {
    type Data<'a> = Bounded<'a>;
}

/// Replaces wasmtime-wasi's poll, blocking stream methods and monotonic
/// timers in `linker` (which has WASI already); `view` gives the store's
/// [`Bounded`] view.
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> Bounded<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    poll::add_to_linker::<T, BoundedIo>(linker, view)?;
    streams::add_to_linker::<T, BoundedIo>(linker, view)?;
    monotonic_clock::add_to_linker::<T, BoundedIo>(linker, view)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs `f` on wasmtime-wasi's runtime until it ends or `deadline` comes.
fn until<T>(
    deadline: Option<Instant>,
    f: impl Future<Output = wasmtime::Result<T>>,
) -> wasmtime::Result<T> {
    match deadline {
        None => in_tokio(f),
        Some(d) => {
            in_tokio(async { tokio::time::timeout_at(tokio::time::Instant::from_std(d), f).await })
                .unwrap_or_else(|_| Err(CallDeadline.into()))
        }
    }
}

/// [`until`] for stream operations.
fn until_stream<T>(
    deadline: Option<Instant>,
    f: impl Future<Output = StreamResult<T>>,
) -> StreamResult<T> {
    match deadline {
        None => in_tokio(f),
        Some(d) => {
            in_tokio(async { tokio::time::timeout_at(tokio::time::Instant::from_std(d), f).await })
                .unwrap_or_else(|_| Err(StreamError::Trap(CallDeadline.into())))
        }
    }
}

impl poll::Host for Bounded<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        if !pollables.is_empty() && pollables.iter().all(|p| self.frozen(p)) {
            return Err(FrozenWait.into());
        }
        until(
            self.waits.deadline,
            async_poll::Host::poll(self.table, pollables),
        )
    }
}

impl poll::HostPollable for Bounded<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        in_tokio(async_poll::HostPollable::ready(self.table, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        if self.frozen(&pollable) {
            return Err(FrozenWait.into());
        }
        until(
            self.waits.deadline,
            async_poll::HostPollable::block(self.table, pollable),
        )
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        self.waits.frozen.remove(&pollable.rep());
        async_poll::HostPollable::drop(self.table, pollable)
    }
}

type InputStream = wasmtime_wasi::p2::DynInputStream;
type OutputStream = wasmtime_wasi::p2::DynOutputStream;

impl streams::Host for Bounded<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        Ok(
            match async_streams::Host::convert_stream_error(self.table, err)? {
                async_streams::StreamError::LastOperationFailed(e) => {
                    streams::StreamError::LastOperationFailed(e)
                }
                async_streams::StreamError::Closed => streams::StreamError::Closed,
            },
        )
    }
}

impl streams::HostOutputStream for Bounded<'_> {
    fn drop(&mut self, stream: Resource<OutputStream>) -> wasmtime::Result<()> {
        in_tokio(Out::drop(self.table, stream))
    }

    fn check_write(&mut self, stream: Resource<OutputStream>) -> StreamResult<u64> {
        Out::check_write(self.table, stream)
    }

    fn write(&mut self, stream: Resource<OutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        Out::write(self.table, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<OutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        until_stream(
            self.waits.deadline,
            Out::blocking_write_and_flush(self.table, stream, bytes),
        )
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<OutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        until_stream(
            self.waits.deadline,
            Out::blocking_write_zeroes_and_flush(self.table, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<OutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        Out::subscribe(self.table, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<OutputStream>, len: u64) -> StreamResult<()> {
        Out::write_zeroes(self.table, stream, len)
    }

    fn flush(&mut self, stream: Resource<OutputStream>) -> StreamResult<()> {
        Out::flush(self.table, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<OutputStream>) -> StreamResult<()> {
        until_stream(self.waits.deadline, Out::blocking_flush(self.table, stream))
    }

    fn splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        Out::splice(self.table, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        until_stream(
            self.waits.deadline,
            Out::blocking_splice(self.table, dst, src, len),
        )
    }
}

impl streams::HostInputStream for Bounded<'_> {
    fn drop(&mut self, stream: Resource<InputStream>) -> wasmtime::Result<()> {
        in_tokio(In::drop(self.table, stream))
    }

    fn read(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        In::read(self.table, stream, len)
    }

    fn blocking_read(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        until_stream(
            self.waits.deadline,
            In::blocking_read(self.table, stream, len),
        )
    }

    fn skip(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        In::skip(self.table, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        until_stream(
            self.waits.deadline,
            In::blocking_skip(self.table, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<InputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        In::subscribe(self.table, stream)
    }
}

/// A timer of the frozen clock: never ready.
struct FrozenTimer;

#[wasmtime_wasi::async_trait]
impl Pollable for FrozenTimer {
    async fn ready(&mut self) {
        std::future::pending::<()>().await
    }
}

impl Bounded<'_> {
    fn clocks_view(&mut self) -> WasiClocksCtxView<'_> {
        WasiClocksCtxView {
            ctx: self.clocks,
            table: self.table,
        }
    }

    /// A timer that never fires, for a guest whose clock is frozen.
    fn frozen_timer(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let timer = self.table.push(FrozenTimer)?;
        let p = wasmtime_wasi::p2::subscribe(self.table, timer)?;
        self.waits.frozen.insert(p.rep());
        Ok(p)
    }
}

impl monotonic_clock::Host for Bounded<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::now(&mut self.clocks_view())
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        monotonic_clock::Host::resolution(&mut self.clocks_view())
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        // The frozen clock reads 0: any instant after it never comes.
        if !self.waits.clocks && when > 0 {
            return self.frozen_timer();
        }
        monotonic_clock::Host::subscribe_instant(&mut self.clocks_view(), when)
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        if !self.waits.clocks && duration > 0 {
            return self.frozen_timer();
        }
        monotonic_clock::Host::subscribe_duration(&mut self.clocks_view(), duration)
    }
}
