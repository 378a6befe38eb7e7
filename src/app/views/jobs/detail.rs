//! One job, live: status, progress bar and counters, a chart of succeeded/failed/running over
//! time, the per-device results grid (filterable, virtualized), cancel, retry failed devices,
//! and CSV export.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::super::theme;
use super::{local_time, status_color, type_label};
use crate::app::model::{AppState, Command, Now};
use crate::azure::wire::{DeviceJobStatus, JobType};

/// The detail page.
pub fn job_detail_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let mut back = false;
    let mut cancel = false;
    let mut retry = false;
    let mut export = false;
    let Some(detail) = &mut state.jobs.detail else {
        return;
    };
    let visuals = ui.visuals().clone();
    ui.horizontal(|ui| {
        if ui.button("All jobs").clicked() {
            back = true;
        }
        ui.heading(RichText::new(&detail.job_id).strong());
        if let Some(job) = &detail.job {
            ui.label(RichText::new(job.status.as_str()).strong().color(status_color(job.status, &visuals)));
            ui.label(RichText::new(type_label(job.job_type)).color(theme::muted(&visuals)));
        }
    });
    let Some(job) = detail.job.clone() else {
        ui.label(RichText::new("Loading the job…").color(theme::muted(&visuals)));
        if let Some(error) = &detail.error {
            ui.label(RichText::new(error).color(theme::bad(&visuals)));
        }
        if back {
            state.close_job(out);
        }
        return;
    };
    let what = match job.job_type {
        JobType::ScheduleDeviceMethod => job.cloud_to_device_method.as_ref().map_or_else(String::new, |method| {
            format!("{}({})  response timeout {} s", method.method_name, method.payload, method.response_timeout_in_seconds.unwrap_or(30))
        }),
        JobType::ScheduleUpdateTwin => job.update_twin.as_ref().map_or_else(String::new, ToString::to_string),
    };
    egui::Grid::new("job-summary").num_columns(4).spacing([16.0, 4.0]).show(ui, |ui| {
        ui.label(RichText::new("Work").color(theme::muted(&visuals)));
        ui.label(RichText::new(what).monospace());
        ui.label(RichText::new("Target").color(theme::muted(&visuals)));
        ui.label(RichText::new(job.query_condition.clone().unwrap_or_default()).monospace());
        ui.end_row();
        ui.label(RichText::new("Created").color(theme::muted(&visuals)));
        ui.label(local_time(job.created_time.as_deref()));
        ui.label(RichText::new("Start").color(theme::muted(&visuals)));
        let start = job.start_time.clone().unwrap_or_default();
        ui.label(format!("{}  ({start})", local_time(Some(&start))));
        ui.end_row();
        ui.label(RichText::new("End").color(theme::muted(&visuals)));
        ui.label(local_time(job.end_time.as_deref()));
        ui.label(RichText::new("Max execution").color(theme::muted(&visuals)));
        ui.label(format!("{} s", job.max_execution_time_in_seconds.unwrap_or(0)));
        ui.end_row();
    });
    if let Some(message) = job.status_message.as_ref().or(job.failure_reason.as_ref()) {
        ui.label(RichText::new(message).color(theme::muted(&visuals)));
    }
    let counts = job.device_job_statistics.unwrap_or_default();
    let done = counts.succeeded_count + counts.failed_count;
    #[allow(clippy::cast_precision_loss)] // a progress fraction
    let fraction =
        if counts.device_count == 0 { if job.status.is_final() { 1.0 } else { 0.0 } } else { done as f32 / counts.device_count as f32 };
    ui.add(egui::ProgressBar::new(fraction).text(format!("{done} of {} devices done", counts.device_count)));
    ui.horizontal(|ui| {
        for (label, count, color) in [
            ("pending", counts.pending_count, theme::muted(&visuals)),
            ("running", counts.running_count, theme::warn(&visuals)),
            ("succeeded", counts.succeeded_count, theme::good(&visuals)),
            ("failed", counts.failed_count, theme::bad(&visuals)),
        ] {
            ui.label(RichText::new(format!("{count} {label}")).strong().color(color));
            ui.separator();
        }
        if let Some(error) = &detail.error {
            ui.label(RichText::new(format!("update failed: {error} (retrying)")).color(theme::bad(&visuals)));
        }
    });
    ui.horizontal(|ui| {
        let cancellable = !job.status.is_final();
        if ui.add_enabled(cancellable, egui::Button::new("Cancel job…")).clicked() {
            detail.confirm_cancel = true;
        }
        let failed = detail.failed_device_ids().len();
        let retry_button = ui.add_enabled(job.status.is_final() && failed > 0, egui::Button::new(format!("Retry {failed} failed devices")));
        if retry_button.on_hover_text("A new job with the same work, for exactly the devices that failed").clicked() {
            retry = true;
        }
        if ui.add_enabled(!detail.rows.is_empty(), egui::Button::new("Export CSV…")).clicked() {
            export = true;
        }
        if let Some(message) = &detail.export_message {
            ui.label(RichText::new(message).color(theme::muted(&visuals)));
        }
    });
    progress_plot_ui(ui, detail);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Devices").strong());
        let text = detail.row_filter.map_or("all", DeviceJobStatus::as_str);
        egui::ComboBox::from_id_salt("device-job-filter").selected_text(text).show_ui(ui, |ui| {
            ui.selectable_value(&mut detail.row_filter, None, "all");
            for status in [
                DeviceJobStatus::Pending,
                DeviceJobStatus::Running,
                DeviceJobStatus::Completed,
                DeviceJobStatus::Failed,
                DeviceJobStatus::Canceled,
            ] {
                ui.selectable_value(&mut detail.row_filter, Some(status), status.as_str());
            }
        });
        ui.label(RichText::new(format!("{} shown", detail.visible_rows().len())).color(theme::muted(&visuals)));
    });
    results_grid_ui(ui, detail);
    if detail.confirm_cancel {
        let mut keep = false;
        let modal = theme::modal("confirm-cancel-job").show(ui.ctx(), |ui| {
            ui.heading("Cancel this job?");
            ui.label(format!("Devices of {} not yet done will not be touched; those already done stay done.", detail.job_id));
            ui.horizontal(|ui| {
                if ui.button(RichText::new("Cancel job").color(theme::bad(ui.visuals()))).clicked() {
                    cancel = true;
                }
                if ui.button("Keep it running").clicked() {
                    keep = true;
                }
            });
        });
        if keep || cancel || theme::escape_pressed(&modal) {
            detail.confirm_cancel = false;
        }
    }
    let job_id = detail.job_id.clone();
    let retry_jobs = if retry { detail.retry_requests(&format!("{job_id}-retry-{}", now.utc().format("%H%M%S"))) } else { Vec::new() };
    if cancel {
        state.cancel_job(job_id, out);
    }
    if export {
        state.export_job_csv(out);
    }
    if !retry_jobs.is_empty() {
        state.create_jobs(retry_jobs, out);
    }
    if back {
        state.close_job(out);
    }
}

