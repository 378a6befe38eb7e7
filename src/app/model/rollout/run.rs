//! One roll-out as it runs: its devices split into waves, each wave's jobs and counts, and what
//! happens next — start the next wave (only when the hub can take another job), soak, ask the
//! operator, or stop — decided by the rules in `rules.rs`. Pause, resume, continue and abort come
//! from the operator. Times are Unix seconds so a roll-out saved to disk resumes after a restart.

use serde::{Deserialize, Serialize};

use super::rules::{AbortRule, ContinueWhen, Counts, Verdict, judge};
use super::wave_jobs::{RolloutOperation, wave_jobs};
use super::waves::{WavePlan, WavePlanError, ranges};
use crate::azure::wire::JobRequest;

/// What the operator set up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// A name to find it by.
    pub name: String,
    /// What each device gets.
    pub operation: RolloutOperation,
    /// How the devices are split.
    pub plan: WavePlan,
    /// Wait between a finished wave and the next.
    pub soak_secs: u64,
    /// When the next wave may start.
    pub continue_when: ContinueWhen,
    /// When to stop.
    pub abort: Option<AbortRule>,
    /// Each wave job's `maxExecutionTimeInSeconds`.
    pub max_execution_secs: u64,
}

/// Where a wave is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaveStatus {
    /// Not started.
    Pending,
    /// Its jobs were created.
    Running,
    /// Its jobs ended.
    Done,
    /// Never started, or stopped, because the roll-out was aborted.
    Cancelled,
}

/// One wave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    /// Its devices: a range of the roll-out's device list.
    pub devices: std::ops::Range<usize>,
    /// Its jobs (one per part of the id list).
    pub job_ids: Vec<String>,
    /// Counts over its jobs.
    pub counts: Counts,
    /// Where it is.
    pub status: WaveStatus,
    /// When its jobs were created.
    pub started_at: Option<f64>,
    /// When they ended.
    pub ended_at: Option<f64>,
    /// Throttling answers (429) met while starting or watching it.
    pub throttled: u32,
}

/// Where the roll-out is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum RolloutStatus {
    /// A wave runs, or the next one is due.
    Running,
    /// Waiting between waves until the given time.
    Soaking {
        /// Unix seconds.
        until: f64,
    },
    /// A wave finished; the operator decides.
    WaitingForOperator,
    /// Paused by the operator (or after a restart of the console).
    Paused,
    /// Stopped, with why.
    Aborted {
        /// The rule or the operator.
        reason: String,
    },
    /// Every wave finished.
    Completed,
}

/// A roll-out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Unique id (job ids start with it).
    pub id: String,
    /// What the operator set up.
    pub spec: RolloutSpec,
    /// The target's devices, fixed when it was created.
    pub device_ids: Vec<String>,
    /// The waves.
    pub waves: Vec<Wave>,
    /// Where it is.
    pub status: RolloutStatus,
    /// Unix seconds.
    pub created_at: f64,
}

/// What the backend should do now.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Create these jobs for wave `wave` (then report [`Rollout::wave_started`]).
    StartWave {
        /// Wave index.
        wave: usize,
        /// Its jobs.
        jobs: Vec<JobRequest>,
    },
    /// Cancel these jobs (an abort while a wave ran).
    CancelJobs(Vec<String>),
    /// Nothing now; look again at this time (Unix seconds).
    WaitUntil(f64),
    /// Nothing until an event (a job update, the operator).
    Idle,
}

impl Rollout {
    /// A roll-out of `spec` over `device_ids`, not started.
    pub fn new(id: String, spec: RolloutSpec, device_ids: Vec<String>, now: f64) -> Result<Self, WavePlanError> {
        let sizes = spec.plan.sizes(device_ids.len())?;
        let waves = ranges(&sizes)
            .into_iter()
            .map(|devices| Wave {
                devices,
                job_ids: Vec::new(),
                counts: Counts::default(),
                status: WaveStatus::Pending,
                started_at: None,
                ended_at: None,
                throttled: 0,
            })
            .collect();
        let status = if device_ids.is_empty() { RolloutStatus::Completed } else { RolloutStatus::Running };
        Ok(Self { id, spec, device_ids, waves, status, created_at: now })
    }

    /// The wave that runs or is next.
    pub fn current_wave(&self) -> Option<usize> {
        self.waves.iter().position(|wave| matches!(wave.status, WaveStatus::Pending | WaveStatus::Running))
    }

    /// Counts over every wave started so far.
    pub fn counts(&self) -> Counts {
        self.waves.iter().filter(|wave| wave.status != WaveStatus::Pending).fold(Counts::default(), |sum, wave| sum.plus(wave.counts))
    }

    /// True once it can change no more.
    pub fn is_final(&self) -> bool {
        matches!(self.status, RolloutStatus::Completed | RolloutStatus::Aborted { .. })
    }

