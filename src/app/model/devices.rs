//! The device page's state: loaded rows, the filtered and sorted view, selection, the query
//! bar and its error, load progress, chosen columns, the details panel and the live connection
//! state of the rows in view.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::command::{Command, DeleteTarget, DeviceCommand, RequestId};
use super::device_row::{DeviceRow, FieldPath, intern_path};
use super::error::AppError;
use super::live::{LiveProbe, LiveState, LiveUpdate, MAX_LIVE_ROWS};
use super::loadable::Loadable;
use super::pending::Pending;
use super::query_plan::QueryPlan;
use super::selection::Selection;
use crate::azure::wire::{ConnectionState, Device, Twin};

/// A sortable column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortColumn {
    /// Device id.
    DeviceId,
    /// Enabled or disabled.
    Status,
    /// Connection state.
    Connection,
    /// Last activity.
    LastActivity,
    /// A tag or reported property (dotted path).
    Field(String),
}

/// The active sort.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    /// The column sorted by.
    pub column: SortColumn,
    /// Ascending (true) or descending.
    pub ascending: bool,
}

/// How a finished device load ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadEnd {
    /// All pages arrived.
    Complete,
    /// The user stopped it.
    Cancelled,
}

/// Bookkeeping of the pages of the load in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageProgress {
    /// Rows received so far in this load.
    pub received: usize,
    /// True once the first page replaced the previous rows.
    pub replaced: bool,
}

/// An error from the service about the query, placed under the query bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// The service's message.
    pub message: String,
    /// 1-based column in the query bar's text, when the error names one.
    pub column: Option<usize>,
}

/// Results of a projection or aggregate query, shown as a plain table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawResults {
    /// Column names in first-seen order.
    pub columns: Vec<String>,
    /// The rows as the service returned them.
    pub rows: Vec<Value>,
}

/// The details panel.
#[derive(Clone, Debug, PartialEq)]
pub struct DetailsState {
    /// The device shown.
    pub device_id: Arc<str>,
    /// Identity and twin.
    pub loaded: Loadable<Box<(Device, Twin)>>,
    /// Show the keys in clear.
    pub reveal_keys: bool,
}

/// Everything the device page shows.
#[derive(Clone, Debug)]
pub struct DevicesState {
    /// The query bar's text.
    pub query_input: String,
    /// The query behind the rows on screen.
    pub plan: QueryPlan,
    /// The load of the rows: in flight (under its request id), finished, or failed (a query
    /// error is also placed in `query_error`).
    pub load: Loadable<LoadEnd>,
    /// Pages of the load in flight.
    pub progress: PageProgress,
    /// Loaded rows, in arrival order.
    pub rows: Vec<DeviceRow>,
    /// Rows of a non-twin query.
    pub raw: Option<RawResults>,
    /// `SELECT COUNT()` for the current query.
    pub total: Option<u64>,
    /// Error from the service about the query.
    pub query_error: Option<QueryError>,
    /// Device-id prefix filter (client side, instant).
    pub id_filter: String,
    /// Show connected devices only (client side, instant).
    pub connected_only: bool,
    /// The sort, if any (else arrival order).
    pub sort: Option<Sort>,
    /// Tag/reported columns the user added.
    pub columns: Vec<String>,
    /// Every field path seen in loaded rows (for the column picker).
    pub known_fields: BTreeSet<FieldPath>,
    /// Selected devices and the keyboard cursor.
    pub selection: Selection,
    /// The details panel, when open.
    pub details: Option<DetailsState>,
    /// Device actions on their way (create, enable/disable, delete, connection string).
    pub actions: Pending,
    /// Connection state of the rows in view and real devices' connections, kept live.
    pub live: LiveState,
    /// Indices into `rows` after filter and sort.
    view: Vec<u32>,
    /// Set when filter or sort changed: the view is rebuilt before the next read.
    view_stale: bool,
}

impl Default for DevicesState {
    fn default() -> Self {
        Self {
            query_input: String::new(),
            plan: QueryPlan::from_input(""),
            load: Loadable::Idle,
            progress: PageProgress::default(),
            rows: Vec::new(),
            raw: None,
            total: None,
            query_error: None,
            id_filter: String::new(),
            connected_only: false,
            sort: None,
            columns: Vec::new(),
            known_fields: BTreeSet::new(),
            selection: Selection::default(),
            details: None,
            actions: Pending::default(),
            live: LiveState::default(),
            view: Vec::new(),
            view_stale: false,
        }
    }
}

