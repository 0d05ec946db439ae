//! The checkpointer: follows the log, keeps one Merkle tree per (instance, day) segment, and
//! appends signed checkpoints of it.
//!
//! Per instance it keeps a *chain*: the tree of the segment being signed (a [`Frontier`], the
//! next seq to hash, the open `.notes` and `.leaves` files) and the hash of the previous
//! segment's final note, which becomes the next tree's link leaf. A round reads the records that
//! became durable since the last one, signs a checkpoint if there are any, and when the segment
//! is closed (sealed, or the next day's segment holds the following seq) signs a final one and
//! starts the next segment's tree.
//!
//! In a cluster ([`super::shared`]) a round first adopts the checkpoints the signer published beyond this node's
//! files, each checked against the tree of this node's copy; only the signer then signs more, publishing each
//! checkpoint before writing it.
//!
//! Restart: the chain is rebuilt from the newest `.notes` line. Its leaves come from the
//! `.leaves` file when they give the signed root, else from the log; if the log no longer
//! gives that root either, the records were changed while Acta was stopped, and the instance's
//! checkpoints stop (signing on top would bless the change): `acta verify` tells what happened.
//! Any other error drops the instance's chain, so the next round rebuilds it from the files.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use acta_ledger::{Checkpoint, Frontier, Hash, KeyRing, Origin, SigningKey, leaf_hash, root};

use super::IntegrityError;
use super::files::{
    GENESIS, NoteEntry, instance_dir, leaves_path, link_leaf, note_days, note_hash, notes_path, read_leaves_prefix,
    read_notes,
};
use super::shared::{Published, SharedCheckpoints};
use crate::log::{Day, Log, Record};

/// What a round needs besides the chains.
pub(crate) struct Context<'a> {
    pub(crate) data_dir: &'a Path,
    pub(crate) log: &'a Log,
    pub(crate) key: &'a SigningKey,
    pub(crate) ring: &'a KeyRing,
    pub(crate) node: &'a str,
    /// Cluster mode: the checkpoints the nodes share.
    pub(crate) shared: Option<&'a dyn SharedCheckpoints>,
}

/// The chains of every instance seen so far.
#[derive(Default)]
pub(crate) struct Checkpointer {
    instances: BTreeMap<String, State>,
    /// Cluster mode: each segment's latest published checkpoint, until this node's chain has passed it.
    published: HashMap<(String, Day), Published>,
}

enum State {
    Running(Box<Chain>),
    /// Signing stopped for this instance until restart, for the reason given.
    Halted(String),
}

struct Chain {
    /// The tree of the segment being signed; `None` between segments.
    tree: Option<Tree>,
    /// The note hash the next tree links to.
    previous: Hash,
    /// The day of the last closed segment: the next tree is the first segment after it.
    previous_day: Option<Day>,
}

struct Tree {
    day: Day,
    link: Hash,
    /// `<node>/<account>/<instance>/<day>`, known once the first record is read.
    origin: Option<String>,
    /// The account of the segment's first record: every record should have it.
    account: Option<String>,
    frontier: Frontier,
    next_seq: u64,
    /// The tree size of the last note written.
    signed: u64,
    notes: File,
    leaves: File,
    /// Leaf hashes hashed but not yet written to `leaves`.
    unwritten: Vec<u8>,
    dir: PathBuf,
    notes_path: PathBuf,
    leaves_path: PathBuf,
    /// Whether the directory entries of the two files are known durable.
    dir_synced: bool,
}

impl Checkpointer {
    /// Brings every instance's checkpoints up to the log's durable end. Returns the first error;
    /// the other instances are still processed.
    pub(crate) fn round(&mut self, ctx: &Context<'_>) -> Result<(), IntegrityError> {
        if let Err(error) = self.learn_published(ctx) {
            // Nothing can be checked or published without the cluster's checkpoints: one word, not one per instance.
            tracing::warn!(%error, "reading the cluster's checkpoints failed; checkpoints wait for the next round");
            return Err(error);
        }
        let mut first_error = None;
        for instance in ctx.log.instances() {
            if let Err(error) = self.advance_instance(ctx, &instance) {
                first_error.get_or_insert(error);
            }
        }
        let instances = &self.instances;
        self.published.retain(|(instance, day), _| match instances.get(instance) {
            Some(State::Running(chain)) => chain.previous_day.is_none_or(|previous| previous < *day),
            _ => true,
        });
        first_error.map_or(Ok(()), Err)
    }

