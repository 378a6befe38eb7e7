//! The twin editor's model: merge patches, the draft, three-way merge after a conflict, sync
//! badges, and the editor state machine.

pub mod draft;
pub mod editor;
pub mod merge3;
pub mod patch;
pub mod sync;

#[cfg(test)]
mod tests;

pub use draft::{ChangeLine, EditError, JsonTextError, TwinDraft};
pub use editor::{ConflictKey, ConflictState, DiscardThen, EditorMode, KeyForm, TwinEditor};
pub use sync::{SyncState, leaf_state};
