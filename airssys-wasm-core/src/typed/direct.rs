//! The backend's side of typed calls that lower and lift Rust values
//! directly, without `Value`s: scalars, strings and byte lists.

use super::FlatValue;

/// A backend's side of lowering typed arguments straight from Rust values,
/// without [`Value`](crate::Value)s: for signatures of scalars, strings and byte lists
/// ([`ComponentParams::DIRECT`]). Each method appends the flat values of
/// one argument, copying data into the guest where needed.
pub trait Lowerer {
    /// A scalar.
    fn scalar(&mut self, value: FlatValue);

    /// A `string`, copied into the guest in the component's encoding.
    fn string(&mut self, s: &str) -> std::result::Result<(), String>;

    /// A `list<u8>`, copied into the guest.
    fn bytes(&mut self, bytes: &[u8]) -> std::result::Result<(), String>;
}

/// A backend's side of lifting a typed result straight into a Rust value
/// ([`ComponentResults::DIRECT`]), checking what the guest returned.
pub trait Lifter {
    /// A scalar result.
    fn scalar(&mut self) -> std::result::Result<FlatValue, String>;

    /// A `string` result.
    fn string(&mut self) -> std::result::Result<String, String>;

    /// A `list<u8>` result.
    fn bytes(&mut self) -> std::result::Result<Vec<u8>, String>;
}
