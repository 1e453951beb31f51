//! Tax rules: which tax applies to a sale, at what rate, and how much it is.
//!
//! * EU VAT: consumers pay their own country's rate (the OSS rule for
//!   digital services); a business with a valid VAT id in another member
//!   state is reverse-charged (0 %, the buyer accounts for the VAT); a
//!   business in the seller's own state pays domestic VAT.
//! * UK VAT: 20 %; reverse charge for UK businesses buying from abroad.
//! * India GST: 18 % on digital services, split into CGST 9 % + SGST 9 %
//!   when seller and buyer are in the same state, else IGST 18 %.
//! * Anywhere else: a configured rate, or none.
//!
//! Amounts: tax is computed once per invoice and rate on the invoice's
//! total, rounded half away from zero; for tax-inclusive prices the tax is
//! extracted from the gross (`gross × rate ÷ (1 + rate)`), and several
//! components of one rate share it by largest remainder, so the parts
//! always add up exactly.

use crate::catalog::TaxBehavior;
use crate::money::{round_div, Currency, Money, MoneyError, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Standard VAT rates of the EU member states, in basis points
/// (1 % = 100), as in force in 2026.
pub const EU_VAT_BPS: &[(&str, i64)] = &[
    ("AT", 2000),
    ("BE", 2100),
    ("BG", 2000),
    ("CY", 1900),
    ("CZ", 2100),
    ("DE", 1900),
    ("DK", 2500),
    ("EE", 2400),
    ("ES", 2100),
    ("FI", 2550),
    ("FR", 2000),
    ("GR", 2400),
    ("HR", 2500),
    ("HU", 2700),
    ("IE", 2300),
    ("IT", 2200),
    ("LT", 2100),
    ("LU", 1700),
    ("LV", 2100),
    ("MT", 1800),
    ("NL", 2100),
    ("PL", 2300),
    ("PT", 2300),
    ("RO", 2100),
    ("SE", 2500),
    ("SI", 2200),
    ("SK", 2300),
];

pub const GB_VAT_BPS: i64 = 2000;
pub const IN_GST_BPS: i64 = 1800;

pub fn eu_rate(country: &str) -> Option<i64> {
    EU_VAT_BPS.iter().find(|(c, _)| *c == country).map(|(_, r)| *r)
}

pub fn is_eu(country: &str) -> bool {
    eu_rate(country).is_some()
}

/// Where Bursar's operator is established, and extra rates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxSettings {
    /// ISO country of the seller; `None` means not registered anywhere in
    /// particular (treated as outside the EU, the UK and India).
    pub origin_country: Option<String>,
    /// Indian state code of the seller, for the CGST/SGST split.
    pub origin_state: Option<String>,
    /// Rates for countries without a built-in rule, in basis points.
    pub rates: BTreeMap<String, i64>,
}

/// The buyer, as far as tax is concerned.
#[derive(Debug, Clone, Default)]
pub struct Buyer {
    pub country: Option<String>,
    /// Indian state code (for GST) or other subdivision.
    pub state: Option<String>,
    /// ISO country of a VAT id that passed validation, if any.
    pub valid_vat_country: Option<String>,
    /// The VAT id as shown on the invoice.
    pub vat_id: Option<String>,
}

/// One tax of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// `VAT`, `GST`, `IGST`, `CGST`, `SGST`, `Sales tax`.
    pub name: String,
    /// `DE`, `GB`, `IN`, `IN-KA`, …
    pub jurisdiction: String,
    pub rate_bps: i64,
}

/// What applies to a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub components: Vec<Component>,
    /// Reverse charge: no tax charged, the buyer accounts for it.
    pub reverse_charge: bool,
    /// The legal note printed on the invoice, if any.
    pub note: Option<String>,
    /// Jurisdiction for reporting even when nothing is charged.
    pub jurisdiction: Option<String>,
}

