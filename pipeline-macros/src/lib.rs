//! Compile-time half of the pipeline engine.
//!
//! `#[pipeline]` goes on an inline module; every function in it marked `#[stage(...)]` becomes a
//! stage. Because one macro sees every stage at once, the whole graph is checked while compiling:
//! unknown outputs, cycles, two writers of one path, paths escaping the workspace and bad
//! attribute keys are compile errors pointing at the tokens to fix, all reported in one build.
//!
//! The passes follow the parse → check → expand split: [`ast`] keeps the user's tokens, [`check`]
//! holds the graph rules, [`expand`] writes the code the runtime consumes.

mod ast;
mod check;
mod code;
mod ctxt;
mod expand;
mod reach;
/// The graph rules, shared with the runtime: one definition, compiled into both crates.
#[path = "../../pipeline-core/src/dag/rules.rs"]
mod rules;
mod symbol;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Turns an inline module of `#[stage]` functions into a pipeline: adds a module of output handles
/// per stage (`prepare::train`) and `pub fn pipeline() -> pipeline_core::Pipeline`.
#[proc_macro_attribute]
pub fn pipeline(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut cx = ctxt::Ctxt::default();
    if !args.is_empty() {
        let args = proc_macro2::TokenStream::from(args);
        cx.error_spanned_by(args, "#[pipeline] takes no arguments");
    }
    let module = match syn::parse::<syn::ItemMod>(input) {
        Ok(module) => module,
        Err(error) => return error.to_compile_error().into(),
    };
    let Some(pipeline) = ast::Pipeline::parse(&mut cx, module.clone()) else {
        let mut out = module.into_token_stream();
        out.extend(cx.into_compile_errors());
        return out.into();
    };
    check::check(&mut cx, &pipeline);
    let mut out = expand::expand(&pipeline);
    out.extend(cx.into_compile_errors());
    out.into()
}

/// Marks a stage inside a `#[pipeline]` module; the module's macro reads and removes it. Used
/// anywhere else it is an error, since a lone stage cannot be checked against its graph.
#[proc_macro_attribute]
pub fn stage(_args: TokenStream, input: TokenStream) -> TokenStream {
    let mut out = proc_macro2::TokenStream::from(input.clone());
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[stage] only works on a function inside a `#[pipeline]` module",
    );
    out.extend(error.to_compile_error());
    out.into()
}