    /// Brings one instance's checkpoints up to the log's durable end.
    pub(crate) fn round_instance(&mut self, ctx: &Context<'_>, instance: &str) -> Result<(), IntegrityError> {
        self.learn_published(ctx)?;
        self.advance_instance(ctx, instance)
    }

    /// Cluster mode: takes in what was published since the last call.
    fn learn_published(&mut self, ctx: &Context<'_>) -> Result<(), IntegrityError> {
        let Some(shared) = ctx.shared else {
            return Ok(());
        };
        for (instance, day, published) in shared.changed()? {
            self.published.insert((instance, day), published);
        }
        Ok(())
    }

    fn advance_instance(&mut self, ctx: &Context<'_>, instance: &str) -> Result<(), IntegrityError> {
        if !self.instances.contains_key(instance) {
            let state = match recover(ctx, instance)? {
                Ok(chain) => State::Running(Box::new(chain)),
                Err(reason) => {
                    tracing::error!(instance, %reason, "checkpoints stopped for this instance");
                    State::Halted(reason)
                }
            };
            self.instances.insert(instance.to_owned(), state);
        }
        let result = match self.instances.get_mut(instance) {
            Some(State::Running(chain)) => chain.advance(ctx, instance, &self.published),
            Some(State::Halted(reason)) => {
                return Err(IntegrityError::Halted { instance: instance.to_owned(), reason: reason.clone() });
            }
            None => Ok(()),
        };
        match &result {
            Err(IntegrityError::Halted { reason, .. }) => {
                tracing::error!(instance, %reason, "checkpoints stopped for this instance");
                self.instances.insert(instance.to_owned(), State::Halted(reason.clone()));
            }
            Err(error) => {
                // Whatever half-done state the files are in, rebuilding the chain from them is the
                // one path that is known to handle it (it cuts a torn note line, re-derives leaves).
                tracing::error!(instance, %error, "checkpointing failed; will retry");
                self.instances.remove(instance);
            }
            Ok(()) => {}
        }
        result
    }
}

