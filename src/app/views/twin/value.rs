//! One value in the tree: its type (with the type selector) and its inline editor. Text that
//! does not parse for the chosen type is kept as typed and flagged, never thrown away.

use egui::{RichText, Ui};
use serde_json::{Map, Value};

use super::super::theme;

/// The types the selector offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// JSON string.
    String,
    /// JSON number.
    Number,
    /// true / false.
    Bool,
    /// null: the key is deleted when saved.
    Null,
    /// Nested keys.
    Object,
    /// A JSON array, edited as JSON text.
    Array,
}

impl ValueKind {
    /// Every kind, in selector order.
    pub const ALL: [Self; 6] = [Self::String, Self::Number, Self::Bool, Self::Null, Self::Object, Self::Array];

    /// The kind of `value`.
    pub fn of(value: &Value) -> Self {
        match value {
            Value::String(_) => Self::String,
            Value::Number(_) => Self::Number,
            Value::Bool(_) => Self::Bool,
            Value::Null => Self::Null,
            Value::Object(_) => Self::Object,
            Value::Array(_) => Self::Array,
        }
    }

    /// Selector label.
    pub fn label(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Bool => "bool",
            Self::Null => "null",
            Self::Object => "object",
            Self::Array => "array",
        }
    }

    /// `value` converted to this kind, keeping what can be kept (`"42"` → 42).
    pub fn convert(self, value: &Value) -> Value {
        match (self, value) {
            (Self::String, Value::String(_))
            | (Self::Number, Value::Number(_))
            | (Self::Bool, Value::Bool(_))
            | (Self::Object, Value::Object(_))
            | (Self::Array, Value::Array(_)) => value.clone(),
            (Self::String, Value::Null) => Value::String(String::new()),
            (Self::String, other) => Value::String(other.to_string()),
            (Self::Number, Value::String(text)) => {
                serde_json::from_str::<Value>(text.trim()).ok().filter(Value::is_number).unwrap_or(Value::from(0))
            }
            (Self::Number, Value::Bool(flag)) => Value::from(u8::from(*flag)),
            (Self::Number, _) => Value::from(0),
            (Self::Bool, Value::String(text)) => Value::Bool(text.trim().eq_ignore_ascii_case("true")),
            (Self::Bool, _) => Value::Bool(false),
            (Self::Null, _) => Value::Null,
            (Self::Object, _) => Value::Object(Map::new()),
            (Self::Array, _) => Value::Array(Vec::new()),
        }
    }
}

/// The type selector; returns the new value when the type changed.
pub fn kind_selector_ui(ui: &mut Ui, id: &str, value: &Value) -> Option<Value> {
    let current = ValueKind::of(value);
    let mut chosen = current;
    let combo = egui::ComboBox::from_id_salt(("kind", id)).width(70.0).selected_text(current.label()).show_ui(ui, |ui| {
        for kind in ValueKind::ALL {
            ui.selectable_value(&mut chosen, kind, kind.label());
        }
    });
    // The key is drawn beside it, not in it: screen readers get the name here.
    let name = format!("Type of {id}");
    combo.response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, &name));
    (chosen != current).then(|| chosen.convert(value))
}

/// What an edit of a leaf produced.
pub enum LeafEdit {
    /// A valid new value.
    Value(Value),
    /// Text that does not parse for the type; kept as typed.
    Invalid(String),
}

/// The inline editor of a leaf. `pending` is text typed earlier that did not parse. `name` is the
/// field's accessible name (its dotted path).
pub fn leaf_editor_ui(ui: &mut Ui, name: &str, value: &Value, pending: Option<&str>) -> Option<LeafEdit> {
    let width = 200.0;
    match value {
        Value::String(text) => {
            let mut text = pending.map_or_else(|| text.clone(), str::to_owned);
            let response =
                ui.add(egui::TextEdit::singleline(&mut text).desired_width(width).font(egui::TextStyle::Monospace)).accessible_name(name);
            response.changed().then(|| LeafEdit::Value(Value::String(text)))
        }
        Value::Number(_) | Value::Array(_) => {
            let is_array = value.is_array();
            let mut text = pending.map_or_else(|| value.to_string(), str::to_owned);
            let response =
                ui.add(egui::TextEdit::singleline(&mut text).desired_width(width).font(egui::TextStyle::Monospace)).accessible_name(name);
            if pending.is_some() {
                let what = if is_array { "not a JSON array" } else { "not a number" };
                ui.label(RichText::new(what).color(theme::bad(ui.visuals())));
            }
            if !response.changed() {
                return None;
            }
            let parsed = serde_json::from_str::<Value>(text.trim())
                .ok()
                .filter(|parsed| if is_array { parsed.is_array() } else { parsed.is_number() });
            Some(parsed.map_or(LeafEdit::Invalid(text), LeafEdit::Value))
        }
        Value::Bool(flag) => {
            let mut flag = *flag;
            let text = if flag { "true" } else { "false" };
            let response = ui.checkbox(&mut flag, text).accessible_name(name);
            response.changed().then_some(LeafEdit::Value(Value::Bool(flag)))
        }
        Value::Null => {
            ui.label(RichText::new("null — the key is deleted when saved").italics().color(theme::muted(ui.visuals())));
            None
        }
        Value::Object(_) => None,
    }
}

/// A read-only rendering of a value (reported properties, review lines).
pub fn display(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 { format!("{}…", text.chars().take(120).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conversions_keep_what_they_can() {
        assert_eq!(ValueKind::Number.convert(&json!("42")), json!(42));
        assert_eq!(ValueKind::Number.convert(&json!("forty")), json!(0));
        assert_eq!(ValueKind::String.convert(&json!(42)), json!("42"));
        assert_eq!(ValueKind::Bool.convert(&json!("TRUE")), json!(true));
        assert_eq!(ValueKind::Object.convert(&json!(1)), json!({}));
        assert_eq!(ValueKind::Array.convert(&json!([1])), json!([1]));
        assert_eq!(ValueKind::of(&json!(null)), ValueKind::Null);
    }
}
