//! Offline validation of VAT identification numbers.
//!
//! Covers the 27 EU member states (Greece as `EL`, with `GR` accepted as an
//! alias), the United Kingdom (`GB`) and Northern Ireland (`XI`, same rules as
//! `GB`). Every country's format is checked, and every country's check digits
//! too: each country's rule below documents its algorithm, and the few
//! sub-forms that are checked by format only say so.
//!
//! Bursar uses this to decide B2B reverse charge: an id that fails here means
//! the customer is treated as a consumer. Validation is purely syntactic; it
//! does not prove that the number is currently registered (that takes VIES or
//! HMRC, which are online services).

mod digits;
mod rules;
#[cfg(test)]
mod tests;

use self::rules::*;

/// How far offline validation could go for an id that parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VatCheck {
    /// Format and check digits both match.
    CheckDigits,
    /// The format matches, but the number has no check digits that can be
    /// verified offline: UK government-department and health-authority
    /// numbers (`GD000`…`GD499`, `HA500`…`HA999`), which have none, and
    /// Latvian personal codes starting with 32 (issued since July 2017),
    /// whose check-digit algorithm is not published. python-stdnum applies
    /// the older personal codes' algorithm to them but calls it unconfirmed;
    /// refusing on an unconfirmed rule could lock out a registered trader,
    /// so such a number is accepted here as a format-only match. It is not
    /// evidence of a valid id: treat it as unverified (no reverse charge)
    /// unless an online check (VIES, HMRC) confirms it.
    FormatOnly,
}

/// A VAT id that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatId {
    /// The prefix as used in VAT ids: `DE`, `EL` (Greece, also for input
    /// given as `GR`), `GB`, `XI`, …
    pub country: &'static str,
    /// The part after the prefix, normalized: upper case, without spaces,
    /// dots or dashes.
    pub number: String,
    /// Whether the check digits were verified or only the format matched.
    pub check: VatCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatIdError {
    /// The first two characters are not a known VAT id prefix.
    #[error("unknown VAT id country prefix `{0}`")]
    UnknownCountry(String),
    /// The number after the prefix does not have the country's format.
    #[error("malformed {country} VAT id: expected {expected}")]
    Format { country: &'static str, expected: &'static str },
    /// The number has the right format but its check digits do not match.
    #[error("the check digits of the {country} VAT id do not match")]
    CheckDigit { country: &'static str },
    /// Nothing but whitespace and separators.
    #[error("the VAT id is empty")]
    Empty,
}

impl VatId {
    /// Parses "DE 123 456 788", "de123456788", "ATU13585627", "EL094259216" … :
    /// strips whitespace, `.` and `-`, upper-cases, requires the two-letter
    /// prefix, then checks the country's format and check digits.
    pub fn parse(s: &str) -> Result<VatId, VatIdError> {
        let clean: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if clean.is_empty() {
            return Err(VatIdError::Empty);
        }
        let mut chars = clean.chars();
        let prefix: String = chars.by_ref().take(2).collect();
        let number = chars.as_str();
        let country = lookup(&prefix).ok_or(VatIdError::UnknownCountry(prefix))?;
        let format_error = VatIdError::Format { country: country.prefix, expected: country.expected };
        if !number.is_ascii() {
            return Err(format_error);
        }
        match (country.validate)(number.as_bytes()) {
            Ok(check) => Ok(VatId { country: country.prefix, number: number.to_string(), check }),
            Err(Invalid::Format) => Err(format_error),
            Err(Invalid::Check) => Err(VatIdError::CheckDigit { country: country.prefix }),
        }
    }

    /// Whether the check digits were verified ([`VatCheck::CheckDigits`]).
    /// A format-only match is not enough to zero-rate a sale by reverse
    /// charge on its own.
    pub fn check_digits_verified(&self) -> bool {
        self.check == VatCheck::CheckDigits
    }

    /// The id in its compact form: prefix and number, e.g. `DE123456788`.
    pub fn as_string(&self) -> String {
        format!("{}{}", self.country, self.number)
    }

    /// ISO 3166 code of the country: `GR` for `EL`, `GB` for `XI`.
    pub fn iso_country(&self) -> &'static str {
        lookup(self.country).map_or(self.country, |c| c.iso)
    }

    /// Whether the id belongs to an EU member state.
    ///
    /// `XI` (Northern Ireland) returns `false`: Northern Ireland stays in the
    /// EU VAT area for goods only, and Bursar sells services (digital
    /// services in particular), for which Northern Ireland is UK territory. An
    /// `XI` id is therefore treated exactly like a `GB` one.
    pub fn is_eu(&self) -> bool {
        lookup(self.country).is_some_and(|c| c.eu)
    }
}

