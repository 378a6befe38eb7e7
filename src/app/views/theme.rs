//! Colors and spacing shared by the views, derived from the current egui visuals so dark and
//! light themes both work.

use egui::{Color32, Visuals};

/// Green for healthy states (connected, enabled).
pub fn good(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(87, 190, 120) } else { Color32::from_rgb(22, 128, 60) }
}

/// Amber for warnings (throttling, disabled).
pub fn warn(visuals: &Visuals) -> Color32 {
    if visuals.dark_mode { Color32::from_rgb(230, 180, 80) } else { Color32::from_rgb(170, 110, 0) }
}

/// Red for failures.
pub fn bad(visuals: &Visuals) -> Color32 {
    visuals.error_fg_color
}

/// Muted text (secondary information).
pub fn muted(visuals: &Visuals) -> Color32 {
    visuals.weak_text_color()
}

/// A small filled (or hollow) status dot, painted: the bundled proportional fonts have no `●`.
pub fn dot_ui(ui: &mut egui::Ui, color: Color32, filled: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    let painter = ui.painter();
    if filled {
        painter.circle_filled(rect.center(), 4.0, color);
    } else {
        painter.circle_stroke(rect.center(), 3.5, egui::Stroke::new(1.2, color));
    }
}

/// A modal anchored near the top, so it grows downward as validation messages appear instead
/// of jumping around the centre while the user types.
pub fn modal(id: &str) -> egui::Modal {
    let id = egui::Id::unique(id);
    egui::Modal::new(id).area(egui::Modal::default_area(id).anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 90.0)))
}

/// True when Esc should close this modal. Unlike `ModalResponse::should_close`, a click on the
/// backdrop does not count: a stray click (or one on a disabled button, which falls through to
/// the backdrop) must never throw a draft away.
pub fn escape_pressed<T>(modal: &egui::ModalResponse<T>) -> bool {
    modal.is_top_modal
        && !modal.any_popup_open
        && modal.response.ctx.input_mut(|input| input.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
}

/// Height of a table row.
pub const ROW_HEIGHT: f32 = 22.0;

/// The size of the app's small text (secondary lines, hints, previews), in points.
pub const SMALL_TEXT_SIZE: f32 = 11.0;

/// Applies hubdeck's spacing and small text size on top of egui's defaults.
pub fn apply(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        // egui's Small is 9 pt, too small to read device ids and hints in; secondary lines use
        // this one readable small size everywhere.
        style.text_styles.insert(egui::TextStyle::Small, egui::FontId::proportional(SMALL_TEXT_SIZE));
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 3.0);
        style.spacing.interact_size.y = 22.0;
    });
}
