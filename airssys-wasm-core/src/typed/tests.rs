//! Tests of the typed calls' conversions.

use super::*;
use crate::value::{Value, ValueType};

fn lift<R: ComponentResults>(flat: R::Flat) -> std::result::Result<R, String> {
    R::from_flat_result(flat)
}

fn flat_list_of<L: FlatList>(_: L) -> bool {
    L::FLAT
}

fn flat_of<P: ComponentParams>(p: P) -> (bool, P::Flat) {
    (<P::Flat as FlatList>::FLAT, p.into_flat_list())
}

#[test]
fn scalar_lists_have_a_flat_form_and_others_do_not() {
    assert_eq!(flat_of(()), (true, ()));
    assert_eq!(
        flat_of((true, -1i8, u16::MAX, 'a', u64::MAX, 1.5f32, 2.5f64)),
        (true, (1, -1, 65535, 97, -1i64, 1.5f32, 2.5f64))
    );
    assert_eq!(flat_of((1u32, String::new())), (false, NotFlat));
    assert_eq!(flat_of((Some(1u32),)), (false, NotFlat));
    assert_eq!(flat_of(((1u32, 2u32),)), (false, NotFlat));
    // Sixteen scalars are passed flat; the canonical ABI passes a
    // seventeenth parameter's list through memory.
    let sixteen = (
        1u8, 2u8, 3u8, 4u8, 5u8, 6u8, 7u8, 8u8, 9u8, 10u8, 11u8, 12u8, 13u8, 14u8, 15u8, 16u8,
    );
    assert!(flat_of(sixteen).0);
    fn push_one<L: FlatList>(list: L) -> L::Push<i32> {
        list.push(0)
    }
    assert!(!flat_list_of(push_one(sixteen.into_flat_list())));
}

#[test]
fn flat_results_lift_as_the_canonical_abi_says() {
    assert_eq!(lift::<(u8,)>(0x1ff), Ok((0xff,)));
    assert_eq!(lift::<(i8,)>(0xff), Ok((-1,)));
    assert_eq!(lift::<(u16,)>(-1), Ok((u16::MAX,)));
    assert_eq!(lift::<(u32,)>(-1), Ok((u32::MAX,)));
    assert_eq!(lift::<(bool,)>(7), Ok((true,)));
    assert_eq!(lift::<(bool,)>(0), Ok((false,)));
    assert_eq!(lift::<(char,)>(0x1F600), Ok(('😀',)));
    assert_eq!(
        lift::<(char,)>(0x110000),
        Err("0x110000 is not a Unicode scalar value".into())
    );
    assert_eq!(lift::<()>(()), Ok(()));
    assert!(lift::<(String,)>(NotFlat).is_err());
}

#[test]
fn values_convert_both_ways_and_mismatches_say_what_was_found() {
    type Mixed = (u8, Result<(), String>, Vec<Option<char>>);
    let v: Mixed = (1, Err("no".into()), vec![Some('x'), None]);
    let value = v.clone().into_value();
    assert_eq!(<Mixed as ComponentType>::from_value(value), Ok(v));
    assert_eq!(
        <Mixed as ComponentType>::ty().to_string(),
        "tuple<u8, result<_, string>, list<option<char>>>"
    );
    assert_eq!(<Result<u32, ()>>::ty().to_string(), "result<u32>");
    assert_eq!(
        <(u8, u8) as ComponentType>::from_value(Value::Tuple(vec![Value::U8(1)])),
        Err("expected tuple<u8, u8>, got 1 item(s)".into())
    );
    assert_eq!(
        <Vec<u8>>::from_value(Value::String("x".into())),
        Err("expected list<u8>, got a string".into())
    );
    assert_eq!(
        <Result<(), String>>::from_value(Value::Result(Ok(Some(Box::new(Value::U8(1)))))),
        Err("expected no payload, got a u8".into())
    );
    assert_eq!(
        <()>::from_result(Some(Value::U8(1))),
        Err("expected no result, got a u8".into())
    );
    assert!(<(u8,)>::from_result(None).is_err());
}

#[test]
fn signatures_are_checked_by_type_and_arity() {
    let f = FuncType {
        params: vec![("s".into(), ValueType::String)],
        result: None,
    };
    assert!(check_signature::<(String,), ()>("log", &f).is_ok());
    let err = check_signature::<(String,), (u32,)>("log", &f).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad arguments for `log`: the Rust types give `func(string) -> u32`, but the \
         export's WIT type is `func(s: string)`; use the Rust types of the table in \
         airssys_wasm::typed"
    );
    assert!(check_signature::<(), ()>("log", &f).is_err());
    assert!(check_signature::<(String, String), ()>("log", &f).is_err());
}

/// Records what it is asked to lower, and lifts from a script.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Lowerer for Recorder {
    fn scalar(&mut self, value: FlatValue) {
        self.0.push(format!("{value:?}"));
    }
    fn string(&mut self, s: &str) -> std::result::Result<(), String> {
        self.0.push(format!("string {s}"));
        Ok(())
    }
    fn bytes(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        self.0.push(format!("bytes {bytes:?}"));
        Ok(())
    }
}

impl Lifter for Recorder {
    fn scalar(&mut self) -> std::result::Result<FlatValue, String> {
        Ok(FlatValue::I32(0xD800))
    }
    fn string(&mut self) -> std::result::Result<String, String> {
        Ok("lifted".into())
    }
    fn bytes(&mut self) -> std::result::Result<Vec<u8>, String> {
        Ok(vec![9])
    }
}

#[test]
fn scalars_strings_and_byte_lists_lower_and_lift_directly() {
    type Direct = (bool, u64, String, Vec<u8>, f32);
    const { assert!(<Direct as ComponentParams>::DIRECT) };
    const { assert!(!<(Vec<u32>,) as ComponentParams>::DIRECT) };
    const { assert!(!<(Option<u8>,) as ComponentParams>::DIRECT) };
    const { assert!(!<((u8, u8),) as ComponentParams>::DIRECT) };
    const { assert!(<(String,) as ComponentResults>::DIRECT) };
    const { assert!(!<(Result<u8, u8>,) as ComponentResults>::DIRECT) };
    let mut r = Recorder::default();
    (true, u64::MAX, "hi".to_owned(), vec![1u8, 2], 0.5f32)
        .lower_params(&mut r)
        .unwrap();
    assert_eq!(
        r.0,
        ["I32(1)", "I64(-1)", "string hi", "bytes [1, 2]", "F32(0.5)"]
    );
    assert_eq!(<(String,)>::lift_result(&mut r), Ok(("lifted".to_owned(),)));
    assert_eq!(<(Vec<u8>,)>::lift_result(&mut r), Ok((vec![9],)));
    assert_eq!(<(u16,)>::lift_result(&mut r), Ok((0xD800,)));
    // The lifted scalar is checked like a flat one.
    assert!(<(char,)>::lift_result(&mut r).is_err());
    assert!(
        <(u64,)>::lift_result(&mut r).is_err(),
        "an i32 where an i64 belongs"
    );
}