    /// What to do now. `hub_busy`: the hub runs as many jobs as its tier allows, so a wave must
    /// wait (S1 runs one job at a time).
    pub fn next_step(&mut self, now: f64, hub_busy: bool) -> Step {
        match self.status {
            RolloutStatus::Soaking { until } if now < until => return Step::WaitUntil(until),
            RolloutStatus::Soaking { .. } => self.status = RolloutStatus::Running,
            RolloutStatus::Running => {}
            _ => return Step::Idle,
        }
        let Some(index) = self.current_wave() else {
            self.status = RolloutStatus::Completed;
            return Step::Idle;
        };
        if self.waves[index].status == WaveStatus::Running || hub_busy {
            return Step::Idle;
        }
        let devices = &self.device_ids[self.waves[index].devices.clone()];
        let jobs = wave_jobs(&self.id, index, devices, &self.spec.operation, self.spec.max_execution_secs);
        Step::StartWave { wave: index, jobs }
    }

    /// The wave's jobs were created.
    pub fn wave_started(&mut self, wave: usize, job_ids: Vec<String>, now: f64) {
        if let Some(started) = self.waves.get_mut(wave) {
            started.job_ids = job_ids;
            started.status = WaveStatus::Running;
            started.started_at = Some(now);
            started.counts.devices = started.devices.len() as u64;
        }
    }

    /// A throttling answer was met for the wave (shown per wave).
    pub fn throttled(&mut self, wave: usize) {
        if let Some(wave) = self.waves.get_mut(wave) {
            wave.throttled += 1;
        }
    }

    /// The wave's jobs report `counts`; `done` once they all ended. Returns the step it leads to
    /// (jobs to cancel when the abort rule fires).
    pub fn wave_progress(&mut self, wave: usize, counts: Counts, done: bool, now: f64) -> Step {
        let Some(current) = self.waves.get_mut(wave).filter(|current| current.status == WaveStatus::Running) else {
            return Step::Idle;
        };
        current.counts = Counts { devices: current.devices.len() as u64, ..counts };
        if done {
            current.status = WaveStatus::Done;
            current.ended_at = Some(now);
        }
        let wave_counts = current.counts;
        let last_wave = wave + 1 == self.waves.len();
        match judge(self.counts(), wave_counts, done, self.spec.continue_when, self.spec.abort) {
            Verdict::KeepGoing => Step::Idle,
            Verdict::Abort(reason) => self.abort(reason),
            _ if last_wave => {
                self.status = RolloutStatus::Completed;
                Step::Idle
            }
            Verdict::NextWave if matches!(self.status, RolloutStatus::Running) => {
                // Counts are seconds here; exact.
                #[allow(clippy::cast_precision_loss)]
                let until = now + self.spec.soak_secs as f64;
                self.status = RolloutStatus::Soaking { until };
                Step::WaitUntil(until)
            }
            Verdict::AskOperator if matches!(self.status, RolloutStatus::Running) => {
                self.status = RolloutStatus::WaitingForOperator;
                Step::Idle
            }
            // Paused meanwhile: resuming decides.
            Verdict::NextWave | Verdict::AskOperator => Step::Idle,
        }
    }

    /// The operator says go on after a wave (manual condition).
    pub fn continue_now(&mut self) {
        if self.status == RolloutStatus::WaitingForOperator {
            self.status = RolloutStatus::Running;
        }
    }

    /// No new wave starts until resumed (a running wave's jobs run on).
    pub fn pause(&mut self) {
        if !self.is_final() {
            self.status = RolloutStatus::Paused;
        }
    }

    /// Goes on from a pause.
    pub fn resume(&mut self) {
        if self.status == RolloutStatus::Paused {
            self.status = RolloutStatus::Running;
        }
    }

