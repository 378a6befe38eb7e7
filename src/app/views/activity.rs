//! The activity page: every API call with time, operation, target, status, latency and attempt,
//! filterable by text and failures; the status bar links to an entry.

use chrono::{DateTime, Local};
use egui::{Align, Layout, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::theme;
use crate::app::model::AppState;
use crate::azure::events::CallOutcome;

/// Draws the page.
pub fn activity_page_ui(ui: &mut Ui, state: &mut AppState) {
    let log = &mut state.activity;
    ui.horizontal(|ui| {
        let label = ui.label("Filter");
        let edit = egui::TextEdit::singleline(&mut log.filter)
            .id_salt("activity-filter")
            .hint_text("operation, device, status or error")
            .desired_width(360.0);
        ui.add(edit).labelled_by(label.id);
        ui.checkbox(&mut log.failures_only, "Failures only");
        ui.label(RichText::new(format!("{} calls logged", log.len())).color(theme::muted(ui.visuals())));
    });
    ui.separator();
    let highlight = log.highlight;
    let entries = log.visible();
    if entries.is_empty() {
        ui.label(RichText::new("No calls match.").color(theme::muted(ui.visuals())));
        return;
    }
    let scroll_to = highlight.and_then(|seq| entries.iter().position(|entry| entry.seq == seq));
    let visuals = ui.visuals().clone();
    let mut table = TableBuilder::new(ui)
        .id_salt("activity-table")
        .striped(true)
        .resizable(true)
        .stick_to_bottom(highlight.is_none())
        .cell_layout(Layout::left_to_right(Align::Center))
        .column(Column::initial(45.0))
        .column(Column::initial(105.0))
        .column(Column::initial(150.0).resizable(true))
        .column(Column::initial(260.0).resizable(true).clip(true))
        .column(Column::initial(60.0))
        .column(Column::initial(70.0))
        .column(Column::initial(55.0))
        .column(Column::remainder().clip(true));
    if let Some(index) = scroll_to {
        table = table.scroll_to_row(index, Some(Align::Center));
    }
    table
        .header(theme::ROW_HEIGHT, |mut header| {
            for title in ["#", "Time", "Operation", "Target", "Status", "Latency", "Attempt", "Error"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(theme::ROW_HEIGHT, entries.len(), |mut row| {
                let Some(entry) = entries.get(row.index()) else {
                    return;
                };
                let record = &entry.record;
                row.set_selected(highlight == Some(entry.seq));
                let status_color = match record.outcome {
                    CallOutcome::Succeeded => theme::good(&visuals),
                    CallOutcome::WillRetry => theme::warn(&visuals),
                    CallOutcome::Failed => theme::bad(&visuals),
                };
                let time: DateTime<Local> = record.started_at.into();
                let cells = [
                    RichText::new(entry.seq.to_string()).color(theme::muted(&visuals)),
                    RichText::new(time.format("%H:%M:%S%.3f").to_string()).monospace(),
                    RichText::new(record.operation),
                    RichText::new(&record.target),
                    RichText::new(record.status.map_or_else(|| "—".to_owned(), |status| status.to_string())).color(status_color),
                    RichText::new(format!("{} ms", record.latency.as_millis())),
                    RichText::new(record.attempt.to_string()),
                    RichText::new(
                        [record.error_code.as_deref(), record.error_message.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(": "),
                    )
                    .color(theme::bad(&visuals)),
                ];
                for cell in cells {
                    row.col(|ui| {
                        ui.add(egui::Label::new(cell).selectable(false));
                    });
                }
            });
        });
}