impl Chain {
    fn advance(
        &mut self,
        ctx: &Context<'_>,
        instance: &str,
        published: &HashMap<(String, Day), Published>,
    ) -> Result<(), IntegrityError> {
        loop {
            if self.tree.is_none() {
                let segments = ctx.log.segments(instance);
                let next = segments.iter().find(|segment| self.previous_day.is_none_or(|day| segment.day > day));
                let Some(next) = next else {
                    return Ok(());
                };
                self.tree = Some(Tree::start(ctx, instance, next.day, next.first_seq, self.previous)?);
            }
            let Some(tree) = self.tree.as_mut() else {
                return Ok(());
            };
            if let Some(shared) = ctx.shared {
                // Larger, or the final checkpoint of the tree as signed (the segment closed with no record after).
                let newer = published
                    .get(&(instance.to_owned(), tree.day))
                    .filter(|p| p.size > tree.signed || (p.size == tree.signed && p.entry.is_final));
                if let Some(newer) = newer {
                    if !tree.adopt(ctx, instance, newer)? {
                        return Ok(()); // this node's copy does not hold the signed records yet
                    }
                    if newer.entry.is_final {
                        self.previous = note_hash(&newer.entry.note);
                        self.previous_day = Some(tree.day);
                        self.tree = None;
                        continue;
                    }
                }
                if !shared.signs() {
                    return Ok(());
                }
            }
            tree.catch_up(ctx, instance)?;
            // Listed after the catch-up: a later segment that starts at our next seq proves
            // that nothing more can join this one (arrival times never go back).
            let segments = ctx.log.segments(instance);
            let closed = segments.iter().any(|segment| {
                (segment.day == tree.day && segment.sealed && tree.next_seq > segment.last_seq)
                    || (segment.day > tree.day && segment.first_seq == tree.next_seq)
            });
            if !segments.iter().any(|segment| segment.day == tree.day) {
                return Err(IntegrityError::Corrupt {
                    path: tree.dir.clone(),
                    reason: format!("the log segment of {} disappeared before it was closed", tree.day),
                });
            }
            if closed {
                let note = tree.sign(ctx, instance, true)?;
                self.previous = note_hash(&note);
                self.previous_day = Some(tree.day);
                self.tree = None;
                continue;
            }
            if tree.frontier.size() > tree.signed {
                tree.sign(ctx, instance, false)?;
            }
            return Ok(());
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> IntegrityError + '_ {
    move |source| IntegrityError::Io { path: path.to_owned(), source }
}

fn sync_dir(dir: &Path) -> Result<(), IntegrityError> {
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(io_error(dir))
}

/// Creates `<data>/checkpoints/<instance>` durably.
fn create_dir(data_dir: &Path, dir: &Path) -> Result<(), IntegrityError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    for created in [dir.parent(), Some(data_dir)].into_iter().flatten() {
        sync_dir(created)?;
    }
    Ok(())
}

fn open_append(path: &Path) -> Result<File, IntegrityError> {
    OpenOptions::new().create(true).append(true).open(path).map_err(io_error(path))
}

impl Tree {
    /// A new tree for a segment: leaf 0 links to `previous`.
    fn start(
        ctx: &Context<'_>,
        instance: &str,
        day: Day,
        first_seq: u64,
        previous: Hash,
    ) -> Result<Tree, IntegrityError> {
        let dir = instance_dir(ctx.data_dir, instance);
        create_dir(ctx.data_dir, &dir)?;
        let leaves_path = leaves_path(ctx.data_dir, instance, day);
        // A leftover from a crash before this segment's first note: nothing signed depends on it.
        let leaves = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&leaves_path)
            .map_err(io_error(&leaves_path))?;
        let notes_path = notes_path(ctx.data_dir, instance, day);
        let notes = open_append(&notes_path)?;
        let link = link_leaf(&previous);
        let mut frontier = Frontier::new();
        frontier.push(link);
        tracing::debug!(instance, %day, "starting the tree of a segment");
        Ok(Tree {
            day,
            link: previous,
            origin: None,
            account: None,
            frontier,
            next_seq: first_seq,
            signed: 0,
            notes,
            leaves,
            unwritten: link.to_vec(),
            dir,
            notes_path,
            leaves_path,
            dir_synced: false,
        })
    }

    /// Hashes the segment's records that became durable since the last call.
    fn catch_up(&mut self, ctx: &Context<'_>, instance: &str) -> Result<(), IntegrityError> {
        for record in ctx.log.scan(instance, self.day, self.next_seq)? {
            self.add(ctx, instance, &record?)?;
        }
        Ok(())
    }

    fn add(&mut self, ctx: &Context<'_>, instance: &str, record: &Record) -> Result<(), IntegrityError> {
        if record.seq != self.next_seq {
            return Err(IntegrityError::Corrupt {
                path: self.dir.clone(),
                reason: format!("the log gave seq {} where seq {} was due", record.seq, self.next_seq),
            });
        }
        match &self.account {
            None => {
                let day = self.day.to_string();
                self.origin = Some(Checkpoint::origin_for(ctx.node, &record.account, instance, &day)?);
                self.account = Some(record.account.clone());
            }
            Some(account) if *account != record.account => {
                // Hashed all the same: the leaf is what is stored, and `acta verify` names it.
                tracing::error!(instance, seq = record.seq, record_account = %record.account, %account,
                    "a record of another account in this segment");
            }
            Some(_) => {}
        }
        let leaf = leaf_hash(&record.payload);
        self.frontier.push(leaf);
        self.unwritten.extend_from_slice(&leaf);
        self.next_seq += 1;
        Ok(())
    }

    /// Writes the leaves, then appends a signed checkpoint of the whole tree. Leaves go first so
    /// that whoever reads a note finds the leaves it covers.
    fn sign(&mut self, ctx: &Context<'_>, instance: &str, is_final: bool) -> Result<String, IntegrityError> {
        let Some(origin) = self.origin.clone() else {
            return Err(IntegrityError::Corrupt {
                path: self.dir.clone(),
                reason: format!("the segment of {} has no record to sign", self.day),
            });
        };
        let checkpoint = Checkpoint { origin, size: self.frontier.size(), root: self.frontier.root() };
        let note = ctx.key.sign(&checkpoint)?;
        let entry = NoteEntry { link: self.link, is_final, note: note.clone() };
        if let Some(shared) = ctx.shared {
            shared.publish(instance, self.day, checkpoint.size, &checkpoint.origin, &entry)?;
        }
        self.write(&entry.to_line(), checkpoint.size)?;
        Ok(note)
    }

