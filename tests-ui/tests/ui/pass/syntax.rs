// Everything a body can contain, in every position the attribute inserts checks into.
#![deny(warnings)]
#![allow(clippy::all)]

use killable::killable;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

#[killable]
fn loops(v: &[u32], m: &HashMap<u32, u32>) -> Option<u32> {
    #![allow(unused_labels)]
    let mut acc = 0u32;
    'outer: loop {
        'inner: while acc < 10 {
            acc += 1;
            if acc == 3 {
                continue 'inner;
            }
            if acc == 7 {
                break 'outer;
            }
        }
    }
    let mut it = v.iter();
    while let Some(x) = it.next() {
        acc += x;
    }
    for (k, val) in m {
        acc += k * val;
    }
    'strip: for &x in v {
        if x == 0 {
            continue 'strip;
        }
        if x > 100 {
            break;
        }
        acc = acc.wrapping_add(x);
    }
    let found = loop {
        acc += 1;
        if acc % 5 == 0 {
            break acc;
        }
    };
    let first_even = v.iter().position(|x| x % 2 == 0)?;
    for i in 0..v.len() {
        if v[i] == 42 {
            return Some(i as u32);
        }
    }
    let Some(last) = v.last() else {
        return None;
    };
    Some(found + first_even as u32 + last + if acc > 0 { loop { break 1 } } else { 0 })
}

#[killable]
fn closures(v: Vec<u32>) -> impl Fn(u32) -> u32 {
    let offset: u32 = v.iter().map(|x| x + 1).filter(|x| *x > 2).sum();
    let by_ref = |x: &u32| -> u32 { *x };
    let _ = by_ref(&offset);
    let nested = |x: u32| move |y: u32| x + y;
    let add = nested(offset);
    move |x| add(x) + v.len() as u32
}

#[killable]
fn temporaries(cell: &RefCell<Vec<u32>>, lock: &Mutex<Vec<u32>>) -> usize {
    // Each borrow ends with its statement: a check after it must not extend it.
    let n = cell.borrow().len();
    cell.borrow_mut().push(n as u32);
    for x in lock.lock().unwrap().iter() {
        cell.borrow_mut().push(*x);
    }
    let total = lock.lock().unwrap().len();
    lock.lock().unwrap().push(1);
    let r: &Vec<u32> = &Vec::new();
    total + r.len() + cell.borrow().len()
}

#[killable]
fn items_and_macros_and_consts(n: usize) -> usize {
    fn helper(x: usize) -> usize {
        let mut y = x;
        while y > 10 {
            y /= 2;
        }
        y
    }
    struct Local;
    impl Local {
        fn get(&self) -> usize {
            3
        }
    }
    const fn size() -> usize {
        4
    }
    const K: usize = size();
    let a = [0u8; { size() + 1 }];
    let b = const { size() * 2 };
    let v = vec![1, 2, 3];
    let _ = v.len();
    let _fut = async { loop {} };
    let s = unsafe { std::str::from_utf8_unchecked(b"ab") };
    helper(n) + Local.get() + K + a.len() + b + s.len()
}

#[killable]
fn diverging(x: u32) -> u32 {
    if x > 100 {
        eprintln!("too big");
        std::process::exit(1);
    }
    if x == 99 {
        unreachable!("odd");
    }
    match x {
        0 => return 0,
        1 => panic!("one"),
        _ => {}
    }
    x
}

#[killable]
fn never(_: u32) -> ! {
    loop {
        std::thread::yield_now();
    }
}

#[killable]
fn empty() {}

fn main() {
    let m = HashMap::from([(1, 2)]);
    assert!(loops(&[1, 2, 3], &m).is_some());
    assert_eq!(closures(vec![1, 2])(1), 6);
    assert_eq!(temporaries(&RefCell::new(vec![]), &Mutex::new(vec![5])), 3);
    assert!(items_and_macros_and_consts(3) > 0);
    assert_eq!(diverging(5), 5);
    empty();
    let _ = never as fn(u32) -> !;
}