fn progress_plot_ui(ui: &mut Ui, detail: &crate::app::model::jobs::JobDetail) {
    if detail.samples.len() < 2 {
        return;
    }
    #[allow(clippy::cast_precision_loss)] // device counts are far below 2^52
    let series = |pick: fn(&crate::app::model::jobs::ProgressSample) -> u64| -> Vec<[f64; 2]> {
        detail.samples.iter().map(|sample| [sample.seconds, pick(sample) as f64]).collect()
    };
    let visuals = ui.visuals().clone();
    Plot::new("job-progress")
        .height(150.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .legend(Legend::default())
        .x_axis_label("seconds")
        .show(ui, |plot| {
            plot.line(Line::new("succeeded", PlotPoints::from(series(|sample| sample.succeeded))).color(theme::good(&visuals)));
            plot.line(Line::new("failed", PlotPoints::from(series(|sample| sample.failed))).color(theme::bad(&visuals)));
            plot.line(Line::new("running", PlotPoints::from(series(|sample| sample.running))).color(theme::warn(&visuals)));
        });
}

fn results_grid_ui(ui: &mut Ui, detail: &crate::app::model::jobs::JobDetail) {
    let visible = detail.visible_rows();
    let visuals = ui.visuals().clone();
    TableBuilder::new(ui)
        .striped(true)
        .column(Column::initial(220.0).resizable(true).clip(true))
        .column(Column::initial(90.0).resizable(true))
        .column(Column::initial(160.0).resizable(true))
        .column(Column::initial(160.0).resizable(true))
        .column(Column::initial(70.0).resizable(true))
        .column(Column::remainder().clip(true))
        .header(22.0, |mut header| {
            for title in ["Device", "Status", "Start", "End", "Method", "Response or error"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(theme::ROW_HEIGHT, visible.len(), |mut row| {
                let device = &detail.rows[visible[row.index()]];
                let response = device.outcome.as_ref().and_then(|outcome| outcome.device_method_response.as_ref());
                row.col(|ui| {
                    ui.add(egui::Label::new(&device.device_id).truncate());
                });
                row.col(|ui| {
                    let color = match device.status {
                        DeviceJobStatus::Completed => theme::good(&visuals),
                        DeviceJobStatus::Failed => theme::bad(&visuals),
                        DeviceJobStatus::Running => theme::warn(&visuals),
                        _ => theme::muted(&visuals),
                    };
                    ui.label(RichText::new(device.status.as_str()).color(color));
                });
                row.col(|ui| {
                    ui.label(local_time(device.start_time_utc.as_deref()));
                });
                row.col(|ui| {
                    ui.label(local_time(device.end_time_utc.as_deref()));
                });
                row.col(|ui| {
                    ui.label(response.map(|response| response.status.to_string()).unwrap_or_default());
                });
                row.col(|ui| {
                    let text = match (&device.error, response) {
                        (Some(error), _) => RichText::new(format!("{}: {}", error.code, error.description)).color(theme::bad(&visuals)),
                        (None, Some(response)) => RichText::new(response.payload.to_string()).monospace(),
                        (None, None) => RichText::new(""),
                    };
                    ui.add(egui::Label::new(text).truncate());
                });
            });
        });
}
