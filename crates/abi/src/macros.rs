//! Internal macros: numbered enums and wire structs.
//!
//! Owns [`numbered_enum!`] (a fieldless enum whose discriminants are ABI
//! numbers, decoded from a register with `TryFrom<u64>`) and
//! [`wire_struct!`] (a `repr(C)` struct of fixed-width integers with a
//! compile-time proof that its byte encoding is its memory layout). Every
//! public enum and struct that crosses the user/kernel boundary is made by
//! one of them, so the decoding rules are written once.

/// Defines a fieldless enum of ABI numbers.
///
/// Generates `number()`, `from_number()`, `ALL`, `TryFrom<u64>` (unknown
/// numbers give the named [`SysError`](crate::SysError)) and `From<Self> for u64`.
macro_rules! numbered_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ident, unknown => $error:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $number:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[repr($repr)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant = $number, )+
        }

        impl $name {
            /// Every value, in ABI-number order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The ABI number of this value.
            #[must_use]
            pub const fn number(self) -> $repr {
                self as $repr
            }

            /// The value whose ABI number is `number`, if there is one.
            #[must_use]
            pub const fn from_number(number: u64) -> Option<Self> {
                match number {
                    $( $number => Some(Self::$variant), )+
                    _ => None,
                }
            }
        }

        impl TryFrom<u64> for $name {
            type Error = $crate::SysError;

            /// Decodes a register value.
            ///
            /// # Errors
            #[doc = concat!("[`SysError::", stringify!($error), "`](crate::SysError::", stringify!($error), ") for a number with no value.")]
            fn try_from(number: u64) -> Result<Self, $crate::SysError> {
                Self::from_number(number).ok_or($crate::SysError::$error)
            }
        }

        impl From<$name> for u64 {
            fn from(value: $name) -> u64 {
                u64::from(value.number())
            }
        }
    };
}

/// Defines a `repr(C)` struct of fixed-width integer fields.
///
/// Generates `SIZE`, `to_bytes()` and `from_bytes()`, and a compile-time
/// check that each field sits where the byte encoding puts it (no hidden
/// padding) and that `SIZE` is the struct's size: the kernel decodes user
/// bytes with `from_bytes` in safe code, and user code may pass a pointer to
/// the struct itself; both see the same bytes.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident, size $size:literal {
            $( $(#[$field_meta:meta])* pub $field:ident: $type:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $type, )+
        }

        impl $name {
            /// Size in bytes: the length user code passes with a pointer to it.
            pub const SIZE: usize = $size;

            /// The bytes of this struct as it lies in memory (little-endian).
            #[must_use]
            pub fn to_bytes(&self) -> [u8; $size] {
                let mut bytes = [0_u8; $size];
                let mut writer = $crate::wire::Writer::new(&mut bytes);
                $( writer.$type(self.$field); )+
                bytes
            }

            /// Decodes the bytes of this struct as it lies in memory.
            ///
            /// # Errors
            /// [`SysError::BadLength`](crate::SysError::BadLength) unless
            /// `bytes.len() == Self::SIZE`.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, $crate::SysError> {
                if bytes.len() != Self::SIZE {
                    return Err($crate::SysError::BadLength);
                }
                let mut reader = $crate::wire::Reader::new(bytes);
                Ok(Self { $( $field: reader.$type(), )+ })
            }
        }

        // The byte encoding above is the repr(C) layout: fields back to back,
        // no implicit padding, total size as declared.
        #[allow(
            clippy::arithmetic_side_effects,
            reason = "const evaluation: an overflow is a compile error"
        )]
        const _: () = {
            let mut offset = 0_usize;
            $(
                assert!(core::mem::offset_of!($name, $field) == offset);
                offset += core::mem::size_of::<$type>();
            )+
            assert!(offset == $size);
            assert!(core::mem::size_of::<$name>() == $size);
        };
    };
}
