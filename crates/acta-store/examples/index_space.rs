//! Where a day partition's bytes go, per field and kind (term dictionary, postings, positions, fast columns,
//! norms, document store): `cargo run --release -p acta-store --example index_space -- DATA/index/days/DAY`.
//! The figures in docs/benchmarks.md of what each index field costs come from here.

use std::collections::BTreeMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: index_space <partition directory>")?;
    let index = tantivy::Index::open_in_dir(&path)?;
    let schema = index.schema();
    let searcher = index.reader()?.searcher();
    let usage = searcher.space_usage()?;
    let mut per_field: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let mut store = 0;
    for segment in usage.segments() {
        let kinds =
            [segment.termdict(), segment.postings(), segment.positions(), segment.fast_fields(), segment.fieldnorms()];
        for (kind, usage) in kinds.iter().enumerate() {
            for (field, field_usage) in usage.fields() {
                per_field.entry(schema.get_field_name(*field).to_string()).or_default()[kind] +=
                    field_usage.total().get_bytes();
            }
        }
        store += segment.store().total().get_bytes();
    }
    println!("{} documents in {} segments, {} in all", searcher.num_docs(), usage.segments().len(), usage.total());
    println!("{:<26}{:>12}{:>12}{:>12}{:>12}{:>12}", "field", "termdict", "postings", "positions", "fast", "norms");
    for (field, bytes) in per_field {
        println!("{field:<26}{:>12}{:>12}{:>12}{:>12}{:>12}", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]);
    }
    println!("{:<26}{store:>12}", "document store");
    Ok(())
}
