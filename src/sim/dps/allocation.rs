//! Allocation: which linked hub a registration is assigned to, under the service's allocation
//! policies (hashed, static, geo-latency; custom is the webhook's). The service's
//! weighted-hash algorithm is not public; the simulator's is SHA-256 of the lowercased
//! registration id modulo the total weight, so re-registering against an unchanged hub set is
//! stable. Geo-latency has no latency to measure: it prefers a hub in the device's region and
//! falls back to the weighted hash.

use sha2::{Digest as _, Sha256};

use crate::azure::wire::AllocationPolicy;

/// A hub linked to the DPS instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedHub {
    /// Host name (`contoso-east.azure-devices.net`).
    pub host_name: String,
    /// Weight for hashed allocation, 1–1000.
    pub allocation_weight: u32,
    /// False: never picked by allocation (an enrollment may still name it).
    pub apply_allocation_policy: bool,
    /// Region, for geo-latency (`eastus`).
    pub region: String,
}

/// Why no hub could be chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// No candidate hub.
    #[error("no linked IoT hub can take this registration (none listed, or none applies the allocation policy)")]
    NoHub,
    /// Static allocation needs exactly one hub.
    #[error("static allocation needs exactly one IoT hub on the enrollment; it lists {0}")]
    StaticNeedsOneHub(usize),
    /// The enrollment names a hub that is not linked.
    #[error("the enrollment names '{0}', which is not a linked IoT hub")]
    NotLinked(String),
    /// Custom allocation is decided by a webhook, not here.
    #[error("custom allocation is decided by the enrollment's webhook")]
    Custom,
}

/// What allocation needs to know about one registration.
#[derive(Clone, Copy, Debug)]
pub struct AllocationInput<'a> {
    /// The policy in force (the enrollment's, or the instance default).
    pub policy: AllocationPolicy,
    /// The registration id.
    pub registration_id: &'a str,
    /// The enrollment's `iotHubs` (empty: every linked hub).
    pub enrollment_hubs: &'a [String],
    /// The device's region, for geo-latency.
    pub device_region: Option<&'a str>,
}

/// Picks the hub for a registration.
pub fn allocate<'a>(input: &AllocationInput<'_>, linked: &'a [LinkedHub]) -> Result<&'a LinkedHub, AllocationError> {
    for named in input.enrollment_hubs {
        if !linked.iter().any(|hub| hub.host_name.eq_ignore_ascii_case(named)) {
            return Err(AllocationError::NotLinked(named.clone()));
        }
    }
    let named = |hub: &&LinkedHub| input.enrollment_hubs.iter().any(|name| name.eq_ignore_ascii_case(&hub.host_name));
    let candidates: Vec<&LinkedHub> = if input.enrollment_hubs.is_empty() {
        linked.iter().filter(|hub| hub.apply_allocation_policy).collect()
    } else {
        linked.iter().filter(named).collect()
    };
    match input.policy {
        AllocationPolicy::Custom => Err(AllocationError::Custom),
        AllocationPolicy::Static => match candidates.as_slice() {
            [only] if !input.enrollment_hubs.is_empty() => Ok(only),
            _ => Err(AllocationError::StaticNeedsOneHub(input.enrollment_hubs.len())),
        },
        AllocationPolicy::GeoLatency => {
            let nearby: Vec<&LinkedHub> = input
                .device_region
                .map(|region| candidates.iter().copied().filter(|hub| hub.region.eq_ignore_ascii_case(region)).collect())
                .unwrap_or_default();
            weighted(input.registration_id, if nearby.is_empty() { &candidates } else { &nearby })
        }
        AllocationPolicy::Hashed => weighted(input.registration_id, &candidates),
    }
}

