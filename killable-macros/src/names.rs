//! The std names the attribute trusts, judged by name alone: what it may call without a check
//! after the call, which iterators it may cut into chunks, and which adapters and consumers an
//! iterator chain may pass through. One list per question, shared by `scan`, `strip` and
//! `chain`. A user item with one of these names is misjudged the same way; its own
//! `#[killable]` makes it killable again.

/// Methods of std's integers, floats, chars, slices and options that run in a few
/// instructions and never block. A call to one counts as straight-line code: it needs no check
/// after it and does not keep a `for` loop from being strip-mined. (A user type with a slow
/// method of the same name is misjudged; its own `#[killable]` makes it killable again.)
pub(crate) const CHEAP_METHODS: &[&str] = &[
    // integers
    "wrapping_add",
    "wrapping_sub",
    "wrapping_mul",
    "wrapping_neg",
    "wrapping_shl",
    "wrapping_shr",
    "saturating_add",
    "saturating_sub",
    "saturating_mul",
    "checked_add",
    "checked_sub",
    "checked_mul",
    "checked_div",
    "checked_rem",
    "overflowing_add",
    "overflowing_sub",
    "overflowing_mul",
    "rotate_left",
    "rotate_right",
    "count_ones",
    "count_zeros",
    "leading_zeros",
    "trailing_zeros",
    "swap_bytes",
    "to_be",
    "to_le",
    "abs",
    "abs_diff",
    "signum",
    "is_positive",
    "is_negative",
    "is_power_of_two",
    "is_multiple_of",
    "div_euclid",
    "rem_euclid",
    "min",
    "max",
    "clamp",
    // floats
    "mul_add",
    "sqrt",
    "floor",
    "ceil",
    "round",
    "trunc",
    "fract",
    "is_nan",
    "is_finite",
    "to_bits",
    // bytes and chars
    "is_ascii",
    "is_ascii_digit",
    "is_ascii_alphabetic",
    "is_ascii_alphanumeric",
    "is_ascii_whitespace",
    "is_ascii_uppercase",
    "is_ascii_lowercase",
    "is_ascii_punctuation",
    "to_ascii_lowercase",
    "to_ascii_uppercase",
    "is_alphabetic",
    "is_numeric",
    "is_whitespace",
    "to_digit",
    // slices, options, results
    "len",
    "is_empty",
    "get",
    "get_mut",
    "get_unchecked",
    "get_unchecked_mut",
    "swap",
    "is_some",
    "is_none",
    "is_ok",
    "is_err",
    "unwrap_or",
    // a branch, and a panic (which never returns) on `None` / `Err`
    "unwrap",
    "expect",
    "unwrap_unchecked",
    // raw pointers, byte views and byte conversions: address arithmetic and casts
    "as_ptr",
    "as_mut_ptr",
    "add",
    "sub",
    "offset",
    "cast",
    "cast_mut",
    "cast_const",
    "is_null",
    "as_bytes",
    "to_le_bytes",
    "to_be_bytes",
    "to_ne_bytes",
];

/// Std macros whose expansion evaluates their arguments (some of them only in debug builds)
/// and otherwise only compares, branches, or panics: a failed assertion diverges, so no code
/// of this fn runs after it. Judged by their arguments, like an `if` (`assert!(n < 8)` is
/// straight-line code, `assert!(f(n))` calls `f`). A `macro_rules!` of yours with one of these
/// names is misjudged, like a slow method named in [`CHEAP_METHODS`].
pub(crate) const ASSERTIONS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
];

/// Methods that, called on a place, make a std iterator whose `next` is cheap (slices, `str`,
/// maps), judging by the name alone.
pub(crate) const SOURCES: &[&str] = &[
    "iter",
    "iter_mut",
    "bytes",
    "chars",
    "char_indices",
    "chunks",
    "chunks_exact",
    "chunks_mut",
    "chunks_exact_mut",
    "windows",
    "keys",
    "values",
    "values_mut",
];

/// Std adapters whose `next` costs a few instructions over their inner iterator's: an
/// iterator built from cheap ones with them stays cheap. `chain` also wraps chain sources
/// through them.
pub(crate) const CHEAP_ADAPTERS: &[&str] = &[
    "enumerate",
    "rev",
    "skip",
    "take",
    "step_by",
    "copied",
    "cloned",
    "zip",
    "chain",
];

/// Adapters that hand on only items pulled from their receiver, and call each of their
/// closures a bounded number of times per item pulled.
pub(crate) const CHAIN_ADAPTERS: &[&str] = &[
    "map",
    "filter",
    "filter_map",
    "enumerate",
    "skip",
    "take",
    "step_by",
    "skip_while",
    "take_while",
    "map_while",
    "inspect",
    "peekable",
    "fuse",
    "rev",
    "copied",
    "cloned",
    "zip",
    "scan",
    "cycle",
    "by_ref",
    "into_iter",
];

/// Methods that end the chain, calling each of their closures a bounded number of times per
/// item, or whose closure runs once per item but whose output items come from elsewhere
/// (`flat_map`): closures up to here may go unchecked, those after must not.
pub(crate) const CHAIN_ENDS: &[&str] = &[
    "flat_map",
    "fold",
    "rfold",
    "for_each",
    "try_fold",
    "try_rfold",
    "try_for_each",
    "reduce",
    "all",
    "any",
    "find",
    "find_map",
    "rfind",
    "position",
    "rposition",
    "max_by_key",
    "min_by_key",
    "max_by",
    "min_by",
    "partition",
    "is_sorted_by",
    "is_sorted_by_key",
    "count",
    "sum",
    "product",
    "collect",
    "last",
    "max",
    "min",
    "nth",
    "unzip",
];

/// Std adapters that hand on an iterator but whose items are not all pulled from their
/// receiver (the closures after them keep their checks), so the chain goes on: the wrapped
/// type is still inside the expression.
pub(crate) const CHAIN_PASS_ON: &[&str] = &["chain", "flat_map", "flatten", "intersperse"];

/// Adapters whose `fold` is their receiver's `fold` (or `rfold`): over a slice or a range, the
/// wrapper goes under them, where it can cut the source itself into chunks, each folded by
/// the source's own `fold` (which vectorizes). Above the others (`take`, `zip`, `step_by`,
/// `enumerate`), which pull items one by one from a wrapped source or cannot be cut, it
/// measured faster around the whole run.
pub(crate) const FOLD_THROUGH: &[&str] = &["rev", "skip", "copied", "cloned", "fuse"];

/// Methods of std's `Option`, `Result`, `bool`, map entries and cells that call their
/// closure at most once per call, and none of them an `Iterator` method (`map`, `filter`
/// and `inspect` are both, and stay out). A closure passed to one needs no entry check:
/// nothing calls it in a loop, so it runs like code written in the statement, which is
/// followed by the statement's check. A user method of one of these names that calls its
/// closure in a loop, and has no `#[killable]` of its own, holds a kill for that one call,
/// like any call of code without checkpoints.
pub(crate) const CALL_ONCE: &[&str] = &[
    "and_then",
    "or_else",
    "map_or",
    "map_or_else",
    "map_err",
    "ok_or_else",
    "unwrap_or_else",
    "is_some_and",
    "is_none_or",
    "is_ok_and",
    "is_err_and",
    "inspect_err",
    "get_or_insert_with",
    "take_if",
    "then",
    "or_insert_with",
    "or_insert_with_key",
    "and_modify",
    "get_or_init",
];
