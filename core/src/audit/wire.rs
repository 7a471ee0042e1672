//! A strict reader of canonical MessagePack (docs/FORMAT.md section 2) for
//! audit entry bodies.
//!
//! It checks every marker while parsing instead of decoding and re-encoding:
//! a value is accepted only in its shortest form (fixint before uint 8, fixstr
//! before str 8, fixarray before array 16, ...), and strings are borrowed
//! from the input, so reading a body allocates nothing. Faults are reported
//! with the byte offset in the entry at which they were found.

use core::fmt;

use super::AuditError;

/// What is wrong with the MessagePack of an entry body
/// ([`AuditError::MalformedBody`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyFault {
    /// The body ends inside a value.
    Truncated,
    /// Bytes follow the body's array.
    TrailingBytes,
    /// A marker of a type the field does not have (a map, a float, bin
    /// where a string belongs, nil for a required field, ...).
    UnexpectedType,
    /// An array with another number of elements than the field has.
    WrongArrayLength,
    /// An integer in a longer form than its value needs (uint 8 for 5, a
    /// signed marker for a non-negative value, ...).
    NonCanonicalInt,
    /// A string or array length in a longer form than needed (str 16 for 40
    /// bytes, array 16 for 9 elements, ...).
    NonCanonicalLength,
    /// A string that is not valid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for BodyFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyFault::Truncated => "the body ends inside a value",
            BodyFault::TrailingBytes => "bytes follow the body",
            BodyFault::UnexpectedType => "a field has the wrong MessagePack type",
            BodyFault::WrongArrayLength => "an array has the wrong number of elements",
            BodyFault::NonCanonicalInt => "an integer is not in its shortest form",
            BodyFault::NonCanonicalLength => "a length is not in its shortest form",
            BodyFault::InvalidUtf8 => "a string is not valid UTF-8",
        })
    }
}

/// A cursor over an entry; offsets are entry offsets.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read `buf` from `pos` on.
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    fn fault(offset: usize, fault: BodyFault) -> AuditError {
        AuditError::MalformedBody { offset, fault }
    }

    fn byte(&mut self) -> Result<u8, AuditError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Self::fault(self.pos, BodyFault::Truncated))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], AuditError> {
        let s = self
            .buf
            .get(self.pos..)
            .and_then(|rest| rest.get(..n))
            .ok_or(Self::fault(self.pos, BodyFault::Truncated))?;
        self.pos += n;
        Ok(s)
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], AuditError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Read a length that follows a marker: `N` big-endian bytes, which must
    /// be needed (the value must not fit the next shorter form, `min`).
    fn len<const N: usize>(&mut self, at: usize, min: u64) -> Result<usize, AuditError> {
        let raw = self.be::<N>()?;
        let v = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if v < min {
            return Err(Self::fault(at, BodyFault::NonCanonicalLength));
        }
        usize::try_from(v).map_err(|_| Self::fault(at, BodyFault::Truncated))
    }

    /// An array of exactly `n` elements (header only).
    pub(crate) fn array(&mut self, n: usize) -> Result<(), AuditError> {
        let at = self.pos;
        let m = self.byte()?;
        let len = match m {
            0x90..=0x9f => usize::from(m & 0x0f),
            0xdc => self.len::<2>(at, 16)?,
            0xdd => self.len::<4>(at, 1 << 16)?,
            _ => return Err(Self::fault(at, BodyFault::UnexpectedType)),
        };
        if len != n {
            return Err(Self::fault(at, BodyFault::WrongArrayLength));
        }
        Ok(())
    }

    /// An int64 in its shortest form.
    pub(crate) fn int(&mut self) -> Result<i64, AuditError> {
        let at = self.pos;
        let m = self.byte()?;
        let non_canonical = Self::fault(at, BodyFault::NonCanonicalInt);
        let v: i64 = match m {
            0x00..=0x7f => i64::from(m),
            0xe0..=0xff => i64::from(i8::from_be_bytes([m])),
            0xcc => i64::from(u8::from_be_bytes(self.be()?)),
            0xcd => i64::from(u16::from_be_bytes(self.be()?)),
            0xce => i64::from(u32::from_be_bytes(self.be()?)),
            0xcf => {
                let v = u64::from_be_bytes(self.be()?);
                // Above int64: not an int64 at all.
                i64::try_from(v).map_err(|_| Self::fault(at, BodyFault::UnexpectedType))?
            }
            0xd0 => i64::from(i8::from_be_bytes(self.be()?)),
            0xd1 => i64::from(i16::from_be_bytes(self.be()?)),
            0xd2 => i64::from(i32::from_be_bytes(self.be()?)),
            0xd3 => i64::from_be_bytes(self.be()?),
            _ => return Err(Self::fault(at, BodyFault::UnexpectedType)),
        };
        if int_marker(v) != m && !(m <= 0x7f || m >= 0xe0) {
            return Err(non_canonical);
        }
        Ok(v)
    }

    /// A string, or `None` for nil.
    pub(crate) fn opt_str(&mut self) -> Result<Option<&'a str>, AuditError> {
        let at = self.pos;
        let m = self.byte()?;
        let len = match m {
            0xc0 => return Ok(None),
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.len::<1>(at, 32)?,
            0xda => self.len::<2>(at, 1 << 8)?,
            0xdb => self.len::<4>(at, 1 << 16)?,
            _ => return Err(Self::fault(at, BodyFault::UnexpectedType)),
        };
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Self::fault(at, BodyFault::InvalidUtf8))
    }

    /// A string (nil refused).
    pub(crate) fn str(&mut self) -> Result<&'a str, AuditError> {
        let at = self.pos;
        self.opt_str()?
            .ok_or(Self::fault(at, BodyFault::UnexpectedType))
    }

    /// Nothing may follow.
    pub(crate) fn end(&self) -> Result<(), AuditError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Self::fault(self.pos, BodyFault::TrailingBytes))
        }
    }
}

