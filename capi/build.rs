//! Compiles the C half of `tests/mixed.rs` into a static library in OUT_DIR and adds OUT_DIR
//! to the native search path. Nothing is linked into the library itself: only the test that
//! names it with `#[link]` links it, so its `__thrsleep` calls resolve to the Rust crate that
//! test also links (one copy of wchan, one table).
fn main() {
    println!("cargo:rerun-if-changed=tests/c/mixed_support.c");
    println!("cargo:rerun-if-changed=include/wchan/thrsleep.h");
    cc::Build::new()
        .file("tests/c/mixed_support.c")
        .include("include")
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .cargo_metadata(false)
        .compile("wchan_capi_mixed");
    println!("cargo:rustc-link-search=native={}", std::env::var("OUT_DIR").expect("OUT_DIR"));
}
