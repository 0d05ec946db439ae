//! Damage to the log on disk: corruption in the middle is refused without touching a byte, a torn tail is cut.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

const EVENTS: usize = 50;

/// Starts a server on a new directory, stores `EVENTS` events in one batch, waits until they are searchable,
/// and kills it. Returns the ids in the order they were sent (which is their order in the log).
fn populate(data: &Path, logs: &Path) -> Vec<String> {
    let mut server = common::start(data, logs);
    let ids: Vec<String> = (0..EVENTS).map(|n| format!("evt-{n:03}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| common::event(id, "kms.secrets.read", "success")).collect();
    let (status, answer) = server.ingest(&events);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], EVENTS, "{answer}");
    let count = server.wait_count("", EVENTS as u64, Duration::from_secs(10));
    assert_eq!(count, EVENTS as u64, "the events did not become searchable");
    server.kill();
    ids
}

#[test]
fn server_refuses_to_start_on_mid_file_corruption_and_leaves_data_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    populate(&data, &logs);

    let segment = common::only_segment(&data);
    let mut bytes = std::fs::read(&segment).unwrap();
    let frames = common::frames(&bytes);
    assert_eq!(frames.len(), EVENTS, "the segment should hold one frame per event");
    let flipped = bytes.len() / 2;
    bytes[flipped] ^= 0x5a;
    std::fs::write(&segment, &bytes).unwrap();
    // The damaged frame is the one holding the flipped byte; the log reports the frame's offset.
    let (frame_start, _) = *frames.iter().find(|(start, len)| (*start..start + len).contains(&flipped)).unwrap();

    let before = common::snapshot(&data.join("log"));
    let exited = match common::try_start(&data, &logs) {
        Ok(mut server) => {
            let stderr = server.stderr();
            server.kill();
            panic!("the server started on a log corrupted at byte {flipped}:\n{stderr}");
        }
        Err(exited) => exited,
    };
    assert!(!exited.status.success(), "acta serve exited successfully on a corrupt log");
    let stderr = exited.stderr;
    assert!(
        stderr.contains(&segment.display().to_string()),
        "stderr does not name the file {}:\n{stderr}",
        segment.display()
    );
    assert!(
        stderr.contains(&format!("at byte {frame_start}")),
        "stderr does not name the offset {frame_start}:\n{stderr}"
    );
    assert!(stderr.contains("corrupt"), "stderr does not say the log is corrupt:\n{stderr}");
    let after = common::snapshot(&data.join("log"));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the refused start added or removed log files"
    );
    for (path, content) in &before {
        assert!(after[path] == *content, "the refused start modified {}", path.display());
    }

    // `acta reindex` reads the same log: it refuses too, and changes nothing either.
    let output =
        common::run_acta(&["reindex".as_ref(), "--data".as_ref(), data.as_os_str()], &[], Duration::from_secs(30));
    assert!(!output.status.success(), "acta reindex succeeded on a corrupt log");
    assert!(output.stderr.contains(&format!("at byte {frame_start}")), "stderr:\n{}", output.stderr);
    assert!(common::snapshot(&data.join("log")) == before, "acta reindex modified the corrupt log");
}

/// Cuts the last `cut` bytes of the only segment; returns the segment's bytes before and where its last frame starts.
fn tear_last_frame(data: &Path, cut: usize) -> (std::path::PathBuf, Vec<u8>, usize) {
    let segment = common::only_segment(data);
    let bytes = std::fs::read(&segment).unwrap();
    let frames = common::frames(&bytes);
    assert_eq!(frames.len(), EVENTS, "the segment should hold one frame per event");
    let (last_start, last_len) = *frames.last().unwrap();
    assert_eq!(last_start + last_len, bytes.len());
    assert!(cut < last_len);
    std::fs::write(&segment, &bytes[..bytes.len() - cut]).unwrap();
    (segment, bytes, last_start)
}

