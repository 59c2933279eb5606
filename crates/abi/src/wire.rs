//! Byte encoding of the `repr(C)` structs, in safe code.
//!
//! Owns [`Reader`] and [`Writer`], little-endian cursors over a byte slice
//! used by the code [`wire_struct!`](crate::macros) generates. x86-64 is
//! little-endian, so these bytes are the structs' memory image; the kernel
//! decodes copied-in user bytes with them instead of transmuting.

/// Reads fixed-width integers from the front of a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next `N` bytes; zeros past the end (unreachable: callers check
    /// the length first, and `wire_struct!` proves the field sizes add up).
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.bytes.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.bytes = rest;
                *head
            }
            None => {
                debug_assert!(false, "wire struct read past its end");
                [0; N]
            }
        }
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    pub(crate) fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
}

/// Writes fixed-width integers to the front of a byte slice.
pub(crate) struct Writer<'a> {
    bytes: &'a mut [u8],
}

impl<'a> Writer<'a> {
    /// A writer at the start of `bytes`.
    pub(crate) fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes }
    }

    /// Puts `value` next; drops it past the end (unreachable, as for
    /// [`Reader::take`]).
    fn put<const N: usize>(&mut self, value: [u8; N]) {
        let bytes = core::mem::take(&mut self.bytes);
        match bytes.split_first_chunk_mut::<N>() {
            Some((head, rest)) => {
                *head = value;
                self.bytes = rest;
            }
            None => debug_assert!(false, "wire struct written past its end"),
        }
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.put(value.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.put(value.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.put(value.to_le_bytes());
    }
}