impl Decision {
    fn none(jurisdiction: Option<String>) -> Decision {
        Decision { components: Vec::new(), reverse_charge: false, note: None, jurisdiction }
    }
    fn single(name: &str, jurisdiction: &str, rate_bps: i64) -> Decision {
        Decision {
            components: vec![Component { name: name.into(), jurisdiction: jurisdiction.into(), rate_bps }],
            reverse_charge: false,
            note: None,
            jurisdiction: Some(jurisdiction.into()),
        }
    }
    fn reverse(jurisdiction: &str, vat_id: Option<&str>) -> Decision {
        Decision {
            components: Vec::new(),
            reverse_charge: true,
            note: Some(format!(
                "Reverse charge: VAT to be accounted for by the recipient{}",
                vat_id.map(|v| format!(" ({v})")).unwrap_or_default()
            )),
            jurisdiction: Some(jurisdiction.into()),
        }
    }
    pub fn total_rate_bps(&self) -> Result<i64, MoneyError> {
        self.components.iter().try_fold(0_i64, |acc, c| acc.checked_add(c.rate_bps).ok_or(MoneyError::Overflow))
    }
}

/// Decides the tax of a sale of digital services.
pub fn decide(settings: &TaxSettings, buyer: &Buyer) -> Decision {
    let Some(country) = buyer.country.as_deref() else { return Decision::none(None) };
    let origin = settings.origin_country.as_deref();
    let business_in = |c: &str| buyer.valid_vat_country.as_deref() == Some(c);
    if let Some(rate) = eu_rate(country) {
        if business_in(country) {
            return if origin == Some(country) {
                Decision::single("VAT", country, rate)
            } else {
                Decision::reverse(country, buyer.vat_id.as_deref())
            };
        }
        return Decision::single("VAT", country, rate);
    }
    match country {
        "GB" => {
            if business_in("GB") && origin != Some("GB") {
                Decision::reverse("GB", buyer.vat_id.as_deref())
            } else {
                Decision::single("VAT", "GB", GB_VAT_BPS)
            }
        }
        "IN" => {
            let same_state = origin == Some("IN")
                && settings.origin_state.is_some()
                && buyer.state.as_deref() == settings.origin_state.as_deref();
            if same_state {
                let st = format!("IN-{}", buyer.state.as_deref().unwrap_or_default());
                Decision {
                    components: vec![
                        Component { name: "CGST".into(), jurisdiction: "IN".into(), rate_bps: IN_GST_BPS / 2 },
                        Component { name: "SGST".into(), jurisdiction: st, rate_bps: IN_GST_BPS / 2 },
                    ],
                    reverse_charge: false,
                    note: None,
                    jurisdiction: Some("IN".into()),
                }
            } else {
                Decision::single("IGST", "IN", IN_GST_BPS)
            }
        }
        other => match settings.rates.get(other) {
            Some(r) if *r > 0 => Decision::single("Sales tax", other, *r),
            _ => Decision::none(Some(other.to_string())),
        },
    }
}

/// Tax of one component on an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxAmount {
    pub name: String,
    pub jurisdiction: String,
    pub rate_bps: i64,
    /// The amount the rate applies to (net of tax).
    pub taxable_minor: i64,
    pub amount_minor: i64,
}

/// The result of taxing an invoice total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxed {
    /// Net of tax.
    pub subtotal_minor: i64,
    pub taxes: Vec<TaxAmount>,
    /// What the customer owes: subtotal + taxes.
    pub total_minor: i64,
}

