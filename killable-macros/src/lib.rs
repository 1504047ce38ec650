//! The `#[killable]` attribute of the [`killable`](https://docs.rs/killable) crate: it makes
//! plain Rust code killable by inserting checkpoints, `killable::checkpoint()` calls where a
//! kill raised by another thread is delivered, at compile time. You write ordinary loops; the
//! attribute makes sure each of them passes a checkpoint every iteration (or every bounded
//! chunk of iterations).
//!
//! # What it expands to
//!
//! <!-- sample input -->
//! ```text
//! #[killable]
//! fn count_4k_plus_1_primes(limit: u64) -> usize {
//!     let mut primes = Vec::new();
//!     'candidates: for n in 2..limit {
//!         for &p in &primes {
//!             if n % p == 0 {
//!                 continue 'candidates;
//!             }
//!         }
//!         primes.push(n);
//!     }
//!     primes.iter().filter(|p| *p % 4 == 1).count()
//! }
//! ```
//!
//! expands to exactly this (a unit test of this crate checks that the two stay in sync):
//!
//! <!-- sample output -->
//! ```text
//! fn count_4k_plus_1_primes(limit: u64) -> usize {
//!     ::killable::__private::checkpoint();                 // fn entry
//!     let mut primes = Vec::new();
//!     ::killable::__private::checkpoint();                 // after a call
//!     'candidates: for n in 2..limit {
//!         ::killable::__private::checkpoint();             // loop head
//!         // the inner loop's body is straight-line code: strip-mined
//!         match ::core::iter::IntoIterator::into_iter(&primes) {
//!             __killable_iter => {
//!                 // the chunks: counted ones for an integer range, `take(1024)` for this one
//!                 let mut __killable_src = ::killable::__private::strip!(__killable_iter);
//!                 '__killable_chunks: loop {
//!                     ::killable::__private::checkpoint(); // once per 1024 iterations
//!                     let mut __killable_seen: usize = 0;
//!                     for &p in __killable_src.chunk() {
//!                         __killable_seen += 1;
//!                         if n % p == 0 {
//!                             continue 'candidates;
//!                         }
//!                     }
//!                     if !__killable_src.advance(__killable_seen) {
//!                         break '__killable_chunks;
//!                     }
//!                 }
//!             }
//!         }
//!         primes.push(n);                                  // last statement: the loop head
//!     }                                                    // check comes next
//!     ::killable::__private::checkpoint();                 // after a statement that calls
//!     // an iterator chain with a straight-line closure: the source is checked once per
//!     // 1024 items, the closure not at all
//!     ::killable::__private::chunked!(primes.iter()).filter(|p| *p % 4 == 1).count()
//! }
//! ```
//!
//! The generated names (`__killable_iter`, `__killable_src`, `__killable_seen`,
//! `'__killable_chunks`) are
//! hygienic: your code cannot see them, and yours cannot clash with them.
//!
//! # The latency promise
//!
//! Once a kill is pending for a thread running `#[killable]` code, the thread reaches a
//! checkpoint after at most:
//!
//! - the rest of one loop iteration, or of one chunk of at most 1024 iterations of a
//!   straight-line loop body or iterator chain (see strip-mining below);
//! - the rest of the one call it is in of a function without checkpoints (std, another crate,
//!   a leaf fn, a closure's callee): a check follows every statement that calls, except where
//!   the next check is a bounded amount of straight-line code away;
//! - a bounded amount of straight-line code: no loop and no recursion run without a check,
//!   since every loop body starts with one and every fn that makes a call (every fn on a
//!   recursive cycle does) checks at entry.
//!
//! The checks below are the fewest this crate found that keep the promise; each one it
//! leaves out is listed with the reason the promise still holds.
//!
//! # Where checkpoints go
//!
//! | where | why |
//! | --- | --- |
//! | fn entry (after inner attributes such as `#![allow(..)]`), when the body calls something and not every call is followed by a check (see below) | loop-free recursion is killable: every recursive cycle contains a call |
//! | the head of every loop body: `loop`, `while`, `while let`, `for`, labeled or not, in statement or expression position (`let v = loop { … }`) | every iteration passes a check |
//! | after every statement that contains a call, method call or macro call | a long callee that is not itself killable is caught as soon as it returns |
//! | the entry of every closure in the body (`\|x\| x + 1` becomes `\|x\| { checkpoint(); x + 1 }`), except straight-line closures in an iterator chain over a std source, whose source is checked once per chunk of items instead (see below), and closures passed to a method that calls its closure at most once (see below) | iterator chains run their loops inside std, where only the closures and the source are ours |
//!
//! Checks are whole statements inserted between yours. No expression of yours is wrapped,
//! moved or rebound, so return values, `?`, labels, `break` with a value, `return` inside loops,
//! temporaries' lifetimes, drop order and the spans of your code (for error messages and lints)
//! are exactly what they were. Generated code names only `<crate>::__private::…` and
//! `::core::…`, so it works in `#![no_std]` library crates and in every edition from 2015 to 2024
//! (in 2015, write `extern crate killable;` at the crate root, as for any dependency), and a
//! module of yours named `core` or `killable`, or a `fn checkpoint`, changes nothing.
//!
//! ## Checks it leaves out, and why
//!
//! - **At the entry of a leaf fn**, one whose body makes no call and runs no macro (the cheap
//!   methods, constructors and conversions below do not count; loops may be there, with their
//!   own checks): without a call it cannot recurse, so its running time up to its first loop
//!   check, or to its return, is bounded. The cost: a leaf fn item that code without
//!   checkpoints calls in a loop (`v.sort_by(cmp)` with `fn cmp` annotated, a C library
//!   driving an `extern "C-unwind"` callback) adds no check to that loop, and the kill lands
//!   when that call returns to annotated code, like any other call of code without
//!   checkpoints. A fn that recurses only through an operator of its own type (`+` calling
//!   `Add::add`, `Index`, `Deref`) is judged a leaf: write `killable::checkpoint();` in it.
//! - **At the entry of a fn whose every call is followed by a check in its body**: no call in
//!   its last statement, no `return` anywhere, no macro but the std ones below. No call of
//!   it is then in tail position (where LLVM could turn recursion into a loop), so a recursive
//!   descent through it grows the stack, running a bounded amount of straight-line code per
//!   frame, and every call it makes is checked as it returns. In
//!   `fn f(n: u64) -> u64 { let a = g(n); let b = h(a); b + 1 }` the checks after `g(n)`
//!   and `h(a)` are the only ones. The cost: a kill pending at entry waits for the first
//!   call, one call of code without checkpoints at most, as after any statement.
//! - **After the last statement of a block** (whether or not it is a tail expression): control
//!   leaves the block right after it, and the statement that encloses the block contains the
//!   same call, so the check after that statement (or the loop head's) comes next. In the fn
//!   body itself, the function returns to its caller. This also keeps a check from landing after
//!   a final `std::process::exit(1);` where it would be unreachable code.
//! - **After the last calling statement of a loop body, or of a block nested in the body
//!   (an `if` branch, a `match` arm, an `unsafe` block), when only straight-line code follows
//!   it**: control leaves the block a bounded number of instructions later. In a loop body the
//!   loop head's check (or the one after the loop) comes next: in
//!   `while j > 0 { v.swap(j - 1, j); j -= 1; }` there is one check per iteration, not two. A
//!   nested block ends into the statement that encloses it, which contains the same call and
//!   so has its own check after it (or is followed by straight-line code only, and so on out
//!   to a loop head or the fn body). The body of the fn or closure itself keeps the check
//!   after its last calling statement even then: the fn returns to code that may have no
//!   check of its own (a thread's entry closure, `sort_by`), where the kill would wait.
//! - **At the entry of a closure passed to a method that calls it at most once**:
//!   `Option`'s and `Result`'s `and_then`, `or_else`, `map_or`, `map_or_else`, `map_err`,
//!   `ok_or_else`, `unwrap_or_else`, `is_some_and`, `is_ok_and`, …, `bool::then`, and the map
//!   entry's `or_insert_with` and `and_modify` (the full list is `names::CALL_ONCE`; `map`,
//!   `filter` and `inspect` are not in it, being `Iterator` methods too). Nothing calls such
//!   a closure in a loop, so its body runs like code written in the statement, and is
//!   instrumented like a block nested there: its loops get their head checks, and the
//!   statement's own check follows it. In `n.checked_mul(10).and_then(|v| v.checked_add(d))`
//!   the only check is the one after the statement. The body is not wrapped either, so
//!   `|v| v.clear()` stays as written (and clippy's `redundant_closure` still sees it). A user
//!   method of one of these names that calls its closure in a loop and has no `#[killable]`
//!   of its own holds a kill for that one call, like any call of code without checkpoints.
//! - **After a statement that cannot complete**: `return`, `break`, `continue`, `panic!`,
//!   `unreachable!`, `todo!`, `unimplemented!`.
//! - **Cheap std methods do not count as calls**: integer, float, char and slice methods that run
//!   in a few instructions and never block (`wrapping_add`, `min`, `len`, `get`, `swap`,
//!   `is_ascii_digit`, `is_some`, `unwrap`, `expect`, raw pointers' `add` and `cast`, … the
//!   full list is `names::CHEAP_METHODS` in this crate's
//!   source), the constructors `Some(…)`, `Ok(…)`, `Err(…)`, and conversions between
//!   primitive types written `u64::from(x)` (`i32::from`, `f64::from`, `char::from`, …). A type
//!   of yours with a slow method of one of those names is misjudged; put `#[killable]` on that
//!   method.
//!
//! ## Small `#[inline]` fns stay inlined
//!
//! The one change outside the body: a bare `#[inline]` on a fn whose body has no loop and no
//! closure becomes `#[inline(always)]`. LLVM inlines a callee whose cost, counted per
//! instruction, is under a threshold, and a check (a load, a branch and the call of the cold
//! slow path, which counts too) costs about as much as a small helper's whole body. A chain of
//! small helpers (`self[i]` calling `deref_mut` calling `triple_mut`) that the plain build
//! inlined into its caller's loop would otherwise become a real call per element. The fn's
//! author asked for inlining; the attribute keeps that request from being outweighed by its own
//! checks. `#[inline(never)]`, `#[inline(always)]`, no `#[inline]`, a body with a loop or a
//! closure, and fns with `#[cold]` or `#[target_feature]` (which rejects `inline(always)`) keep
//! what they were given.
//!
//! ## Strip-mining cheap `for` loops
//!
//! A check inside a loop is an atomic load, and LLVM does not vectorize across it. So a `for` loop whose body is straight-line code
//! (no call other than the cheap methods above, no macro, closure or nested loop) over an
//! iterator whose `next` is cheap (a range, a place such as `v`, `&v`, `&mut self.items`, or
//! `iter`, `iter_mut`, `bytes`, `chars`, `chunks`, `windows`, `keys`, `values` on a place, through
//! `enumerate`, `rev`, `zip`, `chain`, `skip`, `take`, `step_by`, `copied`, `cloned`) is split into
//! chunks of 1024 iterations with the check between chunks, as shown above. `break` and
//! `break 'label` become a break out of both loops, `continue` and labels work as written, and the
//! outer `match` is the one the compiler's own `for` desugaring uses, so temporaries in the
//! iterator expression live exactly as long; the chunked loop runs about as fast as the
//! unchecked one (`cargo bench --bench perf -- kernels` measures both). The cost: a kill waits for up to 1024 iterations of a cheap body, microseconds.
//!
//! How the chunks are cut is chosen from the iterator's type, by method resolution at the call
//! site (killable-core's `strip` module):
//! - an integer `Range` or `RangeInclusive` is walked in *counted* chunks (`lo + 0`, `lo + 1`, …,
//!   the length computed up front, `lo` advancing by exactly 1024), which is the loop LLVM
//!   unrolls and reassociates without the attribute (LLVM sees that `i` starts each chunk at a
//!   multiple of 1024), where `take` gives a loop with two exits that LLVM does not unroll;
//! - any other iterator, and a range in generic code, is walked with `by_ref().take(1024)`;
//! - a range in a body that indexes (`c[i] += a * b[i]`) is walked with `take` too: the counted
//!   chunk's setup runs each time the loop starts, which a short bounds-checked loop pays in
//!   full (the bench's matmul kernel).
//!
//! The judgement is
//! syntactic: a `for` loop with a trivial body over a *blocking* iterator held in a variable
//! (`for m in rx { n += m }` over a std channel) gets one check per 1024 items; put a
//! `killable::checkpoint();` in its body to get one per item.
//!
//! ## Iterator chains: one check per chunk of items
//!
//! A check at the entry of every closure of `v.iter().map(|&x| x * 3).sum()` is an atomic load
//! in the loop that std's `fold` runs, which LLVM cannot vectorize. So when a chain starts from a source
//! recognized by its syntax (a range such as `(0..n)`, `(1..=n)` or `(0..)`, or `iter`,
//! `iter_mut`, `into_iter`, `chars`, `bytes`, `char_indices`, `chunks`, `windows`, `keys`,
//! `values` on a place), and a closure passed to one of std's `Iterator` adapters or consumers
//! along it (`map`, `filter`, `fold`, `any`, `max_by_key`, …) is straight-line code (no call
//! but the cheap methods above, no macro, loop or closure), that closure gets no entry check,
//! and the source is wrapped in `killable::__private::chunked!`, as in the sample above. The
//! wrapper picks, from the source's *type*, how often to check:
//!
//! - slice iterators, integer ranges and `Chars` are cut into chunks of 1024 items (bytes for
//!   `Chars`), with one check per chunk; each chunk runs the source's own `fold`, so `sum`,
//!   `for_each`, `collect`, `max_by_key` vectorize as they do without the attribute, and `find`,
//!   `position`, `any`, `all` search a chunk at a time;
//! - a `zip` of slice iterators (`iter()`, `iter().copied()`), integer ranges or such zips is
//!   folded a chunk at a time through `clone().take(1024)`, which std folds by index as it does
//!   the whole zip, then skipped with `nth` (a counter would keep a dot product from
//!   vectorizing);
//! - other std iterators whose `next` is cheap and never blocks (`bytes`, `windows`, map and
//!   set iterators, `vec::IntoIter`, `(0..)`, and `zip`, `enumerate`, `take`, `step_by`,
//!   `chain` of those) get one check per 1024 items they hand out;
//! - any other iterator (your own, a channel's, `io::Bytes`, or a type parameter in generic
//!   code) gets one check per item: its `next` may block or take long.
//!
//! Every item that reaches a closure of the chain was pulled out of the wrapped source, and each
//! std adapter in between calls its closures a bounded number of times per item it pulls, so
//! every closure call is still a bounded distance from a check. Where items come from
//! elsewhere (`chain`'s argument after the first closure, what `flat_map` or `flatten` produce),
//! or where the chain leaves std's adapters (an unknown method, a consumer's result), the
//! closures further on keep their entry checks; so does any closure that calls something. The
//! wrapper changes the source's type, so it is applied only when the method called on the
//! source is one of `Iterator`'s by name (`s.chars().as_str()`, `v.iter().as_slice()` and
//! `it.peekable().peek()` are left alone), and only where the iterator is consumed inside the
//! expression: by a consumer (`sum`, `count`, `collect`, `for_each`, `fold`, `find`, …) reached
//! through std's adapters, or as the iterator of a `for` loop. A chain whose iterator escapes
//! (returned as `Map<Iter<'_, u32>, _>`, bound with a type, passed on, stored) keeps its type
//! and its closures keep their entry checks. The wrapped chain keeps its items, their order,
//! `size_hint`, `len`, `rev`, `Clone` and (before iteration starts) its `Debug` output.
//!
//! # Lints
//!
//! rustc's and clippy's lints see your code as you wrote it, with these exceptions. Clippy does
//! not lint code that comes out of a macro, so a strip-mined `for` loop, a wrapped iterator
//! chain and a closure whose body starts with a check are no longer yours to it; a check
//! between two statements breaks up the pairs some lints look for (`let mut v = Vec::new();`
//! then `v.push(..)`); and doc comments reach clippy as `#[doc = ".."]` attributes once they
//! have passed through the attribute, which its Markdown-layout lints skip. These lints then
//! stay silent on annotated code (`cargo xtask lints` checks that no other goes missing):
//!
//! <!-- hidden lints -->
//! `doc_lazy_continuation`, `explicit_counter_loop`, `explicit_iter_loop`, `filter_next`,
//! `manual_memcpy`, `map_clone`, `missing_panics_doc`, `needless_range_loop`,
//! `redundant_closure_call`, `redundant_closure_for_method_calls`, `suspicious_map`,
//! `unnecessary_fold`, `vec_init_then_push`
//!
//! One pedantic lint can appear: `inline_always` skips a function whose body is a lone macro
//! call, and the entry check makes the body more than that.
//!
//! <!-- added lints -->
//! `inline_always`
//!
//! An `#[expect(clippy::…)]` of a hidden lint, on the function, its `impl` or `trait`, or
//! anything inside it, becomes an `#[allow(clippy::…)]` (with its `reason`), so it is never
//! reported as unfulfilled; other lints in the same `expect` stay expected. An `expect` on an
//! enclosing item (the module, the crate, or the `impl` when the attribute is on one of its
//! methods) is out of the attribute's reach: write `allow` there. A `for` loop over a
//! parenthesized expression, `for x in (v)`, is not strip-mined, so `unused_parens` keeps its
//! message. An empty body, and the canonical bodies of `Clone::clone` for a `Copy` type
//! (`*self`) and `PartialOrd::partial_cmp` for an `Ord` type (`Some(self.cmp(other))`), are left
//! as written, so `extra_unused_type_parameters` and the `non_canonical_*_impl` lints see what
//! they expect.
//!
//! # What it does not reach
//!
//! - **Nested items** (an inner `fn`, `impl`, `mod`, `const`, `static`): they are separate
//!   functions and take their own attribute, or none.
//! - **Code inside macro invocations** (`println!`, `vec!`, your own `macro_rules!`): the attribute
//!   sees only their tokens, not what they expand to. A macro call counts as a call, so a check
//!   follows it; a loop inside a macro's expansion gets no check of its own. The exceptions are
//!   std's `assert!`, `assert_eq!`, `assert_ne!`, their `debug_` forms, `matches!` and `cfg!`,
//!   which evaluate their arguments and otherwise compare, branch or panic (a failed
//!   assertion never returns): they count as what their arguments call, so
//!   `debug_assert!(i < n);` is straight-line code and `assert!(f(x));` a call of `f`. A
//!   `macro_rules!` of yours with one of those names is misjudged the same way.
//! - **`async` blocks and `async` closures** in the body: they run where their future is polled,
//!   not here (see `async fn` below).
//! - **Const contexts**: array lengths, `const { }` blocks, const generic arguments.
//! - **Calls hidden in operators**: `+` on your type, `Index`, `Deref`, `Drop` run code the
//!   attribute cannot see; give those impls their own attribute if they can run long.
//!
//! # Where it can go
//!
//! On free functions, methods, associated functions and trait methods with a default body;
//! generic, `unsafe` and `extern "C-unwind"` (or `"Rust"`, `"system-unwind"`, any `-unwind` ABI)
//! functions; with `impl Trait` in argument or return position and any `self` receiver (`self`,
//! `&self`, `&mut self`, `self: Box<Self>`, `self: Pin<&mut Self>`, …); with other attributes
//! (`#[inline]`, `#[test]`, `#[must_use]`, …) in either order.
//!
//! On an `impl` block or a `trait`, it instruments every method with a body, and leaves alone
//! the methods it would refuse on their own (`const fn`, `async fn`, non-unwinding ABIs, trait
//! methods without a body) rather than failing the whole block. A method that carries its own
//! `#[killable]` inside such a block is instrumented once, by its own attribute.
//!
//! `#[killable(crate = path::to::killable)]` names the `killable` crate when it is re-exported by
//! another crate, as serde's and tracing's attributes do. A dependency renamed in the crate's
//! own `Cargo.toml` (`kl = { package = "killable", .. }`, and no dependency named `killable`) is
//! found there, offline, and used as `crate = kl` would; a rename inherited from the workspace
//! (`kl.workspace = true`) is not, and needs `crate = kl`.
//!
//! # What it refuses
//!
//! Each refusal is one error at the offending token, and the item is still emitted unchanged,
//! so the rest of your code sees it and you get no cascade of follow-up errors:
//!
//! - an item that is not a fn, an `impl` or a `trait` (the error points at its keyword);
//! - a `const fn` (at `const`): a checkpoint is not a const operation;
//! - a non-unwinding ABI such as `extern "C"`, a bare `extern`, or `extern "system"` (at the
//!   ABI): a kill unwinds, and unwinding out of such a function aborts the process. Use
//!   `extern "C-unwind"` if its callers can unwind;
//! - a trait method without a body, when the attribute is on that method (at the `;`);
//! - an `async fn` (at `async`). A kill is an unwind on the thread that runs the code, and an
//!   `async fn` runs on whatever thread polls its future, inside an executor that does not
//!   expect it. To stop async work, drop its future: a timeout or a task abort on the executor
//!   side;
//! - unknown or repeated arguments (the message lists the valid one).
//!
//! # Known limitations
//!
//! - A call to a function returning `!` (say `fail()`) followed by more statements in the same
//!   block is followed by a check, which rustc then reports as the unreachable statement (at the
//!   attribute) instead of your next statement. Without the attribute you get the same warning
//!   at your own statement.
//! - A strip-mined `for` loop over a value moved into it (`for x in v`, `v` used after the
//!   loop) is reported as rustc reports an explicit `into_iter` call: "`v` moved due to this
//!   method call", with a note in core's `collect.rs` and a `v.clone()` suggestion, where
//!   without the attribute it says "this implicit call to `.into_iter()`" and suggests `&v`.
//!   Borrow errors point at your loop's expression, as they do without the attribute.
//! - A `for` loop over a value that is not an iterator, in a loop the attribute strip-mines, is
//!   reported by rustc at your expression, then once more at the same expression, as a failed
//!   lookup of the generated `__killable_strip` method whose unmet bound is `Iterator`.
//! - Iterator chains whose source is wrapped whole with a counter (`v.iter().skip(1).take(n)`,
//!   `v.iter().enumerate()`, a `zip` with a side that is not a slice iterator or a range) are
//!   checked once per 1024 items but no longer vectorize (`cargo bench --bench perf -- kernels`
//!   shows by how much); cutting them like a `zip` measured slower still. A chain whose closures call
//!   something keeps a check per call, as before. A source that the syntax suggests but whose
//!   type is not an iterator at all (your type's `iter()` returning something with its own
//!   `map`) is left as it is, and its straight-line closures go unchecked; put `#[killable]` on
//!   that type's methods.

