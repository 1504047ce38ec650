// Driving the iterators every way there is, the odd ways included, is the point.
#![allow(
    clippy::while_let_on_iterator,
    clippy::reversed_empty_ranges,
    clippy::bytes_nth
)]

use core::fmt;

use super::*;

/// Lengths around the chunk size, where an off-by-one would show.
const LENGTHS: &[usize] = &[0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2049, 5000];

fn kind_name<T>(_: &T) -> &'static str {
    let name = core::any::type_name::<T>();
    ["ZipChunked", "Chunked", "Counted", "Checked"]
        .into_iter()
        .find(|k| name.contains(&format!("::{k}<")))
        .unwrap_or("unwrapped")
}

#[test]
fn the_probe_picks_the_cheapest_wrapper_that_is_safe() {
    let v = vec![1u32, 2, 3];
    let mut m = v.clone();
    let s = String::from("héllo");
    let n = 5u64;
    assert_eq!(kind_name(&crate::__killable_chunked!(v.iter())), "Chunked");
    assert_eq!(
        kind_name(&crate::__killable_chunked!(m.iter_mut())),
        "Chunked"
    );
    assert_eq!(kind_name(&crate::__killable_chunked!(0..n)), "Chunked");
    // An integer literal's type is not known yet when the probe runs.
    assert_eq!(kind_name(&crate::__killable_chunked!(0..10)), "Chunked");
    assert_eq!(kind_name(&crate::__killable_chunked!(1..=n)), "Chunked");
    assert_eq!(kind_name(&crate::__killable_chunked!(s.chars())), "Chunked");
    assert_eq!(kind_name(&crate::__killable_chunked!(s.bytes())), "Counted");
    assert_eq!(
        kind_name(&crate::__killable_chunked!(v.windows(2))),
        "Counted"
    );
    assert_eq!(
        kind_name(&crate::__killable_chunked!(v.iter().zip(s.chars()))),
        "Counted"
    );
    assert_eq!(
        kind_name(&crate::__killable_chunked!(v.iter().zip(m.iter()))),
        "ZipChunked"
    );
    assert_eq!(
        kind_name(&crate::__killable_chunked!((0..n).zip(v.iter().copied()))),
        "ZipChunked"
    );
    // The literal's type is fixed after the probe, here as `u128`.
    let wide: u128 = crate::__killable_chunked!(v.iter().zip(0..10))
        .map(|(&x, i)| u128::from(x) * i)
        .sum();
    assert_eq!(wide, 8);
    // `cloned()` would clone the items `nth` skips: not a part.
    assert_eq!(
        kind_name(&crate::__killable_chunked!(v.iter().cloned().zip(v.iter()))),
        "Counted"
    );
    assert_eq!(kind_name(&crate::__killable_chunked!(n..)), "Counted");
    // A channel's iterator blocks: one check per item.
    let (_tx, rx) = std::sync::mpsc::channel::<u8>();
    assert_eq!(
        kind_name(&crate::__killable_chunked!(rx.try_iter())),
        "Checked"
    );
    assert_eq!(
        kind_name(&crate::__killable_chunked!(v.iter().map(|x| x + 1))),
        "Checked"
    );
    fn generic<I: Iterator<Item = u32>>(it: I) -> &'static str {
        kind_name(&crate::__killable_chunked!(it))
    }
    assert_eq!(generic(v.iter().copied()), "Checked");
    // Not an iterator: left as it is.
    let o = Some(3);
    let same: Option<i32> = crate::__killable_chunked!(o);
    assert_eq!(same, Some(3));
}

