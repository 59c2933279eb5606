//! SMEM calls: the kernel side of `sk-smem` (create, protect; terminate
//! goes through `smach::close_object`).

use crate::state::{Core, Object};
use sk_abi::{Handle, Prot, SmemCreate, SysError};
use sk_smem::Smem;

/// Maps a region into SMACH `me` and names it with a new handle.
pub(crate) fn create(core: &mut Core, me: u64, args: &SmemCreate) -> Result<Handle, SysError> {
    // A nested SMACH's budget (docs/nesting.md).
    crate::nest_memory::admit_frames(core, me, args.len.div_ceil(4096))?;
    let smach = core.smachs.get_mut(&me).ok_or(SysError::NotPermitted)?;
    let aspace = smach.aspace.as_mut().ok_or(SysError::BadHandle)?;
    let region = Smem::create(&mut smach.regions, aspace, args)?;
    match smach.handles.insert(Object::Smem(region)) {
        Ok(handle) => Ok(handle),
        Err((e, object)) => {
            if let (Object::Smem(region), Some(aspace)) = (object, smach.aspace.as_mut()) {
                region.terminate(&mut smach.regions, aspace);
            }
            Err(e)
        }
    }
}

/// Changes the protection of the region at `handle`.
pub(crate) fn protect(core: &mut Core, handle: Handle, prot: Prot) -> Result<u64, SysError> {
    let smach = core.current_smach()?;
    let aspace = smach.aspace.as_mut().ok_or(SysError::BadHandle)?;
    match smach.handles.get_mut(handle)? {
        Object::Smem(region) => region.protect(aspace, prot).map(|()| 0),
        _ => Err(SysError::WrongKind),
    }
}

/// Unmaps a region removed from SMACH `owner`'s table.
pub(crate) fn terminate(core: &mut Core, owner: u64, region: Smem) {
    if let Some(smach) = core.smachs.get_mut(&owner) {
        if let Some(aspace) = smach.aspace.as_mut() {
            region.terminate(&mut smach.regions, aspace);
        }
    }
}