/// A stable weighted choice: SHA-256 of the lowercased id, modulo the total weight.
fn weighted<'a>(registration_id: &str, hubs: &[&'a LinkedHub]) -> Result<&'a LinkedHub, AllocationError> {
    let total: u64 = hubs.iter().map(|hub| u64::from(hub.allocation_weight.clamp(1, 1000))).sum();
    if total == 0 {
        return Err(AllocationError::NoHub);
    }
    let digest = Sha256::digest(registration_id.to_lowercase().as_bytes());
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    let mut point = u64::from_be_bytes(first) % total;
    for hub in hubs {
        let weight = u64::from(hub.allocation_weight.clamp(1, 1000));
        if point < weight {
            return Ok(hub);
        }
        point -= weight;
    }
    Err(AllocationError::NoHub)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hubs() -> Vec<LinkedHub> {
        vec![
            LinkedHub { host_name: "contoso-east".into(), allocation_weight: 1, apply_allocation_policy: true, region: "eastus".into() },
            LinkedHub { host_name: "contoso-west".into(), allocation_weight: 1, apply_allocation_policy: true, region: "westus".into() },
            LinkedHub { host_name: "contoso-lab".into(), allocation_weight: 1, apply_allocation_policy: false, region: "westus".into() },
        ]
    }

    fn input<'a>(
        policy: AllocationPolicy,
        registration_id: &'a str,
        enrollment_hubs: &'a [String],
        region: Option<&'a str>,
    ) -> AllocationInput<'a> {
        AllocationInput { policy, registration_id, enrollment_hubs, device_region: region }
    }

    #[test]
    fn hashed_is_stable_spreads_by_weight_and_skips_hubs_outside_allocation() {
        let linked = hubs();
        let first = allocate(&input(AllocationPolicy::Hashed, "Door-17", &[], None), &linked).unwrap();
        let again = allocate(&input(AllocationPolicy::Hashed, "door-17", &[], None), &linked).unwrap();
        assert_eq!(first, again, "the id is case-insensitive and the choice stable");
        let mut east = 0;
        for index in 0..1000 {
            let hub = allocate(&input(AllocationPolicy::Hashed, &format!("device-{index}"), &[], None), &linked).unwrap();
            assert_ne!(hub.host_name, "contoso-lab", "applyAllocationPolicy=false is never picked");
            east += usize::from(hub.host_name == "contoso-east");
        }
        assert!((400..600).contains(&east), "equal weights split evenly: {east}");
        let mut weighted = hubs();
        weighted[0].allocation_weight = 9;
        let east_heavy = (0..1000)
            .filter(|index| {
                allocate(&input(AllocationPolicy::Hashed, &format!("device-{index}"), &[], None), &weighted).unwrap().host_name
                    == "contoso-east"
            })
            .count();
        assert!(east_heavy > 850, "weight 9:1 → about 90 %: {east_heavy}");
    }

    #[test]
    fn static_geo_and_errors() {
        let linked = hubs();
        let lab = vec!["contoso-lab".to_owned()];
        assert_eq!(
            allocate(&input(AllocationPolicy::Static, "d", &lab, None), &linked).unwrap().host_name,
            "contoso-lab",
            "named hubs may be outside allocation"
        );
        assert_eq!(allocate(&input(AllocationPolicy::Static, "d", &[], None), &linked), Err(AllocationError::StaticNeedsOneHub(0)));
        let west = allocate(&input(AllocationPolicy::GeoLatency, "d", &[], Some("westus")), &linked).unwrap();
        assert_eq!(west.host_name, "contoso-west");
        assert!(
            allocate(&input(AllocationPolicy::GeoLatency, "d", &[], Some("mars")), &linked).is_ok(),
            "unknown region falls back to hashed"
        );
        let unknown = vec!["nowhere".to_owned()];
        assert_eq!(
            allocate(&input(AllocationPolicy::Hashed, "d", &unknown, None), &linked),
            Err(AllocationError::NotLinked("nowhere".into()))
        );
        assert_eq!(allocate(&input(AllocationPolicy::Custom, "d", &[], None), &linked), Err(AllocationError::Custom));
        let none: Vec<LinkedHub> = Vec::new();
        assert_eq!(allocate(&input(AllocationPolicy::Hashed, "d", &[], None), &none), Err(AllocationError::NoHub));
    }
}
