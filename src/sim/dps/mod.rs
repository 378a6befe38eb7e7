//! The Device Provisioning Service side of the simulator. So far its decision logic: allocation
//! (which linked hub a registration goes to) and re-provisioning (what happens to an
//! already-assigned device that registers again). The service and device endpoints come next.

pub mod allocation;
pub mod reprovision;
