//! The device's retry rules: throttled → wait as the service said; transient failures (refused,
//! network, 5xx, CONNACK 3) → exponential back-off from ≥ 5 s with jitter, capped; the hub
//! refusing a device that came through DPS → register again through DPS; anything else → give
//! up. [`establish`] applies them until a connection is open.

use std::future::Future;
use std::time::Duration;

use super::super::retry::{Decision, Failure, RetryPolicy};
use super::error::ConnectFailure;

/// What an attempt does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Register through DPS.
    Provision,
    /// Connect to the hub.
    Connect,
}

/// Why the device waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryCause {
    /// The service throttled it.
    Throttled,
    /// A transient failure.
    Transient,
    /// The hub refused it: it registers again through DPS.
    Reprovision,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Wait, then attempt `then`.
    Wait {
        /// How long.
        wait: Duration,
        /// The next attempt.
        then: Step,
        /// Why.
        cause: RetryCause,
    },
    /// Stop: retrying cannot help.
    GiveUp,
}

/// The back-off and throttling settings (a device retries for ever; only what retrying cannot
/// fix ends it).
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// Back-off and `Retry-After` handling, shared with the REST clients' rules.
    pub retry: RetryPolicy,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts: u32::MAX,
                first_backoff: Duration::from_secs(5),
                max_backoff: Duration::from_mins(2),
                jitter: 0.2,
                default_retry_after: Duration::from_secs(5),
                max_retry_after: Duration::from_hours(1),
            },
        }
    }
}

impl ReconnectPolicy {
    /// Decides after the `failures`-th failure in a row (1-based) of `step`. `via_dps`: the
    /// device got its hub from DPS (and can ask again).
    pub fn decide(&self, failures: u32, step: Step, failure: &ConnectFailure, via_dps: bool) -> NextStep {
        match failure {
            ConnectFailure::Throttled { retry_after, .. } => {
                match self.retry.decide(failures, Failure::Status { status: 429, retry_after: *retry_after }) {
                    Decision::Retry { wait, .. } => NextStep::Wait { wait, then: step, cause: RetryCause::Throttled },
                    Decision::GiveUp => NextStep::GiveUp,
                }
            }
            ConnectFailure::Transient { .. } => {
                NextStep::Wait { wait: self.retry.backoff(failures), then: step, cause: RetryCause::Transient }
            }
            ConnectFailure::NotAuthorized { .. } if step == Step::Connect && via_dps => {
                // The first refusal usually means the device was moved: ask DPS at once. If the
                // new hub refuses too, back off so a broken setup does not hammer DPS.
                let wait = if failures <= 1 { Duration::ZERO } else { self.retry.backoff(failures - 1) };
                NextStep::Wait { wait, then: Step::Provision, cause: RetryCause::Reprovision }
            }
            ConnectFailure::NotAuthorized { .. } | ConnectFailure::Fatal { .. } => NextStep::GiveUp,
        }
    }
}

/// What [`establish`] needs: a way to register and a way to connect.
pub trait Connector {
    /// An open connection.
    type Connection;
    /// True when there is no hub to connect to yet (DPS must be asked first).
    fn needs_provisioning(&self) -> bool;
    /// True when the hub came from DPS.
    fn via_dps(&self) -> bool;
    /// Registers through DPS (and keeps the assignment).
    fn provision(&mut self) -> impl Future<Output = Result<(), ConnectFailure>> + Send;
    /// Connects to the hub.
    fn connect(&mut self) -> impl Future<Output = Result<Self::Connection, ConnectFailure>> + Send;
}

/// One wait, reported before it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryNote {
    /// What failed.
    pub failure: ConnectFailure,
    /// How long the device waits.
    pub wait: Duration,
    /// What it does next.
    pub then: Step,
    /// Why.
    pub cause: RetryCause,
}

