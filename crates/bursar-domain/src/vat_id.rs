//! Offline VAT id validation: the format of every EU member state's and the
//! UK's VAT numbers, and the check digits of the countries whose algorithm
//! is implemented here (AT, BE, DE, DK, FI, FR, GB/XI, IT, LU, NL, PL, PT,
//! SE, SI). The other countries are checked by format only.

/// A VAT id that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatId {
    /// The prefix as used in VAT ids: `DE`, `EL` (Greece), `GB`, `XI`, …
    pub country: &'static str,
    /// The part after the prefix, upper case, without separators.
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatIdError {
    #[error("the VAT id is empty")]
    Empty,
    #[error("unknown VAT id prefix `{0}`")]
    UnknownCountry(String),
    #[error("a {country} VAT id has {expected}")]
    Format { country: &'static str, expected: &'static str },
    #[error("the {country} VAT id's check digits do not match")]
    CheckDigit { country: &'static str },
}

struct Rule {
    prefix: &'static str,
    iso: &'static str,
    expected: &'static str,
    format: fn(&str) -> bool,
    check: Option<fn(&str) -> bool>,
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn d(s: &str, i: usize) -> u32 {
    u32::from(s.as_bytes()[i] - b'0')
}

fn at_check(s: &str) -> bool {
    // U + 8 digits, the last a check digit (Luhn-like with weights 1,2).
    let n = &s[1..];
    let mut sum = 0;
    for i in 0..7 {
        let x = d(n, i);
        sum += if i % 2 == 1 {
            let y = x * 2;
            y / 10 + y % 10
        } else {
            x
        };
    }
    (10 - (sum + 4) % 10) % 10 == d(n, 7)
}

fn be_check(s: &str) -> bool {
    let n = if s.len() == 9 { format!("0{s}") } else { s.to_string() };
    let base: u64 = n[..8].parse().unwrap_or(0);
    let check: u64 = n[8..].parse().unwrap_or(100);
    97 - base % 97 == check
}

fn de_check(s: &str) -> bool {
    // ISO 7064 MOD 11,10.
    let mut p = 10;
    for i in 0..8 {
        let mut sum = (d(s, i) + p) % 10;
        if sum == 0 {
            sum = 10;
        }
        p = (2 * sum) % 11;
    }
    (11 - p) % 10 == d(s, 8)
}

fn dk_check(s: &str) -> bool {
    let w = [2, 7, 6, 5, 4, 3, 2, 1];
    (0..8).map(|i| d(s, i) * w[i]).sum::<u32>() % 11 == 0
}

fn fi_check(s: &str) -> bool {
    let w = [7, 9, 10, 5, 8, 4, 2];
    let r = (0..7).map(|i| d(s, i) * w[i]).sum::<u32>() % 11;
    let c = if r == 0 { 0 } else { 11 - r };
    c < 10 && c == d(s, 7)
}

fn fr_check(s: &str) -> bool {
    // Two-digit key = (12 + 3 × (SIREN mod 97)) mod 97, when the key is numeric.
    let key = &s[..2];
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let siren: u64 = s[2..].parse().unwrap_or(0);
    let k: u64 = key.parse().unwrap_or(100);
    (12 + 3 * (siren % 97)) % 97 == k
}

fn gb_check(s: &str) -> bool {
    if s.starts_with("GD") || s.starts_with("HA") {
        return true;
    }
    let n = &s[..9];
    let w = [8, 7, 6, 5, 4, 3, 2];
    let sum: i64 = (0..7).map(|i| i64::from(d(n, i)) * w[i]).sum::<i64>() + n[7..9].parse::<i64>().unwrap_or(0);
    sum % 97 == 0 || (sum + 55) % 97 == 0
}

fn it_check(s: &str) -> bool {
    // Luhn over 11 digits.
    let mut sum = 0;
    for i in 0..11 {
        let x = d(s, i);
        sum += if i % 2 == 1 {
            let y = x * 2;
            if y > 9 {
                y - 9
            } else {
                y
            }
        } else {
            x
        };
    }
    sum % 10 == 0
}

fn lu_check(s: &str) -> bool {
    let base: u64 = s[..6].parse().unwrap_or(0);
    let c: u64 = s[6..].parse().unwrap_or(100);
    base % 89 == c
}

fn nl_check(s: &str) -> bool {
    // 9 digits, B, 2 digits: weighted mod 11 (or the mod 97 form for sole traders).
    let n = &s[..9];
    let sum: u32 = (0..8).map(|i| d(n, i) * (9 - i as u32)).sum();
    let ok11 = sum % 11 == d(n, 8) && sum % 11 != 10;
    let mut m: u64 = 0;
    for c in format!("NL{s}").chars() {
        let v = if c.is_ascii_digit() { u64::from(c as u8 - b'0') } else { u64::from(c as u8 - b'A') + 10 };
        m = if v >= 10 { (m * 100 + v) % 97 } else { (m * 10 + v) % 97 };
    }
    ok11 || m == 1
}

fn pl_check(s: &str) -> bool {
    let w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
    let r = (0..9).map(|i| d(s, i) * w[i]).sum::<u32>() % 11;
    r < 10 && r == d(s, 9)
}

fn pt_check(s: &str) -> bool {
    let r = (0..8).map(|i| d(s, i) * (9 - i as u32)).sum::<u32>() % 11;
    let c = if r < 2 { 0 } else { 11 - r };
    c == d(s, 8)
}

fn se_check(s: &str) -> bool {
    if &s[10..] != "01" {
        return false;
    }
    let mut sum = 0;
    for i in 0..10 {
        let x = d(s, i);
        sum += if i % 2 == 0 {
            let y = x * 2;
            if y > 9 {
                y - 9
            } else {
                y
            }
        } else {
            x
        };
    }
    sum % 10 == 0
}

fn si_check(s: &str) -> bool {
    let r = (0..7).map(|i| d(s, i) * (8 - i as u32)).sum::<u32>() % 11;
    let c = if r == 0 { return false } else { 11 - r };
    (c % 10) == d(s, 7)
}

fn alnum(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

static RULES: &[Rule] = &[
    Rule {
        prefix: "AT",
        iso: "AT",
        expected: "U and 8 digits",
        format: |s| s.len() == 9 && s.starts_with('U') && digits(&s[1..], 8),
        check: Some(at_check),
    },
    Rule {
        prefix: "BE",
        iso: "BE",
        expected: "10 digits starting 0 or 1",
        format: |s| digits(s, 10) && (s.starts_with('0') || s.starts_with('1')),
        check: Some(be_check),
    },
    Rule {
        prefix: "BG",
        iso: "BG",
        expected: "9 or 10 digits",
        format: |s| digits(s, 9) || digits(s, 10),
        check: None,
    },
    Rule {
        prefix: "CY",
        iso: "CY",
        expected: "8 digits and a letter",
        format: |s| s.len() == 9 && digits(&s[..8], 8) && s.as_bytes()[8].is_ascii_uppercase(),
        check: None,
    },
    Rule {
        prefix: "CZ",
        iso: "CZ",
        expected: "8 to 10 digits",
        format: |s| (8..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()),
        check: None,
    },
    Rule {
        prefix: "DE",
        iso: "DE",
        expected: "9 digits",
        format: |s| digits(s, 9) && !s.starts_with('0'),
        check: Some(de_check),
    },
    Rule { prefix: "DK", iso: "DK", expected: "8 digits", format: |s| digits(s, 8), check: Some(dk_check) },
    Rule { prefix: "EE", iso: "EE", expected: "9 digits", format: |s| digits(s, 9), check: None },
    Rule { prefix: "EL", iso: "GR", expected: "9 digits", format: |s| digits(s, 9), check: None },
    Rule { prefix: "GR", iso: "GR", expected: "9 digits", format: |s| digits(s, 9), check: None },
    Rule {
        prefix: "ES",
        iso: "ES",
        expected: "9 characters: a letter or digit, 7 digits, a letter or digit",
        format: |s| alnum(s, 9) && digits(&s[1..8], 7),
        check: None,
    },
    Rule { prefix: "FI", iso: "FI", expected: "8 digits", format: |s| digits(s, 8), check: Some(fi_check) },
    Rule {
        prefix: "FR",
        iso: "FR",
        expected: "a 2-character key and 9 digits",
        format: |s| s.len() == 11 && alnum(&s[..2], 2) && digits(&s[2..], 9),
        check: Some(fr_check),
    },
    Rule { prefix: "HR", iso: "HR", expected: "11 digits", format: |s| digits(s, 11), check: None },
    Rule { prefix: "HU", iso: "HU", expected: "8 digits", format: |s| digits(s, 8), check: None },
    Rule {
        prefix: "IE",
        iso: "IE",
        expected: "8 or 9 characters",
        format: |s| (alnum(s, 8) || alnum(s, 9)) && s.as_bytes()[0].is_ascii_digit(),
        check: None,
    },
    Rule { prefix: "IT", iso: "IT", expected: "11 digits", format: |s| digits(s, 11), check: Some(it_check) },
    Rule {
        prefix: "LT",
        iso: "LT",
        expected: "9 or 12 digits",
        format: |s| digits(s, 9) || digits(s, 12),
        check: None,
    },
    Rule { prefix: "LU", iso: "LU", expected: "8 digits", format: |s| digits(s, 8), check: Some(lu_check) },
    Rule { prefix: "LV", iso: "LV", expected: "11 digits", format: |s| digits(s, 11), check: None },
    Rule { prefix: "MT", iso: "MT", expected: "8 digits", format: |s| digits(s, 8), check: None },
    Rule {
        prefix: "NL",
        iso: "NL",
        expected: "9 digits, B and 2 digits",
        format: |s| s.len() == 12 && digits(&s[..9], 9) && &s[9..10] == "B" && digits(&s[10..], 2),
        check: Some(nl_check),
    },
    Rule { prefix: "PL", iso: "PL", expected: "10 digits", format: |s| digits(s, 10), check: Some(pl_check) },
    Rule { prefix: "PT", iso: "PT", expected: "9 digits", format: |s| digits(s, 9), check: Some(pt_check) },
    Rule {
        prefix: "RO",
        iso: "RO",
        expected: "2 to 10 digits",
        format: |s| (2..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()),
        check: None,
    },
    Rule { prefix: "SE", iso: "SE", expected: "12 digits ending 01", format: |s| digits(s, 12), check: Some(se_check) },
    Rule { prefix: "SI", iso: "SI", expected: "8 digits", format: |s| digits(s, 8), check: Some(si_check) },
    Rule { prefix: "SK", iso: "SK", expected: "10 digits", format: |s| digits(s, 10), check: None },
    Rule {
        prefix: "GB",
        iso: "GB",
        expected: "9 or 12 digits, or GD/HA and 3 digits",
        format: |s| {
            digits(s, 9)
                || digits(s, 12)
                || ((s.starts_with("GD") || s.starts_with("HA")) && digits(&s[2..], 3) && s.len() == 5)
        },
        check: Some(gb_check),
    },
    Rule {
        prefix: "XI",
        iso: "GB",
        expected: "9 or 12 digits, or GD/HA and 3 digits",
        format: |s| {
            digits(s, 9)
                || digits(s, 12)
                || ((s.starts_with("GD") || s.starts_with("HA")) && digits(&s[2..], 3) && s.len() == 5)
        },
        check: Some(gb_check),
    },
];

impl VatId {
    /// Parses and validates, ignoring spaces, dots and dashes and case.
    pub fn parse(s: &str) -> Result<VatId, VatIdError> {
        let clean: String =
            s.chars().filter(|c| !c.is_whitespace() && *c != '.' && *c != '-').collect::<String>().to_ascii_uppercase();
        if clean.is_empty() {
            return Err(VatIdError::Empty);
        }
        if clean.len() < 2 || !clean.is_char_boundary(2) {
            return Err(VatIdError::UnknownCountry(clean));
        }
        let (prefix, number) = clean.split_at(2);
        let rule =
            RULES.iter().find(|r| r.prefix == prefix).ok_or_else(|| VatIdError::UnknownCountry(prefix.to_string()))?;
        if !number.is_ascii() || !(rule.format)(number) {
            return Err(VatIdError::Format { country: rule.prefix, expected: rule.expected });
        }
        if let Some(check) = rule.check {
            if !check(number) {
                return Err(VatIdError::CheckDigit { country: rule.prefix });
            }
        }
        let country = if rule.prefix == "GR" { "EL" } else { rule.prefix };
        Ok(VatId { country, number: number.to_string() })
    }

    pub fn as_string(&self) -> String {
        format!("{}{}", self.country, self.number)
    }

    /// ISO 3166 country of the id: `GR` for `EL`, `GB` for `XI`.
    pub fn iso_country(&self) -> &'static str {
        RULES.iter().find(|r| r.prefix == self.country).map(|r| r.iso).unwrap_or("")
    }

    /// Whether the id is an EU member state's. Northern Ireland's `XI` ids
    /// count as UK here: for digital services Northern Ireland is outside
    /// the EU VAT area.
    pub fn is_eu(&self) -> bool {
        !matches!(self.country, "GB" | "XI")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_ids_pass_and_normalise() {
        for (input, norm) in [
            ("DE 136,695 976".replace(',', ""), "DE136695976"),
            ("fr 40 303 265 045".into(), "FR40303265045"),
            ("GB 980 7806 84".into(), "GB980780684"),
            ("ATU13585627".into(), "ATU13585627"),
            ("BE 0403.019.261".into(), "BE0403019261"),
            ("IT 00743110157".into(), "IT00743110157"),
            ("NL004495445B01".into(), "NL004495445B01"),
            ("DK 13585628".into(), "DK13585628"),
            ("FI 20774740".into(), "FI20774740"),
            ("LU 15027442".into(), "LU15027442"),
            ("PL 8567346215".into(), "PL8567346215"),
            ("PT 501 964 843".into(), "PT501964843"),
            ("SE 123456789701".into(), "SE123456789701"),
            ("SI 5022 3054".into(), "SI50223054"),
            ("EL 094259216".into(), "EL094259216"),
            ("GR094259216".into(), "EL094259216"),
        ] {
            let v = VatId::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(v.as_string(), norm);
        }
        assert_eq!(VatId::parse("EL094259216").unwrap().iso_country(), "GR");
        assert!(!VatId::parse("GB980780684").unwrap().is_eu());
        assert!(VatId::parse("DE136695976").unwrap().is_eu());
    }

    #[test]
    fn wrong_check_digits_and_formats_fail() {
        for bad in [
            "DE136695977",
            "FR40303265046",
            "GB980780685",
            "ATU13585626",
            "BE0403019262",
            "IT00743110158",
            "PL8567346216",
        ] {
            assert!(matches!(VatId::parse(bad), Err(VatIdError::CheckDigit { .. })), "{bad}");
        }
        for bad in ["DE12345", "FR1234", "GB123", "NL123456789X01", "ATX13585627", "DE1366959761"] {
            assert!(matches!(VatId::parse(bad), Err(VatIdError::Format { .. })), "{bad}");
        }
        assert_eq!(VatId::parse(""), Err(VatIdError::Empty));
        assert!(matches!(VatId::parse("US123456789"), Err(VatIdError::UnknownCountry(_))));
        assert!(matches!(VatId::parse("X"), Err(VatIdError::UnknownCountry(_))));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,20}") {
            let _ = VatId::parse(&s);
        }
    }
}
