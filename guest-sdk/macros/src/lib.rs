//! `#[data]`, re-exported by `promwasm-guest`: derives `Serialize` and
//! `Deserialize` through the SDK's own serde, so a step crate needs no
//! `serde` dependency of its own (serde's derives look for a crate named
//! `serde` unless told where it is, which is all this attribute does).
//! No parsing: the item is passed through unchanged, after the two attributes.

use proc_macro::TokenStream;

/// Make a struct or enum cross the WIT boundary as JSON: derives
/// `Serialize` and `Deserialize` (serde attributes such as
/// `#[serde(rename_all = "camelCase")]` work as usual).
///
/// ```ignore
/// use promwasm_guest::prelude::*;
///
/// #[data]
/// struct AuditArgs {
///     target: String,
/// }
/// ```
#[proc_macro_attribute]
pub fn data(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return "::core::compile_error!(\"#[data] takes no arguments\");"
            .parse()
            .expect("a compile_error! call is valid Rust");
    }
    let derives: TokenStream =
        "#[derive(::promwasm_guest::serde::Serialize, ::promwasm_guest::serde::Deserialize)] \
         #[serde(crate = \"::promwasm_guest::serde\")]"
            .parse()
            .expect("the attributes are valid Rust");
    derives.into_iter().chain(item).collect()
}
