//! Configuration: safe defaults, then a TOML file, then `BURSAR_…`
//! environment variables (and `DATABASE_URL`), later ones winning.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The value of `fault_abort_after_commit` that aborts after a business
/// commit, before an external provider is called.
pub const FAULT_PROVIDER_CALL: &str = "provider_call";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the SQLite database, backups and local files live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite.
    pub database_url: Option<String>,
    /// PostgreSQL schema to keep Bursar's tables in (created if missing);
    /// default: the connection's search path.
    pub database_schema: Option<String>,
    /// Connections in the PostgreSQL pool.
    pub database_max_connections: u32,
    /// SQLite `synchronous`: `full` (survives power loss) or `normal`.
    pub sqlite_synchronous: String,
    /// `json` (default) or `pretty`.
    pub log_format: String,
    /// A tracing filter such as `info` or `bursar=debug,info`.
    pub log_level: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Requests running longer than this are answered 503.
    pub request_timeout_secs: u64,
    /// `/v1` requests per second allowed to one API key or instructor
    /// session (0: no limit); `rate_limit_api_burst` more may come at once.
    pub rate_limit_api_per_sec: u32,
    pub rate_limit_api_burst: u32,
    /// Requests per minute from one network address to the hosted pages, the
    /// console's sign-in and the provider webhooks (0: no limit), with
    /// `rate_limit_public_burst` at once.
    pub rate_limit_public_per_min: u32,
    pub rate_limit_public_burst: u32,
    /// Requests per minute from one address to `/webhooks/…` (0: no limit);
    /// a fifth of it may come at once. Providers send from few addresses.
    pub rate_limit_webhooks_per_min: u32,
    /// How long an idempotency claim holds before a retry may take it over.
    /// Must exceed the request timeout.
    pub idempotency_lease_secs: u64,
    /// How long idempotency keys are remembered.
    pub idempotency_retention_hours: u64,
    /// Time given to in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
    /// The externally visible base URL, used in links.
    pub public_url: Option<String>,
    /// ISO country where the operator is established: decides domestic VAT
    /// against reverse charge, and the GST split in India.
    pub tax_origin_country: Option<String>,
    /// Indian state code of the operator (for CGST + SGST).
    pub tax_origin_state: Option<String>,
    /// Tax rates for countries without a built-in rule, in basis points
    /// (`{ AU = 1000 }` is 10 %).
    pub tax_rates: std::collections::BTreeMap<String, i64>,
    /// Where daily FX reference rates come from: an `https://` URL or a file
    /// in the ECB `eurofxref-daily.xml` format. Unset: no automatic refresh.
    pub fx_source: Option<String>,
    /// Hours after a failed charge at which it is retried.
    pub dunning_retry_hours: Vec<u32>,
    /// When every retry failed: `cancel` the subscription or mark it `unpaid`.
    pub dunning_final_action: String,
    /// How emails leave: `file` (default: `.eml` files in `<data_dir>/outbox`),
    /// `log`, or `smtp`.
    pub email_transport: String,
    /// With `smtp`: `smtps://user:pass@host:465` (TLS), `smtp://…?tls=required`
    /// (STARTTLS), or plain `smtp://host:port` for a local relay.
    pub smtp_url: Option<String>,
    /// Sender of transactional emails.
    pub email_from: String,
    /// Run the background jobs (billing run, payment retries, emails, FX,
    /// pruning) in this process. Turn off on nodes that only serve the API.
    pub background_jobs: bool,
    /// Where rendered PDFs are kept: `local` (default: `storage_dir`) or
    /// `s3` (any S3-compatible store, with the `s3_*` settings).
    pub storage: String,
    /// Directory of local storage; default `<data_dir>/files`.
    pub storage_dir: Option<PathBuf>,
    pub s3_endpoint: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Path-style URLs (MinIO and most self-hosted stores); `false` for
    /// virtual-host style.
    pub s3_path_style: bool,
    /// The seller printed on invoices: legal name, address lines, tax id
    /// (e.g. `DE123456789`), contact email, a PNG or JPEG logo, a footer.
    pub seller_name: String,
    pub seller_address: Vec<String>,
    pub seller_tax_id: Option<String>,
    pub seller_email: Option<String>,
    pub invoice_logo: Option<PathBuf>,
    pub invoice_footer: Option<String>,
    /// Checking EU VAT ids online after the offline check: `off` (default)
    /// or `vies` (the European Commission's VIES REST service at `vies_url`).
    pub vat_check: String,
    pub vies_url: String,
    /// Let webhook endpoints point at loopback, private or link-local
    /// addresses (for development; never in production).
    pub webhook_allow_private_urls: bool,
    /// Stripe: the secret key (`sk_…`), webhook signing secrets (several
    /// while rotating), and the API base (a local double in tests).
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secrets: Vec<String>,
    pub stripe_api_base: String,
    /// PayPal REST app credentials, the webhook id, and the API base
    /// (`https://api-m.sandbox.paypal.com` for PayPal's sandbox).
    pub paypal_client_id: Option<String>,
    pub paypal_client_secret: Option<String>,
    pub paypal_webhook_id: Option<String>,
    pub paypal_api_base: String,
    /// Razorpay key id and secret, webhook secret, API base.
    pub razorpay_key_id: Option<String>,
    pub razorpay_key_secret: Option<String>,
    pub razorpay_webhook_secret: Option<String>,
    pub razorpay_api_base: String,
    /// Which providers take a payment, by the buyer's country and the
    /// currency, first match wins; each rule lists providers in order of
    /// preference (the next is the fallback when one is down).
    pub payment_routes: Vec<PaymentRoute>,
    /// Providers for payments no rule matches.
    pub payment_default_providers: Vec<String>,
    /// `redis://host:6379`: keep quota counters hot in Redis (consumes check
    /// and count there atomically, then write through to the database).
    /// Unset: the database alone, which is exact too.
    pub redis_url: Option<String>,
    /// Days a course sale can be refunded: instructor earnings are held and
    /// affiliate commissions stay pending that long.
    pub refund_window_days: i64,
    /// Days after an affiliate click during which a purchase is credited to
    /// it (the last click wins).
    pub affiliate_attribution_days: i64,
    /// Commission rate of a newly approved affiliate, basis points.
    pub affiliate_commission_bps: i64,
    /// Smallest payout, in major units of its currency (50 = 50.00 USD):
    /// smaller balances wait for the next monthly run.
    pub payout_minimum: i64,
    /// Key for hashing affiliate click IPs (never stored in the clear). Set
    /// it to link clicks from one address across restarts; unset, a random
    /// key is drawn at start.
    pub click_ip_salt: Option<String>,
    /// The platform's site (`https://learn.example`): affiliate links
    /// (`/a/{code}`) record the click and send the visitor there. Unset:
    /// no affiliate links (clicks can still be reported by API).
    pub affiliate_landing_url: Option<String>,
    /// Where the pricing page's buttons send a visitor to sign up
    /// (`https://learn.example/signup`); `plan`, `interval` and `currency`
    /// are added to the query. Unset: the buttons go nowhere.
    pub pricing_signup_url: Option<String>,
    /// Where the course pages' cart sends a visitor who is not signed in
    /// to buy (`https://learn.example/checkout`); `courses` (comma
    /// separated ids) and `currency` are added to the query, for the
    /// platform to sign them in and open the cart's checkout by API. A
    /// learner signed in through a portal session checks out directly.
    pub courses_checkout_url: Option<String>,
    /// Quotes the pricing page shows under the plans.
    pub pricing_testimonials: Vec<Testimonial>,
    /// Sites that may frame the upgrade prompt (`https://learn.example`);
    /// none: only Bursar's own pages.
    pub embed_frame_ancestors: Vec<String>,
    /// A header holding the visitor's address when Bursar runs behind a
    /// proxy (`X-Forwarded-For`, `X-Real-IP`): its right-most address is
    /// taken. Unset: the connection's peer address.
    pub client_ip_header: Option<String>,
    /// A header in which a proxy or CDN names the visitor's country
    /// (`CF-IPCountry`, `CloudFront-Viewer-Country`): the pricing and course
    /// pages then show prices in that country's currency when they are
    /// sold in it. Unset: the currency of the browser's language.
    pub country_header: Option<String>,
    /// Fault injection for crash tests, never set in production: a path
    /// (say `/v1/carts`) aborts the process after a successful keyed `POST`
    /// under it, once the operation has committed and before the answer is
    /// sent; `provider_call` aborts after a business commit, before an
    /// external provider is charged or refunded.
    pub fault_abort_after_commit: Option<String>,
}

