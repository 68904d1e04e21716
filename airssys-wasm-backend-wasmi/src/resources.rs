//! Resource handles: one table per component instance inside the guest, and
//! the host's table of handles the embedder holds.
//!
//! Guest handles are what `[resource-new]` returns and what exports take and
//! return; index 0 is never a valid handle. Host handles are the indices in
//! [`airssys_wasm_core::ResourceHandle`]: an owned handle lifted out of the
//! guest moves here, and moves back when the embedder passes it as `own`.
//!
//! Borrows follow the canonical ABI's accounting: every call (an export
//! called by the host, a call between two components through a fused
//! adapter, a host import called by the guest) is a *scope*. Lending an
//! owned handle for a call (lifting it as a `borrow`) counts a lend on it
//! until the call's scope ends, and an owned handle with lends may be
//! neither dropped nor moved. A borrow handle given to the callee belongs to
//! the call's scope: the callee must drop it before it returns.

use std::collections::HashMap;

use wasmtime_environ::component::{ResourceIndex, RuntimeComponentInstanceIndex};

type R<T> = std::result::Result<T, String>;

/// What a guest handle is, as its users see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// An owned handle: dropping it runs the resource's destructor.
    Own { rep: u32, resource: ResourceIndex },
    /// A borrow lent for one call.
    Borrow { rep: u32, resource: ResourceIndex },
}

impl Slot {
    /// The resource's representation.
    pub fn rep(&self) -> u32 {
        match self {
            Slot::Own { rep, .. } | Slot::Borrow { rep, .. } => *rep,
        }
    }
}

/// One entry of a guest handle table.
#[derive(Clone, Copy, Debug)]
enum Entry {
    /// An owned handle, and how many calls it is lent to now.
    Own {
        rep: u32,
        resource: ResourceIndex,
        lends: u32,
    },
    /// A borrow handle, which belongs to the call `scope` (an index into
    /// [`Resources::scopes`]).
    Borrow {
        rep: u32,
        resource: ResourceIndex,
        scope: usize,
    },
}

impl Entry {
    fn resource(&self) -> ResourceIndex {
        match self {
            Entry::Own { resource, .. } | Entry::Borrow { resource, .. } => *resource,
        }
    }

    fn slot(&self) -> Slot {
        match *self {
            Entry::Own { rep, resource, .. } => Slot::Own { rep, resource },
            Entry::Borrow { rep, resource, .. } => Slot::Borrow { rep, resource },
        }
    }
}

/// The borrow accounting of one call.
#[derive(Default)]
struct Scope {
    /// Owned handles lent for the call, whose lends end with it.
    lenders: Vec<(RuntimeComponentInstanceIndex, u32)>,
    /// Borrow handles given to the callee that it has not dropped yet.
    borrows: u32,
}

/// Handles are below this bound (the canonical ABI's `Table.MAX_LENGTH`
/// is 2^28 - 1), which keeps their upper bits free, as wasmtime does.
const MAX_HANDLE: u32 = 1 << 28;

/// The handle table of one component instance, as the canonical ABI's
/// `Table`: handle `i + 1` is entry `i`; a freed entry is reused before a
/// new one is made, the most recently freed first (a free list threaded
/// through the free entries), so that handles are the same on every
/// implementation and inserting costs the same however full the table is.
#[derive(Default)]
struct Table {
    entries: Vec<Place>,
    /// The first free entry; `entries.len()` when none is.
    next: u32,
}

/// An entry of a [`Table`].
#[derive(Clone, Copy, Debug)]
enum Place {
    /// Free; `next` is the free entry after this one.
    Free {
        next: u32,
    },
    Used(Entry),
}

impl Table {
    fn insert(&mut self, entry: Entry) -> R<u32> {
        let at = self.next;
        if at + 1 >= MAX_HANDLE {
            return Err("cannot allocate another handle: index overflow".into());
        }
        if at as usize == self.entries.len() {
            self.entries.push(Place::Free { next: at + 1 });
        }
        match std::mem::replace(&mut self.entries[at as usize], Place::Used(entry)) {
            Place::Free { next } => self.next = next,
            Place::Used(_) => unreachable!("the free list holds free entries only"),
        }
        Ok(at + 1)
    }

