//! The twin editor page: toolbar (mode, filter, refresh, discard, review), banners (changed
//! elsewhere, save errors, what blocks a save), the tree or JSON body, and its dialogs. Polls the
//! twin while visible.

mod dialogs;
pub mod json;
pub mod tree;
mod value;

use egui::{RichText, Ui};

use super::theme;
use crate::app::model::twin::{DiscardThen, EditorMode, TwinEditor};
use crate::app::model::{AppState, Command, ConnectionStatus, Now};
use crate::azure::wire::ConnectionState;

/// The twin editor page: toolbar, banners, tree or JSON, and the review and conflict dialogs.
pub fn twin_page_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let throttled = state.status.retry.is_some();
    let connected = matches!(state.connection, ConnectionStatus::Connected { .. });
    let Some(editor) = &mut state.twin else {
        empty_ui(ui);
        return;
    };
    if header_ui(ui, editor, now, out) {
        if editor.has_unsaved_work() {
            editor.confirm_discard = Some(DiscardThen::Close);
        } else {
            state.twin = None;
            state.page = crate::app::model::Page::Devices;
            return;
        }
    }
    ui.separator();
    if editor.is_ready() {
        banners_ui(ui, editor, out);
        match editor.mode {
            EditorMode::Tree => tree::tree_ui(ui, editor),
            EditorMode::Json => json::json_ui(ui, editor),
        }
    } else if let Some(error) = editor.first_load_error() {
        ui.label(
            RichText::new(format!("The twin of {} could not be loaded: {}", editor.device_id, error.with_code()))
                .color(theme::bad(ui.visuals())),
        );
        if ui.button("Try again").clicked() {
            let device_id = std::sync::Arc::clone(&editor.device_id);
            *editor = TwinEditor::open(device_id, out);
        }
    } else {
        ui.label(RichText::new(format!("Loading the twin of {}…", editor.device_id)).color(theme::muted(ui.visuals())));
    }
    poll(ui, editor, connected && !throttled, now, out);
    dialogs::review_ui(ui, editor, out);
    dialogs::conflict_ui(ui, editor);
    if dialogs::confirm_discard_ui(ui, editor) {
        state.discard_twin_draft(out);
    }
}

fn empty_ui(ui: &mut Ui) {
    ui.add_space(24.0);
    ui.vertical_centered(|ui| {
        ui.heading("Twin editor");
        ui.add_space(8.0);
        ui.label(
            RichText::new("Open a device's twin from the Devices page: select a device and press Enter, double-click it, or use \"Edit twin\" in its details.")
                .color(theme::muted(ui.visuals())),
        );
    });
}