/// Why a number failed its country's rule.
enum Invalid {
    Format,
    Check,
}

/// What a country rule found: how far it could check, or why it failed.
type Outcome = Result<VatCheck, Invalid>;

struct Country {
    prefix: &'static str,
    iso: &'static str,
    eu: bool,
    expected: &'static str,
    /// Gets the ASCII number after the prefix.
    validate: fn(&[u8]) -> Outcome,
}

fn lookup(prefix: &str) -> Option<&'static Country> {
    let prefix = if prefix == "GR" { "EL" } else { prefix };
    COUNTRIES.iter().find(|c| c.prefix == prefix)
}

const fn eu(prefix: &'static str, expected: &'static str, validate: fn(&[u8]) -> Outcome) -> Country {
    Country { prefix, iso: prefix, eu: true, expected, validate }
}

static COUNTRIES: &[Country] = &[
    eu("AT", "U followed by 8 digits", at),
    eu("BE", "10 digits starting with 0 or 1", be),
    eu("BG", "9 or 10 digits", bg),
    eu("CY", "8 digits and a check letter, not starting with 12", cy),
    eu("CZ", "8, 9 or 10 digits (8 digits not starting with 9)", cz),
    eu("DE", "9 digits, not starting with 0", de),
    eu("DK", "8 digits, not starting with 0", dk),
    eu("EE", "9 digits", ee),
    Country { prefix: "EL", iso: "GR", eu: true, expected: "9 digits", validate: el },
    eu("ES", "9 characters: a digit or letter, 7 digits, a digit or letter", es),
    eu("FI", "8 digits", fi),
    eu("FR", "a 2-character key (digits or letters other than I and O) and the 9-digit SIREN", fr),
    eu("HR", "11 digits", hr),
    eu("HU", "8 digits", hu),
    eu("IE", "7 digits and 1 or 2 letters, or the old digit, letter, 5 digits, letter form", ie),
    eu("IT", "11 digits with a valid office code in digits 8 to 10", it),
    eu("LT", "9 digits with 1 as the 8th, or 12 digits with 1 as the 11th", lt),
    eu("LU", "8 digits", lu),
    eu("LV", "11 digits", lv),
    eu("MT", "8 digits, not starting with 0", mt),
    eu("NL", "9 digits, B and a 2-digit branch number other than 00", nl),
    eu("PL", "10 digits", pl),
    eu("PT", "9 digits, not starting with 0", pt),
    eu("RO", "2 to 10 digits (or a 13-digit CNP with a known county code), not starting with 0", ro),
    eu("SE", "12 digits ending in 01", se),
    eu("SI", "8 digits, not starting with 0", si),
    eu("SK", "10 digits", sk),
    Country { prefix: "GB", iso: "GB", eu: false, expected: GB_EXPECTED, validate: gb },
    Country { prefix: "XI", iso: "GB", eu: false, expected: GB_EXPECTED, validate: gb },
];

const GB_EXPECTED: &str = "9 or 12 digits, GD000 to GD499, HA500 to HA999, or GD8888/HA8888 and 5 digits";
