//! Wire helpers of the fake: ids, timestamps, PayPal's error bodies, amounts
//! and links.

use super::*;

pub(super) fn random_id(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let n = rng.random_range(0..36_u8);
            char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 })
        })
        .collect()
}

pub(super) fn now_string() -> String {
    jiff::Timestamp::now().to_string()
}

pub(super) fn error(status: StatusCode, name: &str, message: &str, issue: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut body = json!({
        "name": name,
        "message": message,
        "debug_id": random_id(13).to_ascii_lowercase(),
        "links": [],
    });
    if let Some((issue, description)) = issue {
        body["details"] = json!([{ "issue": issue, "description": description }]);
    }
    (status, body)
}

pub(super) fn invalid_request(issue: &str, description: &str) -> (StatusCode, Value) {
    error(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        Some((issue, description)),
    )
}

pub(super) fn unprocessable(issue: &str, description: &str) -> (StatusCode, Value) {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        Some((issue, description)),
    )
}

pub(super) fn not_found() -> (StatusCode, Value) {
    error(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        Some((
            "INVALID_RESOURCE_ID",
            "Specified resource ID does not exist. Please check the resource ID and try again.",
        )),
    )
}

/// PayPal's decimals for a currency, `None` when unsupported.
pub(super) fn decimals(currency: &str) -> Option<u32> {
    SUPPORTED_CURRENCIES.iter().find(|(c, _)| *c == currency).map(|(_, d)| *d)
}

/// The amount in PayPal units (value × 10^decimals), checking the
/// currency and the exact number of decimals.
pub(super) fn amount_units(amount: &Value) -> Result<(String, u32, i64), (StatusCode, Value)> {
    let (Some(currency), Some(value)) = (amount["currency_code"].as_str(), amount["value"].as_str()) else {
        return Err(invalid_request(
            "MISSING_REQUIRED_PARAMETER",
            "amount.currency_code and amount.value are required.",
        ));
    };
    let Some(places) = decimals(currency) else {
        return Err(unprocessable("CURRENCY_NOT_SUPPORTED", "Currency code is not currently supported."));
    };
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (value.contains('.') && !digits(frac)) {
        return Err(invalid_request(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
        ));
    }
    if frac.len() as u32 != places {
        return Err(unprocessable(
            "DECIMAL_PRECISION",
            "If the currency supports decimals, only two decimal place precision is supported.",
        ));
    }
    let units: i64 = format!("{int}{frac}")
        .parse()
        .map_err(|_| invalid_request("INVALID_PARAMETER_VALUE", "The amount is too large."))?;
    Ok((currency.to_owned(), places, units))
}

pub(super) fn format_units(units: i64, places: u32) -> String {
    if places == 0 {
        return units.to_string();
    }
    let scale = 10_i64.pow(places);
    format!("{}.{:0width$}", units / scale, units % scale, width = places as usize)
}

pub(super) fn money(currency: &str, places: u32, units: i64) -> Value {
    json!({ "currency_code": currency, "value": format_units(units, places) })
}

pub(super) fn link(href: String, rel: &str, method: &str) -> Value {
    json!({ "href": href, "rel": rel, "method": method })
}

/// The capture of an order as a standalone resource.
pub(super) fn capture_resource(order: &Order) -> Value {
    let mut capture = order.json["purchase_units"][0]["payments"]["captures"][0].clone();
    capture["supplementary_data"] = json!({ "related_ids": { "order_id": order.json["id"] } });
    capture
}
