//! `Loadable<T>`: the one shape of everything the console loads — idle, loading under a request
//! id, loaded, or failed — and the one way stale answers are dropped: a result is applied only
//! when it answers the request in flight.

use super::command::RequestId;
use super::error::AppError;

/// Something loaded from the backend. While a reload runs or after it failed, the previous value
/// is kept so the page does not flash empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Loadable<T> {
    /// Not asked for yet.
    #[default]
    Idle,
    /// Waiting for the answer to `request`.
    Loading {
        /// The request whose answer is awaited; any other answer is stale.
        request: RequestId,
        /// What was shown before this load started.
        previous: Option<T>,
    },
    /// The answer arrived.
    Loaded(T),
    /// The load failed.
    Failed {
        /// Why it failed.
        error: AppError,
        /// What was shown before the failed load.
        previous: Option<T>,
    },
}

impl<T> Loadable<T> {
    /// Starts (or restarts) a load under `request`, keeping the value shown so far.
    pub fn start(&mut self, request: RequestId) {
        let previous = self.take_value();
        *self = Self::Loading { request, previous };
    }

    /// True when `request` is the load in flight.
    pub fn awaits(&self, request: RequestId) -> bool {
        self.request() == Some(request)
    }

    /// The request in flight, if any.
    pub fn request(&self) -> Option<RequestId> {
        match self {
            Self::Loading { request, .. } => Some(*request),
            Self::Idle | Self::Loaded(_) | Self::Failed { .. } => None,
        }
    }

    /// Applies the answer to `request`. Returns false, changing nothing, when the answer is
    /// stale (another load started since, or the state was reset).
    pub fn finish(&mut self, request: RequestId, result: Result<T, AppError>) -> bool {
        if !self.awaits(request) {
            return false;
        }
        match result {
            Ok(value) => *self = Self::Loaded(value),
            Err(error) => self.fail(error),
        }
        true
    }

    /// Fails without asking the backend (e.g. the profile has no DPS), keeping the value shown.
    pub fn fail(&mut self, error: AppError) {
        let previous = self.take_value();
        *self = Self::Failed { error, previous };
    }

    /// The value to show: the loaded one, or the one kept while reloading or after a failure.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Loaded(value) | Self::Loading { previous: Some(value), .. } | Self::Failed { previous: Some(value), .. } => Some(value),
            Self::Idle | Self::Loading { previous: None, .. } | Self::Failed { previous: None, .. } => None,
        }
    }

    /// The value to change locally (after a save or a delete), wherever it is kept.
    pub fn value_mut(&mut self) -> Option<&mut T> {
        match self {
            Self::Loaded(value) | Self::Loading { previous: Some(value), .. } | Self::Failed { previous: Some(value), .. } => Some(value),
            Self::Idle | Self::Loading { previous: None, .. } | Self::Failed { previous: None, .. } => None,
        }
    }

    /// The loaded value only (not one kept from before a reload).
    pub fn loaded(&self) -> Option<&T> {
        match self {
            Self::Loaded(value) => Some(value),
            Self::Idle | Self::Loading { .. } | Self::Failed { .. } => None,
        }
    }

    /// Why the last load failed.
    pub fn error(&self) -> Option<&AppError> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::Idle | Self::Loading { .. } | Self::Loaded(_) => None,
        }
    }

    /// Never asked for.
    pub fn is_idle(&self) -> bool {
        matches!(self, Self::Idle)
    }

    /// A load is in flight.
    pub fn is_loading(&self) -> bool {
        matches!(self, Self::Loading { .. })
    }

    /// The last load succeeded.
    pub fn is_loaded(&self) -> bool {
        matches!(self, Self::Loaded(_))
    }

    fn take_value(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Self::Loaded(value) => Some(value),
            Self::Loading { previous, .. } | Self::Failed { previous, .. } => previous,
            Self::Idle => None,
        }
    }
}

impl<T: Default> Loadable<T> {
    /// The value to change locally, created empty (and kept as the previous value of the load
    /// in flight) when nothing was loaded yet — e.g. an enrollment found before the lists came.
    pub fn value_mut_or_default(&mut self) -> &mut T {
        match self {
            Self::Loaded(value) => value,
            Self::Loading { previous, .. } | Self::Failed { previous, .. } => previous.get_or_insert_with(T::default),
            Self::Idle => {
                *self = Self::Loaded(T::default());
                self.value_mut_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_answer_changes_nothing() {
        let mut list: Loadable<Vec<u32>> = Loadable::Idle;
        list.start(RequestId(1));
        list.start(RequestId(2));
        assert!(!list.finish(RequestId(1), Ok(vec![1])));
        assert_eq!(list, Loadable::Loading { request: RequestId(2), previous: None });
        assert!(list.finish(RequestId(2), Ok(vec![2])));
        assert_eq!(list.loaded(), Some(&vec![2]));
    }

    #[test]
    fn a_reload_keeps_the_value_until_its_answer() {
        let mut list = Loadable::Loaded(vec![1]);
        list.start(RequestId(3));
        assert_eq!(list.value(), Some(&vec![1]));
        assert!(list.finish(RequestId(3), Err(AppError::local("offline"))));
        assert_eq!(list.value(), Some(&vec![1]));
        assert_eq!(list.error().map(|error| error.message.as_str()), Some("offline"));
    }
}