/// Returns true when Close was clicked.
fn header_ui(ui: &mut Ui, editor: &mut TwinEditor, now: Now, out: &mut Vec<Command>) -> bool {
    let visuals = ui.visuals().clone();
    let mut close = false;
    ui.horizontal(|ui| {
        ui.heading(RichText::new(format!("Twin — {}", editor.device_id)).strong());
        if let Some(live) = editor.live.value() {
            let online = live.connection_state == Some(ConnectionState::Connected);
            theme::dot_ui(ui, if online { theme::good(&visuals) } else { theme::muted(&visuals) }, online);
            ui.label(RichText::new(if online { "connected" } else { "disconnected" }).color(theme::muted(&visuals)));
        }
        if let Some(draft) = &editor.draft {
            let base = &draft.base;
            ui.label(
                RichText::new(format!(
                    "etag {}  ·  desired $version {}  ·  reported $version {}",
                    base.etag.as_deref().unwrap_or("—"),
                    base.desired_version().map_or_else(|| "—".to_owned(), |version| version.to_string()),
                    editor
                        .live
                        .value()
                        .and_then(crate::azure::wire::Twin::reported_version)
                        .map_or_else(|| "—".to_owned(), |version| version.to_string()),
                ))
                .color(theme::muted(&visuals))
                .small(),
            );
        }
    });
    ui.horizontal(|ui| {
        let tree_allowed = editor.mode == EditorMode::Tree || editor.json_error.is_none();
        let tree = ui
            .add_enabled(tree_allowed, egui::Button::selectable(editor.mode == EditorMode::Tree, "Tree"))
            .on_disabled_hover_text("Fix the JSON first; the tree shows the draft once it parses");
        if tree.clicked() {
            editor.set_mode(EditorMode::Tree);
        }
        if ui
            .add(egui::Button::selectable(editor.mode == EditorMode::Json, "JSON"))
            .on_hover_text("Edit the same draft as JSON text")
            .clicked()
        {
            editor.set_mode(EditorMode::Json);
        }
        ui.separator();
        let label = ui.label("Filter keys");
        ui.add(egui::TextEdit::singleline(&mut editor.filter).desired_width(160.0).hint_text("key name")).labelled_by(label.id);
        ui.separator();
        if ui
            .button("⟳ Refresh")
            .on_hover_text("Read the twin again (reported properties refresh by themselves every few seconds)")
            .clicked()
        {
            editor.poll(now.instant, out);
        }
        let dirty = editor.has_unsaved_work();
        if ui.add_enabled(dirty, egui::Button::new("Discard changes…")).clicked() {
            editor.confirm_discard = Some(DiscardThen::Reset);
        }
        let blocker = editor.save_blocker();
        let review = ui.add_enabled(blocker.is_none(), egui::Button::new(RichText::new("Review & save…").strong()));
        let review = match &blocker {
            Some(why) => review.on_disabled_hover_text(format!("Cannot save: {why}")),
            None => review.on_hover_text("See the exact patch before it is sent"),
        };
        if review.clicked() {
            editor.review = true;
        }
        if ui.button("Close").on_hover_text("Close the twin editor").clicked() {
            close = true;
        }
        if dirty {
            ui.label(RichText::new("unsaved changes").color(theme::warn(&visuals)));
        }
    });
    close
}

fn banners_ui(ui: &mut Ui, editor: &mut TwinEditor, out: &mut Vec<Command>) {
    let visuals = ui.visuals().clone();
    if let Some(message) = editor.elsewhere.clone() {
        egui::Frame::group(ui.style()).fill(visuals.faint_bg_color).show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Changed elsewhere:").strong().color(theme::warn(&visuals)));
                ui.label(message);
                if editor.has_unsaved_work()
                    && let Some(live) = editor.live.value().cloned()
                    && ui.button("Reconcile now…").on_hover_text("Compare your changes with theirs, key by key").clicked()
                {
                    editor.start_conflict(live);
                }
                if ui.small_button("Dismiss").clicked() {
                    editor.elsewhere = None;
                }
            });
        });
    }
    if let Some(message) = editor.save_error.clone() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Not saved: {message}. Your draft is kept.")).color(theme::bad(&visuals)));
            if ui.small_button("Try again").clicked() {
                editor.save(out);
            }
        });
    }
    if editor.is_saving() {
        ui.label(RichText::new("Saving…").color(theme::muted(&visuals)));
    }
    if let Some(draft) = &editor.draft {
        let violations = draft.violations();
        if !violations.is_empty() {
            ui.label(
                RichText::new(format!(
                    "{} problem{} must be fixed before saving (marked below).",
                    violations.len(),
                    if violations.len() == 1 { "" } else { "s" }
                ))
                .color(theme::bad(&visuals)),
            );
        }
    }
}

/// Modest polling while the page is visible, the window has focus, and nothing is throttled.
fn poll(ui: &Ui, editor: &mut TwinEditor, allowed: bool, now: Now, out: &mut Vec<Command>) {
    let focused = ui.input(|input| input.focused);
    if !allowed || !focused || !editor.is_ready() {
        return;
    }
    let now = now.instant;
    let due_in = editor.poll_due_in(now);
    if due_in.is_zero() {
        editor.poll(now, out);
        ui.ctx().request_repaint_after(editor.poll_due_in(now));
    } else {
        ui.ctx().request_repaint_after(due_in);
    }
}
