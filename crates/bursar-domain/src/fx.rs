//! Foreign-exchange rates for reporting in a base currency.
//!
//! Rates are integers: units of the currency per one EUR, times 10^6
//! (`rate_micro`), parsed exactly from the ECB's decimal strings. Amounts
//! convert in i128 with one half-even rounding.

use crate::money::{round_div, Currency, MoneyError, Rounding};
use std::collections::BTreeMap;

/// Scale of stored rates.
pub const RATE_SCALE: i64 = 1_000_000;

/// One day's reference rates: per-EUR rates of each currency (EUR itself
/// included at 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSet {
    pub date: jiff::civil::Date,
    pub per_eur_micro: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    #[error("not an ECB reference-rates document: {0}")]
    Format(String),
    #[error("no rate for {0}")]
    Missing(String),
    /// A rate in a table is zero or negative.
    #[error("the rate for {0} is not positive")]
    InvalidRate(String),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Parses a decimal like `1.0812` or `163.5` into millionths, exactly;
/// more than six decimals is an error, never a rounding.
pub fn parse_rate(s: &str) -> Result<i64, FxError> {
    let bad = || FxError::Format(format!("bad rate `{s}`"));
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || frac.len() > 6 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let int: i64 = int.parse().map_err(|_| bad())?;
    let frac_v: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| bad())? };
    let v = int.checked_mul(RATE_SCALE).and_then(|x| x.checked_add(frac_v)).ok_or_else(bad)?;
    if v == 0 {
        return Err(bad());
    }
    Ok(v)
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    for quote in ['\'', '"'] {
        let key = format!("{name}={quote}");
        if let Some(i) = tag.find(&key) {
            let rest = &tag[i + key.len()..];
            return rest.find(quote).map(|j| &rest[..j]);
        }
    }
    None
}

/// Parses the ECB daily reference-rates XML (`eurofxref-daily.xml`): the
/// `<Cube time="…">` element and its `<Cube currency="…" rate="…"/>`
/// children. Unknown currencies are skipped; a document without a date
/// or without rates is an error.
pub fn parse_ecb(xml: &str) -> Result<RateSet, FxError> {
    let mut date = None;
    let mut rates = BTreeMap::new();
    for piece in xml.split('<').skip(1) {
        let tag = piece.split('>').next().unwrap_or("");
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        if name != "Cube" && !name.ends_with(":Cube") {
            continue;
        }
        if let Some(t) = attr(tag, "time") {
            date = Some(t.parse::<jiff::civil::Date>().map_err(|_| FxError::Format(format!("bad date `{t}`")))?);
        }
        if let (Some(c), Some(r)) = (attr(tag, "currency"), attr(tag, "rate")) {
            if let Ok(cur) = Currency::from_code(c) {
                rates.insert(cur.code().to_string(), parse_rate(r)?);
            }
        }
    }
    let date = date.ok_or_else(|| FxError::Format("no <Cube time=…> element".into()))?;
    if rates.is_empty() {
        return Err(FxError::Format("no rates".into()));
    }
    rates.insert("EUR".into(), RATE_SCALE);
    Ok(RateSet { date, per_eur_micro: rates })
}

