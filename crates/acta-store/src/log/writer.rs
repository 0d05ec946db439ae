//! The writer thread: group commit.
//!
//! One thread owns every write to active segments. `Log::append` sends its batch here and
//! waits. The thread takes everything queued (a group), assigns seqs and arrival times, writes
//! each touched file once, syncs each touched file once, and only then publishes the new
//! frames to readers and answers every batch of the group. While it syncs, new batches queue
//! up and form the next group, so concurrent appends share syncs without any timer.
//!
//! A group is all-or-nothing: if any write or sync fails, no batch of the group is
//! acknowledged. A full device (a write or creation failing with `ENOSPC`/`EDQUOT`) undoes the
//! group, cutting its files back to their durable end, and the next group tries again; any
//! other failure, and every failed sync, poisons the log.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

use super::active::ActiveSegment;
use super::error::LogError;
use super::record::{self, Envelope, write_frame};
use super::state::{Counters, InstanceEntry, Segment, Shared};
use super::{Appended, Day, NewRecord, Record, write_lock};

/// Most batches taken into one group, so one group's memory stays bounded.
const MAX_GROUP_BATCHES: usize = 4096;

pub(crate) type Reply<T> = SyncSender<Result<T, LogError>>;

pub(crate) enum Command {
    Append {
        instance: String,
        records: Vec<NewRecord>,
        reply: Reply<Vec<Appended>>,
    },
    /// Records numbered elsewhere (cluster mode's log in PostgreSQL), kept with their seqs, arrival times and
    /// streams: a node's local copy.
    Copy {
        instance: String,
        records: Vec<Record>,
        reply: Reply<Vec<Appended>>,
    },
    /// Stop appending to segments older than `before`, and never assign an arrival time
    /// before its start again: `seal_before` may then seal them.
    Close {
        before: Day,
        reply: Reply<()>,
    },
}

/// A closed segment to seal in the background.
pub(crate) struct SealJob {
    pub(crate) entry: Arc<InstanceEntry>,
    pub(crate) segment: Arc<ActiveSegment>,
}

/// What the writer knows of an instance beyond what readers see.
pub(crate) struct WriterInstance {
    pub(crate) entry: Arc<InstanceEntry>,
    /// Whether `entry` is in the shared map yet (a new instance appears once durable).
    pub(crate) published: bool,
    pub(crate) next_seq: u64,
    pub(crate) last_received_ns: Option<i64>,
    /// No arrival time before this: the start of the day after the instance's newest closed,
    /// sealed or removed day. Records never go into a day that is closed.
    pub(crate) floor_ns: i64,
    pub(crate) current: Option<Current>,
}

/// The segment an instance appends to.
#[derive(Clone)]
pub(crate) struct Current {
    pub(crate) segment: Arc<ActiveSegment>,
    pub(crate) file: Arc<File>,
}

impl Current {
    /// Reopens a recovered active segment for appending.
    pub(crate) fn reopen(segment: Arc<ActiveSegment>) -> Result<Current, LogError> {
        let file = OpenOptions::new().append(true).open(&segment.path).map_err(|e| LogError::io(&segment.path, e))?;
        Ok(Current { segment, file: Arc::new(file) })
    }
}

pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) instances: HashMap<String, WriterInstance>,
    /// No arrival time is assigned before this (set by `Close`), so a segment closed for
    /// sealing is never appended to, even if the clock goes back.
    pub(crate) floor_ns: i64,
    pub(crate) seal_jobs: Sender<SealJob>,
}

/// The bytes one group adds to one segment file.
struct Pending {
    instance: String,
    segment: Arc<ActiveSegment>,
    file: Arc<File>,
    /// Created in this group: needs a full fsync, a directory sync, and to be shown to readers.
    is_new: bool,
    /// The file's length before this group: every published group ends exactly at a frame
    /// boundary (a failed one is undone, or poisons the log), so this is the segment's durable end.
    base_len: u64,
    bytes: Vec<u8>,
    offsets: Vec<u64>,
}

