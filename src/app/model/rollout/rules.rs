//! When a roll-out goes on and when it stops: the condition a finished wave must meet before the
//! next one starts (a share of its devices succeeded, or the operator says so), and the abort rule
//! checked while devices finish (a share failed or timed out, once enough have finished). One
//! decision function each, over the counts a job reports.

use serde::{Deserialize, Serialize};

/// What a job reports about its devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Devices in the wave.
    pub devices: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed (including timed out and not online).
    pub failed: u64,
}

impl Counts {
    /// Devices done either way.
    pub fn finished(self) -> u64 {
        self.succeeded + self.failed
    }

    /// Adds another job's counts (a wave split into several jobs, or the roll-out so far).
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self { devices: self.devices + other.devices, succeeded: self.succeeded + other.succeeded, failed: self.failed + other.failed }
    }
}

/// What lets the next wave start once a wave has finished.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ContinueWhen {
    /// At least this share (percent) of the wave's devices succeeded.
    Succeeded {
        /// E.g. 95.0.
        min_percent: f64,
    },
    /// The operator clicks Continue.
    Operator,
}

/// Stop the roll-out when too many devices fail.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortRule {
    /// Failed (or timed-out) share of finished devices, in percent, that stops the roll-out.
    pub max_failed_percent: f64,
    /// The rule is only judged once this many devices finished (so one early failure does not
    /// stop a large roll-out).
    pub min_finished: u64,
}

/// What the rules say now.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing to decide yet (the wave is still running and within the abort rule).
    KeepGoing,
    /// The wave met its condition: start the next wave (after the soak time).
    NextWave,
    /// The wave finished but the operator decides.
    AskOperator,
    /// Stop: no further waves, the running wave's unstarted devices cancelled.
    Abort(String),
}

/// Judges the roll-out after an update: `so_far` counts every device of every wave started so
/// far (the abort rule's basis), `wave` the current wave, `wave_done` whether its job ended.
pub fn judge(so_far: Counts, wave: Counts, wave_done: bool, continue_when: ContinueWhen, abort: Option<AbortRule>) -> Verdict {
    if let Some(rule) = abort
        && so_far.finished() >= rule.min_finished.max(1)
    {
        let failed = percent(so_far.failed, so_far.finished());
        if failed > rule.max_failed_percent {
            return Verdict::Abort(format!(
                "{failed:.1} % of {} finished devices failed (the abort rule allows {:.1} % once {} finished)",
                so_far.finished(),
                rule.max_failed_percent,
                rule.min_finished
            ));
        }
    }
    if !wave_done {
        return Verdict::KeepGoing;
    }
    match continue_when {
        ContinueWhen::Operator => Verdict::AskOperator,
        ContinueWhen::Succeeded { min_percent } => {
            let succeeded = percent(wave.succeeded, wave.devices);
            if succeeded + f64::EPSILON >= min_percent {
                Verdict::NextWave
            } else {
                Verdict::Abort(format!(
                    "only {succeeded:.1} % of the wave's {} devices succeeded; {min_percent:.1} % was needed to go on",
                    wave.devices
                ))
            }
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    // Device counts are far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let share = part as f64 * 100.0 / whole as f64;
    share
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: AbortRule = AbortRule { max_failed_percent: 10.0, min_finished: 20 };
    const NINETY_FIVE: ContinueWhen = ContinueWhen::Succeeded { min_percent: 95.0 };

    fn counts(devices: u64, succeeded: u64, failed: u64) -> Counts {
        Counts { devices, succeeded, failed }
    }

    #[test]
    fn the_abort_rule_waits_for_enough_finished_devices_then_stops_at_its_share() {
        // 3 of 5 failed: 60 %, but only 5 finished.
        assert_eq!(judge(counts(100, 2, 3), counts(100, 2, 3), false, NINETY_FIVE, Some(RULE)), Verdict::KeepGoing);
        // 3 of 30: exactly 10 % is allowed.
        assert_eq!(judge(counts(100, 27, 3), counts(100, 27, 3), false, NINETY_FIVE, Some(RULE)), Verdict::KeepGoing);
        let Verdict::Abort(reason) = judge(counts(100, 26, 4), counts(100, 26, 4), false, NINETY_FIVE, Some(RULE)) else {
            panic!("4 of 30 failed must abort");
        };
        assert_eq!(reason, "13.3 % of 30 finished devices failed (the abort rule allows 10.0 % once 20 finished)");
    }

    #[test]
    fn a_finished_wave_goes_on_asks_or_stops_by_its_condition() {
        assert_eq!(judge(counts(20, 19, 1), counts(20, 19, 1), true, NINETY_FIVE, None), Verdict::NextWave, "95 % exactly");
        assert!(
            matches!(judge(counts(20, 18, 2), counts(20, 18, 2), true, NINETY_FIVE, None), Verdict::Abort(reason) if reason.contains("only 90.0 %"))
        );
        assert_eq!(judge(counts(20, 10, 10), counts(20, 10, 10), true, ContinueWhen::Operator, None), Verdict::AskOperator);
        assert_eq!(
            judge(Counts::default(), Counts::default(), true, NINETY_FIVE, Some(RULE)),
            Verdict::Abort("only 0.0 % of the wave's 0 devices succeeded; 95.0 % was needed to go on".to_owned())
        );
    }
}