/// One routing rule: `{ country = "IN", currency = "INR", providers = ["razorpay", "stripe"] }`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PaymentRoute {
    /// ISO country of the buyer; unset matches any.
    pub country: Option<String>,
    /// ISO currency; unset matches any.
    pub currency: Option<String>,
    pub providers: Vec<String>,
}

/// A quote on the pricing page: `{ quote = "…", name = "Priya", role = "GMAT 720" }`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Testimonial {
    pub quote: String,
    pub name: String,
    #[serde(default)]
    pub role: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default address"),
            data_dir: PathBuf::from("bursar-data"),
            database_url: None,
            database_schema: None,
            database_max_connections: 20,
            sqlite_synchronous: "full".into(),
            log_format: "json".into(),
            log_level: "info".into(),
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            rate_limit_api_per_sec: 500,
            rate_limit_api_burst: 1_000,
            rate_limit_public_per_min: 600,
            rate_limit_public_burst: 120,
            rate_limit_webhooks_per_min: 6_000,
            idempotency_lease_secs: 60,
            idempotency_retention_hours: 24,
            shutdown_grace_secs: 20,
            public_url: None,
            tax_origin_country: None,
            tax_origin_state: None,
            tax_rates: Default::default(),
            fx_source: None,
            dunning_retry_hours: vec![1, 24, 72, 168],
            dunning_final_action: "cancel".into(),
            email_transport: "file".into(),
            smtp_url: None,
            email_from: "Bursar <billing@localhost>".into(),
            background_jobs: true,
            storage: "local".into(),
            storage_dir: None,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: true,
            seller_name: "Bursar".into(),
            seller_address: Vec::new(),
            seller_tax_id: None,
            seller_email: None,
            invoice_logo: None,
            invoice_footer: None,
            vat_check: "off".into(),
            vies_url: "https://ec.europa.eu/taxation_customs/vies/rest-api".into(),
            webhook_allow_private_urls: false,
            stripe_secret_key: None,
            stripe_webhook_secrets: Vec::new(),
            stripe_api_base: "https://api.stripe.com".into(),
            paypal_client_id: None,
            paypal_client_secret: None,
            paypal_webhook_id: None,
            paypal_api_base: "https://api-m.paypal.com".into(),
            razorpay_key_id: None,
            razorpay_key_secret: None,
            razorpay_webhook_secret: None,
            razorpay_api_base: "https://api.razorpay.com".into(),
            payment_routes: vec![PaymentRoute {
                country: Some("IN".into()),
                currency: Some("INR".into()),
                providers: vec!["razorpay".into(), "stripe".into(), "sandbox".into()],
            }],
            payment_default_providers: vec!["stripe".into(), "paypal".into(), "sandbox".into()],
            redis_url: None,
            refund_window_days: 30,
            affiliate_attribution_days: 30,
            affiliate_commission_bps: 2_000,
            payout_minimum: 50,
            click_ip_salt: None,
            affiliate_landing_url: None,
            pricing_signup_url: None,
            courses_checkout_url: None,
            pricing_testimonials: Vec::new(),
            embed_frame_ancestors: Vec::new(),
            client_ip_header: None,
            country_header: None,
            fault_abort_after_commit: None,
        }
    }
}

