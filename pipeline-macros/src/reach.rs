//! Which items of the `#[pipeline]` module join a stage's code fingerprint, so that editing a
//! helper a stage calls reruns that stage.
//!
//! Covered: every item of the module that is not a stage and that the stage reaches by name,
//! directly or through other covered items (helper functions, constants, statics, types and
//! their `impl` blocks, traits, nested modules, `macro_rules!`), and every item that has no
//! name to reach it by (`use` lines, `extern crate`, foreign blocks), which all stages share. An
//! `impl` block is reached through its type, its trait or any of its methods' names, so a
//! method call reaches it too. Not covered: code outside the module; list it in `code = [...]`
//! (`code = ["src"]` takes the whole crate).
//!
//! Reaching is by identifier, not by name resolution: a local variable that shares a helper's
//! name pulls the helper in too. That errs towards rerunning, never towards a stale result.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use std::collections::BTreeSet;
use syn::{ImplItem, Item};

/// The names an item is reached by; `None` for items every stage depends on.
fn names(item: &Item) -> Option<BTreeSet<String>> {
    let one = |ident: &syn::Ident| Some(BTreeSet::from([ident.to_string()]));
    match item {
        Item::Fn(f) => one(&f.sig.ident),
        Item::Const(c) => one(&c.ident),
        Item::Static(s) => one(&s.ident),
        Item::Struct(s) => one(&s.ident),
        Item::Enum(e) => one(&e.ident),
        Item::Union(u) => one(&u.ident),
        Item::Type(t) => one(&t.ident),
        Item::Trait(t) => one(&t.ident),
        Item::TraitAlias(t) => one(&t.ident),
        Item::Mod(m) => one(&m.ident),
        Item::Macro(m) => m.ident.as_ref().and_then(one),
        Item::Impl(imp) => {
            let mut out = idents(&imp.self_ty.to_token_stream());
            if let Some((_, path, _)) = &imp.trait_ {
                out.extend(idents(&path.to_token_stream()));
            }
            for inner in &imp.items {
                match inner {
                    ImplItem::Fn(f) => out.insert(f.sig.ident.to_string()),
                    ImplItem::Const(c) => out.insert(c.ident.to_string()),
                    ImplItem::Type(t) => out.insert(t.ident.to_string()),
                    _ => false,
                };
            }
            Some(out)
        }
        _ => None,
    }
}

/// Every identifier in a token stream, groups included.
fn idents(tokens: &TokenStream) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<TokenStream> = vec![tokens.clone()];
    while let Some(stream) = todo.pop() {
        for tree in stream {
            match tree {
                TokenTree::Ident(ident) => {
                    out.insert(ident.to_string());
                }
                TokenTree::Group(group) => todo.push(group.stream()),
                _ => {}
            }
        }
    }
    out
}

/// The items of `items` (the module's, stages excluded) that the stage with these tokens covers,
/// in module order.
pub fn covered<'a>(items: &[&'a Item], stage: &TokenStream) -> Vec<&'a Item> {
    let keys: Vec<Option<BTreeSet<String>>> = items.iter().map(|item| names(item)).collect();
    let mut used = idents(stage);
    let mut taken: Vec<bool> = keys.iter().map(Option::is_none).collect();
    loop {
        let mut grew = false;
        for (i, item) in items.iter().enumerate() {
            if taken[i] {
                continue;
            }
            if let Some(names) = &keys[i] {
                if names.iter().any(|n| used.contains(n)) {
                    taken[i] = true;
                    used.extend(idents(&item.to_token_stream()));
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    items
        .iter()
        .zip(taken)
        .filter_map(|(item, take)| take.then_some(*item))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(src: &str) -> Vec<Item> {
        syn::parse_file(src).unwrap().items
    }

    fn names_of(covered: &[&Item]) -> Vec<String> {
        covered
            .iter()
            .map(|item| match item {
                Item::Fn(f) => f.sig.ident.to_string(),
                Item::Const(c) => c.ident.to_string(),
                Item::Struct(s) => s.ident.to_string(),
                Item::Impl(_) => "impl".to_string(),
                Item::Use(_) => "use".to_string(),
                _ => "?".to_string(),
            })
            .collect()
    }

    #[test]
    fn a_stage_covers_what_it_reaches_by_name_and_what_everyone_shares() {
        let module = items(
            "use std::fmt;
             const SCALE: f64 = 2.0;
             fn helper(x: f64) -> f64 { x * SCALE }
             fn unrelated() {}
             struct Model;
             impl Model { fn score(&self) -> f64 { helper(1.0) } }
             fn other_stage() {}",
        );
        let refs: Vec<&Item> = module.iter().collect();
        let stage: TokenStream = "fn evaluate(ctx: &mut C) { let m = load(); m.score(); }"
            .parse()
            .unwrap();
        assert_eq!(
            names_of(&covered(&refs, &stage)),
            ["use", "SCALE", "helper", "Model", "impl"]
        );
        let direct: TokenStream = "fn prepare() { helper(2.0) }".parse().unwrap();
        assert_eq!(
            names_of(&covered(&refs, &direct)),
            ["use", "SCALE", "helper"]
        );
    }
}