/// A zip, wrapped and plain, driven every way, across chunk boundaries
/// and with sides of unequal length.
#[test]
fn zip_chunks_agree_with_the_plain_zip() {
    for &la in LENGTHS {
        for lb in [la, la + 1, la / 2 + 7] {
            let a: Vec<u32> = (0..la as u32).map(|x| x.wrapping_mul(2654435761)).collect();
            let b: Vec<u64> = (0..lb as u64).map(|x| x * 3 + 1).collect();
            let make = || a.iter().copied().zip(b.iter());
            let wrap = || crate::__killable_chunked!(a.iter().copied().zip(b.iter()));
            let plain: Vec<(u32, &u64)> = make().collect();
            let folded = wrap().fold(Vec::new(), |mut v, x| {
                v.push(x);
                v
            });
            assert_eq!(folded, plain, "fold {la} {lb}");
            assert_eq!(wrap().count(), plain.len());
            assert_eq!(wrap().size_hint(), make().size_hint());
            let sum: u64 = wrap().map(|(x, y)| u64::from(x) ^ y).sum();
            assert_eq!(sum, make().map(|(x, y)| u64::from(x) ^ y).sum::<u64>());
            // Partly used, then folded: the fold starts where `next` stopped.
            for k in [0, 1, 1023, 1024, 1500] {
                let mut it = wrap();
                let mut got: Vec<_> = it.by_ref().take(k).collect();
                got.extend(it.fold(Vec::new(), |mut v, x| {
                    v.push(x);
                    v
                }));
                assert_eq!(got, plain, "take {k} then fold, {la} {lb}");
                let mut it = wrap();
                assert_eq!(it.nth(k), make().nth(k));
                assert_eq!(it.next(), make().nth(k + 1));
            }
            let needle = plain.get(plain.len().saturating_sub(3)).copied();
            assert_eq!(
                wrap().position(|x| Some(x) == needle),
                make().position(|x| Some(x) == needle)
            );
        }
        // Equal lengths of `ExactSizeIterator`s: double-ended.
        let a: Vec<u16> = (0..la as u16).collect();
        let wrap = || crate::__killable_chunked!(a.iter().zip(0..la));
        let plain: Vec<(&u16, usize)> = a.iter().zip(0..la).collect();
        let mut rev = plain.clone();
        rev.reverse();
        assert_eq!(
            wrap().rfold(Vec::new(), |mut v, x| {
                v.push(x);
                v
            }),
            rev
        );
        let mut it = wrap();
        let mut back = Vec::new();
        while let Some(x) = it.next_back() {
            back.push(x);
        }
        assert_eq!(back, rev);
    }
}

/// Every way of driving an iterator, on the wrapped and the plain one.
fn agree<I>(make: impl Fn() -> I, wrap: impl Fn(I) -> Chunked<I>)
where
    I: Split + Clone,
    I::Item: PartialEq + fmt::Debug + Clone,
{
    let plain: Vec<I::Item> = make().collect();
    assert_eq!(
        wrap(make()).fold(Vec::new(), |mut v, x| {
            v.push(x);
            v
        }),
        plain
    );
    let mut rev = plain.clone();
    rev.reverse();
    assert_eq!(
        wrap(make()).rfold(Vec::new(), |mut v, x| {
            v.push(x);
            v
        }),
        rev
    );
    assert_eq!(wrap(make()).count(), plain.len());
    assert_eq!(wrap(make()).size_hint(), make().size_hint());
    let mut by_next = Vec::new();
    let mut it = wrap(make());
    while let Some(x) = it.next() {
        by_next.push(x);
    }
    assert_eq!(by_next, plain);
    // Interleaved from both ends.
    let mut it = wrap(make());
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        match it.next() {
            Some(x) => front.push(x),
            None => break,
        }
        match it.next_back() {
            Some(x) => back.push(x),
            None => break,
        }
    }
    back.reverse();
    front.extend(back);
    assert_eq!(front, plain);
    for k in [0, 1, 3, 1023, 1024, 1500, 4000] {
        let mut it = wrap(make());
        assert_eq!(it.nth(k), make().nth(k), "nth({k})");
        assert_eq!(
            it.collect::<Vec<_>>(),
            make().skip(k + 1).collect::<Vec<_>>()
        );
        let mut it = wrap(make());
        assert_eq!(it.nth_back(k), make().nth_back(k), "nth_back({k})");
        // A search that stops in the middle of a chunk gives the rest back.
        let target = plain.get(k).cloned();
        let mut it = wrap(make());
        let mut plain_it = make();
        let is_target = |x: &I::Item| Some(x) == target.as_ref();
        assert_eq!(
            it.position(|x| is_target(&x)),
            plain_it.position(|x| is_target(&x))
        );
        assert_eq!(it.next(), plain_it.next(), "after position({k})");
        assert_eq!(it.collect::<Vec<_>>(), plain_it.collect::<Vec<_>>());
        let mut it = wrap(make());
        let mut plain_it = make();
        assert_eq!(it.any(|x| is_target(&x)), plain_it.any(|x| is_target(&x)));
        assert_eq!(it.all(|x| !is_target(&x)), plain_it.all(|x| !is_target(&x)));
        assert_eq!(it.find(|x| !is_target(x)), plain_it.find(|x| !is_target(x)));
        assert_eq!(it.count(), plain_it.count());
    }
}

