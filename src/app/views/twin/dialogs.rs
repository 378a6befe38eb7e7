//! The twin editor's dialogs: the review of the exact patch, the conflict view after a 412,
//! and "discard your changes?".

use egui::{RichText, Ui};
use serde_json::Value;

use super::super::theme;
use super::value::display;
use crate::app::model::Command;
use crate::app::model::twin::{ChangeLine, DiscardThen, TwinEditor};

/// `+`, `~` or `−` with its colour and the line's text.
fn change_text(line: &ChangeLine, visuals: &egui::Visuals) -> (String, egui::Color32) {
    let path = line.dotted();
    match (&line.before, &line.after) {
        (None, Some(after)) => (format!("+ {path} = {}", display(after)), theme::good(visuals)),
        (Some(before), None) => (format!("− {path} (was {}) → null, deleted", display(before)), theme::bad(visuals)),
        (Some(before), Some(after)) => (format!("~ {path}: {} → {}", display(before), display(after)), theme::warn(visuals)),
        (None, None) => (format!("  {path}"), theme::muted(visuals)),
    }
}

/// The review: every changed key as a diff line, then the exact request.
pub fn review_ui(ui: &mut Ui, editor: &mut TwinEditor, out: &mut Vec<Command>) {
    if !editor.review || editor.conflict.is_some() {
        return;
    }
    let Some(draft) = &editor.draft else {
        return;
    };
    let lines = draft.change_lines();
    let body = serde_json::to_string_pretty(&draft.patch()).unwrap_or_default();
    let etag = draft.etag().map_or_else(|| "*".to_owned(), |etag| format!("\"{etag}\""));
    let blocker = editor.save_blocker();
    let mut save = false;
    let mut close = false;
    let modal = theme::modal("twin-review").show(ui.ctx(), |ui| {
        ui.set_width(720.0);
        ui.heading(format!("Review changes to the twin of {}", editor.device_id));
        ui.label(
            RichText::new(format!("{} change{}; only these keys are sent.", lines.len(), if lines.len() == 1 { "" } else { "s" }))
                .color(theme::muted(ui.visuals())),
        );
        ui.add_space(4.0);
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            for line in &lines {
                let (text, color) = change_text(line, ui.visuals());
                ui.label(RichText::new(text).monospace().color(color));
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("The request").strong());
        egui::ScrollArea::vertical().max_height(260.0).show(ui, |ui| {
            let request = format!("PATCH /twins/{}?api-version=2021-04-12\nIf-Match: {etag}\n\n{body}", editor.device_id);
            ui.add(egui::Label::new(RichText::new(request).monospace()).selectable(true));
        });
        ui.add_space(6.0);
        if let Some(why) = &blocker {
            ui.label(RichText::new(format!("Cannot save: {why}")).color(theme::bad(ui.visuals())));
        }
        ui.horizontal(|ui| {
            if ui.add_enabled(blocker.is_none(), egui::Button::new(RichText::new("Save (PATCH)").strong())).clicked() {
                save = true;
            }
            if ui.button("Back to editing").clicked() {
                close = true;
            }
        });
    });
    if save {
        editor.save(out);
        editor.review = false;
    } else if close || theme::escape_pressed(&modal) {
        editor.review = false;
    }
}

fn cell(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), display)
}

