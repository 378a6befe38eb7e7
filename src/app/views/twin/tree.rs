//! The visual tree: tags and desired properties editable in place (type selector, inline values,
//! add, rename, delete, restore), reported properties read-only, each desired leaf with the
//! device's reported value, when it was last written, and its sync badge.

use std::collections::HashMap;

use egui::{Color32, RichText, Ui};
use serde_json::{Map, Value};

use super::super::theme;
use super::value::{LeafEdit, display, kind_selector_ui, leaf_editor_ui};
use crate::app::model::twin::patch::get;
use crate::app::model::twin::{KeyForm, SyncState, TwinEditor, leaf_state};
use crate::azure::twin_rules::{Section, key_problem};
use crate::azure::wire::{Timestamp, Twin, section_values};

/// What every row needs to know, computed once per frame.
struct TreeContext {
    filter: String,
    /// Dotted path → what is wrong there.
    violations: HashMap<String, String>,
    live: Option<Twin>,
    /// The sections the draft started from: a leaf differing from these is the user's change.
    base_tags: Map<String, Value>,
    base_desired: Map<String, Value>,
    key_width: f32,
}

/// The tree body.
pub fn tree_ui(ui: &mut Ui, editor: &mut TwinEditor) {
    let Some(draft) = editor.draft.clone() else {
        return;
    };
    let mut violations = HashMap::new();
    for violation in draft.violations() {
        violations.entry(violation.path.clone()).or_insert(violation.problem.clone());
    }
    let context = TreeContext {
        filter: editor.filter.trim().to_lowercase(),
        violations,
        live: editor.live.value().cloned(),
        base_tags: draft.base_section(Section::Tags),
        base_desired: draft.base_section(Section::Desired),
        key_width: 210.0,
    };
    let patch_mode = editor.patch_mode;
    let scroll = if patch_mode {
        egui::ScrollArea::vertical().max_height(240.0).min_scrolled_height(200.0).auto_shrink([false, true])
    } else {
        egui::ScrollArea::vertical().auto_shrink([false, false])
    };
    scroll.show(ui, |ui| {
        for (section, title, values) in [(Section::Tags, "Tags", &draft.tags), (Section::Desired, "Desired properties", &draft.desired)] {
            egui::CollapsingHeader::new(RichText::new(title).strong().size(15.0))
                .id_salt(("twin-section", section))
                .default_open(true)
                .show(ui, |ui| {
                    let base = draft.base_section(section);
                    children_ui(ui, editor, &context, section, &[], values, Some(&base), &context.filter);
                });
        }
        if patch_mode {
            return; // a job's patch has no device behind it: no reported properties
        }
        let reported = section_values(context.live.as_ref().and_then(Twin::reported));
        egui::CollapsingHeader::new(RichText::new("Reported properties (read-only, written by the device)").strong().size(15.0))
            .id_salt("twin-reported")
            .default_open(true)
            .show(ui, |ui| {
                if reported.is_empty() {
                    ui.label(RichText::new("The device has reported nothing.").color(theme::muted(ui.visuals())));
                }
                reported_children_ui(ui, &context, &[], &reported, &context.filter);
            });
    });
}

/// Narrower keys deeper in the tree, so values line up under the collapsing indent.
fn key_width(context: &TreeContext, path: &[String]) -> f32 {
    let depth = u16::try_from(path.len().saturating_sub(1)).unwrap_or(u16::MAX);
    (context.key_width - 16.0 * f32::from(depth)).max(80.0)
}

/// A key, left-aligned in a fixed-width column (truncated with a hover when too long).
fn key_label_ui(ui: &mut Ui, width: f32, text: RichText) -> egui::Response {
    ui.allocate_ui_with_layout(egui::vec2(width, 20.0), egui::Layout::left_to_right(egui::Align::Center), |ui| {
        ui.set_min_width(width);
        ui.add(egui::Label::new(text).truncate())
    })
    .inner
}