#[derive(Default)]
struct Group {
    pending: Vec<Pending>,
    /// `pending` positions by segment identity (the `Arc`'s address).
    pending_by_segment: HashMap<usize, usize>,
    dirs_to_sync: BTreeSet<PathBuf>,
    append_replies: Vec<(Reply<Vec<Appended>>, Vec<Appended>)>,
    close_replies: Vec<Reply<()>>,
    rolled_over: Vec<SealJob>,
    /// Per instance the group appends to, its writer state before the group (`None`: the group
    /// created it), to undo the group when the device is full.
    undo: HashMap<String, Option<Saved>>,
}

/// What a group changes in a [`WriterInstance`].
struct Saved {
    next_seq: u64,
    last_received_ns: Option<i64>,
    current: Option<Current>,
}

/// A write, sync or file creation failed: the group fails.
struct IoFailure {
    error: LogError,
    /// Whether it failed for want of space in a way the group can be undone from: a write or a
    /// creation (never a sync) that found the device full.
    no_space: bool,
}

impl IoFailure {
    /// A write or creation that failed; `ENOSPC` and `EDQUOT` leave the log usable.
    fn write(path: &std::path::Path, error: std::io::Error) -> IoFailure {
        let no_space = LogError::is_no_space(&error);
        IoFailure { error: LogError::io(path, error), no_space }
    }

    /// A failure after which the state of the files is unknown: the log is poisoned.
    fn fatal(error: LogError) -> IoFailure {
        IoFailure { error, no_space: false }
    }
}