impl DevicesState {
    /// Starts a load of the query bar's text (stopping the one in flight); the old rows stay
    /// until the first page arrives.
    pub fn start_load(&mut self, out: &mut Vec<Command>) {
        if let Some(previous) = self.load.request() {
            out.push(DeviceCommand::CancelLoad(previous).into());
        }
        let request = RequestId::fresh();
        self.plan = QueryPlan::from_input(&self.query_input);
        self.query_error = None;
        self.total = None;
        self.load.start(request);
        self.progress = PageProgress::default();
        out.push(
            DeviceCommand::Load {
                request,
                query: self.plan.query.clone(),
                count_query: self.plan.count_query.clone(),
                returns_twins: self.plan.returns_twins,
            }
            .into(),
        );
    }

    /// The request whose pages are awaited, if any.
    pub fn loading_request(&self) -> Option<RequestId> {
        self.load.request()
    }

    /// True when the last load brought every page.
    pub fn load_complete(&self) -> bool {
        self.load == Loadable::Loaded(LoadEnd::Complete)
    }

    /// True when the last load ended, whether complete or failed.
    pub fn load_settled(&self) -> bool {
        matches!(self.load, Loadable::Loaded(LoadEnd::Complete) | Loadable::Failed { .. })
    }

    /// Rows received in the current load.
    pub fn received(&self) -> usize {
        if self.load.is_loading() { self.progress.received } else { self.rows.len() }
    }

    /// A page of twins arrived.
    pub fn add_rows(&mut self, request: RequestId, rows: Vec<DeviceRow>) {
        let Some(replace) = self.accept_page(request, rows.len()) else {
            return;
        };
        if replace {
            self.rows.clear();
            self.view.clear();
            self.raw = None;
        }
        for row in &rows {
            for (path, _) in &row.fields {
                if !self.known_fields.contains(path) {
                    self.known_fields.insert(Arc::clone(path));
                }
            }
        }
        let first_new = self.rows.len();
        self.rows.extend(rows);
        if self.view_stale {
            return; // rebuilt in full on the next read
        }
        let mut fresh: Vec<u32> =
            (first_new..self.rows.len()).filter_map(|index| u32::try_from(index).ok()).filter(|index| self.passes_filter(*index)).collect();
        if self.sort.is_some() {
            // Merge instead of re-sorting everything: pages arrive one by one, 100 of them for
            // 100 000 devices, and a full sort per page would stall frames.
            fresh.sort_by(|a, b| self.compare(*a, *b));
            let old = std::mem::take(&mut self.view);
            self.view = merge(old, fresh, |a, b| self.compare(a, b));
        } else {
            self.view.extend(fresh);
        }
    }

    /// A page of raw rows (projection or aggregate) arrived.
    pub fn add_raw(&mut self, request: RequestId, rows: Vec<Value>) {
        let Some(replace) = self.accept_page(request, rows.len()) else {
            return;
        };
        let raw = if replace || self.raw.is_none() {
            self.rows.clear();
            self.view.clear();
            self.raw.insert(RawResults::default())
        } else {
            self.raw.get_or_insert_with(RawResults::default)
        };
        for row in &rows {
            if let Value::Object(object) = row {
                for key in object.keys() {
                    if !raw.columns.iter().any(|column| column == key) {
                        raw.columns.push(key.clone());
                    }
                }
            }
        }
        raw.rows.extend(rows);
    }

    /// Bookkeeping for an arriving page; `Some(true)` when it replaces the previous rows,
    /// `None` when it belongs to a superseded load.
    fn accept_page(&mut self, request: RequestId, count: usize) -> Option<bool> {
        if !self.load.awaits(request) {
            return None;
        }
        self.progress.received += count;
        let replace = !self.progress.replaced;
        self.progress.replaced = true;
        Some(replace)
    }

    /// The load ended (all pages, or cancelled).
    pub fn finish_load(&mut self, request: RequestId, cancelled: bool) {
        if !self.load.awaits(request) {
            return;
        }
        if !self.progress.replaced && !cancelled {
            // An empty result: nothing arrived to replace the old rows.
            self.rows.clear();
            self.view.clear();
            self.raw = if self.plan.returns_twins { None } else { Some(RawResults::default()) };
        }
        self.load.finish(request, Ok(if cancelled { LoadEnd::Cancelled } else { LoadEnd::Complete }));
        if !cancelled {
            let ids: std::collections::HashSet<&str> = self.rows.iter().map(|row| &*row.device_id).collect();
            self.selection.retain_existing(|id| ids.contains(id));
        }
    }