    /// Cluster mode: writes a published checkpoint once this node's tree of the segment, hashed up to its size,
    /// gives the signed root. `false` while this node's copy lacks records it covers; a checkpoint that does not
    /// go on with this node's files or copy stops the instance's checkpoints.
    fn adopt(&mut self, ctx: &Context<'_>, instance: &str, published: &Published) -> Result<bool, IntegrityError> {
        let halt = |reason: String| IntegrityError::Halted { instance: instance.to_owned(), reason };
        let day = self.day;
        if self.frontier.size() > published.size {
            // This node signed past it (the signer's lease moved meanwhile): start again from the files.
            return Err(IntegrityError::Corrupt {
                path: self.notes_path.clone(),
                reason: format!(
                    "the published checkpoint of {day} (size {}) is behind this node's tree",
                    published.size
                ),
            });
        }
        // The origin of the checkpoints this node wrote of the segment, if any (hashing sets one of its own).
        let written_origin = if self.signed > 0 { self.origin.clone() } else { None };
        let missing = published.size - self.frontier.size();
        let records = ctx.log.scan(instance, day, self.next_seq)?;
        for record in records.take(usize::try_from(missing).unwrap_or(usize::MAX)) {
            self.add(ctx, instance, &record?)?;
        }
        if self.frontier.size() < published.size {
            return Ok(false);
        }
        let checkpoint = ctx.ring.open(&published.entry.note).map_err(|error| {
            halt(format!(
                "the checkpoint published for {day} does not open with this node's keys ({error}): give every node \
                 of a cluster the same --signing-key"
            ))
        })?;
        let origin = Origin::parse(&checkpoint.origin);
        let names_segment = origin.is_some_and(|origin| {
            origin.instance == instance
                && origin.segment == day.to_string()
                && self.account.as_deref().is_none_or(|account| origin.account == account)
        });
        if !names_segment || written_origin.is_some_and(|written| written != checkpoint.origin) {
            return Err(halt(format!(
                "the checkpoint published for {day} has the origin {}, which does not name this segment as this \
                 node's checkpoints do",
                checkpoint.origin
            )));
        }
        if published.entry.link != self.link {
            return Err(halt(format!(
                "the checkpoint published for {day} links to another previous segment than this node's checkpoints"
            )));
        }
        if checkpoint.size != published.size || checkpoint.root != self.frontier.root() {
            return Err(halt(format!(
                "this node's copy of {day} does not give the root of the checkpoint the signing node published (size \
                 {}): the copies differ; run `acta verify` on each node's data directory",
                checkpoint.size
            )));
        }
        self.account = checkpoint.origin.split('/').nth(1).map(str::to_owned);
        self.origin = Some(checkpoint.origin);
        self.write(&published.line, published.size)?;
        Ok(true)
    }

    /// Writes the leaves, then the checkpoint line of tree size `size`.
    fn write(&mut self, line: &str, size: u64) -> Result<(), IntegrityError> {
        if !self.unwritten.is_empty() {
            self.leaves.write_all(&self.unwritten).map_err(io_error(&self.leaves_path))?;
            self.leaves.sync_data().map_err(io_error(&self.leaves_path))?;
            self.unwritten.clear();
        }
        self.notes.write_all(line.as_bytes()).map_err(io_error(&self.notes_path))?;
        self.notes.sync_data().map_err(io_error(&self.notes_path))?;
        if !self.dir_synced {
            sync_dir(&self.dir)?;
            self.dir_synced = true;
        }
        self.signed = size;
        Ok(())
    }
}