fn dotted(section: Section, path: &[String]) -> String {
    if path.is_empty() { section.path().to_owned() } else { format!("{}.{}", section.path(), path.join(".")) }
}

fn matches(filter: &str, key: &str, value: &Value) -> bool {
    filter.is_empty()
        || key.to_lowercase().contains(filter)
        || value.as_object().is_some_and(|children| children.iter().any(|(key, value)| matches(filter, key, value)))
}

fn child_path(path: &[String], key: &str) -> Vec<String> {
    let mut child = path.to_vec();
    child.push(key.to_owned());
    child
}

#[allow(clippy::too_many_arguments)] // the recursion carries its position and both documents
fn children_ui(
    ui: &mut Ui,
    editor: &mut TwinEditor,
    context: &TreeContext,
    section: Section,
    path: &[String],
    values: &Map<String, Value>,
    base: Option<&Map<String, Value>>,
    filter: &str,
) {
    for (key, value) in values {
        if !matches(filter, key, value) {
            continue;
        }
        // Below a key that matches the filter, everything shows.
        let inner = if key.to_lowercase().contains(filter) { "" } else { filter };
        let path = child_path(path, key);
        let base_child = base.and_then(|base| base.get(key)).and_then(Value::as_object);
        if let Value::Object(children) = value {
            object_row_ui(ui, editor, context, section, &path, children, base_child, inner);
        } else {
            leaf_row_ui(ui, editor, context, section, &path, value);
        }
    }
    if let Some(base) = base {
        for (key, was) in base.iter().filter(|(key, _)| !values.contains_key(*key)) {
            if filter.is_empty() || key.to_lowercase().contains(filter) {
                deleted_row_ui(ui, editor, context, section, &child_path(path, key), was);
            }
        }
    }
    add_key_ui(ui, editor, section, path);
}

fn key_ui(ui: &mut Ui, editor: &mut TwinEditor, context: &TreeContext, section: Section, path: &[String]) {
    let name = dotted(section, path);
    let renaming = editor.renaming.as_ref().is_some_and(|form| form.section == Some(section) && form.path == path);
    if renaming {
        rename_form_ui(ui, editor, section, path);
        return;
    }
    let key = path.last().map_or("", String::as_str);
    let color = if context.violations.contains_key(&name) { theme::bad(ui.visuals()) } else { ui.visuals().strong_text_color() };
    let width = key_width(context, path);
    key_label_ui(ui, width, RichText::new(key).monospace().color(color)).on_hover_text(&name);
}

fn row_buttons_ui(ui: &mut Ui, editor: &mut TwinEditor, section: Section, path: &[String]) {
    let name = dotted(section, path);
    if ui.small_button("✏").on_hover_text("Rename this key").accessible_name(format!("Rename {name}")).clicked() {
        editor.renaming = Some(KeyForm { section: Some(section), path: path.to_vec(), name: path.last().cloned().unwrap_or_default() });
    }
    if ui.small_button("🗑").on_hover_text("Delete this key (sent as null)").accessible_name(format!("Delete {name}")).clicked()
        && let Some(draft) = &mut editor.draft
    {
        let _ = draft.delete(section, path); // editable sections only reach here
        editor.invalid_text.retain(|(at_section, at_path), _| !(*at_section == section && at_path.starts_with(path)));
    }
}

fn violation_ui(ui: &mut Ui, context: &TreeContext, section: Section, path: &[String]) {
    if let Some(problem) = context.violations.get(&dotted(section, path)) {
        ui.label(RichText::new(format!("⚠ {problem}")).color(theme::bad(ui.visuals())));
    }
}