    /// The load failed; a query error (400) goes under the bar.
    pub fn fail_load(&mut self, request: RequestId, error: AppError) {
        if !self.load.awaits(request) {
            return;
        }
        if error.status == Some(400) {
            let column = self.plan.input_column(&error.message);
            self.query_error = Some(QueryError { message: error.message.clone(), column });
        }
        self.load.finish(request, Err(error));
    }

    /// The total arrived.
    pub fn set_total(&mut self, request: RequestId, total: u64) {
        if self.load.awaits(request) || self.load_complete() {
            self.total = Some(total);
        }
    }

    /// Changes the id filter.
    pub fn set_id_filter(&mut self, filter: String) {
        if filter != self.id_filter {
            self.id_filter = filter;
            self.view_stale = true;
        }
    }

    /// Shows only connected devices, or all.
    pub fn set_connected_only(&mut self, connected_only: bool) {
        if connected_only != self.connected_only {
            self.connected_only = connected_only;
            self.view_stale = true;
        }
    }

    /// True when the device of `row` is connected: its state says so, or the simulator reports
    /// a real connection of it (newer than the state the row was loaded with).
    pub fn is_connected(&self, row: &DeviceRow) -> bool {
        row.connection_state == ConnectionState::Connected || self.live.connection(&row.device_id).is_some()
    }

    /// What a live poll asks about the rows at `range` of the view (the rows on screen).
    pub fn live_probes(&self, range: std::ops::Range<usize>) -> Vec<LiveProbe> {
        let end = range.end.min(self.view.len());
        let start = range.start.min(end);
        self.view[start..end]
            .iter()
            .take(MAX_LIVE_ROWS)
            .filter_map(|index| {
                let row = self.row(*index)?;
                Some(LiveProbe {
                    index: *index,
                    device_id: Arc::clone(&row.device_id),
                    known: row.connection_since.map(|_| row.connection_state),
                })
            })
            .collect()
    }

    /// The answer to a live poll: rows updated in place (selection, scroll, sort and filter
    /// stay; the view is re-sorted or re-filtered only when a value it depends on changed).
    pub fn apply_live(&mut self, request: super::command::RequestId, result: Result<LiveUpdate, AppError>) {
        if !self.live.finish(request) {
            return;
        }
        let update = match result {
            Ok(update) => update,
            Err(error) => {
                self.live.error = Some(error);
                return;
            }
        };
        self.live.error = None;
        let before: std::collections::HashSet<Arc<str>> = self.live.connections.keys().cloned().collect();
        self.live.set_connections(update.route, update.connections);
        let mut changed = before.len() != self.live.connections.len() || before.iter().any(|id| !self.live.connections.contains_key(id));
        for live in update.rows {
            let Some(row) = self.rows.get_mut(live.index as usize).filter(|row| row.device_id == live.device_id) else {
                continue; // the rows were reloaded since the poll was sent
            };
            if row.connection_state != live.connection_state || row.last_activity != live.last_activity {
                changed = true;
            }
            if row.connection_state != live.connection_state {
                row.connection_since = None;
            }
            row.connection_state = live.connection_state;
            row.last_activity = live.last_activity;
            if live.since.is_some() {
                row.connection_since = live.since;
            }
        }
        let depends = self.connected_only
            || self.sort.as_ref().is_some_and(|sort| matches!(sort.column, SortColumn::Connection | SortColumn::LastActivity));
        if changed && depends {
            self.view_stale = true;
        }
    }

    /// Sorts by `column`; the same column again flips the direction.
    pub fn sort_by(&mut self, column: SortColumn) {
        self.sort = Some(match self.sort.take() {
            Some(sort) if sort.column == column => Sort { column, ascending: !sort.ascending },
            _ => Sort { column, ascending: true },
        });
        self.view_stale = true;
    }

    /// Adds or removes an extra column.
    pub fn toggle_column(&mut self, path: &str) {
        if let Some(index) = self.columns.iter().position(|column| column == path) {
            self.columns.remove(index);
        } else {
            self.columns.push(path.to_owned());
        }
    }

    /// The view (filtered, sorted row indices), rebuilt first if needed.
    pub fn view(&mut self) -> &[u32] {
        if self.view_stale {
            self.rebuild_view();
        }
        &self.view
    }

