//! Direct copies for typed calls: arguments lowered straight from Rust
//! values and results lifted straight into them, without `Value`s.

use wasmi::Val;

use super::{Cx, R, Results, len32};

/// Lowers typed arguments straight from Rust values (strings and byte
/// lists copied once into the guest), for signatures of scalars, strings
/// and byte lists.
pub(crate) struct DirectLower<'c, 'a, 'b> {
    pub cx: &'c mut Cx<'a, 'b>,
    pub out: Vec<Val>,
}

impl airssys_wasm_core::typed::Lowerer for DirectLower<'_, '_, '_> {
    fn scalar(&mut self, value: airssys_wasm_core::typed::FlatValue) {
        use airssys_wasm_core::typed::FlatValue as F;
        self.out.push(match value {
            F::I32(v) => Val::I32(v),
            F::I64(v) => Val::I64(v),
            F::F32(v) => Val::F32(v.into()),
            F::F64(v) => Val::F64(v.into()),
        });
    }

    fn string(&mut self, s: &str) -> R<()> {
        let (ptr, len) = self.cx.lower_string(s)?;
        self.out
            .extend([Val::I32(ptr as i32), Val::I32(len as i32)]);
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) -> R<()> {
        let ptr = self.cx.alloc(1, len32(bytes.len())?)?;
        self.cx.write(ptr, bytes)?;
        self.out
            .extend([Val::I32(ptr as i32), Val::I32(bytes.len() as i32)]);
        Ok(())
    }
}

/// Lifts a typed result straight into a Rust value, with the checks of
/// [`Cx::lift_flat`].
pub(crate) struct DirectLift<'c, 'a, 'b, 'r> {
    pub cx: &'c mut Cx<'a, 'b>,
    pub results: Results<'r>,
}

impl DirectLift<'_, '_, '_, '_> {
    /// The pointer and length of a string or list returned through memory.
    fn pointer_and_length(&self) -> R<(u32, u32)> {
        let Results::Pointer(at) = self.results else {
            return Err("a string or list result must come through a result pointer".into());
        };
        if !at.is_multiple_of(4) {
            return Err(format!("result pointer {at} is not aligned to 4"));
        }
        let pair: [u8; 8] = self.cx.load(at)?;
        Ok((
            u32::from_le_bytes(pair[..4].try_into().expect("4 bytes")),
            u32::from_le_bytes(pair[4..].try_into().expect("4 bytes")),
        ))
    }
}

impl airssys_wasm_core::typed::Lifter for DirectLift<'_, '_, '_, '_> {
    fn scalar(&mut self) -> R<airssys_wasm_core::typed::FlatValue> {
        use airssys_wasm_core::typed::FlatValue as F;
        let Results::Flat([value]) = self.results else {
            return Err("a scalar result must come as one flat value".into());
        };
        Ok(match value {
            Val::I32(v) => F::I32(*v),
            Val::I64(v) => F::I64(*v),
            Val::F32(v) => F::F32((*v).into()),
            Val::F64(v) => F::F64((*v).into()),
            other => return Err(format!("the export returned {other:?}")),
        })
    }

    fn string(&mut self) -> R<String> {
        let (ptr, len) = self.pointer_and_length()?;
        self.cx.lift_string(ptr, len)
    }

    fn bytes(&mut self) -> R<Vec<u8>> {
        let (ptr, len) = self.pointer_and_length()?;
        self.cx
            .bytes(ptr, len)
            .map(<[u8]>::to_vec)
            .map_err(|why| format!("list pointer/length out of bounds of memory ({why})"))
    }
}