/// `BURSAR_*` variables that are no settings: `BURSAR_CONFIG` names the
/// file, `BURSAR_STAFF_PASSWORD` is read by `bursar staff create`. Any other
/// `BURSAR_*` variable must be a setting, or loading fails.
pub const NOT_SETTINGS: &[&str] = &["CONFIG", "STAFF_PASSWORD"];

impl Config {
    /// Where people reach this server, for links in emails and pages:
    /// `public_url` when set (without a trailing `/`), else `http://` and
    /// the listen address, an unspecified one (`0.0.0.0`, `[::]`) read as
    /// the loopback address of its family.
    pub fn base_url(&self) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }

    /// Loads defaults, the file (if given, or `bursar.toml` when present),
    /// then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        Self::load_from(file, Env::prefixed("BURSAR_"), std::env::var("DATABASE_URL").ok())
    }

    fn load_from(file: Option<&Path>, env: Env, database_url: Option<String>) -> Result<Config, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                if !f.is_file() {
                    return Err(Box::new(figment::Error::from(format!("config file {} not found", f.display()))));
                }
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file("bursar.toml")),
        }
        // `BURSAR_TEST_*` belongs to the test suite; the others read by the
        // command line itself are no settings.
        fig = fig.merge(env.ignore(NOT_SETTINGS).filter(|k| !k.as_str().to_ascii_lowercase().starts_with("test_")));
        if let Some(url) = database_url {
            fig = fig.merge(Serialized::default("database_url", url));
        }
        let cfg: Config = fig.extract().map_err(Box::new)?;
        cfg.validate().map_err(|e| Box::new(figment::Error::from(e)))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.sqlite_synchronous.as_str(), "full" | "normal") {
            return Err("sqlite_synchronous must be `full` or `normal`".into());
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return Err("log_format must be `json` or `pretty`".into());
        }
        if self.max_body_bytes < 1024 {
            return Err("max_body_bytes must be at least 1024".into());
        }
        if self.idempotency_lease_secs <= self.request_timeout_secs {
            return Err("idempotency_lease_secs must exceed request_timeout_secs".into());
        }
        if !matches!(self.email_transport.as_str(), "file" | "log" | "smtp") {
            return Err("email_transport must be `file`, `log` or `smtp`".into());
        }
        if self.email_transport == "smtp" && self.smtp_url.is_none() {
            return Err("email_transport = smtp needs smtp_url".into());
        }
        if !matches!(self.dunning_final_action.as_str(), "cancel" | "unpaid") {
            return Err("dunning_final_action must be `cancel` or `unpaid`".into());
        }
        if self.dunning_retry_hours.windows(2).any(|w| w[0] >= w[1]) || self.dunning_retry_hours.len() > 10 {
            return Err("dunning_retry_hours must be increasing, at most 10 of them".into());
        }
        if let Some(c) = &self.tax_origin_country {
            if bursar_domain::geo::parse_country(c).as_deref() != Some(c.as_str()) {
                return Err("tax_origin_country must be an upper-case ISO 3166 country code".into());
            }
        }
        for (c, r) in &self.tax_rates {
            if bursar_domain::geo::parse_country(c).as_deref() != Some(c.as_str()) || !(0..=10_000).contains(r) {
                return Err(format!(
                    "tax_rates: `{c} = {r}` needs an upper-case country code and 0 to 10000 basis points"
                ));
            }
        }
        if let Some(u) = &self.affiliate_landing_url {
            let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://")).unwrap_or("");
            let host = rest.trim_end_matches('/');
            if host.is_empty() || host.contains(['/', '?', '#', '@', '\\']) || host.chars().any(|c| c.is_whitespace()) {
                return Err("affiliate_landing_url must be a site's origin, such as https://learn.example".into());
            }
        }
        for (name, u) in
            [("pricing_signup_url", &self.pricing_signup_url), ("courses_checkout_url", &self.courses_checkout_url)]
        {
            let Some(u) = u else { continue };
            let ok = (u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/'))
                && !u.chars().any(|c| c.is_whitespace() || c == '"' || c == '<');
            if !ok {
                return Err(format!("{name} must be an http(s) URL or a path"));
            }
        }
        for a in &self.embed_frame_ancestors {
            let rest = a.strip_prefix("https://").or_else(|| a.strip_prefix("http://")).unwrap_or("");
            if rest.is_empty() || rest.contains(['/', ' ', ';', ',', '\'', '"']) {
                return Err("embed_frame_ancestors lists sites' origins, such as https://learn.example".into());
            }
        }
        if let Some(h) = &self.country_header {
            if !is_header_name(h) {
                return Err("country_header must be a header name, such as CF-IPCountry".into());
            }
        }
        if let Some(h) = &self.client_ip_header {
            if !is_header_name(h) {
                return Err("client_ip_header must be a header name, such as X-Forwarded-For".into());
            }
        }
        match self.storage.as_str() {
            "local" => {}
            "s3" => {
                if self.s3_endpoint.is_none()
                    || self.s3_bucket.is_none()
                    || self.s3_access_key_id.is_none()
                    || self.s3_secret_access_key.is_none()
                {
                    return Err(
                        "storage = s3 needs s3_endpoint, s3_bucket, s3_access_key_id and s3_secret_access_key".into()
                    );
                }
            }
            _ => return Err("storage must be `local` or `s3`".into()),
        }
        let known = |p: &String| matches!(p.as_str(), "sandbox" | "stripe" | "paypal" | "razorpay");
        for (i, r) in self.payment_routes.iter().enumerate() {
            if r.providers.is_empty() || !r.providers.iter().all(known) {
                return Err(format!(
                    "payment_routes[{i}].providers: sandbox, stripe, paypal or razorpay, at least one"
                ));
            }
        }
        if !self.payment_default_providers.iter().all(known) {
            return Err("payment_default_providers: sandbox, stripe, paypal or razorpay".into());
        }
        if let Some(u) = &self.redis_url {
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                return Err("redis_url must start with redis:// or rediss://".into());
            }
        }
        if !matches!(self.vat_check.as_str(), "off" | "vies") {
            return Err("vat_check must be `off` or `vies`".into());
        }
        if !(0..=365).contains(&self.refund_window_days) {
            return Err("refund_window_days must be 0 to 365".into());
        }
        if !(1..=365).contains(&self.affiliate_attribution_days) {
            return Err("affiliate_attribution_days must be 1 to 365".into());
        }
        if !(0..=10_000).contains(&self.affiliate_commission_bps) {
            return Err("affiliate_commission_bps must be 0 to 10000".into());
        }
        if !(0..=1_000_000).contains(&self.payout_minimum) {
            return Err("payout_minimum must be 0 to 1000000".into());
        }
        if let Some(u) = &self.database_url {
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://") || u.starts_with("sqlite:")) {
                return Err("database_url must start with postgres://, postgresql:// or sqlite:".into());
            }
        }
        Ok(())
    }

    pub fn tax_settings(&self) -> bursar_domain::tax::TaxSettings {
        bursar_domain::tax::TaxSettings {
            origin_country: self.tax_origin_country.clone(),
            origin_state: self.tax_origin_state.clone(),
            rates: self.tax_rates.clone(),
        }
    }

    /// The document store this configuration names.
    pub fn document_storage(&self) -> Result<crate::storage::Storage, crate::storage::StorageError> {
        match self.storage.as_str() {
            "s3" => crate::storage::Storage::s3(&crate::storage::S3Settings {
                endpoint: self.s3_endpoint.clone().unwrap_or_default(),
                bucket: self.s3_bucket.clone().unwrap_or_default(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone().unwrap_or_default(),
                secret_access_key: self.s3_secret_access_key.clone().unwrap_or_default(),
                path_style: self.s3_path_style,
            }),
            _ => Ok(crate::storage::Storage::local(
                self.storage_dir.clone().unwrap_or_else(|| self.data_dir.join("files")),
            )),
        }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("bursar.db")
    }

    pub fn db_config(&self) -> bursar_store::DbConfig {
        let mut c = bursar_store::DbConfig::from_url_or_path(self.database_url.as_deref(), &self.sqlite_path());
        match &mut c {
            bursar_store::DbConfig::Sqlite { synchronous_full, .. } => {
                *synchronous_full = self.sqlite_synchronous == "full";
            }
            bursar_store::DbConfig::Postgres { max_connections, schema, .. } => {
                *max_connections = self.database_max_connections;
                schema.clone_from(&self.database_schema);
            }
        }
        c
    }
}

