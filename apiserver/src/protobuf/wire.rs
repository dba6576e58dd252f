//! A protobuf wire-format reader over a byte slice: every length checked, nothing allocated, nothing panics.

use super::DecodeError;

/// One field as read from the wire.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

impl Value<'_> {
    /// The wire type's number (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    pub(super) fn wire_type(&self) -> u8 {
        match self {
            Self::Varint(_) => 0,
            Self::Fixed64(_) => 1,
            Self::Len(_) => 2,
            Self::Fixed32(_) => 5,
        }
    }
}

/// Groups (a deprecated encoding nobody sends to Kubernetes) are skipped, up to this nesting.
const MAX_GROUP_DEPTH: usize = 32;

/// Reads the fields of one message in order.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// The next field (number and value); `None` at the end of the message. Groups are skipped.
    ///
    /// # Errors
    /// Truncated input, an overlong varint, field number 0, an unmatched end-group or an unknown wire type.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, DecodeError> {
        loop {
            if self.pos >= self.data.len() {
                return Ok(None);
            }
            let key = self.varint()?;
            let number = key >> 3;
            let wire = key & 7;
            if number == 0 || number > u64::from(u32::MAX >> 3) {
                return Err(DecodeError::new(format!("proto: illegal tag {number} (wire type {wire})")));
            }
            let number = u32::try_from(number).unwrap_or(u32::MAX);
            let value = match wire {
                0 => Value::Varint(self.varint()?),
                1 => Value::Fixed64(self.fixed64()?),
                2 => {
                    let length = self.varint()?;
                    Value::Len(self.take(length)?)
                }
                3 => {
                    self.skip_group(number)?;
                    continue;
                }
                4 => return Err(DecodeError::new("proto: wiretype end group for non-group")),
                5 => Value::Fixed32(u32::from_le_bytes(self.fixed::<4>()?)),
                other => return Err(DecodeError::new(format!("proto: illegal wireType {other}"))),
            };
            return Ok(Some((number, value)));
        }
    }

    /// A base-128 varint of at most 10 bytes; bits beyond 64 are dropped, as Go's generated decoders do.
    pub(super) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.pos).ok_or_else(DecodeError::eof)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::new("proto: integer overflow"))
    }

    /// Whether every byte has been read.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// A little-endian 64-bit value (a packed `double`).
    pub(super) fn fixed64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.fixed::<8>()?))
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn take(&mut self, length: u64) -> Result<&'a [u8], DecodeError> {
        let remaining = self.data.len() - self.pos;
        let length = usize::try_from(length).ok().filter(|l| *l <= remaining).ok_or_else(DecodeError::eof)?;
        let bytes = &self.data[self.pos..self.pos + length];
        self.pos += length;
        Ok(bytes)
    }

    /// Skips a group started with field `number`, through its matching end-group, without recursion.
    fn skip_group(&mut self, number: u32) -> Result<(), DecodeError> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if self.pos >= self.data.len() {
                return Err(DecodeError::eof());
            }
            let key = self.varint()?;
            let field = u32::try_from(key >> 3).unwrap_or(u32::MAX);
            match key & 7 {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8)?;
                }
                2 => {
                    let length = self.varint()?;
                    self.take(length)?;
                }
                3 => {
                    if open.len() >= MAX_GROUP_DEPTH {
                        return Err(DecodeError::new("proto: groups nested too deeply"));
                    }
                    open.push(field);
                }
                4 if field == innermost => {
                    open.pop();
                }
                4 => return Err(DecodeError::new("proto: mismatched end group")),
                5 => {
                    self.take(4)?;
                }
                other => return Err(DecodeError::new(format!("proto: illegal wireType {other}"))),
            }
        }
        Ok(())
    }
}