impl Writer {
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        while let Ok(first) = commands.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP_BATCHES {
                let Ok(next) = commands.try_recv() else { break };
                group.push(next);
            }
            self.commit(group);
        }
    }

    fn commit(&mut self, commands: Vec<Command>) {
        if self.shared.is_poisoned() {
            fail_all(commands, Group::default(), || LogError::Poisoned);
            return;
        }
        let mut group = Group::default();
        let mut commands = commands.into_iter();
        let mut result = Ok(());
        for command in commands.by_ref() {
            result = self.stage(&mut group, command);
            if result.is_err() {
                break;
            }
        }
        let result = result.and_then(|()| self.write_and_sync(&group));
        match result {
            Ok(()) => {
                self.shared.note_written();
                self.publish(group);
            }
            Err(IoFailure { error, no_space: true }) => {
                let path = match &error {
                    LogError::Io { path, .. } => path.clone(),
                    _ => self.shared.root.clone(),
                };
                if let Err(undo_error) = self.undo(&mut group) {
                    // Cutting back failed too: what the files hold is unknown.
                    self.shared.poison("undoing a group that found the device full", &undo_error);
                    fail_all(commands.collect(), group, || LogError::Poisoned);
                    return;
                }
                self.shared.note_no_space(&error);
                fail_all(commands.collect(), group, || LogError::NoSpace { path: path.clone() });
            }
            Err(IoFailure { error, no_space: false }) => {
                // Poison first: whoever gets the answer must find the log poisoned.
                self.shared.poison("appending to the log", &error);
                fail_all(commands.collect(), group, || LogError::Poisoned);
            }
        }
    }

    /// Takes back what a failed group did, so the next group starts where the last durable one
    /// ended: each file is cut back to its durable end (a segment the group created is removed,
    /// no reader has seen it), and each instance gets back its sequence numbers, arrival time
    /// and segment. Days the group rolled over stay closed and go to the sealer: they are over.
    fn undo(&mut self, group: &mut Group) -> Result<(), LogError> {
        let io = &self.shared.io;
        for pending in &group.pending {
            let path = &pending.segment.path;
            let undone = if pending.is_new { io.remove(path) } else { io.truncate(path, pending.base_len) };
            undone.map_err(|e| LogError::io(path, e))?;
        }
        for (instance, saved) in group.undo.drain() {
            match saved {
                None => {
                    self.instances.remove(&instance);
                }
                Some(saved) => {
                    if let Some(writer_instance) = self.instances.get_mut(&instance) {
                        writer_instance.next_seq = saved.next_seq;
                        writer_instance.last_received_ns = saved.last_received_ns;
                        writer_instance.current = saved.current.filter(|current| !current.segment.is_closed());
                    }
                }
            }
        }
        for job in group.rolled_over.drain(..) {
            let _ = self.seal_jobs.send(job); // sealed at the next open if the sealer is gone
        }
        Ok(())
    }

    /// Stages one command into the group; its answer waits in the group until the group is
    /// durable (or failed).
    fn stage(&mut self, group: &mut Group, command: Command) -> Result<(), IoFailure> {
        match command {
            Command::Append { instance, records, reply } => {
                let (appended, result) = match self.stage_append(group, &instance, records) {
                    Ok(appended) => (appended, Ok(())),
                    Err(failure) => (Vec::new(), Err(failure)),
                };
                group.append_replies.push((reply, appended));
                result
            }
            Command::Copy { instance, records, reply } => {
                if let Err(error) = self.check_copy(&instance, &records) {
                    // Refused before anything was staged: the rest of the group goes on.
                    let _ = reply.send(Err(error));
                    return Ok(());
                }
                let (appended, result) = match self.stage_copy(group, &instance, records) {
                    Ok(appended) => (appended, Ok(())),
                    Err(failure) => (Vec::new(), Err(failure)),
                };
                group.append_replies.push((reply, appended));
                result
            }
            Command::Close { before, reply } => {
                self.stage_close(before);
                group.close_replies.push(reply);
                Ok(())
            }
        }
    }

    /// Assigns seqs and arrival times and frames the records into the group's buffers.
    fn stage_append(
        &mut self,
        group: &mut Group,
        instance: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Appended>, IoFailure> {
        let shared = Arc::clone(&self.shared);
        let floor_ns = self.floor_ns;
        let writer_instance = self.instance_for_group(group, instance)?;
        let mut appended = Vec::with_capacity(records.len());
        for record in records {
            // Arrival times never go back for an instance, whatever the clock does, and never
            // fall before the floor: the day of a record is then never an earlier day than the
            // segment currently open, and never a day already closed for sealing.
            let now = (shared.opts.clock)();
            let previous = writer_instance.last_received_ns.unwrap_or(i64::MIN);
            let received_ns = now.max(previous).max(floor_ns).max(writer_instance.floor_ns);
            let envelope = Envelope {
                seq: writer_instance.next_seq,
                received_ns,
                stream: &shared.opts.stream,
                account: &record.account,
                instance,
                event_id: &record.event_id,
            };
            appended.push(stage_record(&shared, group, writer_instance, &envelope, &record.event)?);
        }
        Ok(appended)
    }

    /// Whether `records` can follow what the instance holds as they are: the next seqs in order, arrival times
    /// that do not go back and whose day is still open here. Checked before anything is staged, so a refused
    /// copy changes nothing.
    fn check_copy(&self, instance: &str, records: &[Record]) -> Result<(), LogError> {
        let writer_instance = self.instances.get(instance);
        let first_seq = writer_instance.map_or(1, |writer_instance| writer_instance.next_seq);
        let mut previous = writer_instance.and_then(|writer_instance| writer_instance.last_received_ns);
        let floor_ns = writer_instance.map_or(i64::MIN, |writer_instance| writer_instance.floor_ns).max(self.floor_ns);
        for (next_seq, record) in (first_seq..).zip(records) {
            let refuse =
                |reason: String| LogError::InvalidRecord(format!("copy of {instance} seq {}: {reason}", record.seq));
            if record.instance != instance {
                return Err(refuse(format!("the record is of instance {}", record.instance)));
            }
            if record.seq != next_seq {
                return Err(refuse(format!("this log holds up to seq {}", next_seq - 1)));
            }
            if previous.is_some_and(|previous| record.received_ns < previous) || record.received_ns < floor_ns {
                return Err(refuse(format!(
                    "its arrival day {} is closed here, or its arrival time goes back",
                    Day::from_ns(record.received_ns)
                )));
            }
            record::payload_len(&record.envelope(), record.event.len())?;
            previous = Some(record.received_ns);
        }
        Ok(())
    }

    /// Frames records numbered elsewhere, as they are (see [`Command::Copy`]); `check_copy` passed.
    fn stage_copy(
        &mut self,
        group: &mut Group,
        instance: &str,
        records: Vec<Record>,
    ) -> Result<Vec<Appended>, IoFailure> {
        let shared = Arc::clone(&self.shared);
        let writer_instance = self.instance_for_group(group, instance)?;
        let mut appended = Vec::with_capacity(records.len());
        for record in records {
            // `check_copy` made sure the record is of this instance.
            appended.push(stage_record(&shared, group, writer_instance, &record.envelope(), &record.event)?);
        }
        Ok(appended)
    }

    /// The instance's writer state, saved first for undoing the group if the group has not touched it yet.
    fn instance_for_group(&mut self, group: &mut Group, instance: &str) -> Result<&mut WriterInstance, IoFailure> {
        if !group.undo.contains_key(instance) {
            let saved = self.instances.get(instance).map(|writer_instance| Saved {
                next_seq: writer_instance.next_seq,
                last_received_ns: writer_instance.last_received_ns,
                current: writer_instance.current.clone(),
            });
            group.undo.insert(instance.to_owned(), saved);
        }
        self.instance_mut(group, instance)
    }

    fn stage_close(&mut self, before: Day) {
        for writer_instance in self.instances.values_mut() {
            let is_older = |current: &mut Current| current.segment.day < before;
            if let Some(current) = writer_instance.current.take_if(is_older) {
                current.segment.close();
            }
        }
        self.floor_ns = self.floor_ns.max(before.start_ns());
    }

    /// The writer's state of an instance, creating the instance (and its directory) on its
    /// first append.
    fn instance_mut(&mut self, group: &mut Group, instance: &str) -> Result<&mut WriterInstance, IoFailure> {
        if !self.instances.contains_key(instance) {
            let dir = self.shared.root.join(instance);
            if !dir.is_dir() {
                self.shared.io.create_dir(&dir).map_err(|e| IoFailure::write(&dir, e))?;
                group.dirs_to_sync.insert(self.shared.root.clone());
            }
            let writer_instance = WriterInstance {
                entry: Arc::new(InstanceEntry::new(instance, dir)),
                published: false,
                next_seq: 1,
                last_received_ns: None,
                floor_ns: i64::MIN,
                current: None,
            };
            self.instances.insert(instance.to_owned(), writer_instance);
        }
        let writer_instance = self.instances.get_mut(instance);
        writer_instance.ok_or_else(|| IoFailure::fatal(LogError::InvalidInstance(instance.to_owned())))
    }

    fn write_and_sync(&self, group: &Group) -> Result<(), IoFailure> {
        let io = &self.shared.io;
        let counters = &self.shared.counters;
        for pending in &group.pending {
            let path = &pending.segment.path;
            io.write_all(&pending.file, path, &pending.bytes).map_err(|e| IoFailure::write(path, e))?;
        }
        for pending in &group.pending {
            let path = &pending.segment.path;
            let synced =
                if pending.is_new { io.sync_all(&pending.file, path) } else { io.sync_data(&pending.file, path) };
            synced.map_err(|e| IoFailure::fatal(LogError::io(path, e)))?;
            Counters::add(&counters.file_syncs, 1);
        }
        // Deepest first: an instance directory's new files before the root's new directories.
        for dir in group.dirs_to_sync.iter().rev() {
            io.sync_dir(dir).map_err(|e| IoFailure::fatal(LogError::io(dir, e)))?;
            Counters::add(&counters.dir_syncs, 1);
        }
        Ok(())
    }

    /// Shows the synced frames to readers, then answers the group.
    fn publish(&mut self, group: Group) {
        let counters = &self.shared.counters;
        let Group { pending, append_replies, close_replies, rolled_over, .. } = group;
        for pending in &pending {
            let end = pending.base_len + pending.bytes.len() as u64;
            let segment = &pending.segment;
            segment.publish(&pending.offsets, end);
            Counters::add(&counters.records, pending.offsets.len() as u64);
            let Some(writer_instance) = self.instances.get_mut(&pending.instance) else {
                continue;
            };
            let entry = &writer_instance.entry;
            if pending.is_new {
                let active = Segment::Active(Arc::clone(segment));
                write_lock(&entry.segments).insert(segment.day, active);
            }
            let last_seq = writer_instance.next_seq - 1;
            entry.last_seq.store(last_seq, std::sync::atomic::Ordering::Release);
            if !writer_instance.published {
                write_lock(&self.shared.instances).insert(pending.instance.clone(), Arc::clone(entry));
                writer_instance.published = true;
            }
        }
        Counters::add(&counters.commits, 1);
        Counters::add(&counters.appends, append_replies.len() as u64);
        for (reply, appended) in append_replies {
            let _ = reply.send(Ok(appended)); // the caller may have gone; nothing to do then
        }
        for reply in close_replies {
            let _ = reply.send(Ok(()));
        }
        for job in rolled_over {
            let _ = self.seal_jobs.send(job); // sealed at the next open if the sealer is gone
        }
    }
}

