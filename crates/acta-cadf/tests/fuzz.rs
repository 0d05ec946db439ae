//! Fuzz-style properties of the CADF parser: arbitrary bytes and structured mutations of valid events and
//! batches get an event, problems or a batch error, never a panic; what is accepted re-parses identically from
//! its bytes. Inputs stay within about 70 KiB (just over the 64 KiB event limit) and case counts are small, so
//! each property runs in seconds: the test's own runtime is the time bound.

use acta_cadf::{BodyFormat, Options, parse_batch, parse_event, parse_time};
use proptest::prelude::*;

fn now() -> i64 {
    parse_time("2026-01-01T00:00:00Z").expect("a fixed now")
}

const SEEDS: &[&str] = &[
    r#"{"id":"e1","eventTime":"2025-11-20T10:00:00.123Z","action":"iam-identity.user-apikey.create","outcome":"success","initiator":{"id":"IBMid-1","typeURI":"service/security/account/user","name":"u@example.com","host":{"agent":"IBM Cloud CLI"}},"target":{"id":"t-1","typeURI":"iam-identity/user-apikey"},"observer":{"id":"target"},"eventType":"activity","typeURI":"http://schemas.dmtf.org/cloud/audit/1.0/event","reason":{"reasonCode":200},"severity":"normal","logSourceCRN":"crn:v1:bluemix:public:iam-identity:us-south:a/acme::"}"#,
    r#"{"eventTime":"2025-11-20T10:00:00+0000","action":"kms.secrets.delete","outcome":"failure","initiatorId":"u","targetId":"t","requestData":"{\"region\":\"us-south\"}","tags":["a",1,null,{"x":[]}]}"#,
    r#"{"action":"x","outcome":"pending","eventTime":"2025-01-01T00:00:00Z","initiator":{"id":"\u00e9\ud83d\udd25"},"target":{"id":"t"},"n":1e308,"m":-0.0,"big":123456789012345678901234567890}"#,
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, &'static str),
    Nest(usize),
    Repeat(usize, usize, usize),
    LongString(usize),
}

const INSERTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    ",",
    ":",
    "\"id\":\"dup\",",
    "\"action\":1,",
    "\u{0}",
    "\u{feff}",
    "\n",
    "🔥",
    "1e999",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::sample::select(INSERTS)).prop_map(|(at, text)| Mutation::Insert(at, text)),
        (0usize..200).prop_map(Mutation::Nest),
        (any::<usize>(), 1usize..40, 1usize..100).prop_map(|(at, len, times)| Mutation::Repeat(at, len, times)),
        (60_000usize..70_000).prop_map(Mutation::LongString),
    ]
}

fn apply(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let at = |position: usize, bytes: &[u8]| position % (bytes.len() + 1);
    match *mutation {
        Mutation::Flip(position, byte) => {
            if !bytes.is_empty() {
                let position = position % bytes.len();
                bytes[position] = byte;
            }
        }
        Mutation::Truncate(position) => bytes.truncate(at(position, &bytes)),
        Mutation::Insert(position, text) => {
            let position = at(position, &bytes);
            bytes.splice(position..position, text.bytes());
        }
        Mutation::Nest(depth) => {
            // The event as the value of a member, `depth` objects deep.
            let mut nested = b"{\"id\":\"n\",\"x\":".to_vec();
            nested.extend(b"{\"a\":".repeat(depth));
            nested.extend(&bytes);
            nested.extend(b"}".repeat(depth + 1));
            return nested;
        }
        Mutation::Repeat(position, len, times) => {
            let start = at(position, &bytes);
            let end = (start + len).min(bytes.len());
            let piece = bytes[start..end].to_vec();
            for _ in 0..times {
                bytes.splice(end..end, piece.iter().copied());
            }
        }
        Mutation::LongString(len) => {
            if let Some(close) = bytes.iter().rposition(|&byte| byte == b'}') {
                let member = format!(",\"long\":\"{}\"", "x".repeat(len));
                bytes.splice(close..close, member.bytes());
            }
        }
    }
    bytes.truncate(72 * 1024);
    bytes
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    for options in [Options::default(), Options::strict()] {
        if let Ok(event) = parse_event(bytes, &options, now()) {
            let again = parse_event(&event.raw, &options, now());
            prop_assert_eq!(again.as_ref(), Ok(&event));
        }
        for format in [BodyFormat::Json, BodyFormat::Ndjson] {
            if let Ok(results) = parse_batch(bytes, format, &options, now()) {
                for event in results.into_iter().flatten() {
                    prop_assert!(parse_event(&event.raw, &options, now()).is_ok());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(&bytes)?;
    }

    #[test]
    fn mutated_events_get_an_answer(
        seed in prop::sample::select(SEEDS),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut bytes = seed.as_bytes().to_vec();
        for mutation in &mutations {
            bytes = apply(bytes, mutation);
        }
        check(&bytes)?;
    }

    #[test]
    fn mutated_batches_get_an_answer(
        seeds in prop::collection::vec(prop::sample::select(SEEDS), 1..6),
        mutations in prop::collection::vec(mutation(), 0..3),
        array in any::<bool>(),
    ) {
        let body = if array { format!("[{}]", seeds.join(",")) } else { seeds.join("\n") };
        let mut bytes = body.into_bytes();
        for mutation in &mutations {
            bytes = apply(bytes, mutation);
        }
        check(&bytes)?;
    }
}