/// The marker of the shortest encoding of `v` (for fixints: `v`'s byte).
fn int_marker(v: i64) -> u8 {
    match v {
        -32..=0x7f => v.to_be_bytes()[7],
        0x80..=0xff => 0xcc,
        0x100..=0xffff => 0xcd,
        0x1_0000..=0xffff_ffff => 0xce,
        0x1_0000_0000.. => 0xcf,
        -128..=-33 => 0xd0,
        -32_768..=-129 => 0xd1,
        -2_147_483_648..=-32_769 => 0xd2,
        _ => 0xd3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(bytes: &[u8]) -> Result<i64, AuditError> {
        let mut r = Reader::new(bytes, 0);
        let v = r.int()?;
        r.end()?;
        Ok(v)
    }

    #[test]
    fn integers_only_in_their_shortest_form() {
        for v in [
            0i64,
            5,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX.into(),
            1 << 32,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            i32::MIN.into(),
            i64::from(i32::MIN) - 1,
            i64::MIN,
        ] {
            let bytes = rmp_serde::to_vec(&v).unwrap_or_default();
            assert_eq!(int(&bytes), Ok(v), "{v}");
        }
        let nc = |b: &[u8]| int(b).unwrap_err();
        let fault = |f| AuditError::MalformedBody {
            offset: 0,
            fault: f,
        };
        assert_eq!(nc(&[0xcc, 0x05]), fault(BodyFault::NonCanonicalInt));
        assert_eq!(nc(&[0xcd, 0x00, 0x05]), fault(BodyFault::NonCanonicalInt));
        assert_eq!(nc(&[0xd1, 0x00, 0xc8]), fault(BodyFault::NonCanonicalInt));
        assert_eq!(nc(&[0xd0, 0xff]), fault(BodyFault::NonCanonicalInt));
        assert_eq!(nc(&[0xca, 0, 0, 0, 0]), fault(BodyFault::UnexpectedType));
        assert_eq!(
            nc(&[0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            fault(BodyFault::UnexpectedType)
        );
        assert_eq!(
            nc(&[0xcd, 0x01]),
            AuditError::MalformedBody {
                offset: 1,
                fault: BodyFault::Truncated
            }
        );
    }

    #[test]
    fn strings_and_arrays_only_in_their_shortest_form() {
        fn s(b: &[u8]) -> Result<Option<&str>, AuditError> {
            Reader::new(b, 0).opt_str()
        }
        assert_eq!(s(&[0xa1, b'x']), Ok(Some("x")));
        assert_eq!(s(&[0xc0]), Ok(None));
        let fault = |f| AuditError::MalformedBody {
            offset: 0,
            fault: f,
        };
        assert_eq!(
            s(&[0xd9, 1, b'x']).unwrap_err(),
            fault(BodyFault::NonCanonicalLength)
        );
        assert_eq!(
            s(&[0xda, 0, 40]).unwrap_err(),
            fault(BodyFault::NonCanonicalLength)
        );
        assert_eq!(
            s(&[0xdb, 0, 0, 1, 0]).unwrap_err(),
            fault(BodyFault::NonCanonicalLength)
        );
        assert_eq!(
            s(&[0xc4, 1, b'x']).unwrap_err(),
            fault(BodyFault::UnexpectedType)
        );
        assert_eq!(s(&[0xa1, 0xff]).unwrap_err(), fault(BodyFault::InvalidUtf8));
        let a = |b: &[u8]| Reader::new(b, 0).array(2);
        assert_eq!(a(&[0x92]), Ok(()));
        assert_eq!(
            a(&[0xdc, 0, 2]).unwrap_err(),
            fault(BodyFault::NonCanonicalLength)
        );
        assert_eq!(
            a(&[0xdd, 0, 0, 0, 2]).unwrap_err(),
            fault(BodyFault::NonCanonicalLength)
        );
        assert_eq!(a(&[0x93]).unwrap_err(), fault(BodyFault::WrongArrayLength));
        assert_eq!(a(&[0x82]).unwrap_err(), fault(BodyFault::UnexpectedType));
    }
}
