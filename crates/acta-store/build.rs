// `sqlx::migrate!` embeds the migrations when the crate compiles; without this, a changed or added migration
// file would not rebuild the crate and the old schema would be applied.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations_pg");
}