/// Attempts until a connection is open or the rules give up. `after` is the failure that ended
/// the previous connection, if any: the device then waits before its first attempt.
pub async fn establish<C: Connector>(
    connector: &mut C,
    policy: &ReconnectPolicy,
    after: Option<ConnectFailure>,
    mut on_retry: impl FnMut(&RetryNote),
) -> Result<C::Connection, ConnectFailure> {
    let mut failures = 0_u32;
    let mut step = if connector.needs_provisioning() { Step::Provision } else { Step::Connect };
    let mut pending = after;
    loop {
        if let Some(failure) = pending.take() {
            failures = failures.saturating_add(1);
            match policy.decide(failures, step, &failure, connector.via_dps()) {
                NextStep::GiveUp => return Err(failure),
                NextStep::Wait { wait, then, cause } => {
                    on_retry(&RetryNote { failure, wait, then, cause });
                    tokio::time::sleep(wait).await;
                    step = then;
                }
            }
        }
        let result = match step {
            Step::Provision => connector.provision().await.map(|()| None),
            Step::Connect => connector.connect().await.map(Some),
        };
        match result {
            Ok(Some(connection)) => return Ok(connection),
            // Registered: connect next. The failure count is kept, so a hub that keeps refusing
            // what DPS assigns backs off instead of looping.
            Ok(None) => step = Step::Connect,
            Err(failure) => pending = Some(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use tokio::time::Instant;

    use super::*;

    fn policy() -> ReconnectPolicy {
        let mut policy = ReconnectPolicy::default();
        policy.retry.jitter = 0.0;
        policy
    }

    fn transient() -> ConnectFailure {
        ConnectFailure::Transient { endpoint: "hub h".into(), detail: "connection refused".into() }
    }

    fn refused() -> ConnectFailure {
        ConnectFailure::NotAuthorized { endpoint: "hub h".into() }
    }

    /// Scripted answers; records when each attempt happened on the (paused) clock.
    struct Script {
        via_dps: bool,
        provisioned: bool,
        provisions: VecDeque<Result<(), ConnectFailure>>,
        connects: VecDeque<Result<&'static str, ConnectFailure>>,
        attempts: Vec<(Step, Duration)>,
        start: Instant,
    }

    impl Script {
        fn new(via_dps: bool, provisioned: bool) -> Self {
            Self {
                via_dps,
                provisioned,
                provisions: VecDeque::new(),
                connects: VecDeque::new(),
                attempts: Vec::new(),
                start: Instant::now(),
            }
        }
    }

    impl Connector for Script {
        type Connection = &'static str;
        fn needs_provisioning(&self) -> bool {
            !self.provisioned
        }
        fn via_dps(&self) -> bool {
            self.via_dps
        }
        async fn provision(&mut self) -> Result<(), ConnectFailure> {
            self.attempts.push((Step::Provision, self.start.elapsed()));
            let result = self.provisions.pop_front().expect("scripted provision");
            self.provisioned = result.is_ok();
            result
        }
        async fn connect(&mut self) -> Result<&'static str, ConnectFailure> {
            self.attempts.push((Step::Connect, self.start.elapsed()));
            self.connects.pop_front().expect("scripted connect")
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_back_off_exponentially_from_five_seconds_up_to_the_cap() {
        let mut script = Script::new(false, true);
        script.connects = (0..7).map(|_| Err(transient())).chain([Ok("open")]).collect();
        let mut waits = Vec::new();
        let connection = establish(&mut script, &policy(), None, |note| waits.push((note.wait, note.cause))).await;
        assert_eq!(connection, Ok("open"));
        let secs: Vec<u64> = waits.iter().map(|(wait, _)| wait.as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 120, 120]);
        assert!(waits.iter().all(|(_, cause)| *cause == RetryCause::Transient));
        let at: Vec<u64> = script.attempts.iter().map(|(_, at)| at.as_secs()).collect();
        assert_eq!(at, [0, 5, 15, 35, 75, 155, 275, 395], "attempts happen exactly after each wait");
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_only_lengthens_the_wait() {
        let policy = ReconnectPolicy::default();
        for failures in 1..6 {
            let NextStep::Wait { wait, .. } = policy.decide(failures, Step::Connect, &transient(), false) else { panic!("retried") };
            let base = Duration::from_secs(5 << (failures - 1)).min(Duration::from_mins(2));
            assert!(wait >= base && wait <= base.mul_f64(1.2), "{failures}: {wait:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_waits_exactly_as_told() {
        let mut script = Script::new(true, false);
        script.provisions =
            [Err(ConnectFailure::Throttled { endpoint: "DPS d".into(), retry_after: Some(Duration::from_secs(7)) }), Ok(())].into();
        script.connects = [Err(ConnectFailure::Throttled { endpoint: "hub h".into(), retry_after: None }), Ok("open")].into();
        let mut notes = Vec::new();
        assert_eq!(establish(&mut script, &policy(), None, |note| notes.push(note.clone())).await, Ok("open"));
        assert_eq!(
            script.attempts,
            [
                (Step::Provision, Duration::ZERO),
                (Step::Provision, Duration::from_secs(7)),
                (Step::Connect, Duration::from_secs(7)),
                (Step::Connect, Duration::from_secs(12)), // the default 5 s when the service names no wait
            ]
        );
        assert!(notes.iter().all(|note| note.cause == RetryCause::Throttled));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hub_refusing_a_dps_device_sends_it_back_to_dps() {
        let mut script = Script::new(true, true);
        script.connects = [Err(refused()), Err(refused()), Ok("open on the new hub")].into();
        script.provisions = [Ok(()), Ok(())].into();
        let mut notes = Vec::new();
        let connection = establish(&mut script, &policy(), None, |note| notes.push(note.clone())).await;
        assert_eq!(connection, Ok("open on the new hub"));
        assert_eq!(
            script.attempts,
            [
                (Step::Connect, Duration::ZERO),
                (Step::Provision, Duration::ZERO), // at once after the first refusal
                (Step::Connect, Duration::ZERO),
                (Step::Provision, Duration::from_secs(5)), // refused again: back off first
                (Step::Connect, Duration::from_secs(5)),
            ]
        );
        assert!(notes.iter().all(|note| note.cause == RetryCause::Reprovision && note.then == Step::Provision));
    }

    #[tokio::test(start_paused = true)]
    async fn what_retrying_cannot_fix_ends_at_once() {
        // A connection-string device refused by its hub: wrong key or disabled.
        let mut script = Script::new(false, true);
        script.connects = [Err(refused())].into();
        assert_eq!(establish(&mut script, &policy(), None, |_| panic!("no wait")).await, Err(refused()));
        // DPS itself refusing the key.
        let mut script = Script::new(true, false);
        let dps_refused = ConnectFailure::NotAuthorized { endpoint: "DPS d".into() };
        script.provisions = [Err(dps_refused.clone())].into();
        assert_eq!(establish(&mut script, &policy(), None, |_| panic!("no wait")).await, Err(dps_refused));
        // An untrusted certificate.
        let mut script = Script::new(false, true);
        let fatal = ConnectFailure::Fatal { endpoint: "hub h".into(), detail: "TLS".into() };
        script.connects = [Err(fatal.clone())].into();
        assert_eq!(establish(&mut script, &policy(), None, |_| panic!("no wait")).await, Err(fatal));
        assert_eq!(Instant::now().duration_since(script.start), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_connection_waits_before_the_first_attempt() {
        let mut script = Script::new(false, true);
        script.connects = [Ok("again")].into();
        let connection = establish(&mut script, &policy(), Some(transient()), |_| {}).await;
        assert_eq!(connection, Ok("again"));
        assert_eq!(script.attempts, [(Step::Connect, Duration::from_secs(5))]);
    }
}
