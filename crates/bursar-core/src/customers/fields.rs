//! Checks of a customer's fields, shared by create and update.

use super::model::{Address, TaxId};
use crate::common::check_len;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use bursar_domain::geo;
use bursar_domain::money::Locale;
use bursar_store::DbError;

const TAX_ID_TYPES: &[&str] =
    &["eu_vat", "gb_vat", "in_gst", "br_cnpj", "br_cpf", "ru_inn", "us_ein", "ch_vat", "no_vat", "au_abn", "other"];

/// Validated customer fields shared by create and update.
pub struct Fields {
    pub country: Option<String>,
    pub locale: Option<String>,
    pub preferred_currency: Option<String>,
}

/// Trims a text field; empty is absent.
pub fn norm(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub fn check_email(v: &Option<String>) -> Result<()> {
    if let Some(e) = v {
        let ok = e.len() <= 254
            && e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains(' ')
            })
            && !e.contains(char::is_whitespace);
        if !ok {
            return Err(Error::invalid("email", format!("`{e}` is not a valid email address")));
        }
    }
    Ok(())
}

pub fn check_fields(
    country: Option<String>,
    locale: Option<String>,
    preferred_currency: Option<String>,
) -> Result<Fields> {
    let country = match norm(country) {
        None => None,
        Some(c) => Some(
            geo::parse_country(&c)
                .ok_or_else(|| Error::invalid("country", format!("`{c}` is not an ISO 3166-1 alpha-2 country code")))?,
        ),
    };
    let locale = match norm(locale) {
        None => None,
        Some(l) => Some(
            Locale::from_tag(&l)
                .map_err(|_| {
                    Error::invalid(
                        "locale",
                        format!(
                            "unsupported locale `{l}`; supported: {}",
                            Locale::all().iter().map(|l| l.tag()).collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?
                .tag()
                .to_string(),
        ),
    };
    let preferred_currency = match norm(preferred_currency) {
        None => None,
        Some(c) => Some(crate::common::new_currency("preferred_currency", &c)?.code().to_string()),
    };
    Ok(Fields { country, locale, preferred_currency })
}

pub fn check_address(a: &Address) -> Result<Address> {
    for (name, v, max) in [
        ("address.line1", &a.line1, 200),
        ("address.line2", &a.line2, 200),
        ("address.city", &a.city, 100),
        ("address.state", &a.state, 100),
        ("address.postal_code", &a.postal_code, 20),
    ] {
        check_len(name, v, max)?;
    }
    let mut a = a.clone();
    if let Some(c) = norm(a.country.take()) {
        a.country = Some(geo::parse_country(&c).ok_or_else(|| {
            Error::invalid("address.country", format!("`{c}` is not an ISO 3166-1 alpha-2 country code"))
        })?);
    }
    Ok(a)
}

pub fn check_tax_ids(t: &[TaxId]) -> Result<()> {
    if t.len() > 5 {
        return Err(Error::invalid("tax_ids", "at most 5 tax ids"));
    }
    for (i, id) in t.iter().enumerate() {
        if !TAX_ID_TYPES.contains(&id.tax_type.as_str()) {
            return Err(Error::invalid(
                &format!("tax_ids[{i}].type"),
                format!("unknown tax id type `{}`; one of {}", id.tax_type, TAX_ID_TYPES.join(", ")),
            ));
        }
        let v = id.value.trim();
        if v.is_empty() || v.len() > 64 {
            return Err(Error::invalid(&format!("tax_ids[{i}].value"), "tax id values are 1 to 64 characters"));
        }
        if id.tax_type == "eu_vat" || id.tax_type == "gb_vat" {
            let parsed = bursar_domain::vat_id::VatId::parse(v)
                .map_err(|e| Error::invalid(&format!("tax_ids[{i}].value"), format!("invalid VAT id `{v}`: {e}")))?;
            let uk = matches!(parsed.iso_country(), "GB");
            if (id.tax_type == "gb_vat") != uk {
                return Err(Error::invalid(
                    &format!("tax_ids[{i}].value"),
                    format!("`{v}` is not a{} VAT id", if id.tax_type == "gb_vat" { " UK" } else { "n EU" }),
                ));
            }
        }
    }
    Ok(())
}

/// Checks EU VAT ids with the configured registry (outside any
/// transaction: it is a network call). A definite "not registered" is
/// refused; an unavailable registry is recorded and accepted.
pub async fn verify_tax_ids(ctx: &Ctx, ids: &mut [TaxId]) -> Result<()> {
    for (i, id) in ids.iter_mut().enumerate() {
        id.verification = None;
        let Some(checker) = &ctx.vat_checker else { continue };
        if id.tax_type != "eu_vat" {
            continue;
        }
        let Ok(parsed) = bursar_domain::vat_id::VatId::parse(&id.value) else { continue };
        let v = crate::vat_check::verify(checker.as_ref(), &parsed, ctx.now_ms() / 1000).await;
        if v.status == "invalid" {
            return Err(Error::invalid(
                &format!("tax_ids[{i}].value"),
                format!("`{}` is not a registered VAT id according to {}", parsed.as_string(), v.source),
            ));
        }
        id.verification = Some(v);
    }
    Ok(())
}

/// A taken `external_id` is a conflict on that field.
pub fn conflict_external_id(e: DbError) -> Error {
    match &e {
        DbError::Sqlx(s) if bursar_store::db::is_unique_violation(s) => {
            Error::conflict("resource_already_exists", "a customer with this external_id already exists")
                .with_param("external_id")
        }
        _ => e.into(),
    }
}
