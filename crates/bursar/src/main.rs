//! The `bursar` command.

mod analyze;
mod learning;

use anyhow::{bail, Context, Result};
use bursar_core::admin::{self, Db};
use bursar_domain::clock::SystemClock;
use bursar_server::{AppState, Config};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "bursar", version, about = "Monetization and learning-analytics engine for education platforms")]
struct Cli {
    /// Configuration file (TOML). Defaults to ./bursar.toml when present.
    #[arg(long, global = true, env = "BURSAR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations are applied first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Start the server on 127.0.0.1 with a fresh demo database.
    Demo {
        /// Where the demo database goes (wiped first).
        #[arg(long, default_value = "bursar-demo")]
        data_dir: PathBuf,
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Ledger tools.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Write a consistent copy of the SQLite database while it runs.
    Backup {
        /// Destination file (must not exist).
        dest: PathBuf,
    },
    /// Replace the SQLite database with a backup (the server must be stopped).
    Restore {
        /// Backup file made by `bursar backup`.
        source: PathBuf,
    },
    /// Load a catalog document (products, plans, prices) from a JSON file.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Billing tools.
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
    /// Benchmarks whose results go into BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        command: bursar_bench::BenchCommand,
    },
    /// Psychometrics of exported forms, from files.
    Analyze {
        #[command(subcommand)]
        command: analyze::AnalyzeCommand,
    },
    /// Learning content: forms and items from files.
    Learning {
        #[command(subcommand)]
        command: learning::LearningCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Developer tools used by the test script.
    #[command(hide = true)]
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum DevCommand {
    /// Seed customers with subscriptions that are all due for renewal now
    /// (for multi-node billing-run tests).
    SeedDue {
        #[arg(long)]
        subscriptions: usize,
    },
    /// Drop the per-test (`t_…`) and benchmark (`bench_…`) schemas.
    DropTestSchemas {
        #[arg(long)]
        database_url: String,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Prove that every entry balances and every balance equals its postings.
    Verify,
}

#[derive(Subcommand)]
enum BillingCommand {
    /// Renew everything due now (trial ends, renewals, scheduled
    /// cancellations, pause ends). Safe to run on several nodes at once and
    /// to rerun after a crash.
    Run,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Import (or update) a catalog; plans and products are matched by code.
    Import {
        file: PathBuf,
        /// Into live mode (default: test mode).
        #[arg(long)]
        live: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print its secret once.
    Create {
        #[arg(long)]
        name: String,
        /// A live-mode key (default: test mode).
        #[arg(long)]
        live: bool,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff account or reset its password. The password is read
    /// from BURSAR_STAFF_PASSWORD or the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Staff")]
        name: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run(cli))
}

async fn open(config: &Config) -> Result<Db> {
    let db = admin::connect(config).await.context("connecting to the database")?;
    admin::migrate(&db).await.context("applying migrations")?;
    Ok(db)
}

async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref()).context("loading configuration")?;
    match cli.command {
        Command::Version => println!("bursar {}", env!("CARGO_PKG_VERSION")),
        Command::Analyze { command } => analyze::run(command)?,
        Command::Openapi => println!("{}", bursar_server::app::openapi().to_pretty_json()?),
        Command::Migrate => {
            bursar_server::telemetry::init_logging(&config.log_format, &config.log_level);
            let db = open(&config).await?;
            println!("migrations applied ({})", db.backend().name());
        }
        Command::Serve => {
            bursar_server::telemetry::init_logging(&config.log_format, &config.log_level);
            let _lock = match config.database_url.as_deref() {
                Some(u) if !u.starts_with("sqlite:") => None,
                _ => Some(admin::lock_database(&config.sqlite_path())?),
            };
            let db = open(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            let state = AppState::new(db.clone(), Arc::new(SystemClock), config).context("document storage")?;
            let handle = bursar_server::serve(state, listener, true).await?;
            handle.wait().await?;
            db.close().await;
        }
        Command::Demo { data_dir, port } => {
            let mut config = config;
            if data_dir.exists() {
                std::fs::remove_dir_all(&data_dir).with_context(|| format!("removing {}", data_dir.display()))?;
            }
            config.data_dir = data_dir;
            config.database_url = None;
            config.listen = ([127, 0, 0, 1], port).into();
            config.log_format = "pretty".into();
            config.log_level = "warn".into();
            if config.seller_name == "Bursar" {
                // The demo's invoices come from a made-up academy.
                config.seller_name = "Northwind Exam Academy Ltd".into();
                config.seller_address =
                    vec!["12 Harbour Street".into(), "Bristol BS1 4QA".into(), "United Kingdom".into()];
                config.seller_tax_id = Some("GB980780684".into());
                config.seller_email = Some("billing@northwind.example".into());
            }
            if config.pricing_testimonials.is_empty() {
                // The demo's pricing page quotes made-up learners.
                let t = |quote: &str, name: &str, role: &str| bursar_core::config::Testimonial {
                    quote: quote.into(),
                    name: name.into(),
                    role: role.into(),
                };
                config.pricing_testimonials = vec![
                    t("The AI tutor explained every question I got wrong. I gained 90 points.", "Priya", "GMAT 710"),
                    t("Unlimited practice tests made the difference in the last month.", "Lukas", "TestDaF C1"),
                    t("Yearly billing paid for itself after two months.", "Camille", "TOEIC 945"),
                ];
            }
            bursar_server::telemetry::init_logging(&config.log_format, &config.log_level);
            let _lock = admin::lock_database(&config.sqlite_path())?;
            let db = open(&config).await?;
            let state = AppState::new(db.clone(), Arc::new(SystemClock), config.clone()).context("document storage")?;
            let info = bursar_core::demo::seed(&state, "demo@bursar.local").await?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            let handle = bursar_server::serve(state, listener, true).await?;
            let url = format!("http://{}", handle.addr);
            println!("Bursar demo is running at {url}");
            println!();
            println!("  Pricing page    {url}/pricing?mode=test");
            println!("  Learner portal  {url}{}", info.portal_path);
            println!("  Course pages    {url}/courses?mode=test  (open the portal link first to buy from the cart)");
            println!("  Staff console   {url}/staff");
            println!("  Staff login     {}  /  {}", info.staff_email, info.staff_password);
            println!("  Test API key    {}", info.test_key);
            println!("  OpenAPI         {url}/v1/openapi.json");
            println!(
                "  Data            {} ({} customers, {} courses)",
                config.sqlite_path().display(),
                info.customers,
                info.courses
            );
            println!();
            println!("  Try: curl -H 'Authorization: Bearer {}' {url}/v1/customers", info.test_key);
            println!();
            println!("Press Ctrl-C to stop.");
            handle.wait().await?;
            db.close().await;
        }
        Command::Ledger { command: LedgerCommand::Verify } => {
            let db = open(&config).await?;
            let report = admin::verify_ledger(&db).await?;
            println!("checked {} entries, {} postings, {} balances", report.entries, report.postings, report.balances);
            if report.ok() {
                println!("ledger OK: every entry balances and every balance equals its postings");
            } else {
                for p in &report.problems {
                    println!("PROBLEM: {p}");
                }
                bail!("ledger verification found {} problem(s)", report.problems.len());
            }
        }
        Command::Backup { dest } => {
            let db = open(&config).await?;
            let bytes = admin::backup(&db, &dest).await?;
            println!("backup written to {} ({bytes} bytes)", dest.display());
        }
        Command::Restore { source } => {
            if config.database_url.as_deref().is_some_and(|u| !u.starts_with("sqlite:")) {
                bail!("bursar restore is for SQLite; restore PostgreSQL with pg_restore (see docs/operations.md)");
            }
            admin::restore(&source, &config.sqlite_path()).await?;
            println!("restored {} into {}", source.display(), config.sqlite_path().display());
        }
        Command::Catalog { command: CatalogCommand::Import { file, live } } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let doc: bursar_domain::catalog::CatalogDoc =
                serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
            doc.validate().map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let db = open(&config).await?;
            let now = bursar_domain::clock::to_millis(jiff::Timestamp::now());
            let s = admin::import_catalog(&db, live, &doc, now).await?;
            println!("{}", serde_json::to_string(&s)?);
        }
        Command::ApiKey { command: ApiKeyCommand::Create { name, live } } => {
            let db = open(&config).await?;
            let now = bursar_domain::clock::to_millis(jiff::Timestamp::now());
            let (row, secret) = admin::create_api_key(&db, live, &name, now).await?;
            println!("{} {}", row.id, secret);
        }
        Command::Staff { command: StaffCommand::Create { email, name } } => {
            let password = match std::env::var("BURSAR_STAFF_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            if password.chars().count() < admin::MIN_STAFF_PASSWORD_CHARS {
                bail!("staff passwords must be at least 12 characters");
            }
            let db = open(&config).await?;
            let now = bursar_domain::clock::to_millis(jiff::Timestamp::now());
            admin::save_staff(&db, &email, &name, &password, now).await?;
            println!("staff account {email} saved");
        }
        Command::Learning { command } => {
            let db = open(&config).await?;
            let state = AppState::new(db.clone(), Arc::new(SystemClock), config).context("document storage")?;
            let result = learning::run(&state, command).await;
            db.close().await;
            result?;
        }
        Command::Bench { command } => bursar_bench::run(command, &config).await?,
        Command::Billing { command: BillingCommand::Run } => {
            let db = open(&config).await?;
            let now = bursar_domain::clock::to_millis(jiff::Timestamp::now());
            let n = admin::run_billing(&db, &config, now).await?;
            println!("billing run processed {n} period boundaries");
        }
        Command::Dev { command: DevCommand::SeedDue { subscriptions } } => {
            let db = open(&config).await?;
            bursar_bench::seed_due(&db, subscriptions, bursar_domain::clock::to_millis(jiff::Timestamp::now())).await?;
            println!("seeded {subscriptions} due subscriptions");
            db.close().await;
        }
        Command::Dev { command: DevCommand::DropTestSchemas { database_url } } => {
            let db = admin::connect_postgres(&database_url).await.context("connecting to PostgreSQL")?;
            let n = admin::drop_scratch_schemas(&db, &["t_", "bench_"]).await?;
            println!("dropped {n} test schemas");
        }
    }
    Ok(())
}
