//! Small, crash-safe file helpers for the state directory.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use super::error::SimError;

/// Reads a UTF-8 file.
pub fn read_text(path: &Path) -> Result<String, SimError> {
    fs::read_to_string(path).map_err(|source| SimError::Io { action: "cannot read", path: path.to_owned(), source })
}

/// Creates a directory and its parents.
pub fn create_dir(path: &Path) -> Result<(), SimError> {
    fs::create_dir_all(path).map_err(|source| SimError::Io { action: "cannot create directory", path: path.to_owned(), source })
}

/// Writes a file readable by the owner only (keys).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), SimError> {
    write_atomic(path, contents, true)
}

/// Writes a file readable by anyone (certificates, ready files).
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), SimError> {
    write_atomic(path, contents, false)
}

/// Writes to a temporary file in the same directory, syncs it, then renames it into place, so
/// a crash leaves either the old file or the new one.
fn write_atomic(path: &Path, contents: &[u8], private: bool) -> Result<(), SimError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let io = |action: &'static str| move |source| SimError::Io { action, path: path.to_owned(), source };
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("cannot create a temporary file for"))?;
    set_mode(file.path(), private).map_err(io("cannot set permissions of"))?;
    file.write_all(contents).map_err(io("cannot write"))?;
    file.as_file().sync_all().map_err(io("cannot sync"))?;
    file.persist(path).map_err(|error| SimError::Io { action: "cannot replace", path: path.to_owned(), source: error.error })?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, private: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(if private { 0o600 } else { 0o644 }))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _private: bool) -> std::io::Result<()> {
    Ok(())
}
