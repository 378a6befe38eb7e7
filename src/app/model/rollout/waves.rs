//! How a roll-out splits its devices into waves: a fixed size, percentage steps of the whole
//! (1 % → 10 % → 50 % → 100 %: each step is where the cumulative count reaches), or exponential
//! (a first wave, then each wave `factor` times the one before). Pure arithmetic: every plan
//! covers every device exactly once, in order, with no empty wave.

use serde::{Deserialize, Serialize};

/// A wave plan as the operator chose it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum WavePlan {
    /// Everything in one wave (what a plain job does).
    AllAtOnce,
    /// Waves of `size` devices (the last may be smaller).
    Fixed {
        /// Devices per wave.
        size: usize,
    },
    /// Cumulative percentages of the target, increasing, ending at 100.
    Percentages {
        /// E.g. `[1.0, 10.0, 50.0, 100.0]`.
        steps: Vec<f64>,
    },
    /// `base`, `base × factor`, `base × factor²`, … devices.
    Exponential {
        /// The first wave's size.
        base: usize,
        /// How much each wave grows (> 1).
        factor: f64,
    },
}

/// Why a plan cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WavePlanError {
    /// A fixed wave of no devices.
    #[error("a wave must hold at least one device")]
    EmptyWave,
    /// Percentages not increasing, outside 0–100, or not ending at 100.
    #[error("percentage steps must increase, stay within 0–100 and end at 100 (got {0})")]
    BadPercentages(String),
    /// A growth factor that does not grow.
    #[error("the growth factor must be greater than 1 (got {0})")]
    BadFactor(f64),
}