/// Rebuilds an instance's chain from its checkpoint files. The inner `Err` is a reason to stop
/// signing (the files or the log contradict what was signed); the outer one an I/O failure.
fn recover(ctx: &Context<'_>, instance: &str) -> Result<Result<Chain, String>, IntegrityError> {
    let dir = instance_dir(ctx.data_dir, instance);
    for day in note_days(&dir).map_err(io_error(&dir))?.into_iter().rev() {
        let path = notes_path(ctx.data_dir, instance, day);
        let file = read_notes(&path).map_err(io_error(&path))?;
        if let Some(torn_at) = file.torn_at {
            tracing::warn!(path = %path.display(), torn_at, "cutting an incomplete checkpoint line (crash during a write)");
            let notes = OpenOptions::new().write(true).open(&path).map_err(io_error(&path))?;
            notes.set_len(torn_at).and_then(|()| notes.sync_all()).map_err(io_error(&path))?;
        }
        let Some((number, last)) = file.lines.last() else {
            continue; // created for a segment that never got its first checkpoint
        };
        let entry = match last {
            Ok(entry) => entry,
            Err(reason) => return Ok(Err(format!("line {number} of {}: {reason}", path.display()))),
        };
        let checkpoint = match ctx.ring.open(&entry.note) {
            Ok(checkpoint) => checkpoint,
            Err(error) => return Ok(Err(format!("line {number} of {}: {error}", path.display()))),
        };
        if entry.is_final {
            return Ok(Ok(Chain { tree: None, previous: note_hash(&entry.note), previous_day: Some(day) }));
        }
        return Ok(Tree::resume(ctx, instance, day, entry, &checkpoint)?.map(|tree| Chain {
            tree: Some(tree),
            previous: entry.link,
            previous_day: None,
        }));
    }
    Ok(Ok(Chain { tree: None, previous: GENESIS, previous_day: None }))
}

impl Tree {
    /// Continues a segment's tree from its last checkpoint.
    fn resume(
        ctx: &Context<'_>,
        instance: &str,
        day: Day,
        entry: &NoteEntry,
        checkpoint: &Checkpoint,
    ) -> Result<Result<Tree, String>, IntegrityError> {
        let size = checkpoint.size;
        let Some(segment) = ctx.log.segments(instance).into_iter().find(|segment| segment.day == day) else {
            return Ok(Err(format!("the log segment of {day} is gone although it was never closed")));
        };
        let Some(records) = size.checked_sub(1).filter(|records| *records > 0) else {
            return Ok(Err(format!("the last checkpoint of {day} covers no record")));
        };
        if segment.records < records {
            return Ok(Err(format!(
                "the log of {day} holds {} records but {records} were signed: records were removed",
                segment.records
            )));
        }
        let link = link_leaf(&entry.link);
        let leaves_path = leaves_path(ctx.data_dir, instance, day);
        let mut leaves = read_leaves_prefix(&leaves_path, size).map_err(io_error(&leaves_path))?;
        let trusted = leaves.len() as u64 == size && leaves.first() == Some(&link) && root(&leaves) == checkpoint.root;
        if !trusted {
            tracing::warn!(instance, %day, "the leaves file does not match the last checkpoint; rebuilding it from the log");
            leaves = vec![link];
            for record in ctx.log.scan(instance, day, segment.first_seq)?.take(usize::try_from(records).unwrap_or(0)) {
                leaves.push(leaf_hash(&record?.payload));
            }
            if root(&leaves) != checkpoint.root {
                return Ok(Err(format!(
                    "the log of {day} no longer gives the root of its last checkpoint (size {size}): records were \
                     changed while Acta was not running, or the checkpoint file was; run `acta verify`"
                )));
            }
        }
        // Exactly the signed leaves: hashes written after the last note are recomputed.
        let mut file = open_append(&leaves_path)?;
        let write = |file: &mut File| {
            if trusted {
                file.set_len(size * 32)?;
            } else {
                file.set_len(0)?;
                file.write_all(&leaves.concat())?;
            }
            file.sync_all()
        };
        write(&mut file).map_err(io_error(&leaves_path))?;
        let mut frontier = Frontier::new();
        for leaf in &leaves {
            frontier.push(*leaf);
        }
        let dir = instance_dir(ctx.data_dir, instance);
        let notes_path = notes_path(ctx.data_dir, instance, day);
        // The account is the origin's second part; the origin was checked when it was signed.
        let account = checkpoint.origin.split('/').nth(1).map(str::to_owned);
        Ok(Ok(Tree {
            day,
            link: entry.link,
            origin: Some(checkpoint.origin.clone()),
            account,
            frontier,
            next_seq: segment.first_seq + records,
            signed: size,
            notes: open_append(&notes_path)?,
            leaves: file,
            unwritten: Vec::new(),
            dir,
            notes_path,
            leaves_path,
            dir_synced: false,
        }))
    }
}