    /// Stops: no further waves; the running wave's jobs are cancelled (their unstarted devices).
    pub fn abort(&mut self, reason: String) -> Step {
        if self.is_final() {
            return Step::Idle;
        }
        let mut cancel = Vec::new();
        for wave in &mut self.waves {
            match wave.status {
                WaveStatus::Running => {
                    cancel.extend(wave.job_ids.iter().cloned());
                    wave.status = WaveStatus::Cancelled;
                }
                WaveStatus::Pending => wave.status = WaveStatus::Cancelled,
                WaveStatus::Done | WaveStatus::Cancelled => {}
            }
        }
        self.status = RolloutStatus::Aborted { reason };
        if cancel.is_empty() { Step::Idle } else { Step::CancelJobs(cancel) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::wire::CloudToDeviceMethod;

    fn spec(plan: WavePlan, continue_when: ContinueWhen, abort: Option<AbortRule>) -> RolloutSpec {
        RolloutSpec {
            name: "lock building 43".into(),
            operation: RolloutOperation::Method {
                method: CloudToDeviceMethod {
                    method_name: "lockDoor".into(),
                    payload: json!({"lockTime": "10m"}),
                    response_timeout_in_seconds: Some(30),
                    connect_timeout_in_seconds: Some(0),
                },
            },
            plan,
            soak_secs: 60,
            continue_when,
            abort,
            max_execution_secs: 600,
        }
    }

    fn devices(count: usize) -> Vec<String> {
        (0..count).map(|index| format!("door-{index:03}")).collect()
    }

    fn start(rollout: &mut Rollout, now: f64) -> usize {
        let Step::StartWave { wave, jobs } = rollout.next_step(now, false) else { panic!("a wave should start: {:?}", rollout.status) };
        rollout.wave_started(wave, jobs.iter().map(|job| job.job_id.clone()).collect(), now);
        wave
    }

    #[test]
    fn three_waves_soak_between_and_complete() {
        let plan = WavePlan::Percentages { steps: vec![10.0, 50.0, 100.0] };
        let mut rollout =
            Rollout::new("r1".into(), spec(plan, ContinueWhen::Succeeded { min_percent: 95.0 }, None), devices(20), 0.0).unwrap();
        assert_eq!(rollout.waves.iter().map(|wave| wave.devices.len()).collect::<Vec<_>>(), [2, 8, 10]);
        assert_eq!(rollout.next_step(0.0, true), Step::Idle, "the hub runs its maximum of jobs: wait");
        assert_eq!(start(&mut rollout, 1.0), 0);
        assert_eq!(rollout.next_step(2.0, false), Step::Idle, "one wave at a time");
        assert_eq!(rollout.wave_progress(0, Counts { devices: 2, succeeded: 2, failed: 0 }, true, 5.0), Step::WaitUntil(65.0));
        assert_eq!(rollout.next_step(30.0, false), Step::WaitUntil(65.0), "soaking");
        assert_eq!(start(&mut rollout, 65.0), 1);
        rollout.wave_progress(1, Counts { devices: 8, succeeded: 8, failed: 0 }, true, 70.0);
        assert_eq!(start(&mut rollout, 130.0), 2);
        rollout.wave_progress(2, Counts { devices: 10, succeeded: 10, failed: 0 }, true, 140.0);
        assert_eq!(rollout.status, RolloutStatus::Completed);
        assert_eq!(rollout.counts(), Counts { devices: 20, succeeded: 20, failed: 0 });
    }

    #[test]
    fn the_abort_rule_cancels_the_running_wave_and_every_later_one() {
        let rule = AbortRule { max_failed_percent: 20.0, min_finished: 5 };
        let mut rollout = Rollout::new(
            "r2".into(),
            spec(WavePlan::Fixed { size: 10 }, ContinueWhen::Succeeded { min_percent: 50.0 }, Some(rule)),
            devices(30),
            0.0,
        )
        .unwrap();
        start(&mut rollout, 0.0);
        assert_eq!(
            rollout.wave_progress(0, Counts { devices: 10, succeeded: 3, failed: 1 }, false, 1.0),
            Step::Idle,
            "1 of 4 finished: too few to judge"
        );
        let step = rollout.wave_progress(0, Counts { devices: 10, succeeded: 3, failed: 3 }, false, 2.0);
        assert_eq!(step, Step::CancelJobs(vec!["r2-w1-1".into()]));
        assert!(
            matches!(&rollout.status, RolloutStatus::Aborted { reason } if reason.starts_with("50.0 % of 6 finished devices failed")),
            "{:?}",
            rollout.status
        );
        assert!(rollout.waves.iter().all(|wave| wave.status == WaveStatus::Cancelled));
        assert_eq!(rollout.next_step(3.0, false), Step::Idle);
    }

    #[test]
    fn pause_resume_and_a_manual_continue() {
        let mut rollout =
            Rollout::new("r3".into(), spec(WavePlan::Fixed { size: 5 }, ContinueWhen::Operator, None), devices(10), 0.0).unwrap();
        start(&mut rollout, 0.0);
        rollout.pause();
        rollout.wave_progress(0, Counts { devices: 5, succeeded: 5, failed: 0 }, true, 1.0);
        assert_eq!((rollout.status.clone(), rollout.next_step(2.0, false)), (RolloutStatus::Paused, Step::Idle), "paused: nothing starts");
        rollout.resume();
        assert!(matches!(rollout.next_step(3.0, false), Step::StartWave { wave: 1, .. }), "resumed with the wave done: the next starts");
        let mut manual =
            Rollout::new("r4".into(), spec(WavePlan::Fixed { size: 5 }, ContinueWhen::Operator, None), devices(10), 0.0).unwrap();
        start(&mut manual, 0.0);
        manual.wave_progress(0, Counts { devices: 5, succeeded: 1, failed: 4 }, true, 1.0);
        assert_eq!((manual.status.clone(), manual.next_step(2.0, false)), (RolloutStatus::WaitingForOperator, Step::Idle));
        manual.continue_now();
        assert!(matches!(manual.next_step(3.0, false), Step::StartWave { wave: 1, .. }));
    }

    #[test]
    fn a_roll_out_survives_a_round_trip_through_json() {
        let mut rollout =
            Rollout::new("r5".into(), spec(WavePlan::Exponential { base: 2, factor: 2.0 }, ContinueWhen::Operator, None), devices(7), 0.0)
                .unwrap();
        start(&mut rollout, 0.0);
        let saved = serde_json::to_string(&rollout).unwrap();
        assert_eq!(serde_json::from_str::<Rollout>(&saved).unwrap(), rollout);
        assert!(
            Rollout::new("r6".into(), spec(WavePlan::Fixed { size: 3 }, ContinueWhen::Operator, None), Vec::new(), 0.0).unwrap().is_final()
        );
    }
}