/// After a 412: per changed key, base / theirs / mine and a choice.
pub fn conflict_ui(ui: &mut Ui, editor: &mut TwinEditor) {
    let device_id = editor.device_id.clone();
    let Some(conflict) = &mut editor.conflict else {
        return;
    };
    let mut apply = false;
    let mut take_theirs = false;
    theme::modal("twin-conflict").show(ui.ctx(), |ui| {
        ui.set_width(860.0);
        let visuals = ui.visuals().clone();
        ui.heading(format!("Someone else changed the twin of {device_id}"));
        ui.label(
            "Your save was refused because the twin changed after you opened it (the etag no longer matched). Nothing was overwritten. \
             For each key you changed, choose what to keep; then review and save again against their version.",
        );
        ui.add_space(6.0);
        egui::Grid::new("twin-conflict-grid").num_columns(5).striped(true).spacing([14.0, 6.0]).show(ui, |ui| {
            for title in ["Key", "When you opened it", "Theirs (now)", "Yours", "Keep"] {
                ui.label(RichText::new(title).strong());
            }
            ui.end_row();
            for key in &mut conflict.keys {
                let path = format!("{}.{}", key.section.path(), key.conflict.path.join("."));
                let color = if key.contested { theme::bad(&visuals) } else { visuals.text_color() };
                ui.label(RichText::new(&path).monospace().color(color)).on_hover_text(if key.contested {
                    "Both of you changed this key"
                } else {
                    "Only you changed this key"
                });
                ui.label(RichText::new(cell(key.conflict.base.as_ref())).monospace());
                ui.label(RichText::new(cell(key.conflict.theirs.as_ref())).monospace());
                ui.label(RichText::new(cell(key.conflict.mine.as_ref())).monospace());
                ui.horizontal(|ui| {
                    let mine = ui.radio(key.take_mine == Some(true), "mine").accessible_name(format!("Keep mine for {path}"));
                    if mine.clicked() {
                        key.take_mine = Some(true);
                    }
                    let theirs = ui.radio(key.take_mine == Some(false), "theirs").accessible_name(format!("Take theirs for {path}"));
                    if theirs.clicked() {
                        key.take_mine = Some(false);
                    }
                });
                ui.end_row();
            }
        });
        if !conflict.their_other_changes.is_empty() {
            ui.add_space(6.0);
            ui.label(
                RichText::new("They also changed these keys, which you did not touch; their values are kept:")
                    .color(theme::muted(&visuals)),
            );
            for line in &conflict.their_other_changes {
                let (text, color) = change_text(line, &visuals);
                ui.label(RichText::new(text).monospace().color(color));
            }
        }
        ui.add_space(8.0);
        let decided = conflict.decided();
        if !decided {
            ui.label(RichText::new("Choose mine or theirs for every key both of you changed.").color(theme::warn(&visuals)));
        }
        ui.horizontal(|ui| {
            if ui.add_enabled(decided, egui::Button::new(RichText::new("Apply and review…").strong())).clicked() {
                apply = true;
            }
            if ui.button("Take all of theirs").on_hover_text("Keep their version of every key; your changes are dropped").clicked() {
                take_theirs = true;
            }
        });
    });
    if take_theirs {
        for key in &mut conflict.keys {
            key.take_mine = Some(false);
        }
    }
    if apply {
        editor.resolve_conflict();
    }
}

/// "Discard your changes?" Returns true when the user confirmed.
pub fn confirm_discard_ui(ui: &mut Ui, editor: &mut TwinEditor) -> bool {
    let Some(then) = &editor.confirm_discard else {
        return false;
    };
    let question = match then {
        DiscardThen::Reset => format!("Discard your changes to the twin of {}?", editor.device_id),
        DiscardThen::Open(other) => format!("Open the twin of {other} and discard your changes to {}?", editor.device_id),
        DiscardThen::Close => format!("Close the editor and discard your changes to the twin of {}?", editor.device_id),
    };
    let mut discard = false;
    let mut keep = false;
    let modal = theme::modal("twin-discard").show(ui.ctx(), |ui| {
        ui.set_width(460.0);
        ui.heading("Unsaved twin changes");
        ui.label(question);
        ui.label(RichText::new("They have not been sent to the hub.").color(theme::muted(ui.visuals())));
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button(RichText::new("Discard changes").color(theme::bad(ui.visuals()))).clicked() {
                discard = true;
            }
            if ui.button("Keep editing").clicked() {
                keep = true;
            }
        });
    });
    if keep || theme::escape_pressed(&modal) {
        editor.confirm_discard = None;
    }
    discard
}