/// Frames one record at the seq and arrival time of its envelope into the group's buffer of its day's segment.
fn stage_record(
    shared: &Shared,
    group: &mut Group,
    writer_instance: &mut WriterInstance,
    envelope: &Envelope<'_>,
    event: &[u8],
) -> Result<Appended, IoFailure> {
    let day = Day::from_ns(envelope.received_ns);
    let pending_index = segment_for(shared, group, writer_instance, day)?;
    let pending = &mut group.pending[pending_index];
    let offset = pending.base_len + pending.bytes.len() as u64;
    // The lengths were checked before the record was queued, so framing cannot fail here; if it did, the
    // group fails rather than half of a batch being written.
    write_frame(&mut pending.bytes, envelope, event).map_err(IoFailure::fatal)?;
    pending.offsets.push(offset);
    writer_instance.next_seq = envelope.seq + 1;
    writer_instance.last_received_ns = Some(envelope.received_ns);
    Ok(Appended { seq: envelope.seq, received_ns: envelope.received_ns, day })
}

/// The index in `group.pending` of the segment that takes a record of `day`, rolling the
/// instance over to a new segment file when the day changed.
fn segment_for(
    shared: &Shared,
    group: &mut Group,
    writer_instance: &mut WriterInstance,
    day: Day,
) -> Result<usize, IoFailure> {
    if let Some(current) = &writer_instance.current {
        if current.segment.day == day {
            return Ok(pending_for(group, &writer_instance.entry.name, current, false));
        }
        debug_assert!(current.segment.day < day, "arrival days never go back");
    }
    if let Some(previous) = writer_instance.current.take() {
        // The day is over for this instance: nothing will be appended to that file again.
        previous.segment.close();
        writer_instance.floor_ns = writer_instance.floor_ns.max(previous.segment.day.next().start_ns());
        let entry = Arc::clone(&writer_instance.entry);
        group.rolled_over.push(SealJob { entry, segment: previous.segment });
    }
    let entry = &writer_instance.entry;
    if entry.segment(day).is_some() {
        // The floors make this impossible; should it happen anyway, stopping is better than a
        // second segment for a day that is closed (or a .log next to its .seg).
        let reason = format!("refusing to reopen the closed day {day}");
        return Err(IoFailure::fatal(LogError::corrupt(&entry.dir, 0, reason)));
    }
    let path = entry.dir.join(format!("{day}.log"));
    let io_failure = |e| IoFailure::write(&path, e);
    let file = shared.io.create_new(&path).map_err(io_failure)?;
    let read_handle = file.try_clone().map_err(io_failure)?;
    let segment = Arc::new(ActiveSegment::new(day, path.clone(), read_handle, writer_instance.next_seq));
    let current = Current { segment, file: Arc::new(file) };
    group.dirs_to_sync.insert(entry.dir.clone());
    let index = pending_for(group, &entry.name, &current, true);
    writer_instance.current = Some(current);
    Ok(index)
}

fn pending_for(group: &mut Group, instance: &str, current: &Current, is_new: bool) -> usize {
    let key = Arc::as_ptr(&current.segment) as usize;
    if let Some(index) = group.pending_by_segment.get(&key) {
        return *index;
    }
    group.pending_by_segment.insert(key, group.pending.len());
    group.pending.push(Pending {
        instance: instance.to_owned(),
        segment: Arc::clone(&current.segment),
        file: Arc::clone(&current.file),
        is_new,
        base_len: current.segment.durable().end,
        bytes: Vec::new(),
        offsets: Vec::new(),
    });
    group.pending.len() - 1
}

/// Answers every batch of a failed group (and the commands not yet staged) with `error()`.
fn fail_all(unstaged: Vec<Command>, group: Group, error: impl Fn() -> LogError) {
    for command in unstaged {
        match command {
            Command::Append { reply, .. } | Command::Copy { reply, .. } => {
                let _ = reply.send(Err(error()));
            }
            Command::Close { reply, .. } => {
                let _ = reply.send(Err(error()));
            }
        }
    }
    for (reply, _) in group.append_replies {
        let _ = reply.send(Err(error()));
    }
    for reply in group.close_replies {
        let _ = reply.send(Err(error()));
    }
}
