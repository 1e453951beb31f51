use jiff::civil::date;
use proptest::prelude::*;

use super::super::parse::split_digits;
use super::super::Money;
use super::format::{is_symbol_or_separator, Pattern};
use super::*;

#[test]
fn a_stored_currency_code_formats_or_is_refused() {
    assert_eq!(format_money_in(123_456, "EUR", Locale::DeDe).as_deref(), Some("1.234,56\u{a0}€"));
    assert_eq!(format_money_in(1_500, "JPY", Locale::EnUs).as_deref(), Some("¥1,500"));
    assert_eq!(format_money_in(100, "XYZ", Locale::EnUs), None);
}
use Locale::*;

fn cur(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

/// Formats and makes the invisible spaces visible: `_` for U+00A0 and
/// `^` for U+202F, so expectations are readable.
fn fmt(amount: i64, code: &str, locale: Locale) -> String {
    visible(&format_money(Money::new(amount, cur(code)), locale))
}

fn visible(s: &str) -> String {
    assert!(!s.contains(['_', '^']), "{s}");
    s.replace('\u{a0}', "_").replace('\u{202f}', "^")
}

#[test]
fn tags() {
    assert_eq!(Locale::from_tag("en-US"), Ok(EnUs));
    assert_eq!(Locale::from_tag("en_us"), Ok(EnUs));
    assert_eq!(Locale::from_tag("EN-us"), Ok(EnUs));
    assert_eq!(Locale::from_tag("pt_BR"), Ok(PtBr));
    assert_eq!(Locale::from_tag("hi-in"), Ok(HiIn));
    for bad in ["en", "en-AU", "", "en-US ", " en-US", "enUS", "de-AT", "x"] {
        assert_eq!(Locale::from_tag(bad), Err(MoneyError::UnknownLocale(bad.into())), "{bad:?}");
    }
    let tags: Vec<&str> = Locale::all().iter().map(|l| l.tag()).collect();
    assert_eq!(tags, ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "en-IN", "hi-IN", "ru-RU"]);
    for &l in Locale::all() {
        assert_eq!(Locale::from_tag(l.tag()), Ok(l));
        assert_eq!(l.tag().parse::<Locale>(), Ok(l));
        assert_eq!(l.to_string(), l.tag());
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, format!("\"{}\"", l.tag()));
        assert_eq!(serde_json::from_str::<Locale>(&json).unwrap(), l);
    }
    assert_eq!(serde_json::from_str::<Locale>("\"ru_ru\"").unwrap(), RuRu);
    assert!(serde_json::from_str::<Locale>("\"xx-YY\"").unwrap_err().to_string().contains("xx-YY"));
}

#[test]
fn default_currencies() {
    let got: Vec<&str> = Locale::all().iter().map(|l| l.default_currency().code()).collect();
    assert_eq!(got, ["USD", "GBP", "EUR", "EUR", "EUR", "BRL", "INR", "INR", "RUB"]);
}

#[test]
fn symbol_tables_are_sorted_known_and_distinct_from_codes() {
    for &l in Locale::all() {
        let symbols = l.data().symbols;
        for pair in symbols.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{l}: {} before {}", pair[0].0, pair[1].0);
        }
        for &(code, symbol) in symbols {
            assert_eq!(cur(code).code(), code);
            assert_ne!(code, symbol);
            assert!(!symbol.is_empty() && !symbol.chars().any(|c| c.is_ascii_digit()), "{l} {code}");
            assert_eq!(l.currency_symbol(cur(code)), symbol);
        }
    }
}

