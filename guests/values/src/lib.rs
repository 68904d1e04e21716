//! Echoes every WIT value type; exports a resource.

use std::cell::Cell;

wit_bindgen::generate!({ path: "../wit/test.wit", world: "values" });

use exports::airssys::test::resources::{Counter, Guest as ResourcesGuest, GuestCounter};

struct Values;

impl Guest for Values {
    fn echo_bool(v: bool) -> bool {
        v
    }
    fn echo_s8(v: i8) -> i8 {
        v
    }
    fn echo_s16(v: i16) -> i16 {
        v
    }
    fn echo_s32(v: i32) -> i32 {
        v
    }
    fn echo_s64(v: i64) -> i64 {
        v
    }
    fn echo_u8(v: u8) -> u8 {
        v
    }
    fn echo_u16(v: u16) -> u16 {
        v
    }
    fn echo_u32(v: u32) -> u32 {
        v
    }
    fn echo_u64(v: u64) -> u64 {
        v
    }
    fn echo_f32(v: f32) -> f32 {
        v
    }
    fn echo_f64(v: f64) -> f64 {
        v
    }
    fn echo_char(v: char) -> char {
        v
    }
    fn echo_string(v: String) -> String {
        v
    }
    fn echo_list(v: Vec<u32>) -> Vec<u32> {
        v
    }
    fn echo_bytes(v: Vec<u8>) -> Vec<u8> {
        v
    }
    fn echo_record(v: Point) -> Point {
        v
    }
    fn echo_tuple(v: (u8, String, f64)) -> (u8, String, f64) {
        v
    }
    fn echo_variant(v: Shape) -> Shape {
        v
    }
    fn echo_enum(v: Color) -> Color {
        v
    }
    fn echo_option(v: Option<String>) -> Option<String> {
        v
    }
    fn echo_result(v: Result<u32, String>) -> Result<u32, String> {
        v
    }
    fn echo_flags(v: Perms) -> Perms {
        v
    }
    fn echo_nested(v: Vec<Option<Point>>) -> Vec<Option<Point>> {
        v
    }
    fn add(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

/// A counter held by the guest; the host only sees its handle.
struct MyCounter(Cell<u32>);

impl GuestCounter for MyCounter {
    fn new(start: u32) -> Self {
        MyCounter(Cell::new(start))
    }
    fn increment(&self, by: u32) -> u32 {
        self.0.set(self.0.get().wrapping_add(by));
        self.0.get()
    }
    fn get(&self) -> u32 {
        self.0.get()
    }
}

impl ResourcesGuest for Values {
    type Counter = MyCounter;

    fn finish(c: Counter) -> u32 {
        c.get::<MyCounter>().0.get()
    }
}

export!(Values);
