//! File modes of the store: its folder (and folders in it) 0700, its files 0600, so no other
//! user of the machine can read the evidence. Set when the store opens, for what exists then;
//! the binary's umask (0o077) covers the files sled creates later.

use std::path::Path;

/// Creates the store's folder (owner only) if it does not exist yet.
pub(super) fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Sets `dir` and every folder under it to 0700 and every other file (sockets included) to
/// 0600. Symbolic links are left alone, and so are files removed meanwhile (sled deletes old
/// snapshots from its own threads).
#[cfg(unix)]
pub(super) fn restrict(dir: &Path) -> std::io::Result<()> {
    match restrict_tree(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(unix)]
fn restrict_tree(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() {
        set_mode(dir, &meta, 0o700)?;
        for entry in std::fs::read_dir(dir)? {
            restrict(&entry?.path())?;
        }
    } else {
        set_mode(dir, &meta, 0o600)?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, meta: &std::fs::Metadata, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn restrict(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn folders_become_0700_and_files_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        create_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::create_dir(dir.join("blobs")).unwrap();
        std::fs::set_permissions(dir.join("blobs"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        for file in ["db", "conf", "blobs/1"] {
            std::fs::write(dir.join(file), b"x").unwrap();
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("blobs")), 0o700);
        for file in ["db", "conf", "blobs/1"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    }
}
