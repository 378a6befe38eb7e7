//! The Device Provisioning Service side of the simulator. So far its decision logic: allocation
//! (which linked hub a registration goes to), re-provisioning (what happens to an
//! already-assigned device that registers again) and device authentication (derived group keys,
//! registration tokens). The service and device endpoints come next.

pub mod allocation;
pub mod device_auth;
pub mod enrollments;
pub mod reprovision;