/// Applies a decision to the sum of an invoice's lines, `lines_minor`,
/// which are net for exclusive prices and gross for inclusive ones.
pub fn apply(
    decision: &Decision,
    behavior: TaxBehavior,
    lines_minor: i64,
    currency: Currency,
) -> Result<Taxed, MoneyError> {
    // A negative rate has no meaning (and -100 % would divide by zero).
    if decision.components.iter().any(|c| c.rate_bps < 0) {
        return Err(MoneyError::InvalidRatios);
    }
    let rate = decision.total_rate_bps()?;
    if rate == 0 {
        return Ok(Taxed { subtotal_minor: lines_minor, taxes: Vec::new(), total_minor: lines_minor });
    }
    let (net, tax_total) = match behavior {
        TaxBehavior::Exclusive => {
            let tax = round_div(i128::from(lines_minor) * i128::from(rate), 10_000, Rounding::HalfUp)?;
            (lines_minor, tax)
        }
        TaxBehavior::Inclusive => {
            let net = round_div(i128::from(lines_minor) * 10_000, i128::from(rate) + 10_000, Rounding::HalfUp)?;
            // 0 <= rate, so |net| <= |lines_minor| and the difference fits.
            (net, lines_minor.checked_sub(net).ok_or(MoneyError::Overflow)?)
        }
    };
    let ratios: Vec<u64> = decision.components.iter().map(|c| c.rate_bps.unsigned_abs()).collect();
    let parts = Money::new(tax_total, currency).allocate(&ratios)?;
    let taxes = decision
        .components
        .iter()
        .zip(parts)
        .map(|(c, m)| TaxAmount {
            name: c.name.clone(),
            jurisdiction: c.jurisdiction.clone(),
            rate_bps: c.rate_bps,
            taxable_minor: net,
            amount_minor: m.amount_minor,
        })
        .collect();
    let total = net.checked_add(tax_total).ok_or(MoneyError::Overflow)?;
    Ok(Taxed { subtotal_minor: net, taxes, total_minor: total })
}

