//! `Pending`: the actions of one feature that are on their way (create, delete, cancel, invoke),
//! by request id. An answer is applied only if its action is still pending here; the set is
//! emptied with its feature's state (another hub or profile), so late answers are dropped the same
//! way as stale loads.

use std::collections::BTreeSet;

use super::command::RequestId;

/// Actions in flight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    requests: BTreeSet<RequestId>,
}

impl Pending {
    /// Records a new action and returns the id its command carries.
    pub fn start(&mut self) -> RequestId {
        let request = RequestId::fresh();
        self.requests.insert(request);
        request
    }

    /// The answer to `request` arrived: true (and forgotten) when it was pending, false for a
    /// stale answer.
    pub fn finish(&mut self, request: RequestId) -> bool {
        self.requests.remove(&request)
    }

    /// True while any action is on its way.
    pub fn any(&self) -> bool {
        !self.requests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_counts_once_and_only_for_its_own_action() {
        let mut pending = Pending::default();
        let first = pending.start();
        let second = pending.start();
        assert!(pending.finish(second));
        assert!(!pending.finish(second), "answered already");
        assert!(pending.any());
        let mut reset = Pending::default();
        assert!(!reset.finish(first), "after a reset the answer is stale");
    }
}