fn wrap<I: Split>(inner: I) -> Chunked<I> {
    SplitTag.wrap(inner)
}

#[test]
fn chunked_slices_ranges_and_chars_agree_with_plain_iteration() {
    for &n in LENGTHS {
        let v: Vec<u64> = (0..n as u64).map(|x| x * 7 % 1000).collect();
        agree(|| v.iter(), wrap);
        agree(|| 0..n as u64, wrap);
        agree(|| 3..=n as i32 + 2, wrap);
        let s: String = (0..n).map(|i| ['a', 'é', '字', '🦀'][i % 4]).collect();
        agree(|| s.chars(), wrap);
    }
    // Ranges at the ends of their types, and wider than `usize`.
    agree(|| i64::MIN..i64::MIN + 3000, wrap);
    agree(|| u64::MAX - 3000..=u64::MAX, wrap);
    agree(|| i8::MIN..i8::MAX, wrap);
    agree(|| i8::MIN..=i8::MAX, wrap);
    agree(|| u128::MAX - 2500..u128::MAX, wrap);
    let mut full = wrap(0..=u128::MAX);
    assert_eq!(full.nth(5000), Some(5000));
    assert_eq!(full.next_back(), Some(u128::MAX));
    // Empty and backwards ranges.
    agree(|| 5..3, wrap);
    agree(|| 5..=3, wrap);
    let mut used = 0..=3u8;
    used.by_ref().for_each(drop);
    agree(|| used.clone(), wrap);
}

#[test]
fn chunked_iter_mut_writes_every_item_once() {
    for &n in LENGTHS {
        let mut v: Vec<u64> = (0..n as u64).collect();
        wrap(v.iter_mut()).for_each(|x| *x *= 3);
        assert!(v.iter().enumerate().all(|(i, &x)| x == 3 * i as u64));
        wrap(v.iter_mut()).rev().step_by(2).for_each(|x| *x += 1);
        let mut w: Vec<u64> = (0..n as u64).map(|x| 3 * x).collect();
        w.iter_mut().rev().step_by(2).for_each(|x| *x += 1);
        assert_eq!(v, w);
        let mut it = wrap(v.iter_mut());
        let hit = it.position(|x| *x % 5 == 4);
        let rest = it.count();
        let mut it = w.iter_mut();
        assert_eq!((hit, rest), (it.position(|x| *x % 5 == 4), it.count()));
    }
}

#[test]
fn counted_and_checked_agree_with_plain_iteration() {
    for &n in LENGTHS {
        let s: String = (0..n).map(|i| ['a', 'é', '\n'][i % 3]).collect();
        let plain: Vec<u8> = s.bytes().collect();
        assert_eq!(StdTag.wrap(s.bytes()).collect::<Vec<_>>(), plain);
        assert_eq!(
            StdTag
                .wrap(s.bytes())
                .rfold(0usize, |a, b| a.wrapping_mul(31) + b as usize),
            s.bytes()
                .rfold(0usize, |a, b| a.wrapping_mul(31) + b as usize)
        );
        assert_eq!(CheckedTag.wrap(s.bytes()).rev().collect::<Vec<_>>(), {
            let mut p = plain.clone();
            p.reverse();
            p
        });
        assert_eq!(StdTag.wrap(s.bytes()).nth(1500), s.bytes().nth(1500));
        assert_eq!(CheckedTag.wrap(s.bytes()).len(), plain.len());
    }
}

#[test]
fn debug_output_is_the_sources() {
    let v = [1, 2, 3];
    assert_eq!(format!("{:?}", wrap(v.iter())), format!("{:?}", v.iter()));
    assert_eq!(format!("{:?}", StdTag.wrap(0..3)), "0..3");
    assert_eq!(format!("{:?}", CheckedTag.wrap(0..3)), "0..3");
}
