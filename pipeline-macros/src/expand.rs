//! Expansion: the user's module comes back unchanged but for the `#[stage]` attributes, plus one
//! module of typed output handles per stage (so `prepare::train` is a real Rust path) and a
//! `pipeline()` function that hands the runtime every stage's metadata and entry point.

use crate::ast::{Dep, OutKind, Pipeline, Stage};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use sha2::{Digest, Sha256};
use syn::{FnArg, Ident, Item, ItemFn, Pat, Type};

/// The arguments after the context, as (name, type).
pub fn param_args(func: &ItemFn) -> Vec<(Ident, Type)> {
    func.sig
        .inputs
        .iter()
        .skip(1)
        .filter_map(|arg| match arg {
            FnArg::Typed(pat) => match &*pat.pat {
                Pat::Ident(ident) => Some((ident.ident.clone(), (*pat.ty).clone())),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// The stage's code fingerprint: SHA-256 of its tokens, so layout and comments (doc comments
/// included) do not count but any change to what the function does invalidates its cached
/// outputs. Trailing commas are dropped too, since rustfmt adds and removes them.
#[cfg(test)]
fn code_fingerprint(func: &ItemFn) -> String {
    fingerprint_with(func, &[], &[])
}

/// Tokens without doc comments or layout, as they enter a fingerprint.
fn canonical(item: &impl ToTokens) -> String {
    let stream: TokenStream = item.to_token_stream().into_iter().collect::<TokenStream>();
    let without_docs = strip_docs(stream);
    normalize(without_docs).to_string()
}

/// Removes `#[doc = …]` attributes (doc comments), at any depth.
fn strip_docs(stream: TokenStream) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if let (TokenTree::Punct(p), Some(TokenTree::Group(g))) = (&trees[i], trees.get(i + 1)) {
            let is_doc = p.as_char() == '#'
                && g.delimiter() == proc_macro2::Delimiter::Bracket
                && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(id)) if id == "doc");
            if is_doc {
                i += 2;
                continue;
            }
        }
        out.push(match &trees[i] {
            TokenTree::Group(g) => {
                TokenTree::Group(Group::new(g.delimiter(), strip_docs(g.stream())))
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// The code fingerprint: the stage function, the module items it reaches (see `reach.rs`) and
/// the `code` files' contents.
fn fingerprint_with(func: &ItemFn, files: &[std::path::PathBuf], helpers: &[&Item]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(canonical(func).as_bytes());
    for item in helpers {
        hasher.update([0]);
        hasher.update(canonical(*item).as_bytes());
    }
    // Unreadable files were reported by the checks; here they simply do not count.
    let _ = crate::code::hash_into(&mut hasher, files);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Removes commas that close a group, recursively.
fn normalize(stream: TokenStream) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    let count = trees.len();
    trees
        .into_iter()
        .enumerate()
        .filter_map(|(i, tree)| match tree {
            TokenTree::Punct(p) if p.as_char() == ',' && i + 1 == count => None,
            TokenTree::Group(g) => Some(TokenTree::Group(Group::new(
                g.delimiter(),
                normalize(g.stream()),
            ))),
            other => Some(other),
        })
        .collect()
}

/// The whole expansion.
pub fn expand(pipeline: &Pipeline) -> TokenStream {
    let module = &pipeline.module;
    let attrs = &module.attrs;
    let vis = &module.vis;
    let ident = &module.ident;
    let stages = unique(pipeline);
    // A second stage of the same name is dropped (its error is already reported), so that
    // rustc does not pile "defined multiple times" errors on top.
    let mut seen_fns = Vec::new();
    let items = module
        .content
        .as_ref()
        .map(|(_, items)| items.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|item| match item {
            syn::Item::Fn(f) if pipeline.stages.iter().any(|s| s.name == f.sig.ident) => {
                let first = !seen_fns.contains(&f.sig.ident);
                seen_fns.push(f.sig.ident.clone());
                first
            }
            _ => true,
        });
    let handles = stages.iter().map(|s| output_handles(s));
    let stages = stages.iter().map(|s| stage_def(pipeline, s));
    let name = ident.to_string();
    quote! {
        #(#attrs)*
        #vis mod #ident {
            #(#items)*

            #(#handles)*

            /// Every stage of this pipeline, ready for the runtime.
            pub fn pipeline() -> ::pipeline_core::Pipeline {
                ::pipeline_core::Pipeline::new(#name, ::std::vec![#(#stages),*])
            }
        }
    }
}

/// The stages, keeping only the first of any name.
fn unique(pipeline: &Pipeline) -> Vec<&Stage> {
    let mut out: Vec<&Stage> = Vec::new();
    for stage in &pipeline.stages {
        if !out.iter().any(|s| s.name == stage.name) {
            out.push(stage);
        }
    }
    out
}

fn output_handles(stage: &Stage) -> TokenStream {
    let name = &stage.name;
    let stage_name = name.to_string();
    let doc = format!("Outputs of stage `{stage_name}`, usable as `deps` and with `ctx.output`.");
    let consts = stage.outs.iter().map(|out| {
        let out_ident = &out.name;
        let out_name = out_ident.to_string();
        let path = &out.path;
        let doc = format!("`{}`", path.value());
        quote! {
            #[doc = #doc]
            pub const #out_ident: ::pipeline_core::OutputRef =
                ::pipeline_core::OutputRef::new(#stage_name, #out_name, #path);
        }
    });
    quote! {
        #[doc = #doc]
        #[allow(non_upper_case_globals, dead_code)]
        pub mod #name {
            #(#consts)*
        }
    }
}

fn stage_def(pipeline: &Pipeline, stage: &Stage) -> TokenStream {
    let name = &stage.name;
    let stage_name = name.to_string();
    let files: Vec<std::path::PathBuf> = stage
        .code
        .iter()
        .filter_map(|path| crate::code::files(&path.value()).ok())
        .flatten()
        .collect();
    let code = stage_code(pipeline, stage, &files);
    // Makes cargo rebuild when a `code` file outside the crate's modules changes.
    let tracked = files.iter().map(|file| {
        let path = file.to_string_lossy().into_owned();
        quote! { const _: &[u8] = ::core::include_bytes!(#path); }
    });
    let args = param_args(&stage.func);

    let deps = stage.deps.iter().filter_map(|dep| match dep {
        Dep::File(path) => Some(quote! { .dep_file(#path) }),
        Dep::Output {
            stage: from,
            output,
        } => {
            let producer = pipeline.stages.iter().find(|s| s.name == *from)?;
            let out = producer.outs.iter().find(|o| o.name == *output)?;
            let (from, output, path) = (from.to_string(), output.to_string(), &out.path);
            Some(quote! { .dep_output(#from, #output, #path) })
        }
    });
    let outs = stage.outs.iter().map(|out| {
        let out_name = out.name.to_string();
        let path = &out.path;
        let kind = match out.kind {
            OutKind::Out => quote!(::pipeline_core::OutKind::Out),
            OutKind::Metrics => quote!(::pipeline_core::OutKind::Metrics),
            OutKind::Plots => quote!(::pipeline_core::OutKind::Plots),
        };
        quote! { .out(#out_name, #path, #kind) }
    });
    let sections = stage.params.iter().filter_map(|section| {
        let (_, ty) = args.iter().find(|(ident, _)| ident == section)?;
        let ty = strip_ref(ty);
        let key = section.to_string();
        Some(quote! { .params(::pipeline_core::ParamSection::of::<#ty>(#key)) })
    });
    let loads = args.iter().map(|(ident, ty)| {
        let key = ident.to_string();
        let inner = strip_ref(ty);
        let value = format_ident!("__{}", ident);
        let pass = if matches!(ty, Type::Reference(_)) {
            quote!(&#value)
        } else {
            quote!(#value)
        };
        (
            quote! { let #value: #inner = __params.get::<#inner>(#key)?; },
            pass,
        )
    });
    let (bindings, passes): (Vec<_>, Vec<_>) = loads.unzip();
    let always_run = stage.always_run;
    let frozen = stage.frozen;
    quote! {
        ::pipeline_core::StageDef::new(
            #stage_name,
            #code,
            |__ctx: &mut ::pipeline_core::StageContext, __params: &::pipeline_core::ParamValues| {
                #(#tracked)*
                #(#bindings)*
                ::pipeline_core::IntoStageResult::into_stage_result(#name(__ctx, #(#passes),*))
            },
        )
        #(#deps)*
        #(#outs)*
        #(#sections)*
        .always_run(#always_run)
        .frozen(#frozen)
    }
}

/// A stage's code fingerprint within its pipeline: its function, the module items it reaches,
/// its `code` files.
fn stage_code(pipeline: &Pipeline, stage: &Stage, files: &[std::path::PathBuf]) -> String {
    let stage_names: Vec<&Ident> = pipeline.stages.iter().map(|s| &s.name).collect();
    let module_items: Vec<&Item> = pipeline
        .module
        .content
        .as_ref()
        .map(|(_, items)| items.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|item| !matches!(item, Item::Fn(f) if stage_names.contains(&&f.sig.ident)))
        .collect();
    let helpers = crate::reach::covered(&module_items, &stage.func.to_token_stream());
    fingerprint_with(&stage.func, files, &helpers)
}

fn strip_ref(ty: &Type) -> &Type {
    match ty {
        Type::Reference(reference) => &reference.elem,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::{code_fingerprint, stage_code};

    /// Each stage's code fingerprint in a `#[pipeline]` module written as text.
    fn codes(module: &str) -> Vec<String> {
        let module: syn::ItemMod = syn::parse_str(module).unwrap();
        let mut cx = crate::ctxt::Ctxt::default();
        let pipeline = crate::ast::Pipeline::parse(&mut cx, module).unwrap();
        pipeline
            .stages
            .iter()
            .map(|stage| stage_code(&pipeline, stage, &[]))
            .collect()
    }

    #[test]
    fn editing_a_helper_changes_the_stages_that_reach_it_only() {
        let module = |helper_body: &str, doc: &str| {
            format!(
                "mod p {{
                    use super::*;
                    {doc}
                    fn metrics_json(x: f64) -> String {{ {helper_body} }}
                    #[stage(outs = [a = \"a.txt\"])]
                    fn prepare(ctx: &mut StageContext) -> Result<()> {{ ctx.write(prepare::a, \"1\") }}
                    #[stage(deps = [prepare::a], outs = [m = \"m.json\"])]
                    fn evaluate(ctx: &mut StageContext) -> Result<()> {{ ctx.write(evaluate::m, metrics_json(1.0)) }}
                }}"
            )
        };
        let before = codes(&module("format!(\"{x}\")", ""));
        let edited = codes(&module("format!(\"{{ \\\"accuracy\\\": {x} }}\")", ""));
        let documented = codes(&module("format!(\"{x}\")", "/// Metrics as JSON."));
        assert_eq!(before[0], edited[0], "prepare does not call the helper");
        assert_ne!(before[1], edited[1], "evaluate calls it");
        assert_eq!(before, documented, "doc comments do not count");
    }

    fn parse(src: &str) -> syn::ItemFn {
        syn::parse_str(src).unwrap()
    }

    #[test]
    fn code_fingerprint_follows_tokens_not_layout() {
        let a = parse("fn train(ctx: &mut C) -> R { fit(ctx, 10) }");
        let b = parse("fn train(ctx: &mut C) -> R {\n    // ten trees\n    fit(ctx,   10)\n}");
        let c = parse("fn train(ctx: &mut C) -> R { fit(ctx, 11) }");
        let d = parse("/// Trains.\nfn train(ctx: &mut C) -> R { fit(ctx, 10,) }");
        assert_eq!(code_fingerprint(&a), code_fingerprint(&d));
        assert_eq!(code_fingerprint(&a), code_fingerprint(&b));
        assert_ne!(code_fingerprint(&a), code_fingerprint(&c));
        assert_eq!(code_fingerprint(&a).len(), 64);
    }
}
