//! `#[case(...)]`: the metadata of a conformance case written on the async function that runs it,
//! so the clause a case checks, what it expects and the code that checks it are read together
//! (as h2spec keeps a case beside the requirement it quotes).
//!
//! ```ignore
//! #[case(
//!     id = "ws.receipt.retained",
//!     title = "A receipt for an offline sender is retained until it connects",
//!     clauses = ["NOTIFY-003", "RTE-022"],
//!     level = Must,
//!     needs = [Capability("notify:v1"), Prereq(DeliveryObservable)],
//!     expect = "The sender receives the receipt once it connects.",
//! )]
//! async fn receipt_retained(ctx: &mut Ctx) -> CaseResult { … }
//! ```
//!
//! expands to the function unchanged plus `pub(crate) const RECEIPT_RETAINED: amp_runner::Case`,
//! which the module lists in its `CASES` table (an unlisted case is an unused constant, so
//! `clippy -D warnings` refuses to build a suite that forgot one). The section a case is reported
//! under is not written here: the runner derives it from the catalogue section of the first clause.
//!
//! Mistakes are compile errors pointing at the offending key: a missing key, an id that is not
//! `lowercase.dotted`, a clause that is not `ABC-123`, a function that is not `async` or does not
//! take exactly one argument.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, ExprLit, ItemFn, Lit, LitStr, MetaNameValue, Token};

/// Declare a conformance case on its async function; see the crate documentation.
#[proc_macro_attribute]
pub fn case(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(attr as Args);
    let func = syn::parse_macro_input!(item as ItemFn);
    match expand(args, func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Args(Punctuated<MetaNameValue, Token![,]>);

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(Args(Punctuated::parse_terminated(input)?))
    }
}

/// The keys of the attribute, each checked for its shape.
struct Meta {
    id: LitStr,
    title: LitStr,
    clauses: Vec<LitStr>,
    level: Expr,
    needs: Vec<Expr>,
    expect: LitStr,
}

fn expand(args: Args, func: ItemFn) -> syn::Result<TokenStream2> {
    let meta = Meta::from_args(args)?;
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            func.sig.fn_token,
            "a #[case] function must be `async fn name(ctx: &mut Ctx) -> CaseResult`",
        ));
    }
    if func.sig.inputs.len() != 1 {
        return Err(syn::Error::new_spanned(
            &func.sig.inputs,
            "a #[case] function takes exactly one argument, the `&mut Ctx`",
        ));
    }
    let name = &func.sig.ident;
    let konst = format_ident!("{}", name.to_string().to_uppercase(), span = name.span());
    let Meta {
        id,
        title,
        clauses,
        level,
        needs,
        expect,
    } = meta;
    let doc = format!("The case `{}` (run by [`{}`]).", id.value(), name);
    Ok(quote! {
        #func

        #[doc = #doc]
        pub(crate) const #konst: ::amp_runner::Case = ::amp_runner::Case {
            id: #id,
            title: #title,
            clauses: &[#(#clauses),*],
            level: {
                #[allow(unused_imports)]
                use ::amp_runner::Level::*;
                #level
            },
            needs: &[#({
                #[allow(unused_imports)]
                use ::amp_runner::Need::*;
                #[allow(unused_imports)]
                use ::amp_runner::Prereq::*;
                #needs
            }),*],
            expectation: #expect,
            module: ::core::module_path!(),
            run: |ctx| ::std::boxed::Box::pin(#name(ctx)),
        };
    })
}

impl Meta {
    fn from_args(args: Args) -> syn::Result<Meta> {
        let mut id = None;
        let mut title = None;
        let mut clauses = None;
        let mut level = None;
        let mut needs = Vec::new();
        let mut expect = None;
        for nv in args.0 {
            let key = nv
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match key.as_str() {
                "id" => {
                    let s = string(&nv.value)?;
                    check_id(&s)?;
                    id = Some(s);
                }
                "title" => title = Some(non_empty(&nv.value)?),
                "expect" => expect = Some(non_empty(&nv.value)?),
                "clauses" => {
                    let list = array(&nv.value)?;
                    let mut out = Vec::new();
                    for e in &list.elems {
                        let s = string(e)?;
                        check_clause(&s)?;
                        out.push(s);
                    }
                    if out.is_empty() {
                        return Err(syn::Error::new_spanned(
                            &nv.value,
                            "a case cites at least one clause; the first is its primary clause",
                        ));
                    }
                    clauses = Some(out);
                }
                "level" => level = Some(nv.value.clone()),
                "needs" => needs = array(&nv.value)?.elems.iter().cloned().collect(),
                _ => {
                    return Err(syn::Error::new_spanned(
                        &nv.path,
                        "unknown key; a #[case] takes id, title, clauses, level, needs, expect",
                    ));
                }
            }
        }
        let missing =
            |what: &str| syn::Error::new(Span::call_site(), format!("#[case] needs `{what} = …`"));
        Ok(Meta {
            id: id.ok_or_else(|| missing("id"))?,
            title: title.ok_or_else(|| missing("title"))?,
            clauses: clauses.ok_or_else(|| missing("clauses"))?,
            level: level.ok_or_else(|| missing("level"))?,
            needs,
            expect: expect.ok_or_else(|| missing("expect"))?,
        })
    }
}

