//! `tinledger publish --out DIR`: the read API of tlog-tiles as plain
//! files, for any static web server (docs/server.md).
//!
//! Order of writes: every tile, bundle, lot and actor file is written to a
//! temporary name in its directory, fsynced and renamed; then every
//! directory touched is fsynced; the `checkpoint` file is replaced last, the
//! same way. A crash at any point leaves the old checkpoint, which names a
//! tree whose tiles were all there before the run: readers never see a
//! checkpoint whose tiles are missing.
//!
//! Tiles and bundles are immutable: an existing file must hold exactly the
//! bytes that would be written (else the directory holds a different
//! history: a fork, and publish stops before changing anything more).

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{emit, emit_json, sync_dir};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use tinledger_core::tiles::{self, TileId, TileKind};
use tinledger_ledger::Ledger;

/// What one run did.
#[derive(Default, Debug)]
pub struct Published {
    /// Files the run considered (tiles, bundles, lots, actors, checkpoint).
    pub files: u64,
    /// Files written (new or changed).
    pub new: u64,
    /// Files already there with the right bytes.
    pub unchanged: u64,
    /// Size of the published checkpoint.
    pub size: u64,
    /// Lot and actor files not written: their ids cannot be file paths.
    pub skipped: Vec<String>,
}

pub fn publish(cli: &Cli, out: &Path) -> Result<(), CliError> {
    let l = crate::open::ledger(cli)?;
    let p = publish_ledger(&l, out)?;
    if cli.json {
        emit_json(&json!({"out": out, "files": p.files, "new": p.new, "unchanged": p.unchanged,
                          "checkpoint_size": p.size, "skipped": p.skipped}));
    } else {
        for s in p.skipped.iter().take(10) {
            crate::output::note(&format!(
                "note: {s} not published: the id cannot be a file path (a `.` or empty segment, or another id continues it with `/`)"
            ));
        }
        if p.skipped.len() > 10 {
            crate::output::note(&format!("note: {} more lot or actor files not published", p.skipped.len() - 10));
        }
        emit(&format!(
            "published {} files ({} new, {} unchanged), checkpoint size {} to {}",
            p.files,
            p.new,
            p.unchanged,
            p.size,
            out.display()
        ));
    }
    Ok(())
}

/// Publish `l`'s read API under `out`.
pub fn publish_ledger(l: &Ledger, out: &Path) -> Result<Published, CliError> {
    let cps = l.checkpoints()?;
    let Some((size, note)) = cps.last().cloned() else {
        return Err(CliError::usage(format!("the ledger {} has no signed checkpoint to publish", l.dir().display()))
            .hint("sign one first: tinledger checkpoint --key AUTHORITY_KEY"));
    };
    let head = l.head().size;
    if head != size {
        return Err(CliError::usage(format!(
            "the ledger has {head} entries but its latest checkpoint covers {size}: publish serves lots and actors at the checkpoint"
        ))
        .hint("sign a checkpoint of the head first: tinledger checkpoint --key AUTHORITY_KEY"));
    }
    std::fs::create_dir_all(out).map_err(|e| CliError::usage(format!("cannot create {}: {e}", out.display())))?;
    check_not_older(out, size, &note)?;
    let mut w = Writer { out: out.to_path_buf(), dirs: BTreeSet::new(), p: Published { size, ..Default::default() } };

    // Full tiles of the largest tree, then the partial right edges of every
    // checkpointed size (each size's own, still needed by its readers).
    let mut ids: Vec<TileId> = tiles::tiles_for_size(size).into_iter().filter(TileId::is_full).collect();
    let mut partials = BTreeSet::new();
    for (s, _) in &cps {
        partials.extend(tiles::tiles_for_size(*s).into_iter().filter(|t| !t.is_full()));
    }
    ids.extend(partials);
    for id in ids {
        let bytes = match id.kind {
            TileKind::Hash(level) => l.tile(level, id.index, id.width)?,
            TileKind::Entries => l.entry_bundle(id.index, id.width)?,
        };
        let bytes =
            bytes.ok_or_else(|| CliError::refused(format!("the ledger has no {id}: run `tinledger verify`")))?;
        w.immutable(&id.to_string(), &bytes)?;
    }

    // Lots and actors at the checkpoint (= the head).
    let lots = l.lots()?;
    let actors = l.actors()?;
    let lot_ok = publishable(lots.iter().map(|x| x.id.as_str().to_string()).collect());
    let actor_ok = publishable(actors.iter().map(|a| a.record.id.as_str().to_string()).collect());
    for lot in lots {
        if !lot_ok(lot.id.as_str()) {
            w.p.skipped.push(format!("lot/{}", lot.id.as_str()));
            continue;
        }
        let history = l.lot_history(&lot.id)?;
        let v = json!({"lot": lot.id, "size": size, "state": serde_json::to_value(&lot).unwrap_or(Value::Null), "history": history});
        w.mutable(&format!("lot/{}", lot.id.as_str()), &json_bytes(&v))?;
    }
    for a in actors {
        if !actor_ok(a.record.id.as_str()) {
            w.p.skipped.push(format!("actor/{}", a.record.id.as_str()));
            continue;
        }
        let mut history = l.actor_history(&a.record.id)?;
        if a.is_authority && history.first() != Some(&0) {
            history.insert(0, 0);
        }
        let v = json!({"actor": a.record.id, "size": size, "history": history});
        w.mutable(&format!("actor/{}", a.record.id.as_str()), &json_bytes(&v))?;
    }

    // Everything above durable before the checkpoint names it.
    for d in &w.dirs {
        sync_dir(d).map_err(|e| CliError::usage(format!("cannot fsync directory {}: {e}", d.display())))?;
    }
    w.dirs.clear();
    w.mutable("checkpoint", note.as_bytes())?;
    for d in &w.dirs {
        sync_dir(d).map_err(|e| CliError::usage(format!("cannot fsync directory {}: {e}", d.display())))?;
    }
    Ok(w.p)
}

