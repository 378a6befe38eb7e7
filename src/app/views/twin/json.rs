//! JSON mode: the same draft as text. It becomes the draft whenever it parses; while it does
//! not, the text is kept and the error points at its line and column.

use egui::{RichText, Ui};

use super::super::theme;
use crate::app::model::twin::TwinEditor;

/// The text editor.
pub fn json_ui(ui: &mut Ui, editor: &mut TwinEditor) {
    let visuals = ui.visuals().clone();
    let hint = if editor.patch_mode {
        "The patch every targeted device gets: tags and properties.desired; a null deletes that key on each device."
    } else {
        "Tags and desired properties as JSON. Removing a key sends it as null; reported properties are the device's and are not part of this text."
    };
    ui.label(RichText::new(hint).color(theme::muted(&visuals)));
    if let Some(error) = &editor.json_error {
        let message = error.message.split(" at line ").next().unwrap_or(&error.message);
        let text = match (error.line, error.column) {
            (Some(line), Some(column)) => format!("Line {line}, column {column}: {message}"),
            _ => message.to_owned(),
        };
        ui.label(
            RichText::new(format!("⚠ {text}. The tree and saving wait until the JSON is valid; nothing you typed is lost."))
                .color(theme::bad(&visuals)),
        );
    } else if let Some(draft) = &editor.draft {
        for violation in draft.violations().iter().take(5) {
            ui.label(RichText::new(format!("⚠ {violation}")).color(theme::bad(&visuals)));
        }
    }
    let error_line = editor.json_error.as_ref().and_then(|error| error.line);
    let (scroll, rows) = if editor.patch_mode {
        (egui::ScrollArea::vertical().max_height(240.0).min_scrolled_height(200.0).auto_shrink([false, true]), 8)
    } else {
        (egui::ScrollArea::vertical().auto_shrink([false, false]), 28)
    };
    scroll.show(ui, |ui| {
        ui.horizontal_top(|ui| {
            gutter_ui(ui, editor.json_text.lines().count().max(1), error_line);
            let edit = egui::TextEdit::multiline(&mut editor.json_text).code_editor().desired_width(f32::INFINITY).desired_rows(rows);
            if ui.add(edit).accessible_name("Twin JSON").changed() {
                editor.json_edited();
            }
        });
    });
}

/// Line numbers beside the text, the error's line marked, so "line 6" is easy to find.
fn gutter_ui(ui: &mut Ui, lines: usize, error_line: Option<usize>) {
    let visuals = ui.visuals().clone();
    let mut job = egui::text::LayoutJob::default();
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    for line in 1..=lines {
        let bad = error_line == Some(line);
        let color = if bad { theme::bad(&visuals) } else { theme::muted(&visuals) };
        let text = if bad { format!("▶{line:>4}\n") } else { format!("{line:>5}\n") };
        job.append(&text, 0.0, egui::TextFormat::simple(font.clone(), color));
    }
    ui.vertical(|ui| {
        // Matches the text edit's inner margin, so numbers sit on their lines.
        ui.add_space(ui.spacing().button_padding.y + 1.0);
        ui.add(egui::Label::new(job).selectable(false));
    });
}
