//! Little-endian byte encoding of what ranks send to rank 0.
//!
//! Floats travel as their IEEE bit patterns (`f64::to_le_bytes`), so a value decoded on
//! rank 0 is the value computed on the sending rank, bit for bit. The format is private
//! to one run (every rank runs the same binary); it has no version and is never stored.

/// Appends values to a byte buffer.
#[derive(Clone, Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends a `usize` (as `u64`).
    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }
    /// Appends a `u128`.
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends an `f64` (its bit pattern).
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends a length and the values.
    pub fn f64s(&mut self, v: &[f64]) {
        self.usize(v.len());
        for &x in v {
            self.f64(x);
        }
    }
    /// Appends a length and the values.
    pub fn u32s(&mut self, v: &[u32]) {
        self.usize(v.len());
        for &x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    /// Appends a length and the UTF-8 bytes.
    pub fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }
    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// A truncated or malformed message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed message from another rank: {0}")]
pub struct WireError(pub String);

/// Reads values back in the order they were written.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                WireError(format!(
                    "wanted {n} bytes at offset {} of {}",
                    self.pos,
                    self.bytes.len()
                ))
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// Reads a `u64`.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Reads a `usize`.
    pub fn usize(&mut self) -> Result<usize, WireError> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| WireError(format!("length {v} does not fit usize")))
    }
    /// Reads a `u128`.
    pub fn u128(&mut self) -> Result<u128, WireError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    /// Reads an `f64`.
    pub fn f64(&mut self) -> Result<f64, WireError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    /// Reads a length-prefixed `f64` list.
    pub fn f64s(&mut self) -> Result<Vec<f64>, WireError> {
        let n = self.len_of(8)?;
        (0..n).map(|_| self.f64()).collect()
    }
    /// Reads a length-prefixed `u32` list.
    pub fn u32s(&mut self) -> Result<Vec<u32>, WireError> {
        let n = self.len_of(4)?;
        (0..n)
            .map(|_| Ok(u32::from_le_bytes(self.array()?)))
            .collect()
    }
    /// Reads a length-prefixed string.
    pub fn str(&mut self) -> Result<String, WireError> {
        let n = self.len_of(1)?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|e| WireError(e.to_string()))
    }
    /// A length whose `size`-byte items must fit in what is left (no huge allocation
    /// from a corrupt length).
    fn len_of(&mut self, size: usize) -> Result<usize, WireError> {
        let n = self.usize()?;
        if n.saturating_mul(size) > self.bytes.len() - self.pos {
            return Err(WireError(format!(
                "list of {n} items longer than the message"
            )));
        }
        Ok(n)
    }
    /// True when every byte has been read.
    pub fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_bit_for_bit() {
        let specials = [0.1, -0.0, f64::MIN_POSITIVE / 3.0, f64::NAN, f64::INFINITY];
        let mut w = Writer::new();
        w.u64(u64::MAX);
        w.u128(u128::MAX - 5);
        w.f64s(&specials);
        w.u32s(&[3, 4]);
        w.str("rank 1: singular matrix");
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert_eq!(r.u128().unwrap(), u128::MAX - 5);
        let back = r.f64s().unwrap();
        assert!(
            back.iter()
                .zip(&specials)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert_eq!(r.u32s().unwrap(), vec![3, 4]);
        assert_eq!(r.str().unwrap(), "rank 1: singular matrix");
        assert!(r.is_done());
        assert!(r.u64().is_err());
        // a corrupt length is an error, not an allocation
        let mut w = Writer::new();
        w.usize(usize::MAX / 2);
        assert!(Reader::new(&w.into_bytes()).f64s().is_err());
    }
}
