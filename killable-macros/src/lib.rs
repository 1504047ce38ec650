//! The `#[killable]` attribute.
use proc_macro::TokenStream;

mod args;
mod expand;
mod scan;
mod strip;
mod validate;

/// Makes a function killable.
#[proc_macro_attribute]
pub fn killable(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::killable(args.into(), input.into()).into()
}