/// Whether `s` is an HTTP header name (RFC 9110 `token`).
fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn links_start_at_the_public_url_or_the_listen_address() {
        let at = |listen: &str, public: Option<&str>| {
            Config { listen: listen.parse().unwrap(), public_url: public.map(str::to_string), ..Config::default() }
                .base_url()
        };
        assert_eq!(at("127.0.0.1:9090", None), "http://127.0.0.1:9090");
        assert_eq!(at("192.0.2.7:80", None), "http://192.0.2.7:80");
        assert_eq!(at("0.0.0.0:8081", None), "http://127.0.0.1:8081");
        assert_eq!(at("[::]:8082", None), "http://[::1]:8082");
        assert_eq!(at("0.0.0.0:8081", Some("https://pay.example/")), "https://pay.example");
    }

    #[test]
    fn file_then_env_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("b.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9999\"\nlog_level = \"debug\"\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("BURSAR_LOG_LEVEL", "warn");
            jail.set_env("BURSAR_MAX_BODY_BYTES", "4096");
            let c = Config::load_from(Some(&f), Env::prefixed("BURSAR_"), None).unwrap();
            assert_eq!(c.listen.port(), 9999);
            assert_eq!(c.log_level, "warn");
            assert_eq!(c.max_body_bytes, 4096);
            assert_eq!(c.request_timeout_secs, 30);
            Ok(())
        });
    }

    #[test]
    fn variables_read_by_the_command_line_are_no_settings() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BURSAR_STAFF_PASSWORD", "a long passphrase");
            jail.set_env("BURSAR_CONFIG", "elsewhere.toml");
            jail.set_env("BURSAR_LOG_LEVEL", "warn");
            let c = Config::load_from(None, Env::prefixed("BURSAR_"), None).unwrap();
            assert_eq!(c.log_level, "warn");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BURSAR_SQLITE_SYNCHRONOUS", "sometimes");
            assert!(Config::load_from(None, Env::prefixed("BURSAR_"), None).is_err());
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("BURSAR_NO_SUCH_SETTING", "1");
            assert!(Config::load_from(None, Env::prefixed("BURSAR_"), None).is_err());
            Ok(())
        });
        // A misspelt setting next to the staff password is still refused.
        figment::Jail::expect_with(|jail| {
            jail.set_env("BURSAR_STAFF_PASSWORD", "a long passphrase");
            jail.set_env("BURSAR_STAFF_PASSWORDS", "a long passphrase");
            assert!(Config::load_from(None, Env::prefixed("BURSAR_"), None).is_err());
            Ok(())
        });
        let err = Config::load_from(None, Env::prefixed("BURSAR_TEST_NONE_"), Some("mysql://x".into()));
        assert!(err.is_err());
        let with = |f: &dyn Fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate()
        };
        assert!(with(&|c| c.affiliate_landing_url = Some("https://learn.example/".into())).is_ok());
        for bad in ["learn.example", "https://learn.example/courses", "https://a@evil.example", "https://", "ftp://x"] {
            assert!(with(&|c| c.affiliate_landing_url = Some(bad.into())).is_err(), "{bad}");
        }
        assert!(with(&|c| c.client_ip_header = Some("X-Forwarded-For".into())).is_ok());
        assert!(with(&|c| c.client_ip_header = Some("not a header".into())).is_err());
    }

    #[test]
    fn database_url_selects_postgres() {
        let c = Config::load_from(
            None,
            Env::prefixed("BURSAR_TEST_NONE_"),
            Some("postgres://postgres@127.0.0.1/test".into()),
        )
        .unwrap();
        assert!(matches!(c.db_config(), bursar_store::DbConfig::Postgres { .. }));
        let d = Config::default();
        assert!(matches!(d.db_config(), bursar_store::DbConfig::Sqlite { .. }));
    }
}