fn leaf_row_ui(ui: &mut Ui, editor: &mut TwinEditor, context: &TreeContext, section: Section, path: &[String], value: &Value) {
    let name = dotted(section, path);
    ui.horizontal(|ui| {
        ui.add_space(18.0); // lines leaves up with the keys of collapsible objects
        key_ui(ui, editor, context, section, path);
        if let Some(converted) = kind_selector_ui(ui, &name, value)
            && let Some(draft) = &mut editor.draft
        {
            let _ = draft.set_value(section, path, converted);
            editor.invalid_text.remove(&(section, path.to_vec()));
        }
        let pending = editor.invalid_text.get(&(section, path.to_vec())).cloned();
        match leaf_editor_ui(ui, &name, value, pending.as_deref()) {
            Some(LeafEdit::Value(new_value)) => {
                editor.invalid_text.remove(&(section, path.to_vec()));
                if let Some(draft) = &mut editor.draft {
                    let _ = draft.set_value(section, path, new_value);
                }
            }
            Some(LeafEdit::Invalid(text)) => {
                editor.invalid_text.insert((section, path.to_vec()), text);
            }
            None => {}
        }
        row_buttons_ui(ui, editor, section, path);
        if editor.patch_mode {
            // Badges compare with one device's twin; a job patch has none.
        } else if section == Section::Desired {
            sync_ui(ui, context, path, value);
        } else {
            let live = context.live.as_ref().and_then(|live| live.tags.as_ref()).and_then(|tags| get(tags, path));
            edit_badge_ui(ui, &name, get(&context.base_tags, path), live, value);
        }
    });
    violation_ui(ui, context, section, path);
}

#[allow(clippy::too_many_arguments)] // see children_ui
fn object_row_ui(
    ui: &mut Ui,
    editor: &mut TwinEditor,
    context: &TreeContext,
    section: Section,
    path: &[String],
    children: &Map<String, Value>,
    base: Option<&Map<String, Value>>,
    filter: &str,
) {
    let name = dotted(section, path);
    let id = ui.make_persistent_id(("twin-node", &name));
    let value = Value::Object(children.clone());
    egui::collapsing_header::CollapsingState::load_with_default_open(ui.ctx(), id, path.len() < 3)
        .show_header(ui, |ui| {
            key_ui(ui, editor, context, section, path);
            if let Some(converted) = kind_selector_ui(ui, &name, &value)
                && let Some(draft) = &mut editor.draft
            {
                let _ = draft.set_value(section, path, converted);
            }
            ui.label(
                RichText::new(format!("{} key{}", children.len(), if children.len() == 1 { "" } else { "s" }))
                    .color(theme::muted(ui.visuals())),
            );
            row_buttons_ui(ui, editor, section, path);
        })
        .body(|ui| {
            violation_ui(ui, context, section, path);
            children_ui(ui, editor, context, section, path, children, base, filter);
        });
}

fn deleted_row_ui(ui: &mut Ui, editor: &mut TwinEditor, context: &TreeContext, section: Section, path: &[String], was: &Value) {
    let name = dotted(section, path);
    ui.horizontal(|ui| {
        ui.add_space(18.0);
        let key = path.last().map_or("", String::as_str);
        let width = key_width(context, path);
        key_label_ui(ui, width, RichText::new(key).monospace().strikethrough().color(theme::bad(ui.visuals())));
        ui.label(RichText::new(format!("deleted — sent as null (was {})", display(was))).italics().color(theme::bad(ui.visuals())));
        if ui.small_button("Restore").accessible_name(format!("Restore {name}")).clicked()
            && let Some(draft) = &mut editor.draft
        {
            let _ = draft.set_value(section, path, was.clone());
        }
    });
}

