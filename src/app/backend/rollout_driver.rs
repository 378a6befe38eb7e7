//! Drives a roll-out against a hub: creates each wave's jobs when the hub can take them (a 429
//! `ThrottlingMaxActiveJobCountExceeded` means it cannot yet: wait and try again), watches them,
//! feeds their counts to the model (`model::rollout::Rollout`), cancels jobs when the abort rule
//! fires, and soaks between waves. It stops when the roll-out is final or waits for the operator
//! (paused, or a manual "Continue"); calling it again resumes.

use std::time::Duration;

use crate::app::model::rollout::{Counts, Rollout, RolloutStatus, Step};
use crate::azure::{AzureError, HubClient};

/// How often running jobs are read (and a busy hub asked again).
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The error code of a hub already running as many jobs as its tier allows.
const MAX_ACTIVE_JOBS: &str = "ThrottlingMaxActiveJobCountExceeded";

/// Runs `rollout` until it is final or waits for the operator. `now` gives Unix seconds;
/// `changed` is told after every change (to save it and show it). A job the service refuses for
/// any reason but a busy hub stops the roll-out with that reason.
pub async fn drive(
    client: &HubClient,
    rollout: &mut Rollout,
    poll_every: Duration,
    now: impl Fn() -> f64,
    mut changed: impl FnMut(&Rollout),
) -> Result<(), AzureError> {
    loop {
        if rollout.is_final() || matches!(rollout.status, RolloutStatus::Paused | RolloutStatus::WaitingForOperator) {
            return Ok(());
        }
        // A busy hub is found out by asking (429), so the model is never told to wait for it.
        match rollout.next_step(now(), false) {
            Step::StartWave { wave, jobs } => {
                let mut created = Vec::new();
                for job in &jobs {
                    loop {
                        match client.create_job(job).await {
                            Ok(_) => break,
                            Err(error) if error.code() == Some(MAX_ACTIVE_JOBS) => {
                                rollout.throttled(wave);
                                changed(rollout);
                                tokio::time::sleep(poll_every).await;
                            }
                            Err(error) => {
                                let step = rollout.abort(format!("job {} could not be created: {error}", job.job_id));
                                cancel(client, step).await;
                                changed(rollout);
                                return Err(error);
                            }
                        }
                    }
                    created.push(job.job_id.clone());
                }
                rollout.wave_started(wave, created, now());
                changed(rollout);
            }
            Step::CancelJobs(job_ids) => {
                cancel(client, Step::CancelJobs(job_ids)).await;
                changed(rollout);
            }
            Step::WaitUntil(until) => {
                let wait = (until - now()).clamp(0.0, poll_every.as_secs_f64());
                tokio::time::sleep(Duration::try_from_secs_f64(wait).unwrap_or(poll_every)).await;
            }
            Step::Idle => match rollout.current_wave() {
                Some(wave) if !rollout.waves[wave].job_ids.is_empty() => {
                    let (counts, done) = read_wave(client, &rollout.waves[wave].job_ids).await?;
                    let step = rollout.wave_progress(wave, counts, done, now());
                    cancel(client, step).await;
                    changed(rollout);
                    if !done {
                        tokio::time::sleep(poll_every).await;
                    }
                }
                _ => return Ok(()),
            },
        }
    }
}

/// Counts over a wave's jobs, and whether they all ended.
async fn read_wave(client: &HubClient, job_ids: &[String]) -> Result<(Counts, bool), AzureError> {
    let mut counts = Counts::default();
    let mut done = true;
    for job_id in job_ids {
        let job = client.get_job(job_id).await?;
        let stats = job.device_job_statistics.unwrap_or_default();
        counts = counts.plus(Counts { devices: stats.device_count, succeeded: stats.succeeded_count, failed: stats.failed_count });
        done &= job.status.is_final();
    }
    Ok((counts, done))
}

/// Cancels the jobs an abort asked for (best effort: a job that ended meanwhile refuses).
async fn cancel(client: &HubClient, step: Step) {
    if let Step::CancelJobs(job_ids) = step {
        for job_id in job_ids {
            if let Err(error) = client.cancel_job(&job_id).await {
                tracing::debug!(%job_id, %error, "a roll-out job could not be cancelled");
            }
        }
    }
}