/// Taxes an invoice whose lines fall in parts priced differently (a
/// subscription's tax-inclusive plan and tax-exclusive courses on one
/// invoice): each part is taxed as its prices say, and the parts are
/// summed, component by component. Returns the sum and each part.
pub fn apply_parts(
    decision: &Decision,
    parts: &[(TaxBehavior, i64)],
    currency: Currency,
) -> Result<(Taxed, Vec<Taxed>), MoneyError> {
    let each = parts.iter().map(|(b, sum)| apply(decision, *b, *sum, currency)).collect::<Result<Vec<_>, _>>()?;
    let mut total = Taxed { subtotal_minor: 0, taxes: Vec::new(), total_minor: 0 };
    for t in &each {
        total.subtotal_minor = total.subtotal_minor.checked_add(t.subtotal_minor).ok_or(MoneyError::Overflow)?;
        total.total_minor = total.total_minor.checked_add(t.total_minor).ok_or(MoneyError::Overflow)?;
        for x in &t.taxes {
            match total.taxes.iter_mut().find(|y| y.jurisdiction == x.jurisdiction && y.name == x.name) {
                Some(y) => {
                    y.taxable_minor = y.taxable_minor.checked_add(x.taxable_minor).ok_or(MoneyError::Overflow)?;
                    y.amount_minor = y.amount_minor.checked_add(x.amount_minor).ok_or(MoneyError::Overflow)?;
                }
                None => total.taxes.push(x.clone()),
            }
        }
    }
    Ok((total, each))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn configured_rates_at_the_extremes_are_errors() {
        let d = |rates: &[i64]| Decision {
            components: rates
                .iter()
                .map(|r| Component { name: "T".into(), jurisdiction: format!("X{r}"), rate_bps: *r })
                .collect(),
            reverse_charge: false,
            note: None,
            jurisdiction: None,
        };
        let usd = Currency::USD;
        assert_eq!(d(&[i64::MAX, 1]).total_rate_bps(), Err(MoneyError::Overflow));
        assert_eq!(apply(&d(&[i64::MAX, 1]), TaxBehavior::Exclusive, 100, usd), Err(MoneyError::Overflow));
        let all_tax = apply(&d(&[i64::MAX]), TaxBehavior::Inclusive, 100, usd).unwrap();
        assert_eq!((all_tax.subtotal_minor, all_tax.taxes[0].amount_minor, all_tax.total_minor), (0, 100, 100));
        // Negative rates are refused: -100 % would divide by zero.
        assert_eq!(apply(&d(&[-10_000]), TaxBehavior::Inclusive, 100, usd), Err(MoneyError::InvalidRatios));
        assert_eq!(apply(&d(&[-5]), TaxBehavior::Exclusive, 100, usd), Err(MoneyError::InvalidRatios));
        assert_eq!(apply(&d(&[2_000]), TaxBehavior::Exclusive, i64::MAX, usd), Err(MoneyError::Overflow));
        assert_eq!(apply(&d(&[2_000]), TaxBehavior::Exclusive, 100, usd).unwrap().total_minor, 120);
    }

    proptest! {
        #[test]
        fn apply_never_panics(rates in proptest::collection::vec(any::<i64>(), 0..4), amount in any::<i64>(), inclusive in any::<bool>()) {
            let decision = Decision {
                components: rates.iter().map(|r| Component { name: "T".into(), jurisdiction: "X".into(), rate_bps: *r }).collect(),
                reverse_charge: false,
                note: None,
                jurisdiction: None,
            };
            let behavior = if inclusive { TaxBehavior::Inclusive } else { TaxBehavior::Exclusive };
            if let Ok(t) = apply(&decision, behavior, amount, Currency::USD) {
                let taxes: i128 = t.taxes.iter().map(|x| i128::from(x.amount_minor)).sum();
                prop_assert_eq!(i128::from(t.subtotal_minor) + taxes, i128::from(t.total_minor));
            }
        }
    }

    fn buyer(country: &str, vat: Option<&str>) -> Buyer {
        Buyer {
            country: Some(country.into()),
            state: None,
            valid_vat_country: vat.map(|v| v[..2].to_string()),
            vat_id: vat.map(str::to_string),
        }
    }

    fn de_seller() -> TaxSettings {
        TaxSettings { origin_country: Some("DE".into()), ..Default::default() }
    }

    #[test]
    fn eu_b2c_pays_the_customers_rate_b2b_is_reverse_charged() {
        let s = de_seller();
        assert_eq!(decide(&s, &buyer("FR", None)).components[0].rate_bps, 2000);
        assert_eq!(decide(&s, &buyer("HU", None)).components[0].rate_bps, 2700);
        let rc = decide(&s, &buyer("FR", Some("FR40303265045")));
        assert!(rc.reverse_charge && rc.components.is_empty());
        assert!(rc.note.unwrap().contains("FR40303265045"));
        // Domestic business: German VAT.
        let d = decide(&s, &buyer("DE", Some("DE136695976")));
        assert!(!d.reverse_charge);
        assert_eq!(d.components[0].rate_bps, 1900);
        // A non-EU seller reverse-charges every EU business.
        let us = TaxSettings { origin_country: Some("US".into()), ..Default::default() };
        assert!(decide(&us, &buyer("DE", Some("DE136695976"))).reverse_charge);
    }

    #[test]
    fn uk_india_and_elsewhere() {
        let s = de_seller();
        assert_eq!(decide(&s, &buyer("GB", None)).components[0].rate_bps, 2000);
        assert!(decide(&s, &buyer("GB", Some("GB980780684"))).reverse_charge);
        let igst = decide(&s, &buyer("IN", None));
        assert_eq!((igst.components[0].name.as_str(), igst.components[0].rate_bps), ("IGST", 1800));
        let ka =
            TaxSettings { origin_country: Some("IN".into()), origin_state: Some("KA".into()), ..Default::default() };
        let mut b = buyer("IN", None);
        b.state = Some("KA".into());
        let split = decide(&ka, &b);
        assert_eq!(split.components.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["CGST", "SGST"]);
        b.state = Some("MH".into());
        assert_eq!(decide(&ka, &b).components[0].name, "IGST");
        let mut with_us = de_seller();
        with_us.rates.insert("AU".into(), 1000);
        assert_eq!(decide(&with_us, &buyer("AU", None)).components[0].rate_bps, 1000);
        assert!(decide(&with_us, &buyer("US", None)).components.is_empty());
        assert!(decide(&with_us, &Buyer::default()).components.is_empty());
    }

    #[test]
    fn exclusive_and_inclusive_amounts() {
        let eur = Currency::from_code("EUR").unwrap();
        let inr = Currency::from_code("INR").unwrap();
        let vat19 = Decision::single("VAT", "DE", 1900);
        let t = apply(&vat19, TaxBehavior::Exclusive, 1900, eur).unwrap();
        assert_eq!((t.subtotal_minor, t.taxes[0].amount_minor, t.total_minor), (1900, 361, 2261));
        let t = apply(&vat19, TaxBehavior::Inclusive, 1900, eur).unwrap();
        // 1,900 gross at 19 %: net 1,596.64 → 1,597, VAT 303.
        assert_eq!((t.subtotal_minor, t.taxes[0].amount_minor, t.total_minor), (1597, 303, 1900));
        let gst = Decision {
            components: vec![
                Component { name: "CGST".into(), jurisdiction: "IN".into(), rate_bps: 900 },
                Component { name: "SGST".into(), jurisdiction: "IN-KA".into(), rate_bps: 900 },
            ],
            reverse_charge: false,
            note: None,
            jurisdiction: Some("IN".into()),
        };
        let t = apply(&gst, TaxBehavior::Exclusive, 149_901, inr).unwrap();
        // 18 % of 1,499.01 = 269.8218 → 269.82, split 134.91 + 134.91.
        assert_eq!(t.taxes.iter().map(|x| x.amount_minor).collect::<Vec<_>>(), vec![13_491, 13_491]);
        let t = apply(&gst, TaxBehavior::Exclusive, 149_903, inr).unwrap();
        assert_eq!(t.taxes.iter().map(|x| x.amount_minor).sum::<i64>(), 26_983);
        // Credits carry negative tax.
        let t = apply(&vat19, TaxBehavior::Exclusive, -613, eur).unwrap();
        assert_eq!((t.taxes[0].amount_minor, t.total_minor), (-116, -729));
    }

    #[test]
    fn parts_priced_differently_are_taxed_each_as_priced_and_summed() {
        let eur = Currency::from_code("EUR").unwrap();
        let vat20 = Decision::single("VAT", "FR", 2000);
        // A plan at 19.00 including VAT and a course at 49.99 before VAT.
        let (sum, each) =
            apply_parts(&vat20, &[(TaxBehavior::Inclusive, 1900), (TaxBehavior::Exclusive, 4999)], eur).unwrap();
        assert_eq!((each[0].subtotal_minor, each[0].total_minor), (1583, 1900));
        assert_eq!((each[1].subtotal_minor, each[1].total_minor), (4999, 5999));
        assert_eq!((sum.subtotal_minor, sum.total_minor), (1583 + 4999, 1900 + 5999));
        assert_eq!(sum.taxes.len(), 1);
        assert_eq!((sum.taxes[0].taxable_minor, sum.taxes[0].amount_minor), (6582, 317 + 1000));
        // No tax: the parts simply add up.
        let (sum, _) =
            apply_parts(&Decision::none(None), &[(TaxBehavior::Inclusive, 10), (TaxBehavior::Exclusive, 5)], eur)
                .unwrap();
        assert_eq!((sum.subtotal_minor, sum.total_minor, sum.taxes.len()), (15, 15, 0));
    }

    proptest! {
        #[test]
        fn inclusive_tax_never_changes_what_the_customer_pays(gross in -10_000_000i64..10_000_000, ri in 0usize..27) {
            let (c, r) = EU_VAT_BPS[ri];
            let d = Decision::single("VAT", c, r);
            let t = apply(&d, TaxBehavior::Inclusive, gross, Currency::from_code("EUR").unwrap()).unwrap();
            prop_assert_eq!(t.total_minor, gross);
            prop_assert_eq!(t.subtotal_minor + t.taxes.iter().map(|x| x.amount_minor).sum::<i64>(), gross);
        }

        #[test]
        fn exclusive_components_sum_to_the_rounded_total(net in -10_000_000i64..10_000_000) {
            let d = Decision {
                components: vec![
                    Component { name: "CGST".into(), jurisdiction: "IN".into(), rate_bps: 900 },
                    Component { name: "SGST".into(), jurisdiction: "IN-KA".into(), rate_bps: 900 },
                ],
                reverse_charge: false, note: None, jurisdiction: None,
            };
            let t = apply(&d, TaxBehavior::Exclusive, net, Currency::from_code("INR").unwrap()).unwrap();
            let whole = round_div(i128::from(net) * 1800, 10_000, Rounding::HalfUp).unwrap();
            prop_assert_eq!(t.taxes.iter().map(|x| x.amount_minor).sum::<i64>(), whole);
            prop_assert!((t.taxes[0].amount_minor - t.taxes[1].amount_minor).abs() <= 1);
        }
    }
}