/// Which ids can be files: ids may hold `/` (a subdirectory, which is
/// also how a web server maps the decoded URL path), but a segment that is
/// empty or starts with `.` (`..` would leave DIR) cannot, nor can an id
/// that another id continues with `/` (it must be a directory). Those are
/// not published (their URLs are 404) and are reported.
fn publishable(all: BTreeSet<String>) -> impl Fn(&str) -> bool {
    move |id: &str| {
        let segments_ok = id.split('/').all(|s| !s.is_empty() && !s.starts_with('.'));
        let prefix = format!("{id}/");
        let is_dir = all.range(prefix.clone()..).next().is_some_and(|next| next.starts_with(&prefix));
        segments_ok && !is_dir
    }
}

fn json_bytes(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// Refuse to publish over a directory whose checkpoint is for a larger tree
/// (a rollback) or for the same size with another root (a fork).
fn check_not_older(out: &Path, size: u64, note: &str) -> Result<(), CliError> {
    let path = out.join("checkpoint");
    let Ok(old) = std::fs::read_to_string(&path) else { return Ok(()) };
    let (Ok(old_cp), Ok(new_cp)) =
        (crate::remote_read::unverified_body(&old), crate::remote_read::unverified_body(note))
    else {
        return Err(CliError::refused(format!(
            "{} exists but is not a checkpoint; nothing was published",
            path.display()
        )));
    };
    if old_cp.origin != new_cp.origin {
        return Err(CliError::refused(format!(
            "{} publishes another log ({}), not {}; nothing was published",
            out.display(),
            old_cp.origin,
            new_cp.origin
        )));
    }
    if old_cp.size > size {
        return Err(CliError::refused(format!(
            "{} already publishes tree size {}, larger than this ledger's checkpoint ({size}); nothing was published",
            out.display(),
            old_cp.size
        )));
    }
    if old_cp.size == size && old_cp.root != new_cp.root {
        return Err(CliError::refused(format!(
            "{} publishes tree size {size} with root {} but this ledger's root is {}: a forked log; nothing was published",
            out.display(),
            tinledger_formats::proof::hash_b64(&old_cp.root),
            tinledger_formats::proof::hash_b64(&new_cp.root)
        )));
    }
    Ok(())
}

struct Writer {
    out: PathBuf,
    /// Directories with a new name in them, to fsync.
    dirs: BTreeSet<PathBuf>,
    p: Published,
}

impl Writer {
    /// A tile or bundle: written once; an existing file must be identical.
    fn immutable(&mut self, rel: &str, bytes: &[u8]) -> Result<(), CliError> {
        self.p.files += 1;
        let path = self.out.join(rel);
        match std::fs::read(&path) {
            Ok(old) if old == bytes => {
                self.p.unchanged += 1;
                Ok(())
            }
            Ok(_) => Err(CliError::refused(format!(
                "{} already exists with other bytes than this ledger's {rel}: the directory holds a different (forked) history; nothing more was published",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.write(&path, bytes),
            Err(e) => Err(CliError::usage(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// A lot, actor or checkpoint file: replaced when it changed.
    fn mutable(&mut self, rel: &str, bytes: &[u8]) -> Result<(), CliError> {
        self.p.files += 1;
        let path = self.out.join(rel);
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            self.p.unchanged += 1;
            return Ok(());
        }
        self.write(&path, bytes)
    }

    /// Temporary file in the target's directory, fsync, rename.
    fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<(), CliError> {
        let fail = |e: std::io::Error| CliError::usage(format!("cannot write {}: {e}", path.display()));
        let dir = path.parent().map_or_else(|| self.out.clone(), Path::to_path_buf);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(fail)?;
            // The new directory's own name must be durable too.
            let mut d = dir.as_path();
            while let Some(parent) = d.parent() {
                self.dirs.insert(parent.to_path_buf());
                if parent == self.out || !parent.starts_with(&self.out) {
                    break;
                }
                d = parent;
            }
        }
        let mut b = tempfile::Builder::new();
        b.prefix(".publish.tmp-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let mut tmp = b.tempfile_in(&dir).map_err(fail)?;
        tmp.write_all(bytes).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        // Crash window: killed here, a synced temporary file stays beside
        // the target (ignored by readers: the server's config serves only
        // tile, lot and actor names); the next run writes the target again.
        tmp.persist(path).map_err(|e| fail(e.error))?;
        self.dirs.insert(dir);
        self.p.new += 1;
        Ok(())
    }
}