fn add_key_ui(ui: &mut Ui, editor: &mut TwinEditor, section: Section, parent: &[String]) {
    let name = dotted(section, parent);
    let open = editor.adding.as_ref().is_some_and(|form| form.section == Some(section) && form.path == parent);
    ui.horizontal(|ui| {
        ui.add_space(18.0);
        if !open {
            if ui.small_button("+ Add key").accessible_name(format!("Add key to {name}")).clicked() {
                editor.adding = Some(KeyForm { section: Some(section), path: parent.to_vec(), name: String::new() });
            }
            return;
        }
        let Some(form) = &mut editor.adding else {
            return;
        };
        let response =
            ui.add(egui::TextEdit::singleline(&mut form.name).desired_width(180.0).hint_text("new key")).accessible_name("New key name");
        let exists = editor
            .draft
            .as_ref()
            .and_then(|draft| draft.section(section))
            .is_some_and(|values| get(values, &child_path(parent, &form.name)).is_some());
        let problem = key_problem(&form.name).or_else(|| exists.then(|| format!("'{}' already exists here", form.name)));
        let enter = response.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
        let add = ui.add_enabled(problem.is_none(), egui::Button::new("Add")).clicked() || enter && problem.is_none();
        let cancel = ui.button("Cancel").clicked();
        if let Some(problem) = &problem
            && !form.name.is_empty()
        {
            ui.label(RichText::new(problem).color(theme::bad(ui.visuals())));
        }
        if add {
            let key = form.name.clone();
            if let Some(draft) = &mut editor.draft {
                let _ = draft.add_key(section, parent, &key, Value::String(String::new()));
            }
            editor.adding = None;
        } else if cancel {
            editor.adding = None;
        }
    });
}

fn rename_form_ui(ui: &mut Ui, editor: &mut TwinEditor, section: Section, path: &[String]) {
    let Some(form) = &mut editor.renaming else {
        return;
    };
    let name = dotted(section, path);
    let response = ui.add(egui::TextEdit::singleline(&mut form.name).desired_width(150.0)).accessible_name(format!("New name for {name}"));
    let enter = response.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
    let problem = key_problem(&form.name);
    let apply = ui.add_enabled(problem.is_none(), egui::Button::new("OK")).clicked() || enter && problem.is_none();
    let cancel = ui.button("Cancel").clicked();
    if let Some(problem) = &problem {
        ui.label(RichText::new(problem).color(theme::bad(ui.visuals())));
    }
    if apply {
        let new_name = form.name.clone();
        let result = editor.draft.as_mut().map(|draft| draft.rename(section, path, &new_name));
        match result {
            Some(Err(error)) => editor.save_error = Some(error.to_string()),
            _ => editor.renaming = None,
        }
    } else if cancel {
        editor.renaming = None;
    }
}

fn badge_ui(ui: &mut Ui, name: &str, text: &str, color: Color32) {
    egui::Frame::new().stroke(egui::Stroke::new(1.0, color)).corner_radius(8.0).inner_margin(egui::Margin::symmetric(6, 0)).show(
        ui,
        |ui| {
            ui.label(RichText::new(text).small().color(color)).accessible_name(format!("{name}: {text}"));
        },
    );
}

/// The reported value of a desired leaf: inside a Plug and Play acknowledgement's `value`, or plain.
fn reported_for(live: &Twin, path: &[String]) -> Option<Value> {
    let (top, rest) = path.split_first()?;
    let reported = live.reported()?.get(top)?;
    let start = if reported.get("av").is_some() { reported.get("value")? } else { reported };
    rest.iter().try_fold(start, |node, key| node.get(key)).cloned()
}

fn short_time(time: Timestamp) -> String {
    time.to_wire().chars().take(19).collect::<String>().replace('T', " ")
}

/// The badge of a leaf that differs from what the service has: the user's change (from the
/// base the draft started on), or someone else's (the service has moved on since).
fn edit_badge_ui(ui: &mut Ui, name: &str, base: Option<&Value>, live: Option<&Value>, draft: &Value) {
    let warn = theme::warn(ui.visuals());
    if base == Some(draft) {
        if live != Some(draft) {
            badge_ui(ui, name, "changed elsewhere", warn);
        }
    } else if base.is_none() {
        badge_ui(ui, name, "new — not saved", warn);
    } else {
        badge_ui(ui, name, "unsaved change", warn);
    }
}

