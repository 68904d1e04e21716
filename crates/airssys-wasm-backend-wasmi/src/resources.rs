//! Resource handles: one table per component instance inside the guest, and
//! the host's table of handles the embedder holds.
//!
//! Guest handles are what `[resource-new]` returns and what exports take and
//! return; index 0 is never a valid handle. Host handles are the indices in
//! [`airssys_wasm_core::ResourceHandle`]: an owned handle lifted out of the
//! guest moves here, and moves back when the embedder passes it as `own`.

use std::collections::HashMap;

use wasmtime_environ::component::{ResourceIndex, RuntimeComponentInstanceIndex};

type R<T> = std::result::Result<T, String>;

/// One entry of a guest handle table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// An owned handle: dropping it runs the resource's destructor.
    Own { rep: u32, resource: ResourceIndex },
    /// A borrow lent for one call.
    Borrow { rep: u32, resource: ResourceIndex },
}

impl Slot {
    fn resource(&self) -> ResourceIndex {
        match self {
            Slot::Own { resource, .. } | Slot::Borrow { resource, .. } => *resource,
        }
    }

    /// The resource's representation.
    pub fn rep(&self) -> u32 {
        match self {
            Slot::Own { rep, .. } | Slot::Borrow { rep, .. } => *rep,
        }
    }
}

/// Every handle table of one store.
#[derive(Default)]
pub(crate) struct Resources {
    guest: HashMap<RuntimeComponentInstanceIndex, Vec<Option<Slot>>>,
    host: Vec<Option<(ResourceIndex, u32)>>,
}

impl Resources {
    /// Adds a handle to `instance`'s table and returns it.
    pub fn insert_guest(&mut self, instance: RuntimeComponentInstanceIndex, slot: Slot) -> u32 {
        let table = self.guest.entry(instance).or_insert_with(|| vec![None]);
        if let Some(free) = table.iter().skip(1).position(Option::is_none) {
            table[free + 1] = Some(slot);
            return free as u32 + 1;
        }
        table.push(Some(slot));
        table.len() as u32 - 1
    }

    fn guest_slot(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<&mut Option<Slot>> {
        let slot = self
            .guest
            .get_mut(&instance)
            .and_then(|t| t.get_mut(handle as usize))
            .filter(|s| handle != 0 && s.is_some())
            .ok_or_else(|| format!("unknown resource handle {handle}"))?;
        match slot {
            Some(s) if s.resource() != resource => Err(format!(
                "resource handle {handle} is of another resource type"
            )),
            _ => Ok(slot),
        }
    }

    /// The entry behind a guest handle, checked against its type.
    pub fn get_guest(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<Slot> {
        Ok(self
            .guest_slot(instance, handle, resource)?
            .expect("guest_slot returns occupied slots"))
    }

    /// Removes a guest handle, checked against its type.
    pub fn take_guest(
        &mut self,
        instance: RuntimeComponentInstanceIndex,
        handle: u32,
        resource: ResourceIndex,
    ) -> R<Slot> {
        Ok(self
            .guest_slot(instance, handle, resource)?
            .take()
            .expect("guest_slot returns occupied slots"))
    }

    /// Removes a guest handle whatever its type (a lent borrow at the end
    /// of its call).
    pub fn remove_guest(&mut self, instance: RuntimeComponentInstanceIndex, handle: u32) {
        if let Some(slot) = self
            .guest
            .get_mut(&instance)
            .and_then(|t| t.get_mut(handle as usize))
        {
            *slot = None;
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

    #[test]
    fn guest_handles_start_at_one_and_are_reused() {
        let mut r = Resources::default();
        let a = r.insert_guest(
            inst(0),
            Slot::Own {
                rep: 10,
                resource: res(0),
            },
        );
        let b = r.insert_guest(
            inst(0),
            Slot::Own {
                rep: 11,
                resource: res(0),
            },
        );
        assert_eq!((a, b), (1, 2));
        assert_eq!(r.take_guest(inst(0), a, res(0)).unwrap().rep(), 10);
        assert!(
            r.take_guest(inst(0), a, res(0))
                .unwrap_err()
                .contains("unknown resource handle 1")
        );
        assert_eq!(
            r.insert_guest(
                inst(0),
                Slot::Own {
                    rep: 12,
                    resource: res(0)
                }
            ),
            1
        );
        assert!(
            r.get_guest(inst(0), 0, res(0)).is_err(),
            "handle 0 is never valid"
        );
        assert!(
            r.get_guest(inst(0), b, res(1))
                .unwrap_err()
                .contains("another resource type")
        );
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