/// After the cut: the first `EVENTS - 1` events are searchable and found by id, the torn one is not, and
/// sending it again stores it under the seq that was cut.
fn check_after_cut(server: &common::Server, ids: &[String]) {
    let kept = &ids[..EVENTS - 1];
    let torn = &ids[EVENTS - 1];
    let count = server.wait_count("", kept.len() as u64, Duration::from_secs(10));
    assert_eq!(count, kept.len() as u64, "count after the cut");
    let mut found: Vec<String> = server.search_all("").iter().map(common::acta_id).collect();
    found.sort();
    assert_eq!(found, kept, "search after the cut");
    for id in kept {
        assert_eq!(server.one(id).0, 200, "{id} is not found by id");
    }
    let (status, answer) = server.one(torn);
    assert_eq!(status, 404, "the torn event is still found by id: {answer}");

    // The torn event was never acknowledged: sending it again stores it, and it gets the seq that was cut.
    let (status, answer) = server.ingest(&[common::event(torn, "kms.secrets.read", "success")]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["status"], "stored", "re-sending the torn event: {answer}");
    assert_eq!(server.wait_count("", EVENTS as u64, Duration::from_secs(10)), EVENTS as u64);
    let (status, answer) = server.one(torn);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["_acta"]["seq"], EVENTS, "{answer}");
    let events = server.search_all("");
    let mut seqs: Vec<u64> = events.iter().map(|e| e["_acta"]["seq"].as_u64().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=EVENTS as u64).collect::<Vec<_>>(), "seqs after the re-send");
}

#[test]
fn torn_tail_is_truncated_on_restart_and_earlier_events_remain() {
    let ids: Vec<String> = (0..EVENTS).map(|n| format!("evt-{n:03}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| common::event(id, "kms.secrets.read", "success")).collect();
    // After a real crash a torn frame was never durable, so never indexed. To tear an acknowledged frame the
    // index has not seen either, the last event is sent right after an index commit (the index commits about
    // once a second) and the server is killed as soon as it answers. A slow machine may miss that window;
    // the attempt is then made again on a new directory.
    let mut attempt = 0;
    let (_dir, data, logs) = loop {
        attempt += 1;
        let dir = tempfile::tempdir().unwrap();
        let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
        let mut server = common::start(&data, &logs);
        let (status, answer) = server.ingest(&events[..EVENTS - 1]);
        assert_eq!((status, answer["accepted"].as_u64()), (200, Some(EVENTS as u64 - 1)), "{answer}");
        assert_eq!(server.wait_count("", EVENTS as u64 - 1, Duration::from_secs(10)), EVENTS as u64 - 1);
        let committed = Instant::now();
        let (status, answer) = server.ingest(&events[EVENTS - 1..]);
        server.kill();
        let window = committed.elapsed();
        assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)), "{answer}");
        if window < Duration::from_millis(600) {
            break (dir, data, logs);
        }
        assert!(attempt < 3, "could not kill the server within 600 ms of an index commit in 3 attempts");
    };

    // As if the write of the last frame had been interrupted: its last bytes never reached the disk.
    let (segment, bytes, last_start) = tear_last_frame(&data, 5);
    let server = common::start(&data, &logs);
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        &bytes[..last_start],
        "the log was not cut exactly before the torn frame"
    );
    let stderr = server.stderr();
    assert!(
        stderr.contains("torn tail") && stderr.contains(&segment.display().to_string()),
        "the cut was not logged:\n{stderr}"
    );
    check_after_cut(&server, &ids);
}

/// The same cut, but of a record the index had already committed (a restored log, a disk that lost
/// synced data). The index holds a record the log no longer has.
#[test]
fn torn_tail_cut_after_it_was_indexed_is_forgotten_by_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (data, logs) = (dir.path().join("data"), dir.path().join("logs"));
    let ids = populate(&data, &logs);
    tear_last_frame(&data, 5);
    let server = common::start(&data, &logs);
    check_after_cut(&server, &ids);
}
