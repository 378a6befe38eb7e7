//! Multi-selection over the device list: click, Ctrl-click, Shift-click, Ctrl+A and the
//! keyboard cursor, all by device id so a refresh keeps them.

use std::collections::HashSet;
use std::sync::Arc;

/// Which devices are selected, plus the anchor of Shift ranges and the keyboard cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Selected device ids.
    pub ids: HashSet<Arc<str>>,
    /// Where a Shift range starts.
    pub anchor: Option<Arc<str>>,
    /// The focused row (arrows move it, Enter opens it).
    pub cursor: Option<Arc<str>>,
}

impl Selection {
    /// True when `device_id` is selected.
    pub fn contains(&self, device_id: &str) -> bool {
        self.ids.contains(device_id)
    }

    /// Number selected.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Plain click: only this device.
    pub fn select_only(&mut self, device_id: &Arc<str>) {
        self.ids.clear();
        self.ids.insert(Arc::clone(device_id));
        self.anchor = Some(Arc::clone(device_id));
        self.cursor = Some(Arc::clone(device_id));
    }

    /// Ctrl-click: add or remove this device.
    pub fn toggle(&mut self, device_id: &Arc<str>) {
        if !self.ids.remove(device_id) {
            self.ids.insert(Arc::clone(device_id));
        }
        self.anchor = Some(Arc::clone(device_id));
        self.cursor = Some(Arc::clone(device_id));
    }

    /// Shift-click: everything between the anchor and this device, in view order.
    pub fn extend_to(&mut self, device_id: &Arc<str>, view_ids: &[Arc<str>]) {
        let target = view_ids.iter().position(|id| id == device_id);
        let anchor = self.anchor.as_ref().and_then(|anchor| view_ids.iter().position(|id| id == anchor));
        match (anchor, target) {
            (Some(anchor), Some(target)) => {
                let (from, to) = (anchor.min(target), anchor.max(target));
                self.ids = view_ids[from..=to].iter().cloned().collect();
                self.cursor = Some(Arc::clone(device_id));
            }
            _ => self.select_only(device_id),
        }
    }

    /// Ctrl+A: every device in the view.
    pub fn select_all(&mut self, view_ids: &[Arc<str>]) {
        self.ids = view_ids.iter().cloned().collect();
        if self.cursor.is_none() {
            self.cursor = view_ids.first().cloned();
            self.anchor.clone_from(&self.cursor);
        }
    }

    /// Arrow keys: move the cursor by `delta` rows; with Shift the range grows from the anchor.
    /// Returns the new cursor's position in the view.
    pub fn move_cursor(&mut self, delta: isize, extend: bool, view_ids: &[Arc<str>]) -> Option<usize> {
        if view_ids.is_empty() {
            return None;
        }
        let current = self.cursor.as_ref().and_then(|cursor| view_ids.iter().position(|id| id == cursor));
        let last = view_ids.len() - 1;
        let next = match current {
            None => 0,
            Some(index) => index.saturating_add_signed(delta).min(last),
        };
        let target = Arc::clone(&view_ids[next]);
        if extend && self.anchor.is_some() {
            self.extend_to(&target, view_ids);
        } else {
            self.select_only(&target);
        }
        Some(next)
    }

    /// Drops ids that no longer exist (after a reload finished).
    pub fn retain_existing(&mut self, exists: impl Fn(&str) -> bool) {
        self.ids.retain(|id| exists(id));
        if self.cursor.as_deref().is_some_and(|cursor| !exists(cursor)) {
            self.cursor = None;
        }
        if self.anchor.as_deref().is_some_and(|anchor| !exists(anchor)) {
            self.anchor = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<Arc<str>> {
        names.iter().map(|name| Arc::from(*name)).collect()
    }

    fn sorted(selection: &Selection) -> Vec<String> {
        let mut names: Vec<String> = selection.ids.iter().map(ToString::to_string).collect();
        names.sort();
        names
    }

    #[test]
    fn click_ctrl_click_and_shift_click() {
        let view = ids(&["a", "b", "c", "d", "e"]);
        let mut selection = Selection::default();
        selection.select_only(&view[1]);
        selection.toggle(&view[3]);
        assert_eq!(sorted(&selection), ["b", "d"]);
        selection.extend_to(&view[0], &view);
        assert_eq!(sorted(&selection), ["a", "b", "c", "d"], "from the anchor d up to a");
        selection.toggle(&view[2]);
        assert_eq!(sorted(&selection), ["a", "b", "d"]);
        selection.select_all(&view);
        assert_eq!(selection.len(), 5);
    }

    #[test]
    fn arrows_move_and_shift_arrows_extend() {
        let view = ids(&["a", "b", "c", "d"]);
        let mut selection = Selection::default();
        assert_eq!(selection.move_cursor(1, false, &view), Some(0), "first press lands on the first row");
        assert_eq!(selection.move_cursor(1, false, &view), Some(1));
        assert_eq!(sorted(&selection), ["b"]);
        selection.move_cursor(1, true, &view);
        selection.move_cursor(1, true, &view);
        assert_eq!(sorted(&selection), ["b", "c", "d"]);
        assert_eq!(selection.move_cursor(5, false, &view), Some(3), "clamped at the end");
        assert_eq!(selection.move_cursor(-9, false, &view), Some(0));
    }

    #[test]
    fn reload_keeps_what_still_exists() {
        let view = ids(&["a", "b", "c"]);
        let mut selection = Selection::default();
        selection.select_all(&view);
        selection.retain_existing(|id| id != "a");
        assert_eq!(sorted(&selection), ["b", "c"]);
        assert_eq!(selection.cursor, None, "the cursor was on a");
    }
}
