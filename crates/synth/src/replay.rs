//! Replayable synthesis: an installed routine as the tuple that made it.
//!
//! Owns [`InstallRecord`] (template, final address, SMAP mode, hole
//! values), its one-line text form ([`core::fmt::Display`] and
//! [`InstallRecord::parse`]) and [`InstallRecord::regenerate`]. The
//! kernel logs a record per installed routine (a debug option) and dumps
//! the bytes it installed; a host tool parses both, regenerates every
//! routine from its record with the same instantiation code, and checks
//! the bytes are identical: synthesis is a pure function of its record.
//!
//! Text form, space-separated: `synth-install <address> <template>
//! smap=<on|off> <holes>`, where `<address>` is `0x`-hex and each hole is
//! `<kind>:<value>` in the template's hole order (`imm64:0x…`,
//! `imm32:<decimal>`, `rel32:0x…`, `disp32:<decimal>`).

use core::fmt;

use crate::{instantiate_values, HoleValue, HoleValues, Instance, Smap, SynthError, Template};

/// The line prefix of a record.
pub const RECORD_TAG: &str = "synth-install";

/// What one installed routine was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstallRecord {
    /// Its template.
    pub template: &'static Template,
    /// Where it was installed.
    pub address: u64,
    /// Whether `stac`/`clac` were kept.
    pub smap: Smap,
    /// The hole values, in the template's order.
    pub values: HoleValues,
}

/// Why a line is not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// It does not start with [`RECORD_TAG`].
    NotARecord,
    /// A field is missing or malformed (its position, from 0).
    BadField(usize),
    /// No template has this name.
    UnknownTemplate,
    /// More hole values than any template has.
    TooManyHoles,
}

impl fmt::Display for InstallRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let smap = match self.smap {
            Smap::Enabled => "on",
            Smap::Disabled => "off",
        };
        write!(
            f,
            "{RECORD_TAG} {:#x} {} smap={smap}",
            self.address, self.template.name
        )?;
        for value in self.values.as_slice() {
            match *value {
                HoleValue::Imm64(v) => write!(f, " imm64:{v:#x}")?,
                HoleValue::Imm32(v) => write!(f, " imm32:{v}")?,
                HoleValue::Rel32(v) => write!(f, " rel32:{v:#x}")?,
                HoleValue::Disp32(v) => write!(f, " disp32:{v}")?,
            }
        }
        Ok(())
    }
}

fn hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

impl From<&Instance> for InstallRecord {
    /// The record of an instance (what the kernel logs at install).
    fn from(instance: &Instance) -> Self {
        Self {
            template: instance.template,
            address: instance.address,
            smap: instance.smap,
            values: instance.values,
        }
    }
}

impl InstallRecord {
    /// Parses one record line, looking the template up in `templates`
    /// (the kernel's are [`crate::templates::ALL`]).
    ///
    /// # Errors
    /// [`ParseError`].
    pub fn parse(line: &str, templates: &[&'static Template]) -> Result<Self, ParseError> {
        let mut fields = line.split_ascii_whitespace();
        if fields.next() != Some(RECORD_TAG) {
            return Err(ParseError::NotARecord);
        }
        let address = fields.next().and_then(hex).ok_or(ParseError::BadField(1))?;
        let name = fields.next().ok_or(ParseError::BadField(2))?;
        let template = *templates
            .iter()
            .find(|t| t.name == name)
            .ok_or(ParseError::UnknownTemplate)?;
        let smap = match fields.next() {
            Some("smap=on") => Smap::Enabled,
            Some("smap=off") => Smap::Disabled,
            _ => return Err(ParseError::BadField(3)),
        };
        let mut values = [HoleValue::Imm64(0); crate::MAX_HOLES];
        let mut count = 0;
        for (index, field) in fields.enumerate() {
            let position = index.saturating_add(4);
            let (kind, text) = field
                .split_once(':')
                .ok_or(ParseError::BadField(position))?;
            let value = match kind {
                "imm64" => hex(text).map(HoleValue::Imm64),
                "rel32" => hex(text).map(HoleValue::Rel32),
                "imm32" => text.parse().ok().map(HoleValue::Imm32),
                "disp32" => text.parse().ok().map(HoleValue::Disp32),
                _ => None,
            }
            .ok_or(ParseError::BadField(position))?;
            let slot = values.get_mut(count).ok_or(ParseError::TooManyHoles)?;
            *slot = value;
            count = count.saturating_add(1);
        }
        let values = values
            .get(..count)
            .and_then(HoleValues::from_slice)
            .ok_or(ParseError::TooManyHoles)?;
        Ok(Self {
            template,
            address,
            smap,
            values,
        })
    }

    /// Instantiates the record again into `out` (what the kernel must have
    /// installed at `address`).
    ///
    /// # Errors
    /// [`SynthError`], as the original instantiation would have failed.
    pub fn regenerate(&self, out: &mut [u8]) -> Result<Instance, SynthError> {
        instantiate_values(self.template, self.values, self.address, self.smap, out)
    }
}
