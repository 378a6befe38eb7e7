//! Where exported files go: the platform save dialog (rfd) in the app, a fixed path in tests, so
//! no test ever opens a real dialog.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// Asks where to save a file; `None` when the user cancels.
pub trait SaveDialog: Send + Sync {
    /// Shows the dialog with a suggested file name.
    fn choose(&self, file_name: &str) -> Pin<Box<dyn Future<Output = Option<PathBuf>> + Send + '_>>;
}

/// The platform's save dialog (xdg-desktop-portal on Linux), awaited off the UI thread.
pub struct RfdSaveDialog;

impl SaveDialog for RfdSaveDialog {
    fn choose(&self, file_name: &str) -> Pin<Box<dyn Future<Output = Option<PathBuf>> + Send + '_>> {
        let dialog = rfd::AsyncFileDialog::new().set_file_name(file_name).add_filter("CSV", &["csv"]);
        Box::pin(async move { dialog.save_file().await.map(|handle| handle.path().to_owned()) })
    }
}

/// Always answers with the same directory (tests).
pub struct FixedDirSaveDialog(pub PathBuf);

impl SaveDialog for FixedDirSaveDialog {
    fn choose(&self, file_name: &str) -> Pin<Box<dyn Future<Output = Option<PathBuf>> + Send + '_>> {
        let path = self.0.join(file_name);
        Box::pin(async move { Some(path) })
    }
}
