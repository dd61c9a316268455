//! Expansion: the user's module comes back unchanged but for the `#[stage]` attributes, plus one
//! module of typed output handles per stage (so `prepare::train` is a real Rust path) and a
//! `pipeline()` function that hands the runtime every stage's metadata and entry point.

use crate::ast::{Dep, OutKind, Pipeline, Stage};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use sha2::{Digest, Sha256};
use syn::{FnArg, Ident, ItemFn, Pat, Type};

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
fn code_fingerprint(func: &ItemFn) -> String {
    fingerprint_with(func, &[])
}

/// The code fingerprint with the `code` files' contents mixed in.
fn fingerprint_with(func: &ItemFn, files: &[std::path::PathBuf]) -> String {
    let mut func = func.clone();
    func.attrs.retain(|attr| !attr.path().is_ident("doc"));
    let tokens = normalize(func.to_token_stream());
    let mut hasher = Sha256::new();
    hasher.update(tokens.to_string().as_bytes());
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
    let code = if files.is_empty() {
        code_fingerprint(&stage.func)
    } else {
        fingerprint_with(&stage.func, &files)
    };
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

fn strip_ref(ty: &Type) -> &Type {
    match ty {
        Type::Reference(reference) => &reference.elem,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::code_fingerprint;

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
