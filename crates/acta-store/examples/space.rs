fn main() {
    let path = std::env::args().nth(1).unwrap();
    let index = tantivy::Index::open_in_dir(&path).unwrap();
    let schema = index.schema();
    let reader = index.reader().unwrap();
    let searcher = reader.searcher();
    let usage = searcher.space_usage().unwrap();
    println!("total {}", usage.total());
    let mut per: std::collections::BTreeMap<String, [u64; 6]> = Default::default();
    for seg in usage.segments() {
        let parts = [
            ("termdict", seg.termdict()),
            ("postings", seg.postings()),
            ("positions", seg.positions()),
            ("fast", seg.fast_fields()),
            ("fieldnorms", seg.fieldnorms()),
        ];
        for (i, (_, p)) in parts.iter().enumerate() {
            for (field, fu) in p.fields() {
                per.entry(schema.get_field_name(*field).to_string()).or_default()[i] += fu.total().get_bytes();
            }
        }
        per.entry("_store".into()).or_default()[5] += seg.store().total().get_bytes();
    }
    println!("{:<28}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}", "field", "termdict", "postings", "positions", "fast", "norms", "store");
    for (f, v) in per {
        println!("{:<28}{:>12}{:>12}{:>12}{:>12}{:>12}{:>12}", f, v[0], v[1], v[2], v[3], v[4], v[5]);
    }
}