// Input: the attribute's arguments and the item it is on.
// Output: the item with checkpoints inserted (see `expand`), or the item unchanged next to a
// `compile_error!` spanned at what the attribute refuses (see `validate`).

use proc_macro::TokenStream;

// In dependency order: each module imports only those above it.
mod args;
mod chain;
mod edition2015;
mod emit;
mod expand;
mod inlining;
mod instrument;
mod lints;
mod names;
mod scan;
mod strip;
mod validate;

/// Makes a function (or every method of an `impl` block or a `trait`) killable by inserting
/// checkpoints: at the entry of every fn that calls something, at the head of every loop body, after every statement that calls
/// something, and at the entry of every closure; cheap `for` loops, and iterator chains over
/// std sources with straight-line closures, are checked once per chunk of 1024 items.
///
/// ```text
/// #[killable]
/// fn work(n: u64) -> u64 { … }
///
/// #[killable(crate = my_reexport::killable)]   // when the crate is renamed or re-exported
/// fn other() { … }
/// ```
///
/// See the [crate documentation](crate) for exactly what it expands to, what it leaves out
/// and why, and what it refuses.
///
/// # Examples
///
/// ```
/// use killable::{killable, KillableThread};
///
/// struct Collatz;
///
/// #[killable] // on an impl block: every method with a body
/// impl Collatz {
///     fn steps(mut n: u64) -> u64 {
///         let mut steps = 0;
///         while n != 1 {
///             n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///             steps += 1;
///         }
///         steps
///     }
/// }
///
/// assert_eq!(Collatz::steps(27), 111); // same meaning as without the attribute
/// // `n == 0` never reaches 1: without the attribute this thread could not be stopped.
/// let t = KillableThread::spawn(|| Collatz::steps(0));
/// t.terminate();
/// assert!(t.join().unwrap_err().is_terminated());
/// ```
#[proc_macro_attribute]
pub fn killable(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::killable(args.into(), input.into()).into()
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;

    /// The `text` block that follows `marker` in these docs, without the `//! ` prefixes and
    /// with the explanatory `// …` comments dropped.
    fn doc_block(marker: &str) -> String {
        let source = include_str!("lib.rs");
        let mut lines = source.lines().skip_while(|l| !l.contains(marker)).skip(2);
        let mut block = String::new();
        for line in lines.by_ref() {
            let line = line.strip_prefix("//!").unwrap_or(line).trim_start();
            if line.starts_with("```") {
                break;
            }
            let code = line.split(" // ").next().unwrap_or("");
            block.push_str(if code.trim_start().starts_with("//") {
                ""
            } else {
                code
            });
            block.push('\n');
        }
        block
    }

    #[test]
    fn the_documented_expansion_is_the_real_one() {
        let input: TokenStream = doc_block("<!-- sample input -->")
            .replacen("#[killable]", "", 1)
            .parse()
            .unwrap();
        let documented: TokenStream = doc_block("<!-- sample output -->").parse().unwrap();
        let real = crate::expand::killable(TokenStream::new(), input);
        // Without spaces: how punctuation is split into tokens (`&&&` or `& & &`) differs
        // between parsed text and `quote!`, not the meaning.
        let squeeze = |t: TokenStream| t.to_string().replace(' ', "");
        assert_eq!(squeeze(real), squeeze(documented));
    }
}