fn string(e: &Expr) -> syn::Result<LitStr> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        _ => Err(syn::Error::new_spanned(e, "expected a string literal")),
    }
}

fn non_empty(e: &Expr) -> syn::Result<LitStr> {
    let s = string(e)?;
    if s.value().trim().is_empty() {
        return Err(syn::Error::new_spanned(e, "must not be empty"));
    }
    Ok(s)
}

fn array(e: &Expr) -> syn::Result<ExprArray> {
    match e {
        Expr::Array(a) => Ok(a.clone()),
        _ => Err(syn::Error::new_spanned(e, "expected a list `[…]`")),
    }
}

/// `section.topic.name`: lowercase ASCII, digits, `-`, at least two dot-separated parts.
fn check_id(s: &LitStr) -> syn::Result<()> {
    let v = s.value();
    let ok = v.split('.').count() >= 2
        && v.split('.').all(|p| !p.is_empty())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            s,
            "a case id is lowercase `section.topic.name` (letters, digits, `-`, `.`)",
        ))
    }
}

/// A catalogue id: `ABC-123` (whether it exists is checked by the suite's tests).
fn check_clause(s: &LitStr) -> syn::Result<()> {
    let v = s.value();
    let ok = match v.split_once('-') {
        Some((prefix, num)) => {
            !prefix.is_empty()
                && prefix.chars().all(|c| c.is_ascii_uppercase())
                && !num.is_empty()
                && num.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            s,
            "a clause is a catalogue id such as `SIG-016`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(attr: &str, item: &str) -> Result<String, String> {
        let args: Args = syn::parse_str(attr).map_err(|e| e.to_string())?;
        let func: ItemFn = syn::parse_str(item).map_err(|e| e.to_string())?;
        expand(args, func)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"id = "relay.fifo", title = "FIFO", clauses = ["RTE-019"], level = Must,
        needs = [Prereq(DeliveryObservable)], expect = "oldest first""#;
    const FUNC: &str = "async fn fifo(ctx: &mut Ctx) -> CaseResult { pass() }";

    #[test]
    fn a_well_formed_case_becomes_a_constant_beside_its_function() {
        let out = run(GOOD, FUNC).unwrap();
        assert!(
            out.contains("pub (crate) const FIFO : :: amp_runner :: Case"),
            "{out}"
        );
        assert!(out.contains("async fn fifo"), "{out}");
        assert!(out.contains("module_path !"), "{out}");
    }

    #[test]
    fn mistakes_are_errors_that_name_the_rule() {
        let bad_id = GOOD.replace("relay.fifo", "Relay FIFO");
        assert!(
            run(&bad_id, FUNC)
                .unwrap_err()
                .contains("section.topic.name")
        );
        let bad_clause = GOOD.replace("RTE-019", "rte19");
        assert!(run(&bad_clause, FUNC).unwrap_err().contains("catalogue id"));
        let no_clause = GOOD.replace(r#"["RTE-019"]"#, "[]");
        assert!(
            run(&no_clause, FUNC)
                .unwrap_err()
                .contains("at least one clause")
        );
        let missing = GOOD.replace(r#", expect = "oldest first""#, "");
        assert!(run(&missing, FUNC).unwrap_err().contains("expect"));
        let unknown = format!("{GOOD}, section = \"x\"");
        assert!(run(&unknown, FUNC).unwrap_err().contains("unknown key"));
        let sync = FUNC.replace("async fn", "fn");
        assert!(run(GOOD, &sync).unwrap_err().contains("async fn"));
        let two = FUNC.replace("ctx: &mut Ctx", "ctx: &mut Ctx, x: u8");
        assert!(
            run(GOOD, &two)
                .unwrap_err()
                .contains("exactly one argument")
        );
    }
}