impl WavePlan {
    /// Checks the plan on its own (before any target is known).
    pub fn validate(&self) -> Result<(), WavePlanError> {
        match self {
            Self::Fixed { size } | Self::Exponential { base: size, .. } if *size == 0 => Err(WavePlanError::EmptyWave),
            Self::Exponential { factor, .. } if !(factor.is_finite() && *factor > 1.0) => Err(WavePlanError::BadFactor(*factor)),
            Self::AllAtOnce | Self::Fixed { .. } | Self::Exponential { .. } => Ok(()),
            Self::Percentages { steps } => {
                let increasing = steps.windows(2).all(|pair| pair[0] < pair[1]);
                let in_range = steps.iter().all(|step| step.is_finite() && *step > 0.0 && *step <= 100.0);
                if steps.is_empty() || !increasing || !in_range || steps.last().is_some_and(|last| (*last - 100.0).abs() > f64::EPSILON) {
                    Err(WavePlanError::BadPercentages(steps.iter().map(|step| format!("{step}")).collect::<Vec<_>>().join(" → ")))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The wave sizes for `total` devices: they add up to `total` and none is empty (no waves
    /// for no devices). Percentage steps that round to the same count are merged.
    pub fn sizes(&self, total: usize) -> Result<Vec<usize>, WavePlanError> {
        self.validate()?;
        if total == 0 {
            return Ok(Vec::new());
        }
        let sizes = match self {
            Self::AllAtOnce => vec![total],
            Self::Fixed { size } => {
                let mut sizes = vec![*size; total / size];
                if !total.is_multiple_of(*size) {
                    sizes.push(total % size);
                }
                sizes
            }
            Self::Percentages { steps } => {
                let mut sizes = Vec::new();
                let mut covered = 0;
                for step in steps {
                    // At least one device per step, so a 1 % first wave of a small fleet still
                    // tries something before the rest.
                    let reach = cumulative(total, *step).max(covered + 1).min(total);
                    if reach > covered {
                        sizes.push(reach - covered);
                        covered = reach;
                    }
                }
                sizes
            }
            Self::Exponential { base, factor } => {
                // Wave sizes are small integers; f64 holds them exactly.
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let wave = |next: f64| next.round() as usize;
                #[allow(clippy::cast_precision_loss)]
                let first = *base as f64;
                let mut sizes = Vec::new();
                let (mut covered, mut next) = (0_usize, first);
                while covered < total {
                    let size = wave(next).clamp(1, total - covered);
                    sizes.push(size);
                    covered += size;
                    next *= factor;
                }
                sizes
            }
        };
        Ok(sizes)
    }
}

/// Devices covered once `percent` of `total` is reached (rounded up: 1 % of 150 is 2).
fn cumulative(total: usize, percent: f64) -> usize {
    // Exact for fleets far beyond any hub's size (f64 holds integers to 2^53).
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let reach = ((total as f64) * percent / 100.0).ceil() as usize;
    reach.min(total)
}

/// The waves' device ranges in the target list: wave k is `ranges[k]`.
pub fn ranges(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    sizes
        .iter()
        .map(|size| {
            let range = start..start + size;
            start += size;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_classic_plans() {
        let steps = WavePlan::Percentages { steps: vec![1.0, 10.0, 50.0, 100.0] };
        assert_eq!(steps.sizes(1000).unwrap(), [10, 90, 400, 500]);
        assert_eq!(steps.sizes(150).unwrap(), [2, 13, 60, 75], "1 % of 150 rounds up to 2");
        assert_eq!(steps.sizes(3).unwrap(), [1, 1, 1], "tiny targets still go in steps");
        assert_eq!(WavePlan::Fixed { size: 300 }.sizes(1000).unwrap(), [300, 300, 300, 100]);
        assert_eq!(WavePlan::Exponential { base: 100, factor: 2.0 }.sizes(1000).unwrap(), [100, 200, 400, 300]);
        assert_eq!(WavePlan::AllAtOnce.sizes(7).unwrap(), [7]);
        assert_eq!(WavePlan::Fixed { size: 5 }.sizes(0).unwrap(), Vec::<usize>::new());
        assert_eq!(ranges(&[2, 3]), [0..2, 2..5]);
    }

    #[test]
    fn bad_plans_say_what_is_wrong() {
        assert_eq!(WavePlan::Fixed { size: 0 }.sizes(10), Err(WavePlanError::EmptyWave));
        assert_eq!(WavePlan::Exponential { base: 10, factor: 1.0 }.validate(), Err(WavePlanError::BadFactor(1.0)));
        let error = WavePlan::Percentages { steps: vec![10.0, 5.0, 100.0] }.validate().unwrap_err();
        assert_eq!(error.to_string(), "percentage steps must increase, stay within 0–100 and end at 100 (got 10 → 5 → 100)");
        assert!(WavePlan::Percentages { steps: vec![10.0, 50.0] }.validate().is_err(), "must end at 100");
    }

    fn plan() -> impl Strategy<Value = WavePlan> {
        prop_oneof![
            Just(WavePlan::AllAtOnce),
            (1_usize..500).prop_map(|size| WavePlan::Fixed { size }),
            (1_usize..200, 1.1_f64..4.0).prop_map(|(base, factor)| WavePlan::Exponential { base, factor }),
            prop::collection::btree_set(1_u32..100, 0..5).prop_map(|steps| {
                let mut steps: Vec<f64> = steps.into_iter().map(f64::from).collect();
                steps.push(100.0);
                WavePlan::Percentages { steps }
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_device_is_in_exactly_one_non_empty_wave(plan in plan(), total in 0_usize..20_000) {
            let sizes = plan.sizes(total).unwrap();
            prop_assert_eq!(sizes.iter().sum::<usize>(), total);
            prop_assert!(sizes.iter().all(|size| *size > 0), "{:?}", sizes);
            if let WavePlan::Exponential { .. } = plan {
                // Growing until the remainder: every wave but the last is at least the one before.
                let body = &sizes[..sizes.len().saturating_sub(1)];
                prop_assert!(body.windows(2).all(|pair| pair[1] >= pair[0]), "{:?}", sizes);
            }
        }
    }
}