/// Converts an amount between currencies through their per-EUR rates,
/// respecting each currency's exponent; rounded half to even.
pub fn convert(amount_minor: i64, from: Currency, to: Currency, rates: &BTreeMap<String, i64>) -> Result<i64, FxError> {
    if from == to {
        return Ok(amount_minor);
    }
    let rate = |c: Currency| -> Result<i128, FxError> {
        let r = *rates.get(c.code()).ok_or_else(|| FxError::Missing(c.code().into()))?;
        if r <= 0 {
            return Err(FxError::InvalidRate(c.code().into()));
        }
        Ok(i128::from(r))
    };
    let (rf, rt) = (rate(from)?, rate(to)?);
    // |amount| × rate < 2^126; the exponent factor (at most 10^4) can carry
    // that past i128, so every product is checked.
    let num = i128::from(amount_minor)
        .checked_mul(rt)
        .and_then(|n| n.checked_mul(10i128.pow(u32::from(to.exponent()))))
        .ok_or(MoneyError::Overflow)?;
    let den = rf.checked_mul(10i128.pow(u32::from(from.exponent()))).ok_or(MoneyError::Overflow)?;
    Ok(round_div(num, den, Rounding::HalfEven)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_conversions_are_errors() {
        let usd = Currency::USD;
        let clf = Currency::from_code("CLF").unwrap();
        let rates = BTreeMap::from([("USD".to_string(), i64::MAX), ("CLF".to_string(), 1), ("JPY".to_string(), 0)]);
        // i64::MAX × i64::MAX × 10^4 does not fit in i128.
        assert!(convert(i64::MAX, usd, clf, &BTreeMap::from([("USD".into(), 1), ("CLF".into(), i64::MAX)])).is_err());
        assert!(convert(i64::MIN, clf, usd, &rates).is_err());
        // A zero or negative rate is refused, not divided by.
        assert_eq!(convert(100, Currency::JPY, usd, &rates), Err(FxError::InvalidRate("JPY".into())));
        let negative = BTreeMap::from([("USD".to_string(), 1_000_000), ("GBP".to_string(), -5)]);
        assert_eq!(convert(100, usd, Currency::GBP, &negative), Err(FxError::InvalidRate("GBP".into())));
        assert_eq!(convert(0, usd, clf, &rates).unwrap(), 0);
    }

    proptest::proptest! {
        #[test]
        fn conversion_never_panics(amount in proptest::num::i64::ANY, rf in proptest::num::i64::ANY, rt in proptest::num::i64::ANY) {
            let rates = BTreeMap::from([("USD".to_string(), rf), ("CLF".to_string(), rt)]);
            let clf = Currency::from_code("CLF").unwrap();
            let _ = convert(amount, Currency::USD, clf, &rates);
            let _ = convert(amount, clf, Currency::JPY, &rates);
        }

        #[test]
        fn documents_never_panic(doc in ".{0,200}", rate in "[0-9.]{0,30}") {
            let _ = parse_ecb(&doc);
            let _ = parse_rate(&rate);
            let _ = parse_ecb(&format!("<Cube time='2026-01-01'><Cube currency='USD' rate='{rate}'/></Cube>"));
        }
    }

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
	<Cube>
		<Cube time='2026-11-20'>
			<Cube currency='USD' rate='1.0812'/>
			<Cube currency='JPY' rate='163.5'/>
			<Cube currency='GBP' rate='0.8573'/>
			<Cube currency='INR' rate='90.2345'/>
			<Cube currency='BRL' rate='6.1234'/>
			<Cube currency='XYZ' rate='2.0'/>
		</Cube>
	</Cube>
</gesmes:Envelope>"#;

    #[test]
    fn parses_the_ecb_document() {
        let set = parse_ecb(SAMPLE).unwrap();
        assert_eq!(set.date.to_string(), "2026-11-20");
        assert_eq!(set.per_eur_micro["USD"], 1_081_200);
        assert_eq!(set.per_eur_micro["JPY"], 163_500_000);
        assert_eq!(set.per_eur_micro["EUR"], 1_000_000);
        assert!(!set.per_eur_micro.contains_key("XYZ"));
        assert!(parse_ecb("<html>nope</html>").is_err());
        assert!(parse_ecb("<Cube time='2026-11-20'></Cube>").is_err());
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(parse_rate("1.0812").unwrap(), 1_081_200);
        assert_eq!(parse_rate("25").unwrap(), 25_000_000);
        assert!(parse_rate("1.0000001").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("1e3").is_err());
    }

    #[test]
    fn converts_across_exponents() {
        let r = parse_ecb(SAMPLE).unwrap().per_eur_micro;
        let c = |x: &str| Currency::from_code(x).unwrap();
        // 19.00 USD = 19 / 1.0812 EUR = 17.5731… → 17.57 EUR.
        assert_eq!(convert(1900, c("USD"), c("EUR"), &r).unwrap(), 1757);
        // 10.00 EUR = 1,635 JPY (no minor units).
        assert_eq!(convert(1000, c("EUR"), c("JPY"), &r).unwrap(), 1635);
        // ¥1,635 back to EUR: 10.00.
        assert_eq!(convert(1635, c("JPY"), c("EUR"), &r).unwrap(), 1000);
        assert_eq!(convert(1900, c("USD"), c("USD"), &r).unwrap(), 1900);
        assert!(matches!(convert(1, c("USD"), c("RUB"), &r), Err(FxError::Missing(_))));
    }
}
