//! The file dialogs, behind one trait the backend awaits off the UI thread: the platform's
//! dialogs (rfd) in the app, fixed answers in tests, so no test ever opens a real dialog.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// What a dialog answers: the path chosen, or `None` when the user cancelled.
pub type DialogAnswer<'a> = Pin<Box<dyn Future<Output = Option<PathBuf>> + Send + 'a>>;

/// A file type a dialog offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFilter {
    /// The name shown ("CSV", "PEM certificate").
    pub name: &'static str,
    /// Extensions without the dot.
    pub extensions: &'static [&'static str],
}

/// CSV exports.
pub const CSV: FileFilter = FileFilter { name: "CSV", extensions: &["csv"] };
/// CA certificates.
pub const PEM: FileFilter = FileFilter { name: "PEM certificate", extensions: &["pem", "crt", "cer"] };

/// Asks the user for files.
pub trait FileDialogs: Send + Sync {
    /// Where to save a file, suggesting `file_name`.
    fn save(&self, file_name: &str, filter: FileFilter) -> DialogAnswer<'_>;
    /// An existing file to read.
    fn pick_file(&self, title: &str, filter: FileFilter) -> DialogAnswer<'_>;
}

/// The platform's dialogs (xdg-desktop-portal on Linux).
pub struct RfdFileDialogs;

impl FileDialogs for RfdFileDialogs {
    fn save(&self, file_name: &str, filter: FileFilter) -> DialogAnswer<'_> {
        let dialog = rfd::AsyncFileDialog::new().set_file_name(file_name).add_filter(filter.name, filter.extensions);
        Box::pin(async move { dialog.save_file().await.map(|handle| handle.path().to_owned()) })
    }

    fn pick_file(&self, title: &str, filter: FileFilter) -> DialogAnswer<'_> {
        let dialog =
            rfd::AsyncFileDialog::new().set_title(title).add_filter(filter.name, filter.extensions).add_filter("All files", &["*"]);
        Box::pin(async move { dialog.pick_file().await.map(|handle| handle.path().to_owned()) })
    }
}

/// Fixed answers (tests): saves go into `save_dir`; the picker answers `picked`.
pub struct FixedFileDialogs {
    /// Where every save goes (under the suggested name).
    pub save_dir: PathBuf,
    /// What the picker answers (`None`: as if cancelled).
    pub picked: Option<PathBuf>,
}

impl FileDialogs for FixedFileDialogs {
    fn save(&self, file_name: &str, _filter: FileFilter) -> DialogAnswer<'_> {
        let path = self.save_dir.join(file_name);
        Box::pin(async move { Some(path) })
    }

    fn pick_file(&self, _title: &str, _filter: FileFilter) -> DialogAnswer<'_> {
        let picked = self.picked.clone();
        Box::pin(async move { picked })
    }
}