    /// The view as last prepared by [`Self::view`] (call that once per frame first).
    pub fn prepared_view(&self) -> &[u32] {
        &self.view
    }

    /// Device ids in view order.
    pub fn view_ids(&mut self) -> Vec<Arc<str>> {
        self.view();
        self.view.iter().map(|index| Arc::clone(&self.rows[*index as usize].device_id)).collect()
    }

    /// The row at `index` of `rows`.
    pub fn row(&self, index: u32) -> Option<&DeviceRow> {
        self.rows.get(index as usize)
    }

    /// The row of a device.
    pub fn row_by_id(&self, device_id: &str) -> Option<&DeviceRow> {
        self.rows.iter().find(|row| &*row.device_id == device_id)
    }

    /// Selected devices as delete targets (with the etags they were listed with).
    pub fn delete_targets(&self) -> Vec<DeleteTarget> {
        let mut targets: Vec<DeleteTarget> = self
            .rows
            .iter()
            .filter(|row| self.selection.contains(&row.device_id))
            .map(|row| DeleteTarget { device_id: Arc::clone(&row.device_id), etag: row.etag.clone() })
            .collect();
        targets.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        targets
    }

    /// Opens the details panel for a device and asks for its identity and twin.
    pub fn open_details(&mut self, device_id: Arc<str>, out: &mut Vec<Command>) {
        let request = RequestId::fresh();
        out.push(DeviceCommand::LoadDetails { request, device_id: Arc::clone(&device_id) }.into());
        let mut loaded = Loadable::Idle;
        loaded.start(request);
        self.details = Some(DetailsState { device_id, loaded, reveal_keys: false });
    }

    fn rebuild_view(&mut self) {
        let mut view: Vec<u32> =
            (0..self.rows.len()).filter_map(|index| u32::try_from(index).ok()).filter(|index| self.passes_filter(*index)).collect();
        if self.sort.is_some() {
            view.sort_by(|a, b| self.compare(*a, *b));
        }
        self.view = view;
        self.view_stale = false;
    }

    fn passes_filter(&self, index: u32) -> bool {
        let row = &self.rows[index as usize];
        if self.connected_only && !self.is_connected(row) {
            return false;
        }
        let filter = self.id_filter.trim();
        filter.is_empty() || row.device_id.to_lowercase().starts_with(&filter.to_lowercase())
    }

    fn compare(&self, a: u32, b: u32) -> Ordering {
        let (Some(sort), Some(left), Some(right)) = (&self.sort, self.row(a), self.row(b)) else {
            return a.cmp(&b);
        };
        let ordering = match &sort.column {
            SortColumn::DeviceId => left.device_id.cmp(&right.device_id),
            SortColumn::Status => left.status.as_str().cmp(right.status.as_str()),
            SortColumn::Connection => left.connection_state.as_str().cmp(right.connection_state.as_str()),
            SortColumn::LastActivity => left.last_activity.cmp(&right.last_activity),
            SortColumn::Field(path) => match (left.field(path), right.field(path)) {
                (Some(x), Some(y)) => x.compare(y),
                // Devices without the field go last whatever the direction.
                (Some(_), None) => return Ordering::Less,
                (None, Some(_)) => return Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        };
        let ordering = if sort.ascending { ordering } else { ordering.reverse() };
        ordering.then_with(|| left.device_id.cmp(&right.device_id))
    }

    /// Field paths offered by the column picker, common ones first.
    pub fn pickable_fields(&self) -> Vec<FieldPath> {
        let mut fields: Vec<FieldPath> = self.known_fields.iter().cloned().collect();
        fields.sort_by_key(|path| (!path.starts_with("tags."), Arc::clone(path)));
        fields
    }

    /// Interned path of a chosen column (for lookups).
    pub fn column_path(column: &str) -> FieldPath {
        intern_path(column)
    }
}

/// Merges two sorted index lists.
fn merge(left: Vec<u32>, right: Vec<u32>, compare: impl Fn(u32, u32) -> Ordering) -> Vec<u32> {
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut a, mut b) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if compare(*x, *y) == Ordering::Greater {
                    merged.extend(b.next());
                } else {
                    merged.extend(a.next());
                }
            }
            (Some(_), None) => merged.extend(a.by_ref()),
            (None, Some(_)) => merged.extend(b.by_ref()),
            (None, None) => return merged,
        }
    }
}
