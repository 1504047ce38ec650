//! Keeping a small `#[inline]` fn inlined once it carries checks.
//!
//! Input: `#[inline] fn len(&self) -> usize { self.triple().1 }`
//! Output: `#[inline(always)] fn len(&self) -> usize { CP; self.triple().1 }`
//!
//! Why: the crate docs' "Small `#[inline]` fns stay inlined".

use syn::{Attribute, Meta};

use crate::scan::Effects;

/// Turns a bare `#[inline]` in `attrs` into `#[inline(always)]` when the fn's body (its
/// `effects`, scanned before any check is inserted) has no loop and no closure, unless
/// `#[target_feature]` (which rejects `inline(always)`) or `#[cold]` is there.
pub(crate) fn keep_inlined(attrs: &mut Vec<Attribute>, effects: Effects) {
    let forbids = |a: &Attribute| a.path().is_ident("target_feature") || a.path().is_ident("cold");
    if attrs.iter().any(forbids) {
        return;
    }
    if effects.loops || effects.closures {
        return;
    }
    let Some(at) = attrs
        .iter()
        .position(|a| matches!(&a.meta, Meta::Path(p) if p.is_ident("inline")))
    else {
        return;
    };
    // Clippy's pedantic `inline_always` would blame the user for what the attribute wrote.
    let span = proc_macro2::Span::mixed_site();
    attrs[at] = syn::parse_quote_spanned!(span=> #[inline(always)]);
    attrs.insert(
        at + 1,
        syn::parse_quote_spanned!(span=> #[allow(clippy::inline_always)]),
    );
}
