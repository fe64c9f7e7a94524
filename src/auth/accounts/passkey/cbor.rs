//! The CBOR (RFC 8949) of the ceremonies, read by hand: the attestation object, the credential's
//! COSE_Key and the extensions map are the only CBOR a relying party meets, and this reads what
//! they need and no more.
//!
//! An item is taken whole or not at all: well-formed, of definite lengths (authenticators write
//! CTAP2's canonical CBOR, which has no other), its text valid UTF-8, its simple values `false`,
//! `true`, `null` and `undefined` only, nested at most [`MAX_DEPTH`] deep. Tags and floats are
//! taken (and skipped) where nothing is read; where a value is read, a tagged one is of no
//! expected type.

/// How deep arrays, maps and tags may nest inside one item.
pub const MAX_DEPTH: usize = 256;

/// The input is not CBOR as taken here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// The head of one item, with the content of a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head<'a> {
    /// An integer, unsigned (major type 0) or negative (1).
    Int(i128),
    /// A byte string.
    Bytes(&'a [u8]),
    /// A text string.
    Text(&'a str),
    /// An array of this many items, which follow.
    Array(u64),
    /// A map of this many pairs, which follow.
    Map(u64),
    /// A tag; the tagged item follows.
    Tag,
    /// A float or one of the four simple values.
    Other,
}

/// A reader over CBOR bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// What is left after the items read.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Invalid> {
        let n = usize::try_from(n).map_err(|_| Invalid)?;
        if n > self.rest.len() {
            return Err(Invalid);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next head; a string's content with it, an array's, map's or tag's items not.
    pub fn head(&mut self) -> Result<Head<'a>, Invalid> {
        let initial = self.take(1)?[0];
        let (major, info) = (initial >> 5, initial & 0x1f);
        let argument = match info {
            0..=23 => u64::from(info),
            // 1, 2, 4 or 8 bytes, big-endian.
            24..=27 => self
                .take(1 << (info - 24))?
                .iter()
                .fold(0, |n, byte| n << 8 | u64::from(*byte)),
            // Reserved, or an indefinite length (or a break).
            _ => return Err(Invalid),
        };
        Ok(match major {
            0 => Head::Int(i128::from(argument)),
            1 => Head::Int(-1 - i128::from(argument)),
            2 => Head::Bytes(self.take(argument)?),
            3 => Head::Text(core::str::from_utf8(self.take(argument)?).map_err(|_| Invalid)?),
            4 => Head::Array(argument),
            5 => Head::Map(argument),
            6 => Head::Tag,
            // Floats (25, 26, 27: the argument was their bits); false, true, null, undefined.
            _ if matches!(info, 20..=23 | 25..=27) => Head::Other,
            _ => return Err(Invalid),
        })
    }

    fn skip(&mut self, depth: usize) -> Result<(), Invalid> {
        let items = match self.head()? {
            Head::Array(n) => n,
            Head::Map(n) => n.checked_mul(2).ok_or(Invalid)?,
            Head::Tag => 1,
            _ => return Ok(()),
        };
        if depth >= MAX_DEPTH {
            return Err(Invalid);
        }
        // Each item is at least a byte, so a count beyond the input fails when the input ends.
        for _ in 0..items {
            self.skip(depth + 1)?;
        }
        Ok(())
    }

    /// The next item whole, as its bytes.
    pub fn item(&mut self) -> Result<&'a [u8], Invalid> {
        let start = self.rest;
        self.skip(0)?;
        Ok(&start[..start.len() - self.rest.len()])
    }
}

/// The head of the item `bytes` starts with.
pub fn head_of(bytes: &[u8]) -> Result<Head<'_>, Invalid> {
    Reader::new(bytes).head()
}
