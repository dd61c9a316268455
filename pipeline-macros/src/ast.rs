//! Parsing: the `#[pipeline]` module and each `#[stage(...)]` attribute into plain structs that keep
//! the original tokens, so that every later error can point at exactly what the user wrote.

use crate::ctxt::Ctxt;
use crate::symbol;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, ItemFn, ItemMod, LitStr, Token};

/// The pipeline: the module that holds every stage.
pub struct Pipeline {
    /// The module as written, with the `#[stage]` attributes removed.
    pub module: ItemMod,
    /// The stages, in the order they are written.
    pub stages: Vec<Stage>,
}

/// One `#[stage]` function.
pub struct Stage {
    pub name: Ident,
    pub func: ItemFn,
    pub deps: Vec<Dep>,
    pub outs: Vec<Out>,
    pub params: Vec<Ident>,
    pub code: Vec<LitStr>,
    pub always_run: bool,
    pub frozen: bool,
}

/// A dependency as written in `deps = [...]`.
pub enum Dep {
    /// A file no stage produces: `"data/raw/iris.csv"`.
    File(LitStr),
    /// Another stage's output: `prepare::train`.
    Output { stage: Ident, output: Ident },
}

/// The kind of an output, from the key it was declared under.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    Out,
    Metrics,
    Plots,
}

/// An output as written: `train = "data/processed/train.csv"`.
pub struct Out {
    pub name: Ident,
    pub path: LitStr,
    pub kind: OutKind,
}

impl Pipeline {
    /// Reads the module, taking every `#[stage]` attribute off its function.
    pub fn parse(cx: &mut Ctxt, mut module: ItemMod) -> Option<Pipeline> {
        let Some((_, items)) = module.content.as_mut() else {
            cx.error_spanned_by(
                &module,
                "#[pipeline] needs an inline module: `mod name { ... }`",
            );
            return None;
        };
        let mut stages = Vec::new();
        for item in items.iter_mut() {
            let syn::Item::Fn(func) = item else { continue };
            let Some(index) = func.attrs.iter().position(is_stage_attr) else {
                continue;
            };
            let attr = func.attrs.remove(index);
            if let Some(stage) = Stage::parse(cx, &attr, func.clone()) {
                stages.push(stage);
            }
        }
        if stages.is_empty() {
            cx.error_spanned_by(
                &module.ident,
                "this pipeline has no stages: mark functions with #[stage(...)]",
            );
        }
        Some(Pipeline { module, stages })
    }
}

fn is_stage_attr(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.is_ident("stage") || path.segments.last().is_some_and(|s| s.ident == "stage")
}

impl Stage {
    fn parse(cx: &mut Ctxt, attr: &syn::Attribute, func: ItemFn) -> Option<Stage> {
        let mut stage = Stage {
            name: func.sig.ident.clone(),
            func,
            deps: Vec::new(),
            outs: Vec::new(),
            params: Vec::new(),
            code: Vec::new(),
            always_run: false,
            frozen: false,
        };
        let mut seen: Vec<String> = Vec::new();
        let args = match &attr.meta {
            syn::Meta::Path(_) => return Some(stage),
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                cx.error_spanned_by(nv, "expected #[stage(key = [...], ...)]");
                return None;
            }
        };
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                let key: Ident = input.parse()?;
                let name = key.to_string();
                if seen.contains(&name) {
                    cx.error_spanned_by(&key, format!("duplicate attribute key `{name}`"));
                }
                seen.push(name.clone());
                match name.as_str() {
                    symbol::DEPS => {
                        let content = list_value(input)?;
                        stage.deps.extend(parse_deps(&content)?);
                    }
                    symbol::OUTS | symbol::METRICS | symbol::PLOTS => {
                        let kind = match name.as_str() {
                            symbol::OUTS => OutKind::Out,
                            symbol::METRICS => OutKind::Metrics,
                            _ => OutKind::Plots,
                        };
                        let content = list_value(input)?;
                        stage.outs.extend(parse_outs(&content, kind)?);
                    }
                    symbol::PARAMS => {
                        let content = list_value(input)?;
                        let idents = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                        stage.params.extend(idents);
                    }
                    symbol::CODE => {
                        let content = list_value(input)?;
                        let paths = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                        stage.code.extend(paths);
                    }
                    symbol::ALWAYS_RUN => stage.always_run = true,
                    symbol::FROZEN => stage.frozen = true,
                    _ => {
                        cx.error_spanned_by(
                            &key,
                            format!(
                                "unknown attribute key `{name}`; expected one of: {}",
                                symbol::ALL.join(", ")
                            ),
                        );
                        if input.peek(Token![=]) {
                            input.parse::<Token![=]>()?;
                            input.parse::<syn::Expr>()?;
                        }
                    }
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        match parser.parse2(args) {
            Ok(()) => Some(stage),
            Err(error) => {
                cx.syn_error(error);
                None
            }
        }
    }
}

/// Parses `= [ ... ]` and hands back what is between the brackets.
fn list_value(input: ParseStream<'_>) -> syn::Result<syn::parse::ParseBuffer<'_>> {
    input.parse::<Token![=]>()?;
    let content;
    syn::bracketed!(content in input);
    Ok(content)
}

fn parse_deps(input: ParseStream) -> syn::Result<Vec<Dep>> {
    let mut deps = Vec::new();
    while !input.is_empty() {
        if input.peek(LitStr) {
            deps.push(Dep::File(input.parse()?));
        } else {
            let path: syn::Path = input.parse()?;
            let segments: Vec<&Ident> = path.segments.iter().map(|s| &s.ident).collect();
            match segments.as_slice() {
                [stage, output] => deps.push(Dep::Output {
                    stage: (*stage).clone(),
                    output: (*output).clone(),
                }),
                _ => {
                    return Err(syn::Error::new_spanned(
                        path,
                        "a dependency is a file path string or another stage's output as `stage::output`",
                    ))
                }
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(deps)
}

fn parse_outs(input: ParseStream, kind: OutKind) -> syn::Result<Vec<Out>> {
    let mut outs = Vec::new();
    while !input.is_empty() {
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let path: LitStr = input.parse()?;
        outs.push(Out { name, path, kind });
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(outs)
}
