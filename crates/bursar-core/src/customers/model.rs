//! What a customer is, as the interfaces show it, and the currency they are
//! billed in.

use crate::common::secs;
use bursar_domain::geo;
use bursar_domain::ledger::{natural_balance, AccountKind};
use bursar_domain::money::{Currency, Locale};
use bursar_store::customers::CustomerRow;
use bursar_store::ledger::Balance;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The ledger account of a customer's credit balance.
pub fn credit_account(customer_id: &str) -> String {
    format!("customer_credit:{customer_id}")
}

/// The currency a customer is billed in: their choice, else their
/// country's, else their locale's, else USD.
pub fn billing_currency_of(row: &CustomerRow) -> Currency {
    // A preferred currency since withdrawn (stored before) is passed over.
    let preferred = row.preferred_currency.as_deref().and_then(|c| Currency::from_code_current(c).ok());
    let locale = row.locale.as_deref().and_then(|l| Locale::from_tag(l).ok());
    geo::billing_currency(preferred, row.country.as_deref(), locale)
}

/// `null` clears a field, absence leaves it alone.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaxId {
    /// `eu_vat`, `gb_vat`, `in_gst`, `br_cnpj`, `br_cpf`, `ru_inn`, `us_ein`, `ch_vat`, `no_vat`, `au_abn`, `other`.
    #[serde(rename = "type")]
    pub tax_type: String,
    pub value: String,
    /// Set by Bursar when an online check is configured (`vat_check`);
    /// ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<crate::vat_check::Verification>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    /// The platform's own id for this learner, instructor or organization; unique per mode.
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// ISO 3166-1 alpha-2 country of the billing address.
    pub country: Option<String>,
    /// One of en-US, en-GB, de-DE, fr-FR, es-ES, pt-BR, en-IN, hi-IN, ru-RU.
    pub locale: Option<String>,
    /// ISO 4217 code that overrides the currency picked from country or locale.
    pub preferred_currency: Option<String>,
    pub address: Option<Address>,
    pub tax_ids: Option<Vec<TaxId>>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// A test clock id (test mode only): the customer lives by its time.
    pub test_clock: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdate {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub preferred_currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Address>)]
    pub address: Option<Option<Address>>,
    pub tax_ids: Option<Vec<TaxId>>,
    /// Merged into the existing metadata; a key set to "" is removed.
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreditBalance {
    /// ISO 4217 code.
    pub currency: String,
    /// Credit owed to the customer, in minor units; applied before charging.
    pub amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    /// Always `customer`.
    pub object: &'static str,
    pub livemode: bool,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub country: Option<String>,
    pub locale: Option<String>,
    /// The currency the customer is billed in: `preferred_currency`, else from country, else locale, else USD.
    pub currency: String,
    pub preferred_currency: Option<String>,
    pub address: Option<Address>,
    pub tax_ids: Vec<TaxId>,
    pub metadata: BTreeMap<String, String>,
    pub test_clock: Option<String>,
    pub credit_balances: Vec<CreditBalance>,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedCustomer {
    pub id: String,
    pub object: &'static str,
    pub deleted: bool,
}

/// A customer with their credit balances (`balances` may hold other
/// accounts' too).
pub fn render(row: CustomerRow, balances: &[Balance]) -> Customer {
    let currency = billing_currency_of(&row);
    let account = credit_account(&row.id);
    Customer {
        object: "customer",
        livemode: row.livemode,
        external_id: row.external_id,
        email: row.email,
        name: row.name,
        phone: row.phone,
        country: row.country,
        locale: row.locale,
        currency: currency.code().to_string(),
        preferred_currency: row.preferred_currency,
        address: row.address.and_then(|a| serde_json::from_str(&a).ok()),
        tax_ids: serde_json::from_str(&row.tax_ids).unwrap_or_default(),
        metadata: serde_json::from_str(&row.metadata).unwrap_or_default(),
        test_clock: row.test_clock_id,
        credit_balances: balances
            .iter()
            .filter(|b| b.account == account && b.balance_minor != 0)
            .map(|b| CreditBalance {
                currency: b.currency.clone(),
                amount: natural_balance(AccountKind::Liability, b.balance_minor),
            })
            .collect(),
        created: secs(row.created_at),
        updated: secs(row.updated_at),
        id: row.id,
    }
}