    fn get_mut(&mut self, handle: u32) -> R<&mut Entry> {
        match handle
            .checked_sub(1)
            .and_then(|i| self.entries.get_mut(i as usize))
        {
            Some(Place::Used(entry)) => Ok(entry),
            _ => Err(format!("unknown handle index {handle}")),
        }
    }

    /// Frees the entry of `handle`, which is in use.
    fn remove(&mut self, handle: u32) {
        self.entries[handle as usize - 1] = Place::Free { next: self.next };
        self.next = handle - 1;
    }
}

/// Every handle table of one store, and the borrow scopes of the calls
/// under way.
#[derive(Default)]
pub(crate) struct Resources {
    guest: HashMap<RuntimeComponentInstanceIndex, Table>,
    host: Vec<Option<(ResourceIndex, u32)>>,
    /// The calls under way, innermost last.
    scopes: Vec<Scope>,
    /// By resource: whether the host defines it (a WASI resource) rather
    /// than a component; for messages.
    host_defined: Vec<bool>,
}

impl Resources {
    /// The tables of a store whose resources are `host_defined` (by
    /// resource index: whether the host, not a component, defines it).
    pub fn new(host_defined: Vec<bool>) -> Self {
        Self {
            host_defined,
            ..Self::default()
        }
    }

    fn describe(&self, resource: ResourceIndex) -> &'static str {
        if self.host_defined.get(resource.as_u32() as usize) == Some(&true) {
            "host resource"
        } else {
            "guest-defined resource"
        }
    }

    /// Adds a handle to `instance`'s table and returns it. A borrow
    /// belongs to the current call, which must be under way.
    pub fn insert_guest(&mut self, instance: RuntimeComponentInstanceIndex, slot: Slot) -> R<u32> {
        let entry = match slot {
            Slot::Own { rep, resource } => Entry::Own {
                rep,
                resource,
                lends: 0,
            },
            Slot::Borrow { rep, resource } => {
                let scope = self
                    .scopes
                    .len()
                    .checked_sub(1)
                    .ok_or("a borrow handle was made outside of any call")?;
                self.scopes[scope].borrows += 1;
                Entry::Borrow {
                    rep,
                    resource,
                    scope,
                }
            }
        };
        self.guest.entry(instance).or_default().insert(entry)
    }

    fn entry(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<&mut Entry> {
        let found = self
            .guest
            .get_mut(&instance)
            .ok_or_else(|| format!("unknown handle index {handle}"))?
            .get_mut(handle)?
            .resource();
        if found != resource {
            // wasmtime's words.
            let (expected, found) = (self.describe(resource), self.describe(found));
            let found = if expected == found {
                format!("a different {found}")
            } else {
                found.to_owned()
            };
            return Err(format!(
                "handle index {handle} used with the wrong type, expected {expected} but found \
                 {found}"
            ));
        }
        Ok(self
            .guest
            .get_mut(&instance)
            .and_then(|t| t.get_mut(handle).ok())
            .expect("the entry was just found"))
    }

    /// The entry behind a guest handle, checked against its type
    /// (`resource.rep`).
    pub fn get_guest(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<Slot> {
        Ok(self.entry(instance, handle, resource)?.slot())
    }

    /// Lends a guest handle for the current call (lifting a `borrow`): an
    /// owned handle counts the lend until the call's scope ends.
    pub fn lend_guest(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<Slot> {
        let scope = self.scopes.len().checked_sub(1);
        let entry = self.entry(instance, handle, resource)?;
        if let Entry::Own { lends, .. } = entry {
            let scope = scope.ok_or("a handle was lent outside of any call")?;
            *lends = lends
                .checked_add(1)
                .ok_or("cannot lend resource: too many active lends")?;
            let slot = entry.slot();
            self.scopes[scope].lenders.push((instance, handle));
            return Ok(slot);
        }
        Ok(entry.slot())
    }

    /// Moves an owned guest handle out of its table (lifting an `own`).
    pub fn take_guest(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<Slot> {
        match *self.entry(instance, handle, resource)? {
            Entry::Own { lends: 0, .. } => {}
            Entry::Own { .. } => return Err("cannot remove owned resource while borrowed".into()),
            Entry::Borrow { .. } => return Err("cannot lift own resource from a borrow".into()),
        }
        self.remove(instance, handle)
    }

    /// Drops a guest handle (`resource.drop`): an owned handle must not be
    /// lent; a borrow is done with for its call.
    pub fn drop_guest(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<Slot> {
        match *self.entry(instance, handle, resource)? {
            Entry::Own { lends: 0, .. } => {}
            Entry::Own { .. } => return Err("cannot remove owned resource while borrowed".into()),
            Entry::Borrow { scope, .. } => {
                if let Some(s) = self.scopes.get_mut(scope) {
                    s.borrows = s.borrows.saturating_sub(1);
                }
            }
        }
        self.remove(instance, handle)
    }

    fn remove(&mut self, instance: RuntimeComponentInstanceIndex, handle: u32) -> R<Slot> {
        let table = self
            .guest
            .get_mut(&instance)
            .expect("the handle was looked up in this table");
        let slot = table.get_mut(handle)?.slot();
        table.remove(handle);
        Ok(slot)
    }

    /// A call begins: borrows made and lends counted until
    /// [`Resources::exit_scope`] belong to it. Returns the depth before it,
    /// for [`Resources::abandon_scopes`].
    pub fn enter_scope(&mut self) -> usize {
        self.scopes.push(Scope::default());
        self.scopes.len() - 1
    }

    /// The innermost call ends: its lends end, and every borrow handle given
    /// to the callee must have been dropped.
    pub fn exit_scope(&mut self) -> R<()> {
        let scope = self.scopes.pop().ok_or("no call is under way")?;
        for (instance, handle) in scope.lenders {
            if let Some(Entry::Own { lends, .. }) = self
                .guest
                .get_mut(&instance)
                .and_then(|t| t.get_mut(handle).ok())
            {
                *lends -= 1;
            }
        }
        if scope.borrows > 0 {
            return Err("borrow handles still remain at the end of the call".into());
        }
        Ok(())
    }

    /// After a failed call: ends the scopes above `depth` without checks
    /// (the instance is poisoned).
    pub fn abandon_scopes(&mut self, depth: usize) {
        while self.scopes.len() > depth {
            let _ = self.exit_scope();
        }
    }

    /// Records a resource the host now owns; returns its host index.
    pub fn insert_host(&mut self, resource: ResourceIndex, rep: u32) -> u32 {
        self.host.push(Some((resource, rep)));
        self.host.len() as u32 - 1
    }

    fn host_entry(
        &mut self,
        index: u32,
        resource: ResourceIndex,
        name: &str,
    ) -> R<&mut Option<(ResourceIndex, u32)>> {
        let entry = self
            .host
            .get_mut(index as usize)
            .ok_or_else(|| format!("unknown resource handle {index}"))?;
        match entry {
            None => Err(format!(
                "resource handle {index} of `{name}` was already moved into an earlier call"
            )),
            Some((r, _)) if *r != resource => Err(format!(
                "resource handle {index} is not a `{name}` of this instance"
            )),
            Some(_) => Ok(entry),
        }
    }

    /// Removes a host handle to move it into the guest; returns the rep.
    pub fn take_host(&mut self, index: u32, resource: ResourceIndex, name: &str) -> R<u32> {
        let entry = self.host_entry(index, resource, name)?;
        Ok(entry.take().expect("host_entry returns occupied entries").1)
    }

    /// The rep of a host handle, which stays with the host (a borrow).
    pub fn host_rep(&mut self, index: u32, resource: ResourceIndex, name: &str) -> R<u32> {
        let entry = self.host_entry(index, resource, name)?;
        Ok(entry.expect("host_entry returns occupied entries").1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(i: u32) -> RuntimeComponentInstanceIndex {
        RuntimeComponentInstanceIndex::from_u32(i)
    }

    fn res(i: u32) -> ResourceIndex {
        ResourceIndex::from_u32(i)
    }

    fn own(rep: u32) -> Slot {
        Slot::Own {
            rep,
            resource: res(0),
        }
    }

    #[test]
    fn guest_handles_start_at_one_and_are_reused() {
        let mut r = Resources::default();
        let a = r.insert_guest(inst(0), own(10)).unwrap();
        let b = r.insert_guest(inst(0), own(11)).unwrap();
        assert_eq!((a, b), (1, 2));
        assert_eq!(r.take_guest(inst(0), a, res(0)).unwrap().rep(), 10);
        assert!(
            r.take_guest(inst(0), a, res(0))
                .unwrap_err()
                .contains("unknown handle index 1")
        );
        assert_eq!(r.insert_guest(inst(0), own(12)).unwrap(), 1);
        assert!(
            r.get_guest(inst(0), 0, res(0)).is_err(),
            "handle 0 is never valid"
        );
        assert!(r.get_guest(inst(0), b, res(1)).unwrap_err().contains(
            "handle index 2 used with the wrong type, expected guest-defined resource but \
                     found a different guest-defined resource"
        ));
    }

    #[test]
    fn the_most_recently_freed_handle_is_reused_first() {
        let mut r = Resources::default();
        let hs: Vec<u32> = (0..3)
            .map(|k| r.insert_guest(inst(0), own(k)).unwrap())
            .collect();
        assert_eq!(hs, [1, 2, 3]);
        for h in [1, 2, 3] {
            r.drop_guest(inst(0), h, res(0)).unwrap();
        }
        let again: Vec<u32> = (0..4)
            .map(|k| r.insert_guest(inst(0), own(k)).unwrap())
            .collect();
        assert_eq!(again, [3, 2, 1, 4]);
        // Other instances have tables of their own.
        assert_eq!(r.insert_guest(inst(1), own(9)).unwrap(), 1);
    }

    #[test]
    fn a_lent_handle_can_be_neither_dropped_nor_moved_until_its_call_ends() {
        let mut r = Resources::default();
        let h = r.insert_guest(inst(0), own(10)).unwrap();
        r.enter_scope();
        assert_eq!(r.lend_guest(inst(0), h, res(0)).unwrap().rep(), 10);
        for e in [
            r.drop_guest(inst(0), h, res(0)).unwrap_err(),
            r.take_guest(inst(0), h, res(0)).unwrap_err(),
        ] {
            assert_eq!(e, "cannot remove owned resource while borrowed");
        }
        r.exit_scope().unwrap();
        assert_eq!(r.take_guest(inst(0), h, res(0)).unwrap().rep(), 10);
    }

    #[test]
    fn a_borrow_must_be_dropped_before_its_call_ends() {
        let mut r = Resources::default();
        let borrow = Slot::Borrow {
            rep: 7,
            resource: res(0),
        };
        assert!(r.insert_guest(inst(1), borrow).is_err(), "no call");
        r.enter_scope();
        let b = r.insert_guest(inst(1), borrow).unwrap();
        let e = r.take_guest(inst(1), b, res(0)).unwrap_err();
        assert_eq!(e, "cannot lift own resource from a borrow");
        let depth = r.enter_scope();
        let kept = r.insert_guest(inst(1), borrow).unwrap();
        assert_eq!(
            r.exit_scope().unwrap_err(),
            "borrow handles still remain at the end of the call"
        );
        assert_eq!(depth, 1);
        // The outer call's borrow is dropped in time; the inner one's
        // entry is still in the table, and its drop counts for nothing.
        r.drop_guest(inst(1), b, res(0)).unwrap();
        r.drop_guest(inst(1), kept, res(0)).unwrap();
        r.exit_scope().unwrap();
        r.enter_scope();
        r.enter_scope();
        r.abandon_scopes(0);
        assert!(r.exit_scope().is_err(), "every scope was abandoned");
    }

    #[test]
    fn host_handles_move_once() {
        let mut r = Resources::default();
        let h = r.insert_host(res(0), 7);
        assert_eq!(r.host_rep(h, res(0), "counter").unwrap(), 7);
        assert_eq!(r.take_host(h, res(0), "counter").unwrap(), 7);
        let e = r.take_host(h, res(0), "counter").unwrap_err();
        assert!(e.contains("already moved"), "{e}");
    }
}
