//! Reading the clock: the one place the console asks the OS for the time. Model code never
//! does; it is handed a [`Now`].

use std::time::{Instant, SystemTime};

use super::model::Now;

impl Now {
    /// The current time, read by the app glue (once per batch of events) and by views that
    /// start something at "now".
    pub fn read() -> Self {
        Self { instant: Instant::now(), wall: SystemTime::now() }
    }
}
