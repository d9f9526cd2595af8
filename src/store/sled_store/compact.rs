//! Compaction: the live records copied into a fresh database that is then swapped in, and the
//! recovery of a compaction a crash interrupted.

use std::path::{Path, PathBuf};

use super::{store_closed, OpenDb, Store, StoreError, ID_FLOOR};

/// How long a compaction waits for running operations to finish.
const COMPACT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The file that marks a compacted copy as complete.
const COMPACT_DONE: &str = "COMPACTED";

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compacted {
    /// Records copied (every live key of every tree).
    pub records: usize,
    /// Size of the store's files before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// `dir` with `suffix` added to its name (a sibling folder).
fn sibling(dir: &Path, suffix: &str) -> Result<PathBuf, StoreError> {
    let name = dir.file_name().ok_or_else(|| {
        StoreError::Refused(format!(
            "cannot compact the store at {}: it needs a folder name",
            dir.display()
        ))
    })?;
    let mut name = name.to_os_string();
    name.push(suffix);
    Ok(dir.with_file_name(name))
}

fn compacting_dir(dir: &Path) -> Result<PathBuf, StoreError> {
    sibling(dir, ".compacting")
}

fn retired_dir(dir: &Path) -> Result<PathBuf, StoreError> {
    sibling(dir, ".retired")
}

/// Copies every live record of `from` into a fresh database in `to`, then marks it complete.
fn copy_live_records(from: &OpenDb, to: &Path) -> Result<usize, StoreError> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    from.ticket_ids.store_exact(&from.meta)?;
    from.db.flush()?;
    let fresh = sled::Config::new().path(to).open()?;
    let mut records = 0;
    for name in from.db.tree_names() {
        let source = from.db.open_tree(&name)?;
        let target = fresh.open_tree(&name)?;
        let mut batch = sled::Batch::default();
        for (n, entry) in source.iter().enumerate() {
            let (key, value) = entry?;
            batch.insert(key, value);
            if n % 10_000 == 9_999 {
                target.apply_batch(std::mem::take(&mut batch))?;
            }
            records += 1;
        }
        target.apply_batch(batch)?;
    }
    // The fresh database's id generator starts again at 0: later ids start above these.
    let floor = from.id_floor + from.db.generate_id()? + 1;
    fresh
        .open_tree("meta")?
        .insert(ID_FLOOR, &floor.to_be_bytes())?;
    fresh.flush()?;
    drop(fresh);
    std::fs::File::create(to.join(COMPACT_DONE))?.sync_all()?;
    Ok(records)
}

/// Puts the complete copy in place of `dir` (the old folder is removed).
fn swap_in_compacted(dir: &Path) -> Result<(), StoreError> {
    let (copy, retired) = (compacting_dir(dir)?, retired_dir(dir)?);
    if retired.exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    std::fs::rename(dir, &retired)?;
    std::fs::rename(&copy, dir)?;
    std::fs::remove_file(dir.join(COMPACT_DONE))?;
    // A running serve's control socket moves with the folder's name: renamed, not recreated,
    // it keeps answering on the same listener.
    for name in KEPT_ACROSS_COMPACTION {
        if let Err(e) = std::fs::rename(retired.join(name), dir.join(name)) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, file = name, "not carried over by the compaction");
            }
        }
    }
    std::fs::remove_dir_all(&retired)?;
    Ok(())
}

/// Files that other parts put in the store's folder and a compaction carries over: the control
/// socket of a running `serve`.
const KEPT_ACROSS_COMPACTION: &[&str] = &[super::super::CONTROL_SOCKET];

/// After a crash during [`Store::compact`]: a complete copy whose swap did not finish is put in
/// place; an incomplete one is discarded (the old folder is still whole).
pub(super) fn finish_interrupted_compaction(dir: &Path) -> Result<(), StoreError> {
    let (Ok(copy), Ok(retired)) = (compacting_dir(dir), retired_dir(dir)) else {
        return Ok(());
    };
    match (dir.exists(), copy.join(COMPACT_DONE).exists()) {
        (false, true) => {
            std::fs::rename(&copy, dir)?;
            std::fs::remove_file(dir.join(COMPACT_DONE))?;
        }
        (true, _) if copy.exists() => std::fs::remove_dir_all(&copy)?,
        (false, false) if retired.exists() => std::fs::rename(&retired, dir)?,
        _ => {}
    }
    if dir.exists() && retired.exists() {
        std::fs::remove_dir_all(&retired)?;
    }
    Ok(())
}

/// Total size of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            _ => entry.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

impl Store {
    /// Rewrites the store into a fresh database holding only live records, then swaps it in:
    /// deleted records (a forgotten user, purged evidence) are then gone from the files, not
    /// only from every query. Operations wait meanwhile; those already running finish first.
    /// Crash-safe: an interrupted compaction is finished or discarded by the next
    /// [`open`](Self::open).
    pub fn compact(&self) -> Result<Compacted, StoreError> {
        let mut slot = self.shared.open.write().unwrap_or_else(|p| p.into_inner());
        // Not `self.current()`: this thread holds the write lock.
        let Some(current) = slot.take() else {
            return Err(store_closed());
        };
        // Operations that took a handle before the lock finish on the old database.
        let deadline = std::time::Instant::now() + COMPACT_WAIT;
        while std::sync::Arc::strong_count(&current) > 1 {
            if std::time::Instant::now() > deadline {
                *slot = Some(current);
                return Err(StoreError::Unavailable(
                    "the store stayed busy; compaction skipped, try again".into(),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let dir = self.shared.dir.clone();
        // Every queued turn is written before the copy: none may land in the old files after.
        current.stop_writer();
        let copied = match compacting_dir(&dir).and_then(|tmp| copy_live_records(&current, &tmp)) {
            Ok(copied) => copied,
            Err(e) => {
                // The old database is whole: reopen it (with a new writer) and keep serving.
                drop(current);
                *slot = Some(std::sync::Arc::new(OpenDb::reopen(
                    &dir,
                    &self.shared.hash_key,
                    self.shared.cluster.clone(),
                )?));
                return Err(e);
            }
        };
        let bytes_before = dir_size(&dir);
        // Closes the old database: its writer drains its queue and stops.
        drop(current);
        swap_in_compacted(&dir)?;
        let reopened = OpenDb::reopen(&dir, &self.shared.hash_key, self.shared.cluster.clone())
            .inspect_err(|e| tracing::error!(error = %e, "the compacted store did not open"))?;
        *slot = Some(std::sync::Arc::new(reopened));
        Ok(Compacted {
            records: copied,
            bytes_before,
            bytes_after: dir_size(&dir),
        })
    }
}
