//! Every compile error of the DSL, one UI test per diagnostic, with its `.stderr` checked in
//! (`TRYBUILD=overwrite cargo test -p pipeline-tests --test compile_errors` after a reviewed change).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
