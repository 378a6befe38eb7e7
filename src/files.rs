//! Crash-safe file writes shared by the console's profile store and the simulator's state
//! directory.
//!
//! A write goes to a temporary file in the target's directory, is synced, then renamed over the
//! target, so a crash leaves either the old contents or the new ones, never a torn file. Files
//! that may hold a key or a connection string are created owner-only (0600) before the first
//! byte is written.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A file operation that failed: what was being done, to which path, and the OS error.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {path}: {source}")]
pub struct FileError {
    /// What was being done, as a verb phrase ("write", "create directory").
    pub action: &'static str,
    /// The file or directory involved.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    fn new(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self { action, path: path.to_owned(), source }
    }

    /// The failure without the path, for a message that already names the file.
    pub fn without_path(&self) -> String {
        format!("cannot {} it: {}", self.action, self.source)
    }
}

/// Who may read a written file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Owner only (0600 on Unix): keys, connection strings, profiles.
    Private,
    /// Anyone (0644 on Unix): certificates.
    Public,
}

/// Reads a UTF-8 file.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    fs::read_to_string(path).map_err(FileError::new("read", path))
}

/// Creates a directory and its parents.
pub fn create_dir(path: &Path) -> Result<(), FileError> {
    fs::create_dir_all(path).map_err(FileError::new("create directory", path))
}

/// Writes a file readable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    write_atomic(path, contents, Visibility::Private)
}

/// Writes a file readable by anyone.
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), FileError> {
    write_atomic(path, contents, Visibility::Public)
}

/// Replaces `path` with `contents` atomically, creating its directory when missing (the
/// console's config directory does not exist on first run).
pub fn write_atomic(path: &Path, contents: &[u8], visibility: Visibility) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    create_dir(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(FileError::new("create a temporary file for", path))?;
    // Permissions are set before anything is written, so a key never sits in a readable file.
    set_mode(file.path(), visibility).map_err(FileError::new("set permissions of", path))?;
    file.write_all(contents).map_err(FileError::new("write", path))?;
    file.as_file().sync_all().map_err(FileError::new("sync", path))?;
    file.persist(path).map_err(|error| FileError::new("replace", path)(error.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, visibility: Visibility) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = match visibility {
        Visibility::Private => 0o600,
        Visibility::Public => 0o644,
    };
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _visibility: Visibility) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("profiles.json");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(read_text(&path).unwrap(), "two");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only_and_public_ones_readable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("key.pem");
        let public = dir.path().join("ca.pem");
        write_private(&private, b"secret").unwrap();
        write_public(&public, b"cert").unwrap();
        assert_eq!(fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&public).unwrap().permissions().mode() & 0o777, 0o644);
    }

    #[test]
    fn errors_name_the_action_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.txt");
        let error = read_text(&missing).unwrap_err();
        assert_eq!(error.action, "read");
        let text = error.to_string();
        assert!(text.starts_with("cannot read ") && text.contains("absent.txt"), "{text}");
        let short = error.without_path();
        assert!(short.starts_with("cannot read it: ") && !short.contains("absent.txt"), "{short}");
    }
}
