//! The test's temporary folder: removed after a pass, kept after a failure.

use std::io::Write;
use std::path::Path;

pub(crate) struct Workdir(Option<tempfile::TempDir>);

impl Workdir {
    pub(crate) fn new() -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("personabot-web-")
            .tempdir()
            .expect("temp dir");
        Workdir(Some(dir))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if std::thread::panicking() {
                let path = dir.keep();
                let _ = writeln!(
                    std::io::stderr(),
                    "web_chromium: kept {} for debugging",
                    path.display()
                );
            }
        }
    }
}
