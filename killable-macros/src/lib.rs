//! The `#[killable]` attribute (work in progress).
use proc_macro::TokenStream;

/// Makes a function killable.
#[proc_macro_attribute]
pub fn killable(_args: TokenStream, input: TokenStream) -> TokenStream {
    input
}
