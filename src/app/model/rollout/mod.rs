//! Staged roll-outs, as a pure model: wave plans (`waves.rs`), the rules that continue or stop a
//! roll-out (`rules.rs`), a wave as IoT Hub jobs under the query-size limit (`wave_jobs.rs`), one
//! roll-out as it runs (`run.rs`), and the estimate before it starts (`estimate.rs`). The console
//! and the backend drive it; nothing here does I/O or reads a clock.

pub mod estimate;
pub mod rules;
pub mod run;
pub mod wave_jobs;
pub mod waves;

pub use estimate::{Bottleneck, Estimate, EstimateInput, HubCapacity, OperationCost, estimate};
pub use rules::{AbortRule, ContinueWhen, Counts, Verdict};
pub use run::{Rollout, RolloutSpec, RolloutStatus, Step, Wave, WaveStatus};
pub use wave_jobs::RolloutOperation;
pub use waves::{WavePlan, WavePlanError};