#[test]
fn symbols_per_locale() {
    let table: &[(Locale, [&str; 8])] = &[
        // USD, EUR, GBP, JPY, INR, BRL, RUB, BHD
        (EnUs, ["$", "€", "£", "¥", "₹", "R$", "RUB", "BHD"]),
        (EnGb, ["US$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
        (DeDe, ["$", "€", "£", "¥", "₹", "R$", "RUB", "BHD"]),
        (FrFr, ["$US", "€", "£GB", "JPY", "₹", "R$", "RUB", "BHD"]),
        (EsEs, ["US$", "€", "GBP", "JPY", "INR", "BRL", "RUB", "BHD"]),
        (PtBr, ["US$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
        (EnIn, ["$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
        (HiIn, ["$", "€", "£", "JP¥", "₹", "R$", "RUB", "BHD"]),
        (RuRu, ["$", "€", "£", "¥", "₹", "R$", "₽", "BHD"]),
    ];
    let codes = ["USD", "EUR", "GBP", "JPY", "INR", "BRL", "RUB", "BHD"];
    for (locale, symbols) in table {
        for (code, symbol) in codes.iter().zip(symbols) {
            assert_eq!(locale.currency_symbol(cur(code)), *symbol, "{locale} {code}");
        }
    }
}

#[test]
fn en_us() {
    assert_eq!(fmt(123_456, "USD", EnUs), "$1,234.56");
    assert_eq!(fmt(-123_456, "USD", EnUs), "-$1,234.56");
    assert_eq!(fmt(0, "USD", EnUs), "$0.00");
    assert_eq!(fmt(5, "USD", EnUs), "$0.05");
    assert_eq!(fmt(-5, "USD", EnUs), "-$0.05");
    assert_eq!(fmt(99_999, "USD", EnUs), "$999.99");
    assert_eq!(fmt(123_456_789_012, "USD", EnUs), "$1,234,567,890.12");
    assert_eq!(fmt(1_234_567, "EUR", EnUs), "€12,345.67");
    assert_eq!(fmt(100, "GBP", EnUs), "£1.00");
    assert_eq!(fmt(1_234_567_890, "INR", EnUs), "₹12,345,678.90");
    assert_eq!(fmt(123_456, "BRL", EnUs), "R$1,234.56");
    assert_eq!(fmt(123_456, "RUB", EnUs), "RUB_1,234.56");
    assert_eq!(fmt(1234, "JPY", EnUs), "¥1,234");
    assert_eq!(fmt(-1234, "JPY", EnUs), "-¥1,234");
    assert_eq!(fmt(0, "JPY", EnUs), "¥0");
    assert_eq!(fmt(1_234_567, "BHD", EnUs), "BHD_1,234.567");
    assert_eq!(fmt(-5, "BHD", EnUs), "-BHD_0.005");
    assert_eq!(fmt(100, "CHF", EnUs), "CHF_1.00");
    assert_eq!(fmt(12_345, "CLF", EnUs), "CLF_1.2345");
    assert_eq!(fmt(500, "CAD", EnUs), "CA$5.00");
    assert_eq!(fmt(5, "XOF", EnUs), "F^CFA_5");
    assert_eq!(fmt(1000, "KRW", EnUs), "₩1,000");
}

#[test]
fn en_gb() {
    assert_eq!(fmt(123_456, "GBP", EnGb), "£1,234.56");
    assert_eq!(fmt(-123_456, "GBP", EnGb), "-£1,234.56");
    assert_eq!(fmt(123_456, "USD", EnGb), "US$1,234.56");
    assert_eq!(fmt(-123_456, "USD", EnGb), "-US$1,234.56");
    assert_eq!(fmt(123_456, "EUR", EnGb), "€1,234.56");
    assert_eq!(fmt(1234, "JPY", EnGb), "JP¥1,234");
    assert_eq!(fmt(1_234_567_890, "INR", EnGb), "₹12,345,678.90");
    assert_eq!(fmt(123_456, "BRL", EnGb), "R$1,234.56");
    assert_eq!(fmt(123_456, "RUB", EnGb), "RUB_1,234.56");
    assert_eq!(fmt(1_234_567, "BHD", EnGb), "BHD_1,234.567");
    assert_eq!(fmt(0, "GBP", EnGb), "£0.00");
    assert_eq!(fmt(5, "GBP", EnGb), "£0.05");
}

#[test]
fn de_de() {
    assert_eq!(fmt(123_456, "EUR", DeDe), "1.234,56_€");
    assert_eq!(fmt(-123_456, "EUR", DeDe), "-1.234,56_€");
    assert_eq!(fmt(0, "EUR", DeDe), "0,00_€");
    assert_eq!(fmt(5, "EUR", DeDe), "0,05_€");
    assert_eq!(fmt(99_999, "EUR", DeDe), "999,99_€");
    assert_eq!(fmt(123_456_789_012, "EUR", DeDe), "1.234.567.890,12_€");
    assert_eq!(fmt(123_456, "USD", DeDe), "1.234,56_$");
    assert_eq!(fmt(123_456, "GBP", DeDe), "1.234,56_£");
    assert_eq!(fmt(1234, "JPY", DeDe), "1.234_¥");
    assert_eq!(fmt(1_234_567_890, "INR", DeDe), "12.345.678,90_₹");
    assert_eq!(fmt(123_456, "BRL", DeDe), "1.234,56_R$");
    assert_eq!(fmt(123_456, "RUB", DeDe), "1.234,56_RUB");
    assert_eq!(fmt(1_234_567, "BHD", DeDe), "1.234,567_BHD");
    assert_eq!(fmt(500, "AUD", DeDe), "5,00_AU$");
}

#[test]
fn fr_fr() {
    assert_eq!(fmt(123_456, "EUR", FrFr), "1^234,56_€");
    assert_eq!(fmt(-123_456, "EUR", FrFr), "-1^234,56_€");
    assert_eq!(fmt(0, "EUR", FrFr), "0,00_€");
    assert_eq!(fmt(5, "EUR", FrFr), "0,05_€");
    assert_eq!(fmt(123_456_789_012, "EUR", FrFr), "1^234^567^890,12_€");
    assert_eq!(fmt(123_456, "USD", FrFr), "1^234,56_$US");
    assert_eq!(fmt(123_456, "GBP", FrFr), "1^234,56_£GB");
    assert_eq!(fmt(1234, "JPY", FrFr), "1^234_JPY");
    assert_eq!(fmt(1_234_567_890, "INR", FrFr), "12^345^678,90_₹");
    assert_eq!(fmt(123_456, "BRL", FrFr), "1^234,56_R$");
    assert_eq!(fmt(123_456, "RUB", FrFr), "1^234,56_RUB");
    assert_eq!(fmt(1_234_567, "BHD", FrFr), "1^234,567_BHD");
    assert_eq!(fmt(500, "CAD", FrFr), "5,00_$CA");
}

#[test]
fn es_es_minimum_grouping_digits() {
    assert_eq!(fmt(123_456, "EUR", EsEs), "1234,56_€");
    assert_eq!(fmt(-123_456, "EUR", EsEs), "-1234,56_€");
    assert_eq!(fmt(1_234_567, "EUR", EsEs), "12.345,67_€");
    assert_eq!(fmt(123_456_789, "EUR", EsEs), "1.234.567,89_€");
    assert_eq!(fmt(0, "EUR", EsEs), "0,00_€");
    assert_eq!(fmt(5, "EUR", EsEs), "0,05_€");
    assert_eq!(fmt(123_456, "USD", EsEs), "1234,56_US$");
    assert_eq!(fmt(123_456, "GBP", EsEs), "1234,56_GBP");
    assert_eq!(fmt(1234, "JPY", EsEs), "1234_JPY");
    assert_eq!(fmt(12_345, "JPY", EsEs), "12.345_JPY");
    assert_eq!(fmt(1_234_567_890, "INR", EsEs), "12.345.678,90_INR");
    assert_eq!(fmt(123_456, "BRL", EsEs), "1234,56_BRL");
    assert_eq!(fmt(123_456, "RUB", EsEs), "1234,56_RUB");
    assert_eq!(fmt(1_234_567, "BHD", EsEs), "1234,567_BHD");
}

#[test]
fn pt_br() {
    assert_eq!(fmt(123_456, "BRL", PtBr), "R$_1.234,56");
    assert_eq!(fmt(-123_456, "BRL", PtBr), "-R$_1.234,56");
    assert_eq!(fmt(0, "BRL", PtBr), "R$_0,00");
    assert_eq!(fmt(5, "BRL", PtBr), "R$_0,05");
    assert_eq!(fmt(123_456_789_012, "BRL", PtBr), "R$_1.234.567.890,12");
    assert_eq!(fmt(123_456, "USD", PtBr), "US$_1.234,56");
    assert_eq!(fmt(123_456, "EUR", PtBr), "€_1.234,56");
    assert_eq!(fmt(123_456, "GBP", PtBr), "£_1.234,56");
    assert_eq!(fmt(1234, "JPY", PtBr), "JP¥_1.234");
    assert_eq!(fmt(1_234_567_890, "INR", PtBr), "₹_12.345.678,90");
    assert_eq!(fmt(123_456, "RUB", PtBr), "RUB_1.234,56");
    assert_eq!(fmt(1_234_567, "BHD", PtBr), "BHD_1.234,567");
}

#[test]
fn en_in_and_hi_in_lakh_crore() {
    for locale in [EnIn, HiIn] {
        assert_eq!(fmt(1_234_567_890, "INR", locale), "₹1,23,45,678.90");
        assert_eq!(fmt(-1_234_567_890, "INR", locale), "-₹1,23,45,678.90");
        assert_eq!(fmt(123_456, "INR", locale), "₹1,234.56");
        assert_eq!(fmt(12_345_678, "INR", locale), "₹1,23,456.78");
        assert_eq!(fmt(100_000_000_000, "INR", locale), "₹1,00,00,00,000.00");
        assert_eq!(fmt(0, "INR", locale), "₹0.00");
        assert_eq!(fmt(5, "INR", locale), "₹0.05");
        assert_eq!(fmt(99_999, "INR", locale), "₹999.99");
        assert_eq!(fmt(123_456, "USD", locale), "$1,234.56");
        assert_eq!(fmt(123_456, "EUR", locale), "€1,234.56");
        assert_eq!(fmt(123_456, "GBP", locale), "£1,234.56");
        assert_eq!(fmt(1_234_567, "JPY", locale), "JP¥12,34,567");
        assert_eq!(fmt(123_456, "BRL", locale), "R$1,234.56");
        assert_eq!(fmt(123_456, "RUB", locale), "RUB_1,234.56");
        assert_eq!(fmt(123_456_789, "BHD", locale), "BHD_1,23,456.789");
    }
}

#[test]
fn ru_ru() {
    assert_eq!(fmt(123_456, "RUB", RuRu), "1_234,56_₽");
    assert_eq!(fmt(-123_456, "RUB", RuRu), "-1_234,56_₽");
    assert_eq!(fmt(0, "RUB", RuRu), "0,00_₽");
    assert_eq!(fmt(5, "RUB", RuRu), "0,05_₽");
    assert_eq!(fmt(123_456_789_012, "RUB", RuRu), "1_234_567_890,12_₽");
    assert_eq!(fmt(123_456, "USD", RuRu), "1_234,56_$");
    assert_eq!(fmt(123_456, "EUR", RuRu), "1_234,56_€");
    assert_eq!(fmt(123_456, "GBP", RuRu), "1_234,56_£");
    assert_eq!(fmt(1234, "JPY", RuRu), "1_234_¥");
    assert_eq!(fmt(1_234_567_890, "INR", RuRu), "12_345_678,90_₹");
    assert_eq!(fmt(123_456, "BRL", RuRu), "1_234,56_R$");
    assert_eq!(fmt(1_234_567, "BHD", RuRu), "1_234,567_BHD");
    assert_eq!(fmt(100, "UAH", RuRu), "1,00_₴");
}

#[test]
fn extreme_amounts() {
    assert_eq!(fmt(i64::MIN, "USD", EnUs), "-$92,233,720,368,547,758.08");
    assert_eq!(fmt(i64::MAX, "JPY", EnIn), "JP¥92,23,37,20,36,85,47,75,807");
    assert_eq!(fmt(i64::MIN, "CLF", DeDe), "-922.337.203.685.477,5808_CLF");
}

#[test]
fn decimals_without_symbol() {
    assert_eq!(visible(&format_decimal(123_456, 2, EnUs)), "1,234.56");
    assert_eq!(visible(&format_decimal(-5, 2, EnUs)), "-0.05");
    assert_eq!(visible(&format_decimal(123_456, 2, DeDe)), "1.234,56");
    assert_eq!(visible(&format_decimal(123_456, 2, FrFr)), "1^234,56");
    assert_eq!(visible(&format_decimal(123_456, 2, EsEs)), "1234,56");
    assert_eq!(visible(&format_decimal(1_234_567, 2, EsEs)), "12.345,67");
    assert_eq!(visible(&format_decimal(1_234_567_890, 2, EnIn)), "1,23,45,678.90");
    assert_eq!(visible(&format_decimal(1_234_567_890, 2, HiIn)), "1,23,45,678.90");
    assert_eq!(visible(&format_decimal(123_456, 2, RuRu)), "1_234,56");
    assert_eq!(visible(&format_decimal(123_456, 3, PtBr)), "123,456");
    assert_eq!(visible(&format_decimal(0, 0, EnGb)), "0");
    assert_eq!(visible(&format_decimal(7, 4, EnUs)), "0.0007");
    assert_eq!(visible(&format_integer(-1_234_567, EnUs)), "-1,234,567");
    assert_eq!(visible(&format_integer(1_234_567, EnIn)), "12,34,567");
    assert_eq!(visible(&format_integer(1000, EsEs)), "1000");
    assert_eq!(visible(&format_integer(10_000, EsEs)), "10.000");
    assert_eq!(visible(&format_integer(999, DeDe)), "999");
}

#[test]
fn dates() {
    let d = date(2026, 1, 31);
    let expected = [
        (EnUs, "1/31/26"),
        (EnGb, "31/01/2026"),
        (DeDe, "31.01.26"),
        (FrFr, "31/01/2026"),
        (EsEs, "31/1/26"),
        (PtBr, "31/01/2026"),
        (EnIn, "31/01/26"),
        (HiIn, "31/1/26"),
        (RuRu, "31.01.2026"),
    ];
    for (locale, want) in expected {
        assert_eq!(format_date(d, locale), want, "{locale}");
    }
    assert_eq!(format_date(date(2005, 12, 3), EnUs), "12/3/05");
    assert_eq!(format_date(date(2005, 12, 3), DeDe), "03.12.05");
    assert_eq!(format_date(date(2005, 12, 3), EsEs), "3/12/05");
    assert_eq!(format_date(date(999, 7, 4), EnGb), "04/07/999");
    assert_eq!(format_date(date(0, 1, 1), RuRu), "01.01.1");
    assert_eq!(format_date(date(-9, 1, 1), EnUs), "1/1/10");
    for &l in Locale::all() {
        assert!(l.short_date_pattern().chars().all(|c| "dMy./".contains(c)), "{l}");
    }
}

#[test]
fn patterns() {
    let p = Pattern::parse("¤#,##,##0.00");
    assert_eq!((p.prefix, p.suffix, p.primary_group, p.secondary_group), ("¤", "", 3, 2));
    let p = Pattern::parse("#,##0.00\u{a0}¤");
    assert_eq!((p.prefix, p.suffix, p.primary_group, p.secondary_group), ("", "\u{a0}¤", 3, 3));
    let p = Pattern::parse("¤\u{a0}#,##0.00");
    assert_eq!((p.prefix, p.suffix), ("¤\u{a0}", ""));
    let p = Pattern::parse("0.00");
    assert_eq!((p.primary_group, p.secondary_group), (0, 0));
}

#[test]
fn currency_spacing_classification() {
    for c in ['$', '€', '£', '¥', '₹', '₽', '₩', '₪', '₫', '₱', '₴', '฿', '\u{a0}', '\u{202f}', ' ']
    {
        assert!(is_symbol_or_separator(c), "{c:?}");
    }
    for c in ['A', 'D', 'z', '.', '7', 'Т'] {
        assert!(!is_symbol_or_separator(c), "{c:?}");
    }
    assert_eq!(fmt(100, "XCG", EnUs), "Cg._1.00");
}

fn any_currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::all().collect::<Vec<_>>())
}

fn any_locale() -> impl Strategy<Value = Locale> {
    prop::sample::select(Locale::all().to_vec())
}

proptest! {
    #[test]
    fn format_money_contains_the_digits(amount in any::<i64>(), currency in any_currency(), locale in any_locale()) {
        let m = Money::new(amount, currency);
        let formatted = format_money(m, locale);
        let digits: String = formatted.chars().filter(char::is_ascii_digit).collect();
        let (int_part, frac_part) = split_digits(amount.unsigned_abs(), currency.exponent());
        prop_assert_eq!(digits, format!("{int_part}{frac_part}"));
        prop_assert_eq!(formatted.starts_with('-'), amount < 0);
        prop_assert!(formatted.contains(locale.currency_symbol(currency)));
        let plain = format_decimal(amount, currency.exponent(), locale);
        prop_assert!(formatted.contains(plain.trim_start_matches('-')));
    }

    #[test]
    fn grouping_round_trips(n in any::<i64>(), locale in any_locale()) {
        let s = format_integer(n, locale);
        let stripped: String = s.replace(locale.group_separator(), "");
        prop_assert_eq!(stripped, n.to_string());
    }

    #[test]
    fn dates_never_panic(days in -3_652_059_i64..=2_932_896, locale in any_locale()) {
        let d = jiff::civil::Date::new(1970, 1, 1).unwrap().checked_add(jiff::Span::new().days(days));
        if let Ok(d) = d {
            let s = format_date(d, locale);
            prop_assert!(s.contains(&d.day().to_string()));
        }
    }
}