fn sync_ui(ui: &mut Ui, context: &TreeContext, path: &[String], value: &Value) {
    let name = dotted(Section::Desired, path);
    let visuals = ui.visuals().clone();
    let Some(live) = &context.live else {
        return;
    };
    let saved = section_values(live.desired());
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    let last_updated = live.desired_metadata(&keys).and_then(|meta| meta.last_updated);
    let base = get(&context.base_desired, path);
    if base != Some(value) || get(&saved, path) != Some(value) {
        edit_badge_ui(ui, &name, base, get(&saved, path), value);
    } else {
        let state = leaf_state(live, path, value);
        let color = match state {
            SyncState::InSync => theme::good(&visuals),
            SyncState::Pending => theme::warn(&visuals),
            SyncState::Different { .. } => theme::bad(&visuals),
            SyncState::Offline => theme::muted(&visuals),
        };
        badge_ui(ui, &name, state.label(), color);
        if let SyncState::Different { reason: Some(reason), .. } = &state {
            ui.label(RichText::new(reason).small().color(theme::bad(&visuals)));
        }
    }
    let reported = reported_for(live, path).map_or_else(|| "—".to_owned(), |value| display(&value));
    ui.label(RichText::new(format!("reported {reported}")).monospace().color(theme::muted(&visuals)))
        .on_hover_text("What the device reports for this key");
    if let Some(time) = last_updated {
        ui.label(RichText::new(format!("set {}", short_time(time))).small().color(theme::muted(&visuals)))
            .on_hover_text("When this desired value was last written ($lastUpdated)");
    }
}

fn reported_children_ui(ui: &mut Ui, context: &TreeContext, path: &[String], values: &Map<String, Value>, filter: &str) {
    let muted = theme::muted(ui.visuals());
    for (key, value) in values {
        if !matches(filter, key, value) {
            continue;
        }
        let inner = if key.to_lowercase().contains(filter) { "" } else { filter };
        let path = child_path(path, key);
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        let updated = context.live.as_ref().and_then(|live| live.reported_metadata(&keys)).and_then(|meta| meta.last_updated);
        let width = key_width(context, &path);
        match value {
            Value::Object(ack) if ack.contains_key("av") && ack.contains_key("value") => {
                ui.horizontal(|ui| {
                    ui.add_space(18.0);
                    key_label_ui(ui, width, RichText::new(key).monospace());
                    ui.label(RichText::new(display(&ack["value"])).monospace());
                    let code = ack.get("ac").map_or_else(String::new, |code| format!("ac {code}"));
                    let version = ack.get("av").map_or_else(String::new, |version| format!(", applied desired $version {version}"));
                    let description = ack.get("ad").and_then(Value::as_str).map_or_else(String::new, |text| format!(": {text}"));
                    ui.label(RichText::new(format!("acknowledged ({code}{version}{description})")).small().color(muted))
                        .on_hover_text(display(value));
                    if let Some(time) = updated {
                        ui.label(RichText::new(format!("updated {}", short_time(time))).small().color(muted));
                    }
                });
            }
            Value::Object(children) => {
                let id = ui.make_persistent_id(("twin-reported-node", path.join(".")));
                egui::collapsing_header::CollapsingState::load_with_default_open(ui.ctx(), id, false)
                    .show_header(ui, |ui| {
                        key_label_ui(ui, width, RichText::new(key).monospace());
                        ui.label(RichText::new(display(value)).monospace().color(muted));
                    })
                    .body(|ui| reported_children_ui(ui, context, &path, children, inner));
            }
            other => {
                ui.horizontal(|ui| {
                    ui.add_space(18.0);
                    key_label_ui(ui, width, RichText::new(key).monospace());
                    ui.label(RichText::new(display(other)).monospace());
                    if let Some(time) = updated {
                        ui.label(RichText::new(format!("updated {}", short_time(time))).small().color(muted));
                    }
                });
            }
        }
    }
}
